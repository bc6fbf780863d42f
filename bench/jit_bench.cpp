// Generated token-step matvecs (src/jit) against the hand-written variant of the same
// layout: GB/s of weights streamed per token step (n_tokens = 1, 1 thread), on the
// stories110M and TinyLlama shapes. "hot": one copy of the weight (cache-resident when
// it fits); "dram": copies rotated through BF_DRAM_MB MiB (default 256), so each call
// streams from memory as a large model's step does. F32, F16 and BF16 (native rows, f32
// input) at avx512 and avx2, whose code serves avx512vnni too.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <cstring>
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
const Shape kShapes[] = {
    {"110M.wq", 768, 768},     {"110M.w1", 2048, 768},  {"110M.w2", 768, 2048}, {"tiny.wq", 2048, 2048},
    {"tiny.w1", 5632, 2048},   {"tiny.w2", 2048, 5632}, {"tiny.wk", 256, 2048},
};

// The hand-written variant each generated one shares its layout with.
struct Target {
  const char* name;
  IsaLevel isa;
  bool vnni;
  const char* layout;
};
const Target kTargets[] = {
    {"avx512vnni", IsaLevel::Avx512Vnni, true, "r16"},
    {"avx512", IsaLevel::Avx512, false, "r16"},
    {"avxvnni", IsaLevel::Avx2, true, "r8"},
    {"avx2", IsaLevel::Avx2, false, "r8"},
};

const KernelRegistry& registry() {
  static const KernelRegistry r = KernelRegistry::builtin();
  return r;
}

size_t dram_footprint() {
  const char* mb = std::getenv("BF_DRAM_MB");
  return static_cast<size_t>(mb ? std::atoi(mb) : 256) << 20;
}

struct FreeDeleter {
  void operator()(uint8_t* p) const { std::free(p); }
};

// A weight quantized and repacked by `v`, then copied n times (64-byte aligned, scales
// at the same offset from the values in every copy).
struct Copies {
  std::unique_ptr<uint8_t[], FreeDeleter> mem;
  size_t stride = 0, n = 1, bytes = 0;
  ptrdiff_t scales_at = -1;
};

Copies make_copies(const Variant& v, DType type, const Shape& sh, bool dram) {
  std::mt19937 rng(42);
  std::normal_distribution<float> dist(0.0f, 0.05f);
  std::vector<float> f(static_cast<size_t>(sh.rows * sh.cols));
  for (float& x : f) x = dist(rng);
  std::vector<uint8_t> data(row_bytes(type, sh.cols) * static_cast<size_t>(sh.rows));
  quantize_row(type, f.data(), data.data(), static_cast<int64_t>(f.size()));
  TensorView t;
  t.type = type;
  t.rows = sh.rows;
  t.cols = sh.cols;
  t.data = data.data();
  t.bytes = data.size();
  PackedWeight pw;
  if (v.repack) {
    v.repack(t, pw);
  } else {  // native rows
    pw.w = data.data();
    pw.bytes = data.size();
  }
  // One allocation holds the values, then the scales (r16: inside w; r8: at w_scales,
  // right after the values, which are whole 64-byte lines): pw.bytes from w.
  const auto* base = static_cast<const uint8_t*>(pw.w);
  const size_t span = pw.bytes;
  Copies c;
  if (pw.w_scales) c.scales_at = reinterpret_cast<const uint8_t*>(pw.w_scales) - base;
  c.bytes = pw.bytes;
  c.stride = (span + 4095) / 4096 * 4096;
  if (dram) c.n = dram_footprint() / c.stride + 1;
  c.mem.reset(static_cast<uint8_t*>(std::aligned_alloc(4096, c.stride * c.n)));
  for (size_t i = 0; i < c.n; ++i) std::memcpy(c.mem.get() + i * c.stride, base, span);
  return c;
}

bool float_type(DType t) { return t == DType::F32 || t == DType::F16 || t == DType::BF16; }

void BM_Matvec(benchmark::State& s, DType type, Target target, Shape sh, bool dram, int conf_index) {
  const std::string hand_name = "matmul." + std::string(dtype_key(type)) + "." + target.name +
                                (float_type(type) ? "" : std::string(".") + target.layout);
  const Variant* hand = registry().find(hand_name);
  if (!hand || !hand->runs_on(CpuInfo::host())) return s.SkipWithError("variant not usable on this CPU");
  std::unique_ptr<jit::GeneratedKernel> gen;
  const Variant* v = hand;
  if (conf_index >= 0) {
    std::vector<jit::MatvecConf> confs;
    for (const jit::MatvecConf& c : jit::knob_space(type, target.isa))
      if (c.vnni == target.vnni) confs.push_back(c);
    if (conf_index >= static_cast<int>(confs.size())) return s.SkipWithError("no such conf");
    gen = jit::generate_matvec(type, target.isa, CpuInfo::host(), sh.rows, sh.cols, confs[conf_index]);
    if (!gen) return s.SkipWithError("not generated");
    v = &gen->variant;
    s.SetLabel(confs[conf_index].str());
  } else {
    s.SetLabel("hand-written");
  }
  // The hand-written and generated runs of one shape share their weights (registered
  // one after the other): making 256 MiB of copies takes longer than measuring.
  static std::string cached_key;
  static Copies cached;
  const std::string key = hand_name + "/" + sh.name + (dram ? "/dram" : "/hot");
  if (key != cached_key) {
    cached = Copies{};
    cached = make_copies(*hand, type, sh, dram);
    cached_key = key;
  }
  const Copies& c = cached;
  std::vector<int8_t> qs(static_cast<size_t>(sh.cols), 3);
  std::vector<float> d(static_cast<size_t>(sh.cols / 32), 0.01f), out(static_cast<size_t>(sh.rows));
  std::vector<int32_t> sum(d.size(), 96);
  std::vector<float> x(static_cast<size_t>(sh.cols), 0.25f);
  MatmulArgs a{};
  a.x = x.data();
  a.xq = {qs.data(), d.data(), sum.data()};
  a.out = out.data();
  a.rows = sh.rows;
  a.cols = sh.cols;
  a.out_stride = sh.rows;
  a.n_tokens = 1;
  size_t copy = 0;
  for (auto _ : s) {
    const uint8_t* w = c.mem.get() + copy * c.stride;
    a.w = w;
    a.w_scales = c.scales_at >= 0 ? reinterpret_cast<const float*>(w + c.scales_at) : nullptr;
    v->fn(&a, 0, sh.rows);
    copy = copy + 1 == c.n ? 0 : copy + 1;
  }
  s.SetBytesProcessed(static_cast<int64_t>(s.iterations() * c.bytes));
}

// Per type and target: the hand-written variant, then every generated conf of the knob
// space (conf index in the name; the label says which knobs).
[[maybe_unused]] const bool registered = [] {
  for (DType type : {DType::Q8_0, DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q4_K, DType::Q5_K,
                     DType::Q6_K, DType::F32, DType::F16, DType::BF16})
    for (const Target& t : kTargets) {
      if (float_type(type) && t.vnni) continue;  // the same code as the level without
      int confs = 0;
      for (const jit::MatvecConf& c : jit::knob_space(type, t.isa)) confs += c.vnni == t.vnni;
      for (const Shape& sh : kShapes)
        for (bool dram : {false, true})
          for (int i = -1; i < confs; ++i) {
            const std::string name = "jit/" + std::string(dtype_key(type)) + "." + t.name + "/" + sh.name + "/" +
                                     (dram ? "dram" : "hot") + "/" + (i < 0 ? "hand" : "gen" + std::to_string(i));
            benchmark::RegisterBenchmark(name.c_str(), BM_Matvec, type, t, sh, dram, i)
                ->Unit(benchmark::kMicrosecond);
          }
    }
  return true;
}();

}  // namespace
}  // namespace bf
