// rt.h: the kernel's tiny freestanding runtime (no libc): integer types, memory and
// string helpers, port I/O, kprintf, panic, spinlocks and the exit path.
#pragma once

using u8 = unsigned char;
using u16 = unsigned short;
using u32 = unsigned int;
using u64 = unsigned long;
using i8 = signed char;
using i16 = short;
using i32 = int;
using i64 = long;
using usize = unsigned long;
using uptr = unsigned long;

extern "C" {
void* memcpy(void* dst, const void* src, usize n);
void* memmove(void* dst, const void* src, usize n);
void* memset(void* dst, int c, usize n);
int memcmp(const void* a, const void* b, usize n);
usize strlen(const char* s);
}
int strcmp(const char* a, const char* b);
int strncmp(const char* a, const char* b, usize n);
char* strncpy0(char* dst, const char* src, usize cap);  // always NUL-terminates

template <class T> constexpr T min(T a, T b) { return a < b ? a : b; }
template <class T> constexpr T max(T a, T b) { return a > b ? a : b; }
constexpr u64 align_up(u64 v, u64 a) { return (v + a - 1) & ~(a - 1); }
constexpr u64 align_down(u64 v, u64 a) { return v & ~(a - 1); }

inline void outb(u16 port, u8 v) { asm volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }
inline void outw(u16 port, u16 v) { asm volatile("outw %0, %1" ::"a"(v), "Nd"(port)); }
inline void outl(u16 port, u32 v) { asm volatile("outl %0, %1" ::"a"(v), "Nd"(port)); }
inline u8 inb(u16 port) { u8 v; asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
inline u16 inw(u16 port) { u16 v; asm volatile("inw %1, %0" : "=a"(v) : "Nd"(port)); return v; }
inline u32 inl(u16 port) { u32 v; asm volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }
inline void cpu_relax() { asm volatile("pause" ::: "memory"); }
inline void barrier() { asm volatile("" ::: "memory"); }

// kprintf: %s %c %d %u %x %p with optional 'l' and a zero-padded width (e.g. %016lx).
// Kernel messages go to the log port (COM2 when present, else COM1).
void kprintf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
int ksnprintf(char* buf, usize cap, const char* fmt, ...) __attribute__((format(printf, 3, 4)));

// Exit codes seen by scripts/boot.sh. isa-debug-exit makes QEMU exit with (v << 1) | 1,
// so only 7 bits survive: program statuses 0..127 pass through, larger ones become 127
// (the exact status is in the kernel's "program exited" line).
enum ExitCode : int {
  EXIT_PROGRAM_KILLED = 122,  // the program raised a fatal signal (abort, ...)
  EXIT_PROGRAM_CRASHED = 123, // CPU exception in the program (segfault, ...)
  EXIT_KERNEL_PANIC = 125,
  EXIT_BOOT_FAILED = 126,     // no disk, bad boot.cfg, binary missing or not loadable
};
[[noreturn]] void machine_exit(int status);   // isa-debug-exit, then ACPI-less halt
[[noreturn]] void panic(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
#define KASSERT(c) do { if (!(c)) panic("assertion failed: %s at %s:%d", #c, __FILE__, __LINE__); } while (0)

// Called from every kernel spin loop: serves requests other CPUs make of this one while it
// spins with interrupts off (TLB shootdowns, smp.cpp). Null until SMP starts.
extern void (*spin_poll)();
inline void spin_wait() {
  if (spin_poll) spin_poll();
  cpu_relax();
}

// Spinlock. Invariant: held only with interrupts disabled (the kernel runs with IF=0).
struct Spinlock {
  volatile u32 locked = 0;
  void lock() { while (__atomic_exchange_n(&locked, 1, __ATOMIC_ACQUIRE)) spin_wait(); }
  void unlock() { __atomic_store_n(&locked, 0, __ATOMIC_RELEASE); }
};
struct LockGuard {
  Spinlock& l;
  explicit LockGuard(Spinlock& s) : l(s) { l.lock(); }
  ~LockGuard() { l.unlock(); }
};
