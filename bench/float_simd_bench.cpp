// Microbenchmarks of the float_simd family at every ISA level this CPU has, on the
// shapes of stories15M, stories110M and TinyLlama-1.1B. Matmuls report GB/s of weights
// (bytes_per_second) and GOP/s (2 ops per multiply-add); "cold" runs rotate over enough
// copies of the weight (>= 512 MiB) that each call reads it from DRAM, "hot" repeats
// one copy (cache-resident when it fits).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "cpu/cpu.h"
#include "kernels/contract.h"
#include "kernels/families.h"
#include "kernels/quantize.h"
#include "kernels/variant.h"
#include "util/f16.h"

namespace bf {
namespace {

const KernelRegistry& registry() {
  static const KernelRegistry r = [] {
    KernelRegistry reg;
    add_float_simd_variants(reg);
    return reg;
  }();
  return r;
}

std::vector<float> random_floats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

struct AlignedFree {
  void operator()(uint8_t* p) const { std::free(p); }
};
using Buffer = std::unique_ptr<uint8_t[], AlignedFree>;

Buffer aligned(size_t bytes) {
  return Buffer(static_cast<uint8_t*>(std::aligned_alloc(64, (bytes + 63) / 64 * 64)));
}

// `copies` copies of a rows x cols weight of `type` (F32, F16 or Q8_0) in one buffer.
Buffer make_weight(DType type, int64_t rows, int64_t cols, int copies, size_t& bytes) {
  bytes = row_bytes(type, cols) * static_cast<size_t>(rows);
  Buffer buf = aligned(bytes * static_cast<size_t>(copies));
  std::vector<float> row = random_floats(static_cast<size_t>(cols), 1);
  for (int64_t r = 0; r < rows * copies; ++r) {
    uint8_t* p = buf.get() + row_bytes(type, cols) * static_cast<size_t>(r);
    if (type == DType::F32) std::memcpy(p, row.data(), sizeof(float) * static_cast<size_t>(cols));
    if (type == DType::F16) quantize_row_f16(row.data(), reinterpret_cast<uint16_t*>(p), cols);
    if (type == DType::Q8_0) quantize_row_q8_0(row.data(), reinterpret_cast<BlockQ8_0*>(p), cols);
  }
  return buf;
}

void bm_matmul(benchmark::State& state, const Variant* v, DType type, int64_t rows, int64_t cols, int n_tokens,
               bool cold) {
  size_t bytes = 0;
  const int copies = cold ? static_cast<int>(512.0 * (1 << 20) / static_cast<double>(row_bytes(type, cols) * rows)) + 1 : 1;
  Buffer w = make_weight(type, rows, cols, copies, bytes);
  std::vector<float> x = random_floats(static_cast<size_t>(cols * n_tokens), 2);
  std::vector<float> out(static_cast<size_t>(rows * n_tokens));
  MatmulArgs a{};
  a.x = x.data();
  a.out = out.data();
  a.rows = rows;
  a.cols = cols;
  a.out_stride = rows;
  a.n_tokens = n_tokens;
  int copy = 0;
  for (auto _ : state) {
    a.w = w.get() + bytes * static_cast<size_t>(copy);
    copy = copy + 1 == copies ? 0 : copy + 1;
    v->fn(&a, 0, rows);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(bytes));
  state.counters["GOP/s"] = benchmark::Counter(2.0 * static_cast<double>(rows * cols * n_tokens) * 1e-9,
                                               benchmark::Counter::kIsIterationInvariantRate);
}

// One token (or a chunk) attending over positions 0..pos, every head.
void bm_attention(benchmark::State& state, const Variant* v, KvType type, int n_heads, int n_kv_heads, int hs, int pos,
                  int n_tokens) {
  const int kv_dim = n_kv_heads * hs, context = pos + n_tokens;
  const size_t esize = kv_element_bytes(type);
  const size_t cache_bytes = static_cast<size_t>(context) * kv_dim * esize;
  Buffer k = aligned(cache_bytes), val = aligned(cache_bytes);
  std::vector<float> kf = random_floats(static_cast<size_t>(context) * kv_dim, 3);
  for (size_t i = 0; i < kf.size(); ++i) {
    if (type == KvType::F16) {
      reinterpret_cast<uint16_t*>(k.get())[i] = f32_to_f16(kf[i]);
      reinterpret_cast<uint16_t*>(val.get())[i] = f32_to_f16(-kf[i]);
    } else {
      reinterpret_cast<float*>(k.get())[i] = kf[i];
      reinterpret_cast<float*>(val.get())[i] = -kf[i];
    }
  }
  std::vector<float> q = random_floats(static_cast<size_t>(n_heads * hs * n_tokens), 4);
  std::vector<float> scores(static_cast<size_t>(n_heads) * context), out(q.size());
  AttentionArgs a{q.data(), k.get(), val.get(), scores.data(), out.data(), pos, n_tokens, n_heads, n_kv_heads, hs,
                  kv_dim, context, type};
  for (auto _ : state) {
    v->fn(&a, 0, n_heads);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(2 * cache_bytes));
}

template <class Args>
void bm_op(benchmark::State& state, const Variant* v, Args a, int64_t units, int64_t bytes) {
  for (auto _ : state) {
    v->fn(&a, 0, units);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * bytes);
}

// SwiGLU writes its gate in place, so each call starts from a fresh copy (else the
// values decay into subnormals); the copy is part of the time.
void bm_swiglu(benchmark::State& state, const Variant* v, int64_t n) {
  const std::vector<float> g0 = random_floats(static_cast<size_t>(n), 5), up = random_floats(static_cast<size_t>(n), 6);
  std::vector<float> g(g0.size());
  SwiGLUArgs a{g.data(), up.data(), n};
  for (auto _ : state) {
    std::memcpy(g.data(), g0.data(), sizeof(float) * g.size());
    v->fn(&a, 0, n);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * n * 8);
}

// Buffers of the small-op benchmarks: allocated once at the largest size and never
// moved, since the registered arguments point into them.
float* scratch(size_t i) {
  constexpr size_t kMaxDim = 8192;
  static std::vector<std::vector<float>> bufs = [] {
    std::vector<std::vector<float>> b;
    for (uint32_t k = 0; k < 8; ++k) b.push_back(random_floats(kMaxDim, k + 10));
    return b;
  }();
  return bufs[i].data();
}

void register_level(IsaLevel isa) {
  const std::string l(isa_level_name(isa));
  auto find = [&](const std::string& op, const std::string& suffix = "") { return registry().find(op + "." + l + suffix); };
  struct Mm { DType type; const char* op; const char* suffix; int64_t rows, cols; const char* model; };
  for (Mm m : {Mm{DType::F32, "matmul.f32", "", 768, 2048, "stories110M.w2"},
               Mm{DType::F16, "matmul.f16", "", 768, 2048, "stories110M.w2"},
               Mm{DType::F16, "matmul.f16", "", 5632, 2048, "tinyllama.w1"},
               Mm{DType::F32, "matmul.f32", "", 768, 288, "stories15M.w1"},
               Mm{DType::Q8_0, "matmul.q8_0", ".f32in", 768, 2048, "stories110M.w2"}})
    for (int n_tokens : {1, 16, 64})
      for (bool cold : {false, true}) {
        if (cold && n_tokens > 1) continue;
        const Variant* v = find(m.op, m.suffix);
        std::string name = v->name + "/" + m.model + "/" + std::to_string(m.rows) + "x" + std::to_string(m.cols) +
                           "/tokens:" + std::to_string(n_tokens) + (n_tokens == 1 ? (cold ? "/cold" : "/hot") : "");
        benchmark::RegisterBenchmark(name.c_str(), bm_matmul, v, m.type, m.rows, m.cols, n_tokens, cold);
      }
  struct At { int n_heads, n_kv_heads; const char* model; };
  for (At s : {At{12, 12, "stories110M"}, At{32, 4, "tinyllama"}})
    for (KvType type : {KvType::F32, KvType::F16})
      for (int pos : {1, 1000}) {
        const Variant* v = find(type == KvType::F16 ? "attention.f16kv" : "attention.f32");
        std::string name = v->name + "/" + s.model + "/pos:" + std::to_string(pos) + "/tokens:1";
        benchmark::RegisterBenchmark(name.c_str(), bm_attention, v, type, s.n_heads, s.n_kv_heads, 64, pos, 1);
      }
  {  // prompt chunks: grouped-query heads (TinyLlama), and heads with a kv head each (token pairs)
    const Variant* v = find("attention.f16kv");
    benchmark::RegisterBenchmark((v->name + "/tinyllama/pos:1000/tokens:64").c_str(), bm_attention, v, KvType::F16, 32,
                                 4, 64, 1000, 64);
    benchmark::RegisterBenchmark((v->name + "/stories110M/pos:0/tokens:128").c_str(), bm_attention, v, KvType::F16,
                                 12, 12, 64, 0, 128);
  }
  for (int64_t dim : {288, 768, 2048}) {
    const std::string d = "/dim:" + std::to_string(dim);
    static std::vector<int8_t> qs(2048);
    static std::vector<float> qd(64);
    static std::vector<int32_t> qsum(64);
    RmsNormArgs rn{scratch(0), scratch(1), scratch(2), dim, 1e-5f, 1};
    benchmark::RegisterBenchmark((find("rmsnorm.f32")->name + d).c_str(), bm_op<RmsNormArgs>, find("rmsnorm.f32"), rn,
                                 1, dim * 4);
    QuantizeArgs qa{scratch(0), {qs.data(), qd.data(), qsum.data()}, dim, 1};
    benchmark::RegisterBenchmark((find("quantize.f32")->name + d).c_str(), bm_op<QuantizeArgs>, find("quantize.f32"), qa,
                                 1, dim * 4);
    const int heads = static_cast<int>(dim / 64);
    RopeArgs ra{scratch(3), scratch(4), 1000, 1, heads, heads, 64, 64, 10000.0f};
    benchmark::RegisterBenchmark((find("rope.f32")->name + d).c_str(), bm_op<RopeArgs>, find("rope.f32"), ra, 1,
                                 dim * 8);
  }
  for (int64_t hidden : {768, 2048, 5632})
    benchmark::RegisterBenchmark((find("swiglu.f32")->name + "/hidden:" + std::to_string(hidden)).c_str(), bm_swiglu,
                                 find("swiglu.f32"), hidden);
}

const bool registered = [] {
  for (IsaLevel isa : {IsaLevel::Avx2, IsaLevel::Avx512})
    if (CpuInfo::host().has(isa)) register_level(isa);
  return true;
}();

}  // namespace
}  // namespace bf
