// A fixed pool of worker threads that hands out work by spinning on shared memory.
//
// The hot path (one dispatch per op, hundreds per token) makes no system call:
// idle workers spin on a claim word, and only a worker that has seen no work for
// about a millisecond parks on a futex (std::atomic::wait); the dispatcher pays for a
// wake-up only when someone is parked.
//
// Work is split into a few chunks per thread that every thread, the dispatcher
// included, claims from a shared counter. A worker that the OS has descheduled
// therefore never holds the others up: its chunks are simply taken by someone else.
// Claims go round the threads' regions (chunk_at in pool.cpp), so while the threads
// keep pace each streams one contiguous part of the work (a matmul's weight rows).
// Chunk boundaries depend only on (n, grain, size()), and each output is computed by
// the same code whoever runs it, so results do not depend on the scheduling.
#pragma once
#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

namespace bf {

class ThreadPool {
 public:
  // `threads` counts the calling thread: 1 means no workers are started.
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Calls fn(begin, end) on disjoint chunks covering [0, n), chunk boundaries
  // multiples of `grain`; returns when all are done.
  template <typename F>
  void parallel_for(int64_t n, int64_t grain, const F& fn) {
    if (size() == 1 || n <= grain) {
      fn(int64_t{0}, n);
      return;
    }
    dispatch(n, grain, [](const void* ctx, int64_t b, int64_t e) { (*static_cast<const F*>(ctx))(b, e); }, &fn);
  }

  // Number of threads the machine offers this process (sched_getaffinity), at least 1.
  static int available_threads();

 private:
  using Task = void (*)(const void* ctx, int64_t begin, int64_t end);
  void dispatch(int64_t n, int64_t grain, Task task, const void* ctx);
  void worker_loop();
  // Claims and runs chunks of generation `gen` until none is left.
  void run_chunks(uint32_t gen);

  std::vector<std::thread> workers_;
  // Written by the dispatcher only while no chunk is outstanding, then published by
  // the release store of claim_; read by a worker only after it claimed a chunk.
  Task task_ = nullptr;
  const void* ctx_ = nullptr;
  int64_t n_ = 0;
  int64_t grain_ = 1;
  uint32_t generation_ = 0;  // dispatcher's count; workers learn it from claim_
  // Generation, chunk count and next unclaimed chunk (see pool.cpp). A worker's
  // compare-exchange succeeds only for the current generation, so a late worker can
  // never run a finished task.
  alignas(64) std::atomic<uint64_t> claim_{0};
  alignas(64) std::atomic<uint32_t> done_{0};
  alignas(64) std::atomic<int> parked_{0};
  std::atomic<bool> stop_{false};
};

}  // namespace bf
