// time.cpp: TSC calibration and the RTC.
#include "time.h"
#include "cpu.h"

extern "C" u64 boot_tsc0;

namespace {
u64 hz, realtime_base_ns;

// One PIT window: TSC cycles while channel 2 counts down ms milliseconds.
u64 pit_window(u32 ms) {
  const u32 latch = 1193182 * ms / 1000;
  outb(0x61, (inb(0x61) & ~0x02) | 0x01);   // gate channel 2 on, speaker off
  outb(0x43, 0xb0);                         // channel 2, lo/hi byte, mode 0
  outb(0x42, latch & 0xff);
  outb(0x42, latch >> 8);
  u64 t0 = rdtsc();
  while (!(inb(0x61) & 0x20)) cpu_relax();  // OUT2 goes high when the count ends
  return rdtsc() - t0;
}

// The smallest of three windows: a vCPU preempted mid-window (busy hosts, TCG) only
// ever makes a window look longer.
u64 calibrate_with_pit() {
  constexpr u32 MS = 10;
  u64 best = ~0ul;
  for (int i = 0; i < 3; i++) best = min(best, pit_window(MS));
  return best * 1000 / MS;
}

// KVM's pvclock publishes the exact TSC rate (tsc_to_system_mul, tsc_shift). Polling the
// PIT is noisy under kvm-pvm, where every port access is emulated.
u64 calibrate_with_kvmclock() {
  CpuidRes sig = cpuid(0x40000000);
  if (sig.b != 0x4b4d564b || sig.c != 0x564b4d56 || sig.d != 0x4d) return 0;   // "KVMKVMKVM\0\0\0"
  if (!(cpuid(0x40000001).a & (1u << 3))) return 0;                          // KVM_FEATURE_CLOCKSOURCE2
  static volatile struct { u32 version, pad; u64 tsc, system_time; u32 mul; i8 shift; u8 flags, pad2[2]; } pv
      __attribute__((aligned(64)));
  u64 pa = reinterpret_cast<u64>(&pv);   // identity-mapped kernel data
  wrmsr(0x4b564d01, pa | 1);
  for (int i = 0; i < 1000000 && !pv.mul; i++) cpu_relax();
  u32 mul = pv.mul;
  i8 shift = pv.shift;
  wrmsr(0x4b564d01, 0);
  if (!mul) return 0;
  u64 hz = (1000000000ul << 32) / mul;
  return shift >= 0 ? hz >> shift : hz << -shift;
}

u64 calibrate() {
  if (u64 hz = calibrate_with_kvmclock()) return hz;
  if (cpuid(0).a >= 0x15) {
    CpuidRes r = cpuid(0x15);
    if (r.a && r.b && r.c) return u64(r.c) * r.b / r.a;
  }
  return calibrate_with_pit();
}

u8 cmos(u8 reg) {
  outb(0x70, reg);
  return inb(0x71);
}

// Days since 1970-01-01 for a proleptic Gregorian date.
i64 days_from_civil(i64 y, u32 m, u32 d) {
  y -= m <= 2;
  i64 era = (y >= 0 ? y : y - 399) / 400;
  u32 yoe = static_cast<u32>(y - era * 400);
  u32 doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  u32 doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<i64>(doe) - 719468;
}

u64 read_rtc_ns() {
  while (cmos(0x0a) & 0x80) cpu_relax();   // update in progress
  u8 s = cmos(0), mi = cmos(2), h = cmos(4), d = cmos(7), mo = cmos(8), y = cmos(9), b = cmos(0x0b);
  auto bcd = [&](u8 v) -> u32 { return (b & 4) ? v : (v & 15) + (v >> 4) * 10; };
  bool pm = h & 0x80;
  u32 hour = bcd(h & 0x7f);
  if (!(b & 2) && pm) hour = (hour % 12) + 12;
  i64 days = days_from_civil(2000 + bcd(y), bcd(mo), bcd(d));
  return static_cast<u64>(((days * 24 + hour) * 60 + bcd(mi)) * 60 + bcd(s)) * 1000000000ul;
}
}  // namespace

void time_init() {
  hz = calibrate();
  if (!hz) hz = 1000000000;
  realtime_base_ns = read_rtc_ns() - time_mono_ns();
}

u64 tsc_hz() { return hz; }
u64 tsc_to_ns(u64 c) { return c / hz * 1000000000ul + c % hz * 1000000000ul / hz; }   // no 128-bit division
u64 time_mono_ns() { return tsc_to_ns(rdtsc() - boot_tsc0); }
u64 time_real_ns() { return realtime_base_ns + time_mono_ns(); }

void time_delay_ns(u64 ns) {
  u64 end = time_mono_ns() + ns;
  while (time_mono_ns() < end) cpu_relax();
}
