// sys_proc.cpp: process identity, exit, signals (none are delivered), limits, threads.
#include "proc.h"
#include "serial.h"
#include "syscall.h"
#include "time.h"
#include "uaccess.h"
#include "mm.h"
#include "smp.h"
#include "vfs.h"

namespace {
char exe_path[256] = "/";
u64 rnd = 0x2545f4914f6cdd1d;

u64 random64() {
  rnd ^= rdtsc();
  rnd ^= rnd << 13, rnd ^= rnd >> 7, rnd ^= rnd << 17;
  return rnd;
}

const char* signal_name(u64 sig) {
  switch (sig) {
    case 6: return "SIGABRT";
    case 9: return "SIGKILL";
    case 11: return "SIGSEGV";
    case 15: return "SIGTERM";
    default: return "signal";
  }
}
}  // namespace

void proc_set_exe_path(const char* p) { strncpy0(exe_path, p, sizeof exe_path); }
const char* proc_exe_path() { return exe_path; }

[[noreturn]] void proc_exit(int status) {
  // Leave the volume marked clean, so the next boot need not scan it for repairs.
  if (Fat16* fs = vfs_fs()) fat16_sync(fs);
  kprintf("bfk: program exited with status %d\n", status & 0xff);
  machine_exit(status & 0xff);
}

SYSCALL(exit_group) { UNUSED_ARGS; proc_exit(static_cast<int>(a0)); }

SYSCALL(arch_prctl) {
  UNUSED_ARGS;
  switch (a0) {
    case 0x1001: wrmsr(MSR_KERNEL_GS_BASE, a1); return 0;   // SET_GS: user GS is swapped out now
    case 0x1002: wrmsr(MSR_FS_BASE, a1); return 0;          // SET_FS
    case 0x1003: case 0x1004: {
      u64* p = user_ptr<u64>(a1);
      if (!p) return -EFAULT;
      *p = rdmsr(a0 == 0x1003 ? MSR_FS_BASE : MSR_KERNEL_GS_BASE);
      return 0;
    }
    case 0x1021: case 0x1022: {                             // GET_XCOMP_SUPP / GET_XCOMP_PERM
      u64* p = user_ptr<u64>(a1);
      if (!p) return -EFAULT;
      *p = cpu_xcr0();
      return 0;
    }
    case 0x1023: return (a1 < 64 && (cpu_xcr0() >> a1 & 1)) ? 0 : -EINVAL;   // REQ_XCOMP_PERM
    default: return -EINVAL;
  }
}

SYSCALL(set_tid_address) {
  UNUSED_ARGS;
  Thread* t = proc_current();
  t->clear_child_tid = a0;
  return t->tid;
}
SYSCALL(set_robust_list) { UNUSED_ARGS; return 0; }
SYSCALL(rseq) { UNUSED_ARGS; return -ENOSYS; }
SYSCALL(getpid) { UNUSED_ARGS; return 1; }
SYSCALL(getppid) { UNUSED_ARGS; return 0; }
SYSCALL(gettid) { UNUSED_ARGS; return proc_current()->tid; }
SYSCALL(getuid) { UNUSED_ARGS; return 0; }

SYSCALL(tgkill) {
  UNUSED_ARGS;
  u64 sig = a2;
  if (!sig) return 0;
  if (sig == 17 || sig == 23 || sig == 28) return 0;   // ignored by default: CHLD, URG, WINCH
  kprintf("bfk: program killed by %s (signal %lu)\n", signal_name(sig), sig);
  machine_exit(EXIT_PROGRAM_KILLED);
}
SYSCALL(kill) { UNUSED_ARGS; return sys_tgkill(a0, a0, a1, 0, 0, 0); }

SYSCALL(rt_sigaction) {
  UNUSED_ARGS;
  if (a2) {
    u8* old = user_ptr<u8>(a2, 32);
    if (!old) return -EFAULT;
    memset(old, 0, 32);
  }
  return 0;   // handlers are recorded nowhere: no signal is ever delivered
}
SYSCALL(rt_sigprocmask) {
  UNUSED_ARGS;
  if (a2) {
    u64* old = user_ptr<u64>(a2);
    if (!old) return -EFAULT;
    *old = 0;
  }
  return 0;
}
SYSCALL(sigaltstack) {
  UNUSED_ARGS;
  if (a1) {
    u8* old = user_ptr<u8>(a1, 24);
    if (!old) return -EFAULT;
    memset(old, 0, 24);
    *reinterpret_cast<u32*>(old + 8) = 2;   // SS_DISABLE
  }
  return 0;
}

SYSCALL(uname) {
  UNUSED_ARGS;
  char* u = user_ptr<char>(a0, 6 * 65);
  if (!u) return -EFAULT;
  memset(u, 0, 6 * 65);
  const char* f[6] = {"Linux", "bareflow", "6.1.0-bareflow", "#1 SMP BareFlow kernel", "x86_64", "(none)"};
  for (int i = 0; i < 6; i++) strncpy0(u + 65 * i, f[i], 65);
  return 0;
}

SYSCALL(prlimit64) {
  UNUSED_ARGS;
  if (a3) {
    u64* old = user_ptr<u64>(a3, 2);
    if (!old) return -EFAULT;
    u64 cur = ~0ul;
    if (a1 == 3) cur = USER_STACK_SIZE;   // RLIMIT_STACK
    if (a1 == 7) cur = 256;               // RLIMIT_NOFILE (MAX_FDS)
    old[0] = cur, old[1] = a1 == 7 ? 256 : ~0ul;
  }
  return 0;
}
SYSCALL(getrlimit) { UNUSED_ARGS; return sys_prlimit64(0, a0, 0, a1, 0, 0); }

SYSCALL(sched_getaffinity) {
  UNUSED_ARGS;
  if (a1 < 8 || (a1 & 7)) return -EINVAL;
  u8* m = user_ptr<u8>(a2, a1);
  if (!m) return -EFAULT;
  memset(m, 0, a1);
  *reinterpret_cast<u64*>(m) = ncpus >= 64 ? ~0ul : (1ul << ncpus) - 1;
  return 8;
}
SYSCALL(sched_setaffinity) { UNUSED_ARGS; return 0; }
SYSCALL(sched_yield) { UNUSED_ARGS; cpu_relax(); return 0; }
SYSCALL(sched_getparam) {
  UNUSED_ARGS;
  i32* p = user_ptr<i32>(a1);
  if (!p) return -EFAULT;
  *p = 0;
  return 0;
}
SYSCALL(sched_getscheduler) { UNUSED_ARGS; return 0; }

SYSCALL(getrandom) {
  UNUSED_ARGS;
  u8* p = user_ptr<u8>(a0, a1);
  if (!p) return -EFAULT;
  for (u64 i = 0; i < a1; i += 8) {
    u64 v = random64();
    memcpy(p + i, &v, min<u64>(8, a1 - i));
  }
  return static_cast<i64>(a1);
}

SYSCALL(sysinfo) {
  UNUSED_ARGS;
  struct SysInfo {
    i64 uptime;
    u64 loads[3], totalram, freeram, sharedram, bufferram, totalswap, freeswap;
    u16 procs, pad;
    u32 pad2;
    u64 totalhigh, freehigh;
    u32 mem_unit;
    char pad3[4];
  };
  static_assert(sizeof(SysInfo) == 112);
  SysInfo* s = user_ptr<SysInfo>(a0);
  if (!s) return -EFAULT;
  memset(s, 0, sizeof *s);
  s->uptime = static_cast<i64>(time_mono_ns() / 1000000000);
  s->totalram = mm_total_bytes();
  s->freeram = mm_free_bytes();
  s->procs = 1;
  s->mem_unit = 1;
  return 0;
}

SYSCALL(prctl) { UNUSED_ARGS; return (a0 == 15 || a0 == 16 || a0 == 38) ? 0 : -EINVAL; }   // SET/GET_NAME, NO_NEW_PRIVS
SYSCALL(getrusage) {
  UNUSED_ARGS;
  u8* r = user_ptr<u8>(a1, 144);
  if (!r) return -EFAULT;
  memset(r, 0, 144);
  return 0;
}
SYSCALL(membarrier) { UNUSED_ARGS; return 0; }
SYSCALL(getcpu) {
  UNUSED_ARGS;
  if (a0) { u32* c = user_ptr<u32>(a0); if (!c) return -EFAULT; *c = this_cpu()->id; }
  if (a1) { u32* n = user_ptr<u32>(a1); if (!n) return -EFAULT; *n = 0; }
  return 0;
}

// Threads: glibc tries clone3 first, then falls back to clone, which we implement for
// threads sharing everything (pthread_create). Each thread gets a CPU of its own.
SYSCALL(clone3) { UNUSED_ARGS; return -ENOSYS; }

SYSCALL(clone) {
  UNUSED_ARGS;
  constexpr u64 CLONE_VM = 0x100, CLONE_THREAD = 0x10000, CLONE_SETTLS = 0x80000,
                CLONE_PARENT_SETTID = 0x100000, CLONE_CHILD_CLEARTID = 0x200000, CLONE_CHILD_SETTID = 0x1000000;
  u64 flags = a0, stack = a1, ptid = a2, ctid = a3, tls = a4;
  if (!(flags & CLONE_VM) || !(flags & CLONE_THREAD)) return -ENOSYS;   // no fork: one process
  Thread* t = proc_new_thread();
  if (!t) return -EAGAIN;
  Regs* parent = this_cpu()->syscall_regs;
  t->start = *parent;
  t->start.rax = 0;
  if (stack) t->start.rsp = stack;
  t->fs_base = (flags & CLONE_SETTLS) ? tls : rdmsr(MSR_FS_BASE);
  if (flags & CLONE_PARENT_SETTID) { if (u32* p = user_ptr<u32>(ptid)) *p = static_cast<u32>(t->tid); }
  if (flags & CLONE_CHILD_SETTID) { if (u32* p = user_ptr<u32>(ctid)) *p = static_cast<u32>(t->tid); }
  if (flags & CLONE_CHILD_CLEARTID) t->clear_child_tid = ctid;
  int tid = t->tid;
  if (!smp_start_thread(t)) {
    t->live = false;
    return -EAGAIN;   // one thread per CPU: boot with --smp N for N threads
  }
  return tid;
}

SYSCALL(exit) {
  UNUSED_ARGS;
  Thread* t = proc_current();
  u64 ctid = t->clear_child_tid;
  t->live = false;
  if (!proc_live_threads()) proc_exit(static_cast<int>(a0));
  this_cpu()->thread = nullptr;   // this CPU may take a new thread from now on (before join returns)
  if (u32* p = ctid ? user_ptr<u32>(ctid) : nullptr) {
    __atomic_store_n(p, 0u, __ATOMIC_SEQ_CST);
    futex_wake(p, 1, ~0u);
  }
  smp_idle();
}

SYSCALL(futex) {
  UNUSED_ARGS;
  constexpr u32 WAIT = 0, WAKE = 1, WAIT_BITSET = 9, WAKE_BITSET = 10, CLOCK_REALTIME_FLAG = 256;
  u32 op = static_cast<u32>(a1) & 0x7f;
  u32* word = user_ptr<u32>(a0);
  if (!word || (a0 & 3)) return -EINVAL;
  if (op == WAKE || op == WAKE_BITSET) {
    u32 bits = op == WAKE ? ~0u : static_cast<u32>(a5);
    return bits ? futex_wake(word, static_cast<u32>(a2), bits) : -EINVAL;
  }
  if (op != WAIT && op != WAIT_BITSET) return -ENOSYS;
  u64 deadline = 0;
  if (a3) {
    i64* ts = user_ptr<i64>(a3, 2);
    if (!ts || ts[0] < 0 || ts[1] < 0 || ts[1] >= 1000000000) return -EINVAL;
    u64 t = static_cast<u64>(ts[0]) * 1000000000 + static_cast<u64>(ts[1]);
    if (op == WAIT) deadline = time_mono_ns() + t;                         // relative
    else if (static_cast<u32>(a1) & CLOCK_REALTIME_FLAG) deadline = t - min(t, time_real_ns() - time_mono_ns());
    else deadline = t;                                                     // absolute monotonic
    if (!deadline) deadline = 1;
  }
  u32 bits = op == WAIT ? ~0u : static_cast<u32>(a5);
  if (!bits) return -EINVAL;
  return futex_wait(word, static_cast<u32>(a2), deadline, bits);
}
