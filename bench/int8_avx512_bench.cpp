// int8 AVX-512 / AMX matmul variants: weight streaming (GB/s, n_tokens = 1) against this
// machine's single-thread read bandwidth, and prompt throughput (GOP/s, 2 ops per MAC)
// against the peak of vpdpbusd zmm, plus whole-model token steps (every matmul, repacked into one
// arena in forward order as the forward pass does) against the bound `bareflow bench` uses.
#include <benchmark/benchmark.h>
#include <immintrin.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "cpu/cpu.h"
#include "kernels/quantize.h"
#include "kernels/variant.h"
#include "perf/bounds.h"
#include "threads/pool.h"
#include "util/stream_memory.h"

// GCC 12's own _mm512_undefined_* (self-initialized) trips these at inlined intrinsics.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace bf {
namespace {

constexpr size_t kGiB = size_t{1} << 30;

struct FreeDeleter {
  void operator()(uint8_t* p) const { std::free(p); }
};
using Buffer = std::unique_ptr<uint8_t[], FreeDeleter>;

Buffer alloc64(size_t bytes) {
  auto* p = static_cast<uint8_t*>(std::aligned_alloc(64, (bytes + 63) / 64 * 64));
  std::memset(p, 1, bytes);  // fault every page in before timing
  return Buffer(p);
}

// ---- machine limits --------------------------------------------------------------

__attribute__((target("avx512f"))) int64_t stream_sum(const uint8_t* p, size_t bytes) {
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
  for (size_t i = 0; i < bytes; i += 256) {
    a0 = _mm512_add_epi64(a0, _mm512_load_si512(p + i));
    a1 = _mm512_add_epi64(a1, _mm512_load_si512(p + i + 64));
    a2 = _mm512_add_epi64(a2, _mm512_load_si512(p + i + 128));
    a3 = _mm512_add_epi64(a3, _mm512_load_si512(p + i + 192));
  }
  return _mm512_reduce_add_epi64(_mm512_add_epi64(_mm512_add_epi64(a0, a1), _mm512_add_epi64(a2, a3)));
}

// Read bandwidth: a streaming sum over range(0) bytes, each thread its own part. 1 GiB
// is DRAM; 512 KiB and 8 MiB show what L2 and L3 deliver to one core.
void BM_ReadBandwidth(benchmark::State& s) {
  if (!CpuInfo::host().avx512f) return s.SkipWithError("no avx512f");
  static Buffer buf = alloc64(kGiB);
  const size_t part = static_cast<size_t>(s.range(0)) / static_cast<size_t>(s.threads());
  const uint8_t* p = buf.get() + part * static_cast<size_t>(s.thread_index());
  for (auto _ : s) benchmark::DoNotOptimize(stream_sum(p, part));
  s.SetBytesProcessed(static_cast<int64_t>(s.iterations() * part));
}
BENCHMARK(BM_ReadBandwidth)->Unit(benchmark::kMicrosecond)->Arg(kGiB)->Arg(512 << 10)->Arg(8 << 20);
BENCHMARK(BM_ReadBandwidth)->Unit(benchmark::kMillisecond)->UseRealTime()->Threads(2)->Arg(kGiB);

// Peak 8-bit multiply-accumulate rate: independent vpdpbusd zmm chains, registers only.
__attribute__((target("avx512f,avx512vnni"))) int32_t vnni_loop(int64_t n, const uint8_t* bytes) {
  const __m512i a = _mm512_loadu_si512(bytes), b = _mm512_loadu_si512(bytes + 64);
  __m512i c[12];
  for (int i = 0; i < 12; ++i) c[i] = _mm512_set1_epi32(i);
  for (int64_t k = 0; k < n; ++k)
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) c[i] = _mm512_dpbusd_epi32(c[i], a, b);
  __m512i s = c[0];
  for (int i = 1; i < 12; ++i) s = _mm512_add_epi32(s, c[i]);
  return _mm512_reduce_add_epi32(s);
}

void BM_VnniPeak(benchmark::State& s) {
  if (!CpuInfo::host().has(IsaLevel::Avx512Vnni)) return s.SkipWithError("no avx512vnni");
  constexpr int64_t kIters = 1 << 20;
  alignas(64) uint8_t bytes[128];
  for (int i = 0; i < 128; ++i) bytes[i] = static_cast<uint8_t>(i);
  for (auto _ : s) benchmark::DoNotOptimize(vnni_loop(kIters, bytes));
  s.counters["GOP/s"] = benchmark::Counter(static_cast<double>(s.iterations()) * kIters * 12 * 64 * 2 / 1e9,
                                           benchmark::Counter::kIsRate);
}
BENCHMARK(BM_VnniPeak);

// ---- matmuls ---------------------------------------------------------------------

struct Shape {
  const char* name;
  int64_t rows, cols;
};

// MiB the copies of a "dram" weight span: 512, or env BF_DRAM_MB. (On a VM whose host
// pages are small, or that pages cold guest memory out, a big footprint measures the
// page walks more than DRAM: 64 already exceeds a Zen 5 CCD's 32 MiB L3.)
size_t dram_footprint_mib() {
  const char* mb = std::getenv("BF_DRAM_MB");
  return mb ? static_cast<size_t>(std::atoi(mb)) : 512;
}

// A weight repacked once and copied until the copies exceed the last-level cache when
// `from_dram`, so that a token step streams from DRAM as it does in a large model.
struct Packed {
  const Variant* v = nullptr;
  Buffer copies;
  size_t stride = 0, n_copies = 1, bytes = 0;
  ptrdiff_t scales_at = -1;  // w_scales - w, or -1
  int group = 0;
};

// Random weights of one shape in the file's layout of `type`.
struct NativeWeight {
  std::vector<uint8_t> data;
  std::vector<float> scales;
  TensorView t;
};

NativeWeight native_weight(DType type, const Shape& sh) {
  std::mt19937 rng(42);
  std::normal_distribution<float> n(0.0f, 0.05f);
  std::vector<float> f(static_cast<size_t>(sh.rows * sh.cols));
  for (float& x : f) x = n(rng);
  NativeWeight w;
  w.t.type = type;
  w.t.rows = sh.rows;
  w.t.cols = sh.cols;
  if (type == DType::I8G) {
    w.t.group = sh.cols % 64 == 0 ? 64 : 32;
    w.data.resize(f.size());
    w.scales.resize(f.size() / w.t.group);
    quantize_i8g(f.data(), reinterpret_cast<int8_t*>(w.data.data()), w.scales.data(), static_cast<int64_t>(f.size()),
                 w.t.group);
    w.t.scales = w.scales.data();
  } else {
    w.data.resize(row_bytes(type, sh.cols) * static_cast<size_t>(sh.rows));
    quantize_row(type, f.data(), w.data.data(), static_cast<int64_t>(f.size()));
  }
  w.t.data = w.data.data();
  return w;
}

Packed pack(const Variant& v, DType type, const Shape& sh, bool from_dram) {
  const NativeWeight native = native_weight(type, sh);
  PackedWeight pw;
  v.repack(native.t, pw);
  Packed p;
  p.v = &v;
  p.group = native.t.group;
  p.bytes = pw.bytes;
  p.stride = (pw.bytes + 4095) / 4096 * 4096;
  if (from_dram) p.n_copies = (dram_footprint_mib() << 20) / p.stride + 1;
  p.copies = alloc64(p.stride * p.n_copies);
  for (size_t i = 0; i < p.n_copies; ++i) std::memcpy(p.copies.get() + i * p.stride, pw.w, pw.bytes);
  if (pw.w_scales)
    p.scales_at = reinterpret_cast<const uint8_t*>(pw.w_scales) - static_cast<const uint8_t*>(pw.w);
  return p;
}

struct Acts {
  std::vector<int8_t> qs;
  std::vector<float> d;
  std::vector<int32_t> sum;
  Acts(int n_tokens, int64_t cols)
      : qs(static_cast<size_t>(n_tokens * cols), 3), d(qs.size() / 32, 0.01f), sum(qs.size() / 32, 96) {}
};

MatmulArgs matmul_args(const void* w, const float* w_scales, int group, const Shape& sh, Acts& x,
                       std::vector<float>& out, int n_tokens) {
  MatmulArgs a{};
  a.w = w;
  a.w_scales = w_scales;
  a.xq = {x.qs.data(), x.d.data(), x.sum.data()};
  a.out = out.data();
  a.rows = sh.rows;
  a.cols = sh.cols;
  a.out_stride = sh.rows;
  a.n_tokens = n_tokens;
  a.group = group;
  return a;
}

MatmulArgs args_for(const Packed& p, const Shape& sh, Acts& x, std::vector<float>& out, int n_tokens, size_t copy) {
  const uint8_t* w = p.copies.get() + copy * p.stride;
  const float* scales = p.scales_at >= 0 ? reinterpret_cast<const float*>(w + p.scales_at) : nullptr;
  return matmul_args(w, scales, p.group, sh, x, out, n_tokens);
}

const KernelRegistry& registry() {
  static const KernelRegistry r = KernelRegistry::builtin();
  return r;
}

const Variant* usable_variant(const std::string& name) {
  const Variant* v = registry().find(name);
  return v && v->runs_on(CpuInfo::host()) ? v : nullptr;
}

// One matmul, repeated. With 2 threads each takes half the rows, split at a row-group
// boundary as the runner would; rates are then per thread (x2 for the total).
void BM_Matmul(benchmark::State& s, std::string variant, DType type, Shape sh, int n_tokens, bool from_dram) {
  const Variant* v = usable_variant(variant);
  if (!v) return s.SkipWithError("variant not usable on this CPU");
  static std::shared_ptr<Packed> shared;  // one packing for all threads of a run
  if (s.thread_index() == 0) shared = std::make_shared<Packed>(pack(*v, type, sh, from_dram));
  Acts x(n_tokens, sh.cols);
  std::vector<float> out(static_cast<size_t>(n_tokens * sh.rows));
  const int64_t half = (sh.rows / 2 + 15) / 16 * 16;
  const int64_t begin = s.threads() == 1 ? 0 : s.thread_index() * half;
  const int64_t end = s.threads() == 1 || s.thread_index() == 1 ? sh.rows : half;
  size_t copy = 0;
  for (auto _ : s) {
    const Packed& p = *shared;
    const MatmulArgs a = args_for(p, sh, x, out, n_tokens, copy);
    v->fn(&a, begin, end);
    copy = copy + 1 == p.n_copies ? 0 : copy + 1;
  }
  const double frac = static_cast<double>(end - begin) / static_cast<double>(sh.rows);
  s.SetBytesProcessed(static_cast<int64_t>(static_cast<double>(s.iterations()) * shared->bytes * frac));
  s.counters["GOP/s"] = benchmark::Counter(static_cast<double>(s.iterations()) * 2.0 * (end - begin) * sh.cols *
                                               n_tokens / 1e9,
                                           benchmark::Counter::kIsRate);
}

// Every matmul of one token step of a Llama model (its own copy of each layer's
// weights, so the cache sees what the forward pass would), 1 thread.
struct ModelShape {
  const char* name;
  int64_t dim, hidden, kv_dim, vocab;
  int layers;
};

void BM_ModelToken(benchmark::State& s, std::string type_name, DType type, ModelShape m) {
  const Variant* v = usable_variant("matmul." + type_name + ".avx512vnni.r16");
  if (!v) return s.SkipWithError("variant not usable on this CPU");
  std::vector<Shape> shapes;
  for (int l = 0; l < m.layers; ++l)
    for (Shape sh : {Shape{"wq", m.dim, m.dim}, Shape{"wk", m.kv_dim, m.dim}, Shape{"wv", m.kv_dim, m.dim},
                     Shape{"wo", m.dim, m.dim}, Shape{"w1", m.hidden, m.dim}, Shape{"w3", m.hidden, m.dim},
                     Shape{"w2", m.dim, m.hidden}})
      shapes.push_back(sh);
  shapes.push_back({"cls", m.vocab, m.dim});
  // Repacked in forward order into one arena on huge pages, as the forward pass does
  // (util/stream_memory.h): a token step is then one long stream.
  size_t native_bytes = 0;
  for (const Shape& sh : shapes) native_bytes += row_bytes(type, sh.cols) * static_cast<size_t>(sh.rows);
  StreamArena arena(2 * native_bytes + (size_t{64} << 20));
  std::vector<PackedWeight> packed(shapes.size());
  Acts x(1, m.hidden);
  std::vector<float> out(static_cast<size_t>(m.vocab));
  std::vector<MatmulArgs> args;
  size_t bytes = 0;
  for (size_t i = 0; i < shapes.size(); ++i) {
    const NativeWeight native = native_weight(type, shapes[i]);
    packed[i].arena = &arena;
    v->repack(native.t, packed[i]);
    bytes += packed[i].bytes;
    args.push_back(matmul_args(packed[i].w, packed[i].w_scales, native.t.group, shapes[i], x, out, 1));
  }
  // The read bandwidth `bareflow bench` takes as the bound, before and after (the
  // machine may be shared: the figure is only as steady as the two agree).
  ThreadPool pool(1);
  const double bound_before = measure_read_bandwidth(pool, CpuInfo::host(), 3).gbs;
  for (auto _ : s)
    for (size_t i = 0; i < shapes.size(); ++i) v->fn(&args[i], 0, shapes[i].rows);
  const double bound_after = measure_read_bandwidth(pool, CpuInfo::host(), 3).gbs;
  s.SetBytesProcessed(static_cast<int64_t>(s.iterations() * bytes));
  s.counters["tok/s"] = benchmark::Counter(static_cast<double>(s.iterations()), benchmark::Counter::kIsRate);
  s.counters["bound_GB/s_before"] = bound_before;
  s.counters["bound_GB/s_after"] = bound_after;
}

// Cache-resident token steps; "l1" fits the L1 cache (the kernel's compute limit).
const Shape kHotShapes[] = {
    {"l1.64x384", 64, 384}, {"15M.wq", 288, 288}, {"15M.w1", 768, 288}, {"15M.w2", 288, 768}, {"110M.wq", 768, 768}};
const Shape kDramShapes[] = {
    {"110M.w1", 2048, 768}, {"110M.w2", 768, 2048}, {"110M.cls", 32000, 768}, {"tiny.wq", 2048, 2048},
    {"tiny.wk", 256, 2048}, {"tiny.w1", 5632, 2048}, {"tiny.w2", 2048, 5632}, {"tiny.cls", 32000, 2048},
};
const Shape kPromptShapes[] = {
    {"110M.wq", 768, 768}, {"110M.w1", 2048, 768}, {"tiny.wq", 2048, 2048}, {"tiny.w2", 2048, 5632}};
// A 64-token prompt chunk on the TinyLlama MLP shapes (every type runs these).
const Shape kChunkShapes[] = {{"tiny.w1", 5632, 2048}, {"tiny.w2", 2048, 5632}};
const ModelShape kModels[] = {{"stories15M", 288, 768, 288, 32000, 6},
                              {"stories110M", 768, 2048, 768, 32000, 12},
                              {"tinyllama", 2048, 5632, 256, 32000, 22}};

struct TypeName {
  DType type;
  const char* name;
};
const TypeName kTypes[] = {{DType::Q8_0, "q8_0"}, {DType::Q4_0, "q4_0"}, {DType::I8G, "i8g"},
                           {DType::Q4_1, "q4_1"}, {DType::Q5_0, "q5_0"}, {DType::Q5_1, "q5_1"},
                           {DType::Q4_K, "q4_k"}, {DType::Q5_K, "q5_k"}, {DType::Q6_K, "q6_k"}};

// Single-thread figures use CPU time (the machine may be shared); 2 threads, real time.
[[maybe_unused]] const bool registered = [] {
  using benchmark::RegisterBenchmark;
  for (const TypeName& t : kTypes) {
    const auto fits = [&](int64_t cols) { return row_bytes(t.type, cols) > 0; };  // K types: whole super-blocks
    for (const char* isa : {"avx512", "avx512vnni", "amx"}) {
      const std::string v = std::string("matmul.") + t.name + "." + isa + ".r16";
      if (!registry().find(v)) continue;
      const std::string base = "int8_avx512/" + v + "/";
      for (const Shape& sh : kHotShapes)
        if (fits(sh.cols)) RegisterBenchmark((base + sh.name + "/T1/hot").c_str(), BM_Matmul, v, t.type, sh, 1, false);
      for (const Shape& sh : kDramShapes) {
        if (!fits(sh.cols)) continue;
        RegisterBenchmark((base + sh.name + "/T1/dram").c_str(), BM_Matmul, v, t.type, sh, 1, true);
        RegisterBenchmark((base + sh.name + "/T1/dram").c_str(), BM_Matmul, v, t.type, sh, 1, true)
            ->UseRealTime()
            ->Threads(2);
      }
      for (const Shape& sh : kPromptShapes)
        if (fits(sh.cols))
          RegisterBenchmark((base + sh.name + "/T128").c_str(), BM_Matmul, v, t.type, sh, 128, false)
              ->Unit(benchmark::kMicrosecond);
      for (const Shape& sh : kChunkShapes)
        RegisterBenchmark((base + sh.name + "/T64").c_str(), BM_Matmul, v, t.type, sh, 64, false)
            ->Unit(benchmark::kMicrosecond);
    }
    for (const ModelShape& m : kModels)
      if (fits(m.dim) && fits(m.hidden))
        RegisterBenchmark((std::string("int8_avx512/model_token/") + m.name + "/" + t.name).c_str(), BM_ModelToken,
                          std::string(t.name), t.type, m)
            ->Unit(benchmark::kMicrosecond);
  }
  return true;
}();

}  // namespace
}  // namespace bf
