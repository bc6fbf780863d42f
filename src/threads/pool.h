// A fixed pool of worker threads that hands out work by spinning on shared memory.
//
// The hot path (one dispatch per op, hundreds per token) makes no system call:
// workers spin on a generation counter. Only a worker that has seen no work for
// a while parks on a futex (std::atomic::wait), and the dispatcher pays for a
// wake-up only when someone is parked.
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
  // multiples of `grain`, one chunk per thread; returns when all are done.
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
  void worker_loop(int index);
  void run_chunk(int index);

  std::vector<std::thread> workers_;
  // Written by the dispatcher before bumping generation_ (release), read by workers after (acquire).
  Task task_ = nullptr;
  const void* ctx_ = nullptr;
  int64_t n_ = 0;
  int64_t grain_ = 1;
  alignas(64) std::atomic<uint64_t> generation_{0};
  alignas(64) std::atomic<int> pending_{0};
  alignas(64) std::atomic<int> parked_{0};
  std::atomic<bool> stop_{false};
};

}  // namespace bf
