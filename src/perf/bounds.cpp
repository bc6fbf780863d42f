#include "perf/bounds.h"

#include <immintrin.h>
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>

#include "threads/pool.h"

namespace bf {
namespace {

#define BF_TARGET(isa) __attribute__((target(isa)))

double seconds_now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Best rate (work per second) over calls of `pass`, each doing `work`: at least
// `min_runs` calls, then more while under `budget_s` seconds in all, at most `max_runs`.
// More calls only bring the best closer to the true peak: on a shared machine a call
// is slowed whenever another process takes one of our cores.
template <typename F>
double best_rate(int min_runs, int max_runs, double budget_s, double work, const F& pass, int* done = nullptr) {
  const double start = seconds_now();
  double best = 0;
  int n = 0;
  while (n < max_runs && (n < min_runs || seconds_now() - start < budget_s)) {
    const double t0 = seconds_now();
    pass();
    best = std::max(best, work / (seconds_now() - t0));
    ++n;
  }
  if (done) *done = n;
  return best;
}

// ---- read bandwidth ----

// Each chunk a thread claims is read as this many interleaved streams: one stream per
// thread leaves a core's line-fill buffers and prefetchers half idle.
constexpr int kStreams = 4;
// Work unit of the split; a multiple of kStreams x 128 bytes, so every stream is whole
// 128-byte steps.
constexpr uint64_t kUnitBytes = 64 << 10;
constexpr uint64_t kMinBufferBytes = uint64_t{1} << 30;
constexpr uint64_t kHugePage = 2 << 20;

// Reads kStreams streams of `n` bytes each, back to back from `p`, two cache lines of
// each stream per step, with `Bytes`-wide loads; inlined into one function per ISA.
template <int Bytes>
[[gnu::always_inline]] inline uint64_t read_streams(const uint8_t* p, uint64_t n) {
  typedef long long V __attribute__((vector_size(Bytes), may_alias));
  constexpr int kPerStep = 128 / Bytes;
  static_assert(kStreams == 4, "the fold below names four streams");
  V acc[kStreams] = {};
  for (uint64_t i = 0; i < n; i += 128)
#pragma GCC unroll 4
    for (int s = 0; s < kStreams; ++s)
#pragma GCC unroll 8
      for (int k = 0; k < kPerStep; ++k) acc[s] ^= *reinterpret_cast<const V*>(p + s * n + i + k * Bytes);
  const V all = acc[0] ^ acc[1] ^ acc[2] ^ acc[3];
  uint64_t lanes[Bytes / 8];
  std::memcpy(lanes, &all, Bytes);
  uint64_t folded = 0;
  for (uint64_t lane : lanes) folded ^= lane;
  return folded;
}

BF_TARGET("avx512f") uint64_t read_streams_avx512(const uint8_t* p, uint64_t n) { return read_streams<64>(p, n); }
BF_TARGET("avx2") uint64_t read_streams_avx2(const uint8_t* p, uint64_t n) { return read_streams<32>(p, n); }
uint64_t read_streams_sse2(const uint8_t* p, uint64_t n) { return read_streams<16>(p, n); }

using ReadFn = uint64_t (*)(const uint8_t*, uint64_t);

// The time bandwidth measurement may take in all, the fault-in included; it goes over
// only to time five passes.
constexpr double kBandwidthBudget = 2.0;

ReadFn read_fn(const CpuInfo& cpu) {
  if (cpu.has(IsaLevel::Avx512)) return read_streams_avx512;
  if (cpu.has(IsaLevel::Avx2)) return read_streams_avx2;
  return read_streams_sse2;
}

// Unmaps the whole mapping from `start`; `bytes` is what the aligned pointer may use.
struct Unmap {
  uint8_t* start;
  uint64_t bytes;
  void operator()(uint8_t*) const { munmap(start, bytes + kHugePage); }
};
using Mapping = std::unique_ptr<uint8_t, Unmap>;

// Anonymous memory of `bytes`, halved until the system grants it (not below 64 MiB).
// On 2 MiB boundaries and with huge pages where the kernel offers them: faulting a GiB
// in 4 KiB pages can take seconds on a virtual machine, and TLB misses are not what we
// measure. The mapping is kHugePage larger than asked, to align inside it.
Mapping map_buffer(uint64_t bytes) {
  for (; bytes >= (uint64_t{64} << 20); bytes /= 2) {
    void* p = mmap(nullptr, bytes + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) continue;
    const auto addr = reinterpret_cast<uintptr_t>(p);
    const uintptr_t aligned = (addr + kHugePage - 1) / kHugePage * kHugePage;
#ifdef MADV_HUGEPAGE
    madvise(reinterpret_cast<void*>(aligned), bytes, MADV_HUGEPAGE);
#endif
    return Mapping(reinterpret_cast<uint8_t*>(aligned), Unmap{static_cast<uint8_t*>(p), bytes});
  }
  throw std::runtime_error("bandwidth: cannot map a 64 MiB buffer");
}

// ---- 8-bit multiply-accumulate peak ----
//
// Inline assembly, not intrinsics: the loop must be exactly the multiply-adds on
// registers. With intrinsics the compiler hoists the loop-invariant products, shares
// one product between chains, or copies accumulators around each instruction.

// Independent accumulator chains per thread: enough to hide a multiply-add's latency
// (about 5 cycles) on two or more ports, and with the inputs and a temporary still
// within the 16 registers AVX2 has.
constexpr int kChains = 12;

// One chain's instructions, for accumulator %[cN] (N as a string), then all of them.
#define BF_CHAINS(step) \
  step("0") step("1") step("2") step("3") step("4") step("5") step("6") step("7") step("8") step("9") step("10") step("11")
#define BF_ACC(c)                                                                                               \
  [c0] "+" c(acc[0]), [c1] "+" c(acc[1]), [c2] "+" c(acc[2]), [c3] "+" c(acc[3]), [c4] "+" c(acc[4]),           \
      [c5] "+" c(acc[5]), [c6] "+" c(acc[6]), [c7] "+" c(acc[7]), [c8] "+" c(acc[8]), [c9] "+" c(acc[9]),       \
      [c10] "+" c(acc[10]), [c11] "+" c(acc[11])
#define BF_VPDPBUSD(n) "vpdpbusd %[b], %[a], %[c" n "]\n\t"
#define BF_VEX_VPDPBUSD(n) "%{vex%} vpdpbusd %[b], %[a], %[c" n "]\n\t"
#define BF_VPMADDUBSW(n) "vpmaddubsw %[b], %[a], %[t]\n\tvpmaddwd %[ones], %[t], %[t]\n\tvpaddd %[t], %[c" n "], %[c" n "]\n\t"
#define BF_PMADDWD(n) "movdqa %[a], %[t]\n\tpmaddwd %[b], %[t]\n\tpaddd %[t], %[c" n "]\n\t"

BF_TARGET("avx512f,avx512bw,avx512vnni") void peak_vpdpbusd_zmm(int64_t iters) {
  __m512i acc[kChains] = {};
  const __m512i a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(-5);
  for (int64_t i = 0; i < iters; ++i) asm volatile(BF_CHAINS(BF_VPDPBUSD) : BF_ACC("v") : [a] "v"(a), [b] "v"(b));
}

BF_TARGET("avx2,avxvnni") void peak_vpdpbusd_ymm(int64_t iters) {
  __m256i acc[kChains] = {};
  const __m256i a = _mm256_set1_epi8(3), b = _mm256_set1_epi8(-5);
  for (int64_t i = 0; i < iters; ++i) asm volatile(BF_CHAINS(BF_VEX_VPDPBUSD) : BF_ACC("x") : [a] "x"(a), [b] "x"(b));
}

BF_TARGET("avx512f,avx512bw") void peak_vpmaddubsw_zmm(int64_t iters) {
  __m512i acc[kChains] = {};
  const __m512i a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(-5), ones = _mm512_set1_epi16(1);
  __m512i t;
  for (int64_t i = 0; i < iters; ++i)
    asm volatile(BF_CHAINS(BF_VPMADDUBSW) : BF_ACC("v"), [t] "=&v"(t) : [a] "v"(a), [b] "v"(b), [ones] "v"(ones));
}

BF_TARGET("avx2") void peak_vpmaddubsw_ymm(int64_t iters) {
  __m256i acc[kChains] = {};
  const __m256i a = _mm256_set1_epi8(3), b = _mm256_set1_epi8(-5), ones = _mm256_set1_epi16(1);
  __m256i t;
  for (int64_t i = 0; i < iters; ++i)
    asm volatile(BF_CHAINS(BF_VPMADDUBSW) : BF_ACC("x"), [t] "=&x"(t) : [a] "x"(a), [b] "x"(b), [ones] "x"(ones));
}

// SSE2 has no 8-bit multiply-add: its kernels widen to 16 bits and use pmaddwd.
void peak_pmaddwd_xmm(int64_t iters) {
  __m128i acc[kChains] = {};
  const __m128i a = _mm_set1_epi16(3), b = _mm_set1_epi16(-5);
  __m128i t;
  for (int64_t i = 0; i < iters; ++i)
    asm volatile(BF_CHAINS(BF_PMADDWD) : BF_ACC("x"), [t] "=&x"(t) : [a] "x"(a), [b] "x"(b));
}

#undef BF_CHAINS
#undef BF_ACC
#undef BF_VPDPBUSD
#undef BF_VEX_VPDPBUSD
#undef BF_VPMADDUBSW
#undef BF_PMADDWD

struct PeakLoop {
  std::string_view name;
  void (*run)(int64_t iters);
  int macs;  // multiply-accumulates one chain does per iteration
};

const PeakLoop& peak_loop(IsaLevel level, const CpuInfo& cpu) {
  static const PeakLoop vnni_zmm{"vpdpbusd zmm", peak_vpdpbusd_zmm, 64};
  static const PeakLoop vnni_ymm{"vpdpbusd ymm (AVX-VNNI)", peak_vpdpbusd_ymm, 32};
  static const PeakLoop maddubs_zmm{"vpmaddubsw+vpmaddwd+vpaddd zmm", peak_vpmaddubsw_zmm, 64};
  static const PeakLoop maddubs_ymm{"vpmaddubsw+vpmaddwd+vpaddd ymm", peak_vpmaddubsw_ymm, 32};
  static const PeakLoop pmaddwd_xmm{"pmaddwd+paddd xmm", peak_pmaddwd_xmm, 8};
  switch (level) {
    case IsaLevel::Avx512Vnni: return vnni_zmm;
    case IsaLevel::Avx512: return maddubs_zmm;
    case IsaLevel::Avx2: return cpu.avx_vnni ? vnni_ymm : maddubs_ymm;
    case IsaLevel::Sse2: break;
  }
  return pmaddwd_xmm;
}

}  // namespace

uint64_t bandwidth_buffer_bytes(const CpuInfo& cpu) {
  const uint64_t want = std::max(kMinBufferBytes, uint64_t{4} * cpu.l3_bytes);
  return (want + kUnitBytes - 1) / kUnitBytes * kUnitBytes;
}

Bandwidth measure_read_bandwidth(ThreadPool& pool, const CpuInfo& cpu, int passes) {
  const double start = seconds_now();
  Mapping buf = map_buffer(bandwidth_buffer_bytes(cpu));
  const uint64_t bytes = buf.get_deleter().bytes;
  uint8_t* base = buf.get();
  const auto units = static_cast<int64_t>(bytes / kUnitBytes);
  // Written, not just touched: a page only read would map the shared zero page and
  // stay in cache. The same split as the reads puts each page near its reader.
  pool.parallel_for(units, 1, [&](int64_t b, int64_t e) {
    std::memset(base + b * kUnitBytes, 1, (e - b) * kUnitBytes);
  });

  const ReadFn read = read_fn(cpu);
  std::atomic<uint64_t> sink{0};
  Bandwidth r;
  r.buffer_bytes = bytes;
  const double budget = kBandwidthBudget - (seconds_now() - start);
  r.gbs = best_rate(std::min(passes, 5), passes, budget, static_cast<double>(bytes) / 1e9, [&] {
    pool.parallel_for(units, 1, [&](int64_t b, int64_t e) {
      sink.fetch_xor(read(base + b * kUnitBytes, (e - b) * kUnitBytes / kStreams), std::memory_order_relaxed);
    });
  }, &r.passes);
  return r;
}

std::string_view int8_peak_kernel(IsaLevel level, const CpuInfo& cpu) { return peak_loop(level, cpu).name; }

double measure_int8_peak(ThreadPool& pool, IsaLevel level, const CpuInfo& cpu, int runs) {
  if (!cpu.has(level)) throw std::invalid_argument("int8 peak: CPU lacks " + std::string(isa_level_name(level)));
  const PeakLoop& loop = peak_loop(level, cpu);
  // A unit of about 0.25 ms on this core (the first call also warms the vector unit
  // up): a run of four units per thread is short enough to often find every thread's
  // core free on a shared machine, and long enough that the pool's overhead vanishes.
  constexpr int64_t kProbe = 1 << 14;
  const double t0 = seconds_now();
  loop.run(kProbe);
  const double probe_s = std::max(seconds_now() - t0, 1e-6);
  const int64_t iters = std::clamp<int64_t>(static_cast<int64_t>(kProbe * 0.25e-3 / probe_s), kProbe, int64_t{1} << 28);
  const int64_t units = int64_t{4} * pool.size();
  const double ops = 2.0 * loop.macs * kChains * static_cast<double>(iters) * units;
  return best_rate(runs, 1000, 0.5, ops / 1e9, [&] {
    pool.parallel_for(units, 1, [&](int64_t b, int64_t e) {
      for (int64_t u = b; u < e; ++u) loop.run(iters);
    });
  });
}

}  // namespace bf
