// cpu.h: x86-64 CPU setup: per-CPU data, GDT/TSS/IDT, MSRs, CPUID, extended state
// (x87/SSE/AVX/AVX-512/AMX via XCR0) and the register frame shared by traps and syscalls.
#pragma once
#include "rt.h"

// Selectors. The user ones match what sysret would use, though we return with iretq.
constexpr u16 KERNEL_CS = 0x08, KERNEL_DS = 0x10, USER_DS = 0x1b, USER_CS = 0x23, TSS_SEL = 0x28;
constexpr int MAX_CPUS = 8;

// Register frame on the kernel stack. Layout is fixed by entry.S (pushed bottom-up).
struct Regs {
  u64 r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
  u64 vector, error;
  u64 rip, cs, rflags, rsp, ss;   // the iretq frame
};

struct Tss {
  u32 reserved0;
  u64 rsp[3];
  u64 reserved1;
  u64 ist[7];
  u64 reserved2;
  u16 reserved3, iomap_base;
} __attribute__((packed));

// Per-CPU block, reached through GS in the kernel. Offsets 0/8/16 are used by entry.S.
struct Cpu {
  Cpu* self;               // 0
  u64 kstack_top;          // 8: syscall stack top
  u64 user_rsp;            // 16: scratch for the user RSP at syscall entry
  u32 id;
  u32 apic_id;
  Tss tss;
  struct Thread* thread;   // the user thread running here
  u64 user_rip;            // RIP of the syscall in progress (for fault reports)
  Regs* syscall_regs;      // the frame of the syscall in progress (clone copies it)
  struct Thread* volatile pending;   // a thread handed to this idle CPU
  volatile u32 flush_req;  // another CPU asks this one to flush its TLB
};

Cpu* this_cpu();
extern Cpu cpus[MAX_CPUS];
extern int ncpus;

inline u64 rdmsr(u32 msr) { u32 lo, hi; asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr)); return (u64(hi) << 32) | lo; }
inline void wrmsr(u32 msr, u64 v) { asm volatile("wrmsr" ::"c"(msr), "a"(u32(v)), "d"(u32(v >> 32))); }
inline u64 read_cr2() { u64 v; asm volatile("mov %%cr2, %0" : "=r"(v)); return v; }
inline u64 read_cr3() { u64 v; asm volatile("mov %%cr3, %0" : "=r"(v)); return v; }
inline void write_cr3(u64 v) { asm volatile("mov %0, %%cr3" ::"r"(v) : "memory"); }
inline u64 rdtsc() { u32 lo, hi; asm volatile("rdtsc" : "=a"(lo), "=d"(hi)); return (u64(hi) << 32) | lo; }

struct CpuidRes { u32 a, b, c, d; };
inline CpuidRes cpuid(u32 leaf, u32 sub = 0) {
  CpuidRes r;
  asm volatile("cpuid" : "=a"(r.a), "=b"(r.b), "=c"(r.c), "=d"(r.d) : "a"(leaf), "c"(sub));
  return r;
}

enum Msr : u32 {
  MSR_EFER = 0xc0000080, MSR_STAR = 0xc0000081, MSR_LSTAR = 0xc0000082, MSR_FMASK = 0xc0000084,
  MSR_FS_BASE = 0xc0000100, MSR_GS_BASE = 0xc0000101, MSR_KERNEL_GS_BASE = 0xc0000102,
};

void cpu_init(int id, u64 kstack_top);   // GDT, TSS, IDT, SYSCALL MSRs, FPU/vector state
u64 cpu_xcr0();                           // the XCR0 we enabled (for logs and tests)
extern "C" [[noreturn]] void enter_user(Regs* r);    // entry.S: restore r and iretq to ring 3
