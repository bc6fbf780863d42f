// int8_avx2 matmul variants on the model shapes, against this machine's bounds:
//   - read bandwidth: a streaming sum over 1 GiB (per benchmark thread count);
//   - peak 8-bit MAC rate: register-only vpdpbusd / vpmaddubsw+vpmaddwd loops;
//   - n_tokens = 1: GB/s of weights streamed (the generation bound is weight bytes /
//     bandwidth). stories110M and TinyLlama shapes cycle over copies totalling
//     >= 512 MiB so that every call reads from DRAM, as a model's layers do;
//     stories15M uses one copy (the model is cache-resident);
//   - n_tokens = 64: GOP/s (2 ops per MAC), one prompt chunk.
// Every block type but I8G gets real blocks (quantized random rows).
// Run: build/bench/bareflow_kernel_bench --benchmark_filter=Int8Avx2
#include <benchmark/benchmark.h>
#include <immintrin.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "kernels/families.h"
#include "kernels/quantize.h"
#include "kernels/variant.h"

namespace bf {
namespace {

const KernelRegistry& family() {
  static const KernelRegistry r = [] {
    KernelRegistry k;
    add_int8_avx2_variants(k);
    return k;
  }();
  return r;
}

struct Aligned {
  std::unique_ptr<uint8_t[], void (*)(uint8_t*)> p{nullptr, [](uint8_t* q) { std::free(q); }};
  size_t bytes = 0;
  explicit Aligned(size_t n) : p(static_cast<uint8_t*>(std::aligned_alloc(size_t{2} << 20, n)), [](uint8_t* q) {
                                   std::free(q);
                                 }), bytes(n) {}
  uint8_t* get() const { return p.get(); }
};

// The half [begin, end) of `n` units that benchmark thread `i` of `n_threads` takes,
// cut at a multiple of `grain`.
std::pair<int64_t, int64_t> share(int64_t n, int i, int n_threads, int64_t grain) {
  auto cut = [&](int k) { return k == n_threads ? n : (n * k / n_threads) / grain * grain; };
  return {cut(i), cut(i + 1)};
}

// ---- bounds --------------------------------------------------------------------

__attribute__((target("avx2"))) uint64_t stream_sum(const uint8_t* p, size_t n) {
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  for (size_t i = 0; i + 128 <= n; i += 128) {
    a0 = _mm256_add_epi64(a0, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i)));
    a1 = _mm256_add_epi64(a1, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 32)));
    a2 = _mm256_add_epi64(a2, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 64)));
    a3 = _mm256_add_epi64(a3, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 96)));
  }
  __m256i s = _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3));
  alignas(32) uint64_t l[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(l), s);
  return l[0] + l[1] + l[2] + l[3];
}

void Int8Avx2_ReadBandwidth1GiB(benchmark::State& state) {
  if (!CpuInfo::host().has(IsaLevel::Avx2)) return state.SkipWithError("CPU lacks avx2");
  static const Aligned buf = [] {
    Aligned b(size_t{1} << 30);
    madvise(b.get(), b.bytes, MADV_HUGEPAGE);  // as the repacked weights are
    std::memset(b.get(), 1, b.bytes);
    return b;
  }();
  auto [begin, end] = share(static_cast<int64_t>(buf.bytes), state.thread_index(), state.threads(), 4096);
  for (auto _ : state) benchmark::DoNotOptimize(stream_sum(buf.get() + begin, end - begin));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * (end - begin));
}
BENCHMARK(Int8Avx2_ReadBandwidth1GiB)->Threads(1)->Threads(2)->UseRealTime()->Unit(benchmark::kMillisecond);

// Eight independent accumulators (the fastest count measured on Zen 5); each
// instruction is 32 MACs.
__attribute__((target("avx2,avxvnni"))) void peak_vnni(benchmark::State& state) {
  __m256i a[8], w = _mm256_set1_epi8(3), x = _mm256_set1_epi8(-5);
  for (auto& v : a) v = _mm256_setzero_si256();
  for (auto _ : state) {
    for (int k = 0; k < 1000; ++k)
      for (auto& v : a) {
        asm volatile("" : "+x"(w));
        v = _mm256_dpbusd_avx_epi32(v, w, x);
      }
    for (auto& v : a) benchmark::DoNotOptimize(v);
  }
  state.counters["GOP/s"] = benchmark::Counter(2.0 * 32 * 8 * 1000 * state.iterations(), benchmark::Counter::kIsRate);
}

__attribute__((target("avx2"))) void peak_avx2(benchmark::State& state) {
  __m256i a[8], w = _mm256_set1_epi8(3), x = _mm256_set1_epi8(-5), ones = _mm256_set1_epi16(1);
  for (auto& v : a) v = _mm256_setzero_si256();
  for (auto _ : state) {
    for (int k = 0; k < 1000; ++k)
      for (auto& v : a) {
        asm volatile("" : "+x"(w));  // one product per accumulator: no common subexpression
        v = _mm256_add_epi32(v, _mm256_madd_epi16(_mm256_maddubs_epi16(w, x), ones));
      }
    for (auto& v : a) benchmark::DoNotOptimize(v);
  }
  state.counters["GOP/s"] = benchmark::Counter(2.0 * 32 * 8 * 1000 * state.iterations(), benchmark::Counter::kIsRate);
}

void Int8Avx2_PeakMacAvxVnni(benchmark::State& state) {
  if (!CpuInfo::host().avx_vnni) return state.SkipWithError("CPU lacks avxvnni");
  peak_vnni(state);
}
void Int8Avx2_PeakMacAvx2(benchmark::State& state) {
  if (!CpuInfo::host().has(IsaLevel::Avx2)) return state.SkipWithError("CPU lacks avx2");
  peak_avx2(state);
}
BENCHMARK(Int8Avx2_PeakMacAvxVnni)->UseRealTime();
BENCHMARK(Int8Avx2_PeakMacAvx2)->UseRealTime();

// ---- matmul --------------------------------------------------------------------

struct Shape {
  const char* name;
  int64_t rows, cols;
  bool streamed;  // cycle over copies beyond the last-level cache
};

const Shape kShapes[] = {
    {"s15M.wq", 288, 288, false},       {"s15M.w1", 768, 288, false},      {"s15M.w2", 288, 768, false},
    {"s15M.cls", 32000, 288, false},    {"s110M.wq", 768, 768, true},      {"s110M.w1", 2048, 768, true},
    {"s110M.w2", 768, 2048, true},      {"s110M.cls", 32000, 768, true},   {"tiny.wq", 2048, 2048, true},
    {"tiny.wk", 256, 2048, true},       {"tiny.w1", 5632, 2048, true},     {"tiny.w2", 2048, 5632, true},
    {"tiny.cls", 32000, 2048, true},
};

// Packed copies of one random matrix, and random 8-bit activations; built once per
// benchmark and shared by its threads.
struct Problem {
  std::string key;
  std::vector<PackedWeight> copies;
  std::vector<int8_t> qs;
  std::vector<float> d;
  std::vector<int32_t> sum;
  std::vector<float> out;
};

Problem& problem(const Variant& v, const Shape& s, int n_tokens) {
  static std::mutex m;
  static Problem p;
  std::lock_guard lock(m);
  const std::string key = v.name + s.name + std::to_string(n_tokens);
  if (p.key == key) return p;
  p = Problem{};
  std::mt19937 rng(1);
  const int group = v.type == DType::I8G ? 64 : 0;
  const size_t row_size = row_bytes(v.type, s.cols);
  std::vector<uint8_t> native(row_size * s.rows);
  std::vector<float> scales(v.type == DType::I8G ? s.rows * s.cols / group : 0, 0.01f);
  if (v.type == DType::I8G) {
    for (auto& b : native) b = static_cast<uint8_t>(rng());
  } else {  // a few quantized random rows, repeated: real blocks (finite scales) at little cost
    constexpr int64_t kDistinctRows = 64;
    std::normal_distribution<float> normal(0.0f, 0.02f);
    std::vector<float> x(s.cols);
    for (int64_t r = 0; r < std::min(s.rows, kDistinctRows); ++r) {
      for (auto& f : x) f = normal(rng);
      quantize_row(v.type, x.data(), &native[r * row_size], s.cols);
    }
    for (int64_t r = kDistinctRows; r < s.rows; ++r)
      std::memcpy(&native[r * row_size], &native[(r % kDistinctRows) * row_size], row_size);
  }
  TensorView tv;
  tv.type = v.type;
  tv.rows = s.rows;
  tv.cols = s.cols;
  tv.data = native.data();
  tv.scales = scales.empty() ? nullptr : scales.data();
  tv.group = group;
  p.copies.emplace_back();
  v.repack(tv, p.copies[0]);
  const size_t bytes = p.copies[0].bytes;
  const size_t n = s.streamed && n_tokens == 1 ? std::max<size_t>(1, (size_t{512} << 20) / bytes) : 1;
  while (p.copies.size() < n) {
    p.copies.emplace_back();
    v.repack(tv, p.copies.back());
  }
  p.qs.resize(n_tokens * s.cols);
  for (auto& q : p.qs) q = static_cast<int8_t>(static_cast<int>(rng() % 255) - 127);
  p.d.assign(n_tokens * s.cols / kQBlock, 0.02f);
  p.sum.assign(p.d.size(), 0);
  for (size_t b = 0; b < p.sum.size(); ++b)
    for (int i = 0; i < kQBlock; ++i) p.sum[b] += p.qs[b * kQBlock + i];
  p.out.assign(n_tokens * s.rows, 0);
  p.key = key;
  return p;
}

void matmul_bench(benchmark::State& state, const std::string& name, const Shape& s, int n_tokens) {
  const Variant& v = *family().find(name);
  if (!v.runs_on(CpuInfo::host())) return state.SkipWithError(("CPU lacks the ISA of " + name).c_str());
  Problem& p = problem(v, s, n_tokens);
  MatmulArgs a{};
  a.xq = {p.qs.data(), p.d.data(), p.sum.data()};
  a.out = p.out.data();
  a.rows = s.rows;
  a.cols = s.cols;
  a.out_stride = s.rows;
  a.n_tokens = n_tokens;
  a.group = v.type == DType::I8G ? 64 : 0;
  auto [begin, end] = share(s.rows, state.thread_index(), state.threads(), v.split.grain);
  size_t i = 0;
  for (auto _ : state) {
    const PackedWeight& w = p.copies[i++ % p.copies.size()];
    a.w = w.w;
    a.w_scales = w.w_scales;
    v.fn(&a, begin, end);
  }
  const double share_of_rows = static_cast<double>(end - begin) / s.rows;
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * p.copies[0].bytes * share_of_rows));
  state.counters["GOP/s"] = benchmark::Counter(
      2.0 * (end - begin) * s.cols * n_tokens * state.iterations(), benchmark::Counter::kIsRate);
}

// One prompt chunk's worth of tokens.
constexpr int kPromptTokens = 64;

const int kRegistered = [] {
  for (const char* type : {"q8_0", "q4_0", "i8g", "q4_1", "q5_0", "q5_1", "q4_k", "q5_k", "q6_k"})
    for (const char* isa : {"avx2", "avxvnni"}) {
      const std::string name = std::string("matmul.") + type + "." + isa + ".r8";
      for (const Shape& s : kShapes) {
        benchmark::RegisterBenchmark(("Int8Avx2_gen/" + name + "/" + s.name).c_str(),
                                     [=](benchmark::State& st) { matmul_bench(st, name, s, 1); })
            ->Threads(1)->Threads(2)->UseRealTime()->Unit(benchmark::kMicrosecond);
        if (std::string(s.name).find("s15M") == 0 || std::string(s.name).find("cls") != std::string::npos) continue;
        benchmark::RegisterBenchmark(("Int8Avx2_pp" + std::to_string(kPromptTokens) + "/" + name + "/" + s.name).c_str(),
                                     [=](benchmark::State& st) { matmul_bench(st, name, s, kPromptTokens); })
            ->Threads(1)->UseRealTime()->Unit(benchmark::kMillisecond);
      }
    }
  return 0;
}();

}  // namespace
}  // namespace bf
