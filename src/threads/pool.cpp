#include "threads/pool.h"

#include <sched.h>

#include <algorithm>

namespace bf {
namespace {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Spinning is only a win while the other thread is running. When the machine is
// oversubscribed, a waiter that keeps spinning burns the very time slice the thread
// it waits for needs, so after a short spin it yields, and an idle worker parks.
constexpr int kSpinsBeforeYield = 1 << 11;
constexpr int kSpinsBeforePark = 1 << 16;

inline void backoff(int spins) {
  if (spins < kSpinsBeforeYield)
    cpu_relax();
  else
    std::this_thread::yield();
}

}  // namespace

int ThreadPool::available_threads() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

ThreadPool::ThreadPool(int threads) {
  for (int i = 1; i < threads; ++i) {
    try {
      workers_.emplace_back([this, i] { worker_loop(i); });
    } catch (const std::system_error&) {
      break;  // fewer threads than asked (e.g. no clone support): still correct
    }
  }
}

ThreadPool::~ThreadPool() {
  stop_.store(true, std::memory_order_release);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  generation_.notify_all();
  for (auto& w : workers_) w.join();
}

void ThreadPool::run_chunk(int index) {
  int64_t chunks = size();
  int64_t blocks = (n_ + grain_ - 1) / grain_;
  int64_t b = blocks * index / chunks * grain_;
  int64_t e = std::min(n_, blocks * (index + 1) / chunks * grain_);
  if (b < e) task_(ctx_, b, e);
}

void ThreadPool::dispatch(int64_t n, int64_t grain, Task task, const void* ctx) {
  task_ = task;
  ctx_ = ctx;
  n_ = n;
  grain_ = std::max<int64_t>(grain, 1);
  pending_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
  // seq_cst on both sides: either the worker sees the new generation before it
  // parks, or we see it parked and wake it.
  generation_.fetch_add(1);
  if (parked_.load() > 0) generation_.notify_all();
  run_chunk(0);
  for (int spins = 0; pending_.load(std::memory_order_acquire) != 0; ++spins) backoff(spins);
}

void ThreadPool::worker_loop(int index) {
  uint64_t seen = 0;
  for (;;) {
    uint64_t g;
    int spins = 0;
    while ((g = generation_.load(std::memory_order_acquire)) == seen) {
      if (++spins < kSpinsBeforePark) {
        backoff(spins);
        continue;
      }
      parked_.fetch_add(1);
      generation_.wait(seen);
      parked_.fetch_sub(1);
      spins = 0;
    }
    seen = g;
    if (stop_.load(std::memory_order_acquire)) return;
    run_chunk(index);
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

}  // namespace bf
