// syscall.cpp: the syscall table and dispatcher (the whole ABI surface on one screen).
#include "syscall.h"

namespace {
using SysFn = i64 (*)(a64, a64, a64, a64, a64, a64);
struct SysDef { u16 nr; SysFn fn; };

#define S(nr, name) {nr, sys_##name}
constexpr SysDef defs[] = {
    // memory
    S(12, brk), S(9, mmap), S(11, munmap), S(10, mprotect), S(25, mremap), S(28, madvise), S(149, mlock),
    S(150, munlock), S(26, msync),
    // files
    S(0, read), S(1, write), S(19, readv), S(20, writev), S(17, pread64), S(18, pwrite64), S(2, open),
    S(257, openat), S(3, close), S(8, lseek), S(5, fstat), S(4, stat), S(6, lstat), S(262, newfstatat),
    S(332, statx), S(217, getdents64), S(83, mkdir), S(258, mkdirat), S(82, rename), S(264, renameat),
    S(316, renameat2), S(87, unlink), S(263, unlinkat), S(84, rmdir), S(74, fsync), S(75, fdatasync),
    S(77, ftruncate), S(16, ioctl), S(72, fcntl), S(32, dup), S(33, dup2), S(292, dup3), S(21, access),
    S(269, faccessat), S(439, faccessat2), S(89, readlink), S(267, readlinkat), S(79, getcwd), S(80, chdir),
    S(137, statfs), S(138, fstatfs), S(162, sync), S(221, fadvise64), S(285, fallocate), S(7, poll),
    S(293, pipe2), S(95, umask), S(91, fchmod),
    // process
    S(60, exit), S(231, exit_group), S(158, arch_prctl), S(218, set_tid_address), S(273, set_robust_list),
    S(334, rseq), S(39, getpid), S(186, gettid), S(110, getppid), S(102, getuid), S(107, getuid), S(104, getuid),
    S(108, getuid), S(62, kill), S(234, tgkill), S(13, rt_sigaction), S(14, rt_sigprocmask), S(131, sigaltstack),
    S(63, uname), S(302, prlimit64), S(97, getrlimit), S(204, sched_getaffinity), S(203, sched_setaffinity),
    S(24, sched_yield), S(56, clone), S(435, clone3), S(202, futex), S(318, getrandom), S(99, sysinfo),
    S(157, prctl), S(98, getrusage), S(324, membarrier), S(309, getcpu), S(143, sched_getparam),
    S(145, sched_getscheduler),
    // time
    S(228, clock_gettime), S(229, clock_getres), S(96, gettimeofday), S(201, time), S(35, nanosleep),
    S(230, clock_nanosleep), S(100, times),
};
#undef S

constexpr int NSYS = 512;
SysFn table[NSYS];
u8 warned[NSYS];

struct SysName { u16 nr; const char* name; };
constexpr SysName linux_names[] = {
#include "syscall_names.inc"
};

const char* name_of(u64 nr) {
  for (auto& n : linux_names)
    if (n.nr == nr) return n.name;
  return "?";
}

void build_table() {
  for (auto& d : defs) table[d.nr] = d.fn;
}
}  // namespace

i64 syscall_unknown(u64 nr) {
  if (nr >= NSYS || !warned[nr]) {
    if (nr < NSYS) warned[nr] = 1;
    kprintf("bfk: unknown syscall %lu (%s)\n", nr, name_of(nr));
  }
  return -ENOSYS;
}

namespace {
Spinlock big_lock;
volatile int big_lock_owner = -1;

// Calls that may wait (futex, sleeps, exit) or only read per-CPU state run without the lock.
bool runs_unlocked(u64 nr) {
  switch (nr) {
    case 202: case 35: case 230: case 24: case 60: case 231: case 228: case 96: case 201: case 186: case 39:
      return true;
    default:
      return false;
  }
}
}  // namespace

void syscall_unlock_current() {
  if (big_lock_owner == static_cast<int>(this_cpu()->id)) {
    big_lock_owner = -1;
    big_lock.unlock();
  }
}

bool syscall_lock_shared() {
  int self = static_cast<int>(this_cpu()->id);
  if (big_lock_owner == self) return false;
  big_lock.lock();
  big_lock_owner = self;
  return true;
}

extern "C" void syscall_dispatch(Regs* r) {
  if (!table[0]) build_table();
  u64 nr = r->rax;
  Cpu* c = this_cpu();
  c->user_rip = r->rip;
  c->syscall_regs = r;
  SysFn fn = nr < NSYS ? table[nr] : nullptr;
  bool locked = !runs_unlocked(nr);
  if (locked) {
    big_lock.lock();
    big_lock_owner = static_cast<int>(c->id);
  }
  r->rax = fn ? static_cast<u64>(fn(r->rdi, r->rsi, r->rdx, r->r10, r->r8, r->r9)) : static_cast<u64>(syscall_unknown(nr));
  if (locked) syscall_unlock_current();
}
