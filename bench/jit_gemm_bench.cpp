// Generated prompt GEMMs (src/jit/gemm_gen.cpp) against the hand-written variant of the
// same layout: GOP/s (2 ops per multiply-accumulate) of one prompt chunk of 64 or 128
// tokens on the stories110M and TinyLlama matmul shapes, single thread, CPU time.
// Every conf of the knob space is a benchmark of its own:
//   jit_gemm/<type>/<level>/<shape>/T<n>/hand
//   jit_gemm/<type>/<level>/<shape>/T<n>/gemm.<conf>
// F32, F16 and BF16 (native rows, f32 input) at avx512 and avx2 only: avx512vnni runs
// the same code.
#include <benchmark/benchmark.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "cpu/cpu.h"
#include "jit/jit.h"
#include "kernels/quantize.h"
#include "kernels/variant.h"

namespace bf {
namespace {

struct Shape {
  const char* name;
  int64_t rows, cols;
};
const Shape kShapes[] = {{"110M.wq", 768, 768},   {"110M.w1", 2048, 768},   {"110M.w2", 768, 2048},
                         {"tiny.wq", 2048, 2048}, {"tiny.w1", 5632, 2048}, {"tiny.w2", 2048, 5632}};

struct Level {
  const char* name;  // as in the hand-written variants' names
  IsaLevel isa;
  bool vnni;
  const char* layout;
};
const Level kLevels[] = {{"avx512vnni", IsaLevel::Avx512Vnni, true, "r16"},
                         {"avx512", IsaLevel::Avx512, false, "r16"},
                         {"avxvnni", IsaLevel::Avx2, true, "r8"},
                         {"avx2", IsaLevel::Avx2, false, "r8"}};

const KernelRegistry& registry() {
  static const KernelRegistry r = KernelRegistry::builtin();
  return r;
}

// A random weight of `type`, quantized and repacked by `v`, with activations for
// n_tokens and the output; args ready to run.
struct Problem {
  std::vector<uint8_t> native;
  PackedWeight packed;
  std::vector<int8_t> qs;
  std::vector<float> x, d, out;
  std::vector<int32_t> sum;
  MatmulArgs args{};

  Problem(const Variant& v, DType type, const Shape& sh, int n_tokens) {
    std::mt19937 rng(42);
    std::normal_distribution<float> normal(0.0f, 0.05f);
    std::vector<float> f(static_cast<size_t>(sh.rows * sh.cols));
    for (float& x : f) x = normal(rng);
    native.resize(row_bytes(type, sh.cols) * static_cast<size_t>(sh.rows));
    quantize_row(type, f.data(), native.data(), static_cast<int64_t>(f.size()));
    TensorView t;
    t.type = type;
    t.rows = sh.rows;
    t.cols = sh.cols;
    t.data = native.data();
    if (v.repack) v.repack(t, packed);
    else packed.w = native.data();
    const size_t n = static_cast<size_t>(n_tokens * sh.cols);
    x.resize(n);
    for (float& e : x) e = normal(rng);
    qs.resize(n);
    for (int8_t& q : qs) q = static_cast<int8_t>(static_cast<int>(rng() % 255) - 127);
    d.assign(n / 32, 0.01f);
    sum.assign(n / 32, 0);
    for (size_t i = 0; i < n; ++i) sum[i / 32] += qs[i];
    out.resize(static_cast<size_t>(n_tokens * sh.rows));
    args.w = packed.w;
    args.w_scales = packed.w_scales;
    args.x = x.data();
    args.xq = {qs.data(), d.data(), sum.data()};
    args.out = out.data();
    args.rows = sh.rows;
    args.cols = sh.cols;
    args.out_stride = sh.rows;
    args.n_tokens = n_tokens;
  }
};

void run(benchmark::State& s, const Variant& v, const Problem& p) {
  for (auto _ : s) {
    v.fn(&p.args, 0, p.args.rows);
    benchmark::ClobberMemory();
  }
  s.counters["GOP/s"] = benchmark::Counter(
      static_cast<double>(s.iterations()) * 2.0 * p.args.rows * p.args.cols * p.args.n_tokens / 1e9,
      benchmark::Counter::kIsRate);
}

void BM_Hand(benchmark::State& s, std::string name, DType type, Shape sh, int n_tokens) {
  const Variant* v = registry().find(name);
  if (!v || !v->runs_on(CpuInfo::host())) return s.SkipWithError("variant not usable on this CPU");
  const Problem p(*v, type, sh, n_tokens);
  run(s, *v, p);
}

void BM_Gemm(benchmark::State& s, Level level, DType type, Shape sh, int n_tokens, jit::GemmConf conf) {
  auto k = jit::generate_gemm(type, level.isa, CpuInfo::host(), sh.rows, sh.cols, conf);
  if (!k) return s.SkipWithError("not generated for this CPU");
  const Problem p(k->variant, type, sh, n_tokens);
  run(s, k->variant, p);
}

[[maybe_unused]] const bool registered = [] {
  using benchmark::RegisterBenchmark;
  for (DType type : {DType::Q8_0, DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q4_K, DType::Q5_K,
                     DType::Q6_K, DType::F32, DType::F16, DType::BF16})
    for (const Level& l : kLevels)
      for (const Shape& sh : kShapes)
        for (int n : {64, 128}) {
          const bool native = type == DType::F32 || type == DType::F16 || type == DType::BF16;
          if (native && l.vnni) continue;
          const std::string key(dtype_key(type));
          const std::string base =
              "jit_gemm/" + key + "/" + l.name + "/" + sh.name + "/T" + std::to_string(n) + "/";
          RegisterBenchmark((base + "hand").c_str(), BM_Hand,
                            "matmul." + key + "." + l.name + (native ? "" : std::string(".") + l.layout), type, sh, n)
              ->Unit(benchmark::kMicrosecond);
          for (const jit::GemmConf& c : jit::gemm_knob_space(type, l.isa))
            if (c.vnni == l.vnni)
              RegisterBenchmark((base + "gemm." + c.str()).c_str(), BM_Gemm, l, type, sh, n, c)
                  ->Unit(benchmark::kMicrosecond);
        }
  return true;
}();

}  // namespace
}  // namespace bf
