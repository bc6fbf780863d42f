// sys_time.cpp: clocks from the calibrated TSC. Sleeping busy-waits: the kernel runs one
// thread per CPU and takes no timer interrupts.
#include "syscall.h"
#include "time.h"
#include "uaccess.h"

namespace {
struct Timespec { i64 sec, nsec; };

i64 clock_ns(u64 id, u64* out) {
  switch (id) {
    case 0: case 5: case 8: *out = time_real_ns(); return 0;            // REALTIME(_COARSE), REALTIME_ALARM
    case 1: case 4: case 6: case 7: case 9: *out = time_mono_ns(); return 0;   // MONOTONIC*, BOOTTIME
    case 2: case 3: *out = time_mono_ns(); return 0;                    // process/thread CPU time
    default: return -EINVAL;
  }
}

i64 sleep_until(u64 clock, u64 deadline_ns) {
  u64 now;
  for (;;) {
    if (clock_ns(clock, &now) < 0) return -EINVAL;
    if (now >= deadline_ns) return 0;
    spin_wait();
  }
}
}  // namespace

SYSCALL(clock_gettime) {
  UNUSED_ARGS;
  Timespec* ts = user_ptr<Timespec>(a1);
  if (!ts) return -EFAULT;
  u64 ns;
  i64 r = clock_ns(a0, &ns);
  if (r < 0) return r;
  ts->sec = static_cast<i64>(ns / 1000000000), ts->nsec = static_cast<i64>(ns % 1000000000);
  return 0;
}

SYSCALL(clock_getres) {
  UNUSED_ARGS;
  u64 ns;
  if (clock_ns(a0, &ns) < 0) return -EINVAL;
  if (!a1) return 0;
  Timespec* ts = user_ptr<Timespec>(a1);
  if (!ts) return -EFAULT;
  ts->sec = 0, ts->nsec = 1;
  return 0;
}

SYSCALL(gettimeofday) {
  UNUSED_ARGS;
  if (a0) {
    i64* tv = user_ptr<i64>(a0, 2);
    if (!tv) return -EFAULT;
    u64 ns = time_real_ns();
    tv[0] = static_cast<i64>(ns / 1000000000), tv[1] = static_cast<i64>(ns % 1000000000 / 1000);
  }
  return 0;
}

SYSCALL(time) {
  UNUSED_ARGS;
  i64 s = static_cast<i64>(time_real_ns() / 1000000000);
  if (a0) {
    i64* t = user_ptr<i64>(a0);
    if (!t) return -EFAULT;
    *t = s;
  }
  return s;
}

SYSCALL(clock_nanosleep) {
  UNUSED_ARGS;
  Timespec* req = user_ptr<Timespec>(a2);
  if (!req) return -EFAULT;
  if (req->nsec < 0 || req->nsec >= 1000000000 || req->sec < 0) return -EINVAL;
  u64 want = static_cast<u64>(req->sec) * 1000000000 + static_cast<u64>(req->nsec), now;
  if (clock_ns(a0, &now) < 0) return -EINVAL;
  return sleep_until(a0, (a1 & 1) ? want : now + want);   // TIMER_ABSTIME
}

SYSCALL(nanosleep) { UNUSED_ARGS; return sys_clock_nanosleep(1, 0, a0, a1, 0, 0); }

SYSCALL(times) {
  UNUSED_ARGS;
  if (a0) {
    i64* t = user_ptr<i64>(a0, 4);
    if (!t) return -EFAULT;
    t[0] = static_cast<i64>(time_mono_ns() / 10000000), t[1] = t[2] = t[3] = 0;
  }
  return static_cast<i64>(time_mono_ns() / 10000000);
}
