// time.h: the calibrated TSC (CPUID 0x15 when it is exact, else the PIT) and the
// wall clock read once from the CMOS RTC.
#pragma once
#include "rt.h"

extern "C" u64 boot_tsc0;          // TSC at the kernel's first instruction (boot.S)
void time_init();
u64 tsc_hz();
u64 time_mono_ns();                // since the kernel started
u64 time_real_ns();                // Unix epoch
u64 tsc_to_ns(u64 cycles);
void time_delay_ns(u64 ns);        // busy-wait (the kernel has no timer interrupts)
// A point in time for polled device waits: drivers give up (and report -EIO) when it passes.
struct Deadline {
  u64 end;
  explicit Deadline(u64 ns) : end(time_mono_ns() + ns) {}
  bool passed() const { return time_mono_ns() > end; }
};
