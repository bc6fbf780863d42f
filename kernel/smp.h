// smp.h: the other CPUs (INIT-SIPI-SIPI through the local APIC), one user thread per CPU,
// wake-up IPIs, and futexes.
#pragma once
#include "proc.h"

constexpr u8 IPI_WAKE = 0xf0, IPI_FLUSH = 0xf1;

void smp_init();                          // BSP: start the APs that QEMU's fw_cfg reports
void lapic_eoi();
void smp_wake(int cpu);                   // IPI: get a CPU out of hlt
// Flush every other CPU's TLB and wait until they have (call after clearing or
// downgrading PTEs, before freeing their frames). No-op with one CPU online.
void smp_tlb_shootdown();
void smp_serve_flush();                   // IPI_FLUSH handler / spin-loop poll
// Hand a new thread to an idle CPU (regs in t->start). Returns false if none is idle.
bool smp_start_thread(Thread* t);
// This CPU's thread ended: run the idle loop on a fresh stack (never returns).
[[noreturn]] void smp_idle();

i64 futex_wait(u32* addr, u32 val, u64 deadline_ns, u32 bitset);   // deadline 0: none
i64 futex_wake(u32* addr, u32 n, u32 bitset);
