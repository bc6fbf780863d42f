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

// An idle worker spins (no system call) for about a millisecond, then parks.
constexpr int kSpinsBeforePark = 1 << 16;
// A dispatcher waits only for chunks other threads are running; if one of them was
// descheduled mid-chunk, give the CPU away rather than spin through its time slice.
constexpr int kSpinsBeforeYield = 1 << 14;
// Chunks per thread: enough to balance and to absorb a missing worker.
constexpr int64_t kChunksPerThread = 4;

// The claim word: generation (32 bits) | chunk count (16) | next unclaimed chunk (16).
// Keeping the count in the word lets a worker decide whether to claim from one atomic
// load, without reading fields the dispatcher may be rewriting for the next generation.
inline uint32_t generation_of(uint64_t claim) { return static_cast<uint32_t>(claim >> 32); }
inline uint32_t count_of(uint64_t claim) { return static_cast<uint32_t>(claim >> 16) & 0xffff; }
inline uint32_t index_of(uint64_t claim) { return static_cast<uint32_t>(claim) & 0xffff; }
inline uint64_t make_claim(uint32_t gen, uint32_t count) { return static_cast<uint64_t>(gen) << 32 | count << 16; }

// Where the i-th claimed chunk lies. Claims go round the threads' regions (region r:
// chunks r*per .. r*per + per - 1), so while every thread keeps claiming in turn each
// one streams its own contiguous region (a matmul's rows: one run of weights, which its
// prefetch runs ahead in), and a thread that falls behind still leaves nothing undone.
// A bijection on [0, chunks) when the regions divide the chunks evenly, else the order
// is plain.
inline uint32_t chunk_at(uint32_t i, uint32_t chunks, int threads) {
  const auto t = static_cast<uint32_t>(threads);
  if (t < 2 || chunks % t != 0) return i;
  return i % t * (chunks / t) + i / t;
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
      workers_.emplace_back([this] { worker_loop(); });
    } catch (const std::system_error&) {
      break;  // fewer threads than asked (e.g. no clone support): still correct
    }
  }
}

ThreadPool::~ThreadPool() {
  stop_.store(true);
  claim_.store(make_claim(++generation_, 0));
  claim_.notify_all();
  for (auto& w : workers_) w.join();
}

void ThreadPool::run_chunks(uint32_t gen) {
  uint64_t c = claim_.load(std::memory_order_acquire);
  while (generation_of(c) == gen && index_of(c) < count_of(c)) {
    if (!claim_.compare_exchange_weak(c, c + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
    // Claimed: this generation's fields are published and stay put until done_ is full.
    const int64_t blocks = (n_ + grain_ - 1) / grain_;
    const uint32_t chunks = count_of(c), at = chunk_at(index_of(c), chunks, size());
    int64_t b = blocks * at / chunks * grain_;
    int64_t e = std::min(n_, blocks * (at + 1) / chunks * grain_);
    if (b < e) task_(ctx_, b, e);
    done_.fetch_add(1, std::memory_order_acq_rel);
    c = claim_.load(std::memory_order_acquire);
  }
}

void ThreadPool::dispatch(int64_t n, int64_t grain, Task task, const void* ctx) {
  task_ = task;
  ctx_ = ctx;
  n_ = n;
  grain_ = std::max<int64_t>(grain, 1);
  const int64_t blocks = (n + grain_ - 1) / grain_;
  const auto chunks = static_cast<uint32_t>(std::min<int64_t>({blocks, size() * kChunksPerThread, 0xffff}));
  done_.store(0, std::memory_order_relaxed);
  const uint32_t gen = ++generation_;
  // seq_cst on both sides: either a parking worker sees the new claim word before it
  // sleeps, or we see it parked and wake it.
  claim_.store(make_claim(gen, chunks));
  if (parked_.load() > 0) claim_.notify_all();
  run_chunks(gen);
  for (int spins = 0; done_.load(std::memory_order_acquire) != chunks; ++spins) {
    if (spins < kSpinsBeforeYield)
      cpu_relax();
    else
      std::this_thread::yield();
  }
}

void ThreadPool::worker_loop() {
  uint32_t seen = 0;
  for (;;) {
    uint64_t c;
    int spins = 0;
    while (generation_of(c = claim_.load(std::memory_order_acquire)) == seen) {
      if (++spins < kSpinsBeforePark) {
        cpu_relax();
        continue;
      }
      parked_.fetch_add(1);
      claim_.wait(c);
      parked_.fetch_sub(1);
      spins = 0;
    }
    seen = generation_of(c);
    if (stop_.load(std::memory_order_acquire)) return;
    run_chunks(seen);
  }
}

}  // namespace bf
