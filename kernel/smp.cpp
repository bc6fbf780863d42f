// smp.cpp: AP bring-up, the idle loop, thread hand-off and futexes.
#include "smp.h"
#include "mm.h"
#include "syscall.h"
#include "time.h"

extern "C" char ap_trampoline[], ap_trampoline_end[], ap_cr3[], ap_stacks[];
extern "C" u32 ap_next_slot;

namespace {
constexpr u64 LAPIC = 0xfee00000, AP_BASE = 0x8000, AP_STACK = 16384;
volatile int online = 1;
Spinlock start_lock;

volatile u32& lapic(u32 off) { return *static_cast<volatile u32*>(p2v(LAPIC + off)); }

void lapic_enable() {
  lapic(0x80) = 0;              // TPR: accept everything
  lapic(0xf0) = 0x1ff;          // software enable, spurious vector 0xff
}

void send_ipi(u32 apic_id, u32 low) {
  lapic(0x310) = apic_id << 24;
  lapic(0x300) = low;
  while (lapic(0x300) & (1u << 12)) cpu_relax();   // delivery pending
}

// QEMU's fw_cfg knows the CPU count (key 0x05); 1 elsewhere.
int fw_cfg_cpus() {
  outw(0x510, 0);
  char sig[4];
  for (char& c : sig) c = static_cast<char>(inb(0x511));
  if (memcmp(sig, "QEMU", 4)) return 1;
  outw(0x510, 5);
  int n = inb(0x511);
  n |= inb(0x511) << 8;
  return n > 0 && n <= MAX_CPUS ? n : 1;
}

struct Waiter {
  u32* addr;
  u32 bitset;
  int cpu;
  volatile bool woken;
};
Waiter* waiters[MAX_CPUS * 4];
Spinlock futex_lock;

void remove_waiter(Waiter* w) {
  for (auto& s : waiters)
    if (s == w) s = nullptr;
}

// Start (or resume idling) on this CPU: wait for a thread, then enter it.
[[noreturn]] void idle_loop() {
  Cpu* c = this_cpu();
  c->thread = nullptr;
  for (;;) {
    Thread* t = __atomic_load_n(&c->pending, __ATOMIC_ACQUIRE);
    if (t) {
      c->pending = nullptr;
      c->thread = t;
      wrmsr(MSR_FS_BASE, t->fs_base);
      enter_user(&t->start);
    }
    asm volatile("sti; hlt; cli" ::: "memory");
  }
}
}  // namespace

void lapic_eoi() { lapic(0xb0) = 0; }

extern "C" [[noreturn]] void ap_main(u32 slot) {
  int id = static_cast<int>(slot) + 1;
  cpu_init(id, reinterpret_cast<u64>(ap_stacks) + (slot + 1) * AP_STACK);
  lapic_enable();
  cpus[id].apic_id = lapic(0x20) >> 24;
  __atomic_add_fetch(&online, 1, __ATOMIC_SEQ_CST);
  idle_loop();
}

void smp_init() {
  lapic_enable();
  cpus[0].apic_id = lapic(0x20) >> 24;
  int want = fw_cfg_cpus();
  if (want <= 1) return;
  memcpy(reinterpret_cast<void*>(AP_BASE), ap_trampoline, ap_trampoline_end - ap_trampoline);
  *reinterpret_cast<u32*>(AP_BASE + (ap_cr3 - ap_trampoline)) = static_cast<u32>(read_cr3());
  send_ipi(0, 0xc4500);                                  // INIT to all but self
  time_delay_ns(10000000);
  for (int i = 0; i < 2; i++) {
    send_ipi(0, 0xc4600 | (AP_BASE >> 12));              // STARTUP at AP_BASE
    time_delay_ns(200000);
  }
  u64 deadline = time_mono_ns() + 2000000000ul;
  while (online < want && time_mono_ns() < deadline) cpu_relax();
  ncpus = online;
  spin_poll = smp_serve_flush;
  if (ncpus < want) kprintf("bfk: only %d of %d CPUs came up\n", ncpus, want);
}

void smp_serve_flush() {
  Cpu* c = this_cpu();
  if (!c->flush_req) return;
  write_cr3(read_cr3());
  __atomic_store_n(&c->flush_req, 0u, __ATOMIC_RELEASE);
}

void smp_tlb_shootdown() {
  if (ncpus < 2) return;
  int self = static_cast<int>(this_cpu()->id);
  for (int i = 0; i < ncpus; i++) {
    if (i == self) continue;
    __atomic_store_n(&cpus[i].flush_req, 1u, __ATOMIC_RELEASE);
    send_ipi(cpus[i].apic_id, 0x4000 | IPI_FLUSH);
  }
  for (int i = 0; i < ncpus; i++)
    while (i != self && __atomic_load_n(&cpus[i].flush_req, __ATOMIC_ACQUIRE)) cpu_relax();
}

void smp_wake(int cpu) {
  if (cpu != static_cast<int>(this_cpu()->id)) send_ipi(cpus[cpu].apic_id, 0x4000 | IPI_WAKE);
}

bool smp_start_thread(Thread* t) {
  LockGuard g(start_lock);
  for (int i = 0; i < ncpus; i++) {
    Cpu& c = cpus[i];
    if (c.thread || c.pending) continue;
    __atomic_store_n(&c.pending, t, __ATOMIC_RELEASE);
    smp_wake(i);
    return true;
  }
  return false;
}

[[noreturn]] void smp_idle() {
  Cpu* c = this_cpu();
  u64 top = c->kstack_top;
  asm volatile("mov %0, %%rsp\n jmp *%1" ::"r"(top), "r"(idle_loop) : "memory");
  __builtin_unreachable();
}

// Waits on the kernel side with hlt (woken by an IPI from futex_wake) or, with a timeout,
// by polling the TSC. Invariant: a waiter is in the table only while its CPU waits.
i64 futex_wait(u32* addr, u32 val, u64 deadline_ns, u32 bitset) {
  Waiter w{addr, bitset, static_cast<int>(this_cpu()->id), false};
  {
    LockGuard g(futex_lock);
    if (__atomic_load_n(addr, __ATOMIC_SEQ_CST) != val) return -EAGAIN;
    bool added = false;
    for (auto& s : waiters)
      if (!s) { s = &w; added = true; break; }
    if (!added) return -ENOMEM;
  }
  while (!w.woken) {
    if (deadline_ns) {
      if (time_mono_ns() >= deadline_ns) {
        LockGuard g(futex_lock);
        if (w.woken) return 0;
        remove_waiter(&w);
        return -ETIMEDOUT;
      }
      spin_wait();
    } else {
      asm volatile("sti; hlt; cli" ::: "memory");   // an IPI_WAKE (or any interrupt) ends the hlt
    }
  }
  return 0;
}

i64 futex_wake(u32* addr, u32 n, u32 bitset) {
  i64 woke = 0;
  LockGuard g(futex_lock);
  for (auto& s : waiters) {
    if (!s || s->addr != addr || !(s->bitset & bitset) || woke >= n) continue;
    Waiter* w = s;
    s = nullptr;
    w->woken = true;
    smp_wake(w->cpu);
    woke++;
  }
  return woke;
}
