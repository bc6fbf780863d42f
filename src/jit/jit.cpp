// The API of src/jit: confs, the knob space, and generated kernels wrapped as variants
// that share the hand-written variants' layouts and repacks.
#include "jit/jit.h"

#include <algorithm>
#include <charconv>
#include <cstdio>

#include "jit/code_buffer.h"
#include "jit/float_gen.h"
#include "jit/gemm_gen.h"
#include "jit/matvec_gen.h"

namespace bf::jit {

std::string MatvecConf::str() const {
  char text[80];
  std::snprintf(text, sizeof text, "g%d-a%d-u%d-p%d-%s", groups, accs, unroll, prefetch, vnni ? "vnni" : "madd");
  return text;
}

std::string GemmConf::str() const {
  return "t" + std::to_string(tokens) + "-g" + std::to_string(groups) + "-u" + std::to_string(unroll) + "-k" +
         std::to_string(chunk) + "-p" + std::to_string(prefetch) + (vnni ? "-vnni" : "-madd");
}

namespace {

// "<k0><int>-<k1><int>-...-vnni|madd" into `fields` (keys[i] before fields[i]), and
// whether the dot is vnni; false when the text is not of that form.
template <size_t N>
bool parse_knobs(std::string_view text, const char (&keys)[N], int* const (&fields)[N], bool& vnni) {
  for (size_t i = 0; i < N; ++i) {
    if (text.empty() || text[0] != keys[i]) return false;
    const char* end = text.data() + text.size();
    auto [next, ec] = std::from_chars(text.data() + 1, end, *fields[i]);
    if (ec != std::errc() || next == end || *next != '-') return false;
    text.remove_prefix(static_cast<size_t>(next + 1 - text.data()));
  }
  vnni = text == "vnni";
  return vnni || text == "madd";
}

}  // namespace

std::optional<MatvecConf> MatvecConf::parse(std::string_view text) {
  MatvecConf c;
  if (!parse_knobs(text, {'g', 'a', 'u', 'p'}, {&c.groups, &c.accs, &c.unroll, &c.prefetch}, c.vnni))
    return std::nullopt;
  return c;
}

std::optional<GemmConf> GemmConf::parse(std::string_view text) {
  GemmConf c;
  if (!parse_knobs(text, {'t', 'g', 'u', 'k', 'p'}, {&c.tokens, &c.groups, &c.unroll, &c.chunk, &c.prefetch}, c.vnni))
    return std::nullopt;
  return c;
}

namespace {

// The knobs every generator accepts, whatever the type and ISA.
bool knobs_legal(const MatvecConf& c) {
  return (c.groups == 1 || c.groups == 2 || c.groups == 4) && c.accs >= 1 && c.accs <= 3 &&
         (c.unroll == 1 || c.unroll == 2 || c.unroll == 4 || c.unroll == 8) && c.prefetch >= 0 && c.prefetch <= 65536 &&
         c.prefetch % 64 == 0;
}

// The dot kind each level takes: Avx2 either (vnni needs AVX-VNNI), Avx512 madd,
// Avx512Vnni vnni (its madd kernels are the Avx512 level's).
bool dot_fits_level(const MatvecConf& c, IsaLevel isa) {
  return isa == IsaLevel::Avx2 || c.vnni == (isa == IsaLevel::Avx512Vnni);
}

bool conf_fits(const LayoutPlan& plan, const MatvecConf& c, IsaLevel isa) {
  if (plan.native) return float_conf_fits(plan, c);
  // K types apply each block's sub-block scales from its place in the super-block,
  // which the code knows only when a loop iteration is a whole super-block.
  // Q6_K scales its two half blocks apart: one chain each.
  return knobs_legal(c) && dot_fits_level(c, isa) && (!plan.k_quant || c.unroll == 8) && (!plan.q6 || c.accs == 2) &&
         vector_registers(plan, c) <= register_file(plan);
}

// The hand-written variant whose layout (and repack) a generated one shares.
std::string hand_written_name(DType type, IsaLevel isa, bool vnni) {
  if (type == DType::F32 || type == DType::F16 || type == DType::BF16)  // native rows; no VNNI level of their own
    return "matmul." + std::string(dtype_key(type)) + (isa == IsaLevel::Avx2 ? ".avx2" : ".avx512");
  const char* level = isa == IsaLevel::Avx2 ? (vnni ? "avxvnni.r8" : "avx2.r8")
                      : isa == IsaLevel::Avx512 ? "avx512.r16"
                                                : "avx512vnni.r16";
  return "matmul." + std::string(dtype_key(type)) + "." + level;
}

const KernelRegistry& builtin() {
  static const KernelRegistry r = KernelRegistry::builtin();
  return r;
}

bool has_avx_vnni(const CpuInfo& cpu) { return cpu.avx_vnni; }

// What a generated kernel's variant says beyond its hand-written twin's layout.
struct KernelKind {
  const char* tag;     // "jit" (token-step matvec) or "gemm"
  int groups;          // row groups a step takes: with the plan's lanes, the split grain
  int32_t max_tokens;  // the variant's
};

std::unique_ptr<GeneratedKernel> wrap(const LayoutPlan& plan, IsaLevel isa, bool vnni, const std::string& conf_text,
                                      const KernelKind& kind, std::span<const uint8_t> code) {
  const DType type = plan.type;
  const Variant* hand = builtin().find(hand_written_name(type, isa, vnni));
  if (!hand || code.empty()) return nullptr;
  auto k = std::make_unique<GeneratedKernel>();
  k->buffer = load_code(code);
  k->conf_text = conf_text;
  k->rows = plan.rows;
  k->cols = plan.cols;
  Variant& v = k->variant;
  v.name = hand->name + "." + kind.tag + "." + conf_text + "." + std::to_string(plan.rows) + "x" + std::to_string(plan.cols);
  v.op = OpKind::Matmul;
  v.type = type;
  v.isa = hand->isa;  // floats: Avx512 for Avx512Vnni
  v.usable = isa == IsaLevel::Avx2 && vnni ? has_avx_vnni : nullptr;
  v.fn = reinterpret_cast<KernelFn>(const_cast<void*>(k->buffer->entry()));
  v.split.grain = kind.groups * plan.lanes;
  v.max_tokens = kind.max_tokens;
  v.input = hand->input;
  v.layout = hand->layout;
  v.repack = hand->repack;
  v.accepts = hand->accepts;
  return k;
}

std::unique_ptr<GeneratedKernel> make_kernel(const LayoutPlan& plan, IsaLevel isa, const MatvecConf& conf,
                                             std::span<const uint8_t> code) {
  auto k = wrap(plan, isa, conf.vnni, conf.str(), {"jit", conf.groups, 1}, code);
  if (k) k->conf = conf;
  return k;
}

}  // namespace

namespace {

// Those of `base` that fit `plan`, in order, without repeats.
template <class Conf, size_t N>
std::vector<Conf> fitting(const LayoutPlan& plan, const Conf (&base)[N]) {
  std::vector<Conf> out;
  for (const Conf& c : base)
    if (float_conf_fits(plan, c) && std::find(out.begin(), out.end(), c) == out.end()) out.push_back(c);
  return out;
}

// Floats (float_gen.cpp): g is rows per step, up to the hand-written 8 for one token.
std::vector<MatvecConf> float_knob_space(const LayoutPlan& plan) {
  const MatvecConf base[] = {
      {8, 1, 1, 0}, {8, 1, 2, 0}, {8, 2, 1, 0}, {4, 2, 1, 0}, {4, 1, 4, 0},
      {4, 2, 2, 0}, {8, 1, 2, 2048}, {4, 2, 2, 1024}, {2, 3, 2, 0}, {8, 3, 1, 0},
  };
  return fitting(plan, base);
}

// t x g tiles, the hand-written 4 x 4 (zmm) and 2 x 4 (ymm) first.
std::vector<GemmConf> float_gemm_knob_space(const LayoutPlan& plan) {
  const GemmConf base[] = {
      {4, 4, 1, 0, 0}, {2, 4, 1, 0, 0}, {6, 4, 1, 0, 0}, {5, 4, 1, 0, 0}, {8, 2, 1, 0, 0}, {2, 8, 1, 0, 0},
      {4, 4, 2, 0, 0}, {6, 2, 1, 0, 0}, {4, 2, 2, 0, 0}, {3, 2, 1, 0, 0}, {4, 4, 1, 0, 1024}, {2, 2, 1, 0, 0},
  };
  return fitting(plan, base);
}

}  // namespace

std::span<const uint8_t> GeneratedKernel::code() const { return buffer->code(); }
GeneratedKernel::~GeneratedKernel() = default;

std::vector<MatvecConf> knob_space(DType type, IsaLevel isa) {
  LayoutPlan plan;
  if (!LayoutPlan::make(type, isa, 1, 256, plan)) return {};
  if (plan.native) return float_knob_space(plan);
  // g, a, u, prefetch: the hand-written step's shape (4 groups, 4-8 KiB ahead) with one
  // knob moved at a time, then narrower steps with more chains, which a 16-register
  // file still holds for the types with more temporaries.
  const MatvecConf base[] = {
      {4, 1, 1, 8192}, {4, 1, 1, 4096}, {4, 1, 1, 0}, {4, 2, 1, 8192},
      {4, 1, 2, 8192}, {2, 2, 1, 4096}, {2, 2, 1, 8192}, {1, 3, 4, 4096}, {1, 2, 1, 8192}, {1, 2, 2, 0},
  };
  std::vector<MatvecConf> out;
  for (bool vnni : {false, true})
    for (MatvecConf c : base) {
      c.vnni = vnni;
      if (plan.k_quant) c.unroll = 8;  // one super-block per iteration
      if (plan.q6) c.accs = 2;
      if (conf_fits(plan, c, isa) && std::find(out.begin(), out.end(), c) == out.end()) out.push_back(c);
    }
  return out;
}

std::unique_ptr<GeneratedKernel> generate_matvec(DType type, IsaLevel isa, const CpuInfo& cpu, int64_t rows,
                                                 int64_t cols, const MatvecConf& conf) {
  LayoutPlan plan;
  if (!LayoutPlan::make(type, isa, rows, cols, plan) || !conf_fits(plan, conf, isa)) return nullptr;
  if (!cpu.has(isa) || (isa == IsaLevel::Avx2 && conf.vnni && !cpu.avx_vnni)) return nullptr;
  const std::vector<uint8_t> code = plan.native ? emit_float(plan, float_tile(conf)) : emit_matvec(plan, conf);
  return make_kernel(plan, isa, conf, code);
}

std::unique_ptr<GeneratedKernel> load_matvec(DType type, IsaLevel isa, int64_t rows, int64_t cols,
                                             const MatvecConf& conf, std::span<const uint8_t> code) {
  LayoutPlan plan;
  if (!LayoutPlan::make(type, isa, rows, cols, plan) || !conf_fits(plan, conf, isa)) return nullptr;
  return make_kernel(plan, isa, conf, code);
}

namespace {

bool gemm_knobs_legal(const GemmConf& c) {
  return c.tokens >= 1 && c.tokens <= 8 && (c.groups == 1 || c.groups == 2 || c.groups == 4) &&
         (c.unroll == 1 || c.unroll == 2 || c.unroll == 4 || c.unroll == 8) && c.chunk >= 0 && c.chunk <= (1 << 20) &&
         c.prefetch >= 0 && c.prefetch <= 65536 && c.prefetch % 64 == 0;
}

// The plan of a GEMM: the matvec's, with room for every token offset of a tile in a
// 32-bit displacement.
bool gemm_plan(DType type, IsaLevel isa, int64_t rows, int64_t cols, LayoutPlan& plan) {
  return cols <= (int64_t{1} << 24) && LayoutPlan::make(type, isa, rows, cols, plan);
}

// K types, as in conf_fits: a loop iteration is a whole super-block, and so is a chunk.
bool gemm_conf_fits(const LayoutPlan& plan, const GemmConf& c, IsaLevel isa) {
  if (plan.native) return float_conf_fits(plan, c);
  return gemm_knobs_legal(c) && (isa == IsaLevel::Avx2 || c.vnni == (isa == IsaLevel::Avx512Vnni)) &&
         (!plan.k_quant || (c.unroll == 8 && c.chunk % 8 == 0)) && gemm_vector_registers(plan, c) <= register_file(plan);
}

std::unique_ptr<GeneratedKernel> make_gemm_kernel(const LayoutPlan& plan, IsaLevel isa, const GemmConf& conf,
                                                  std::span<const uint8_t> code) {
  return wrap(plan, isa, conf.vnni, conf.str(), {"gemm", conf.groups, 0}, code);
}

}  // namespace

std::vector<GemmConf> gemm_knob_space(DType type, IsaLevel isa) {
  LayoutPlan plan;
  if (!gemm_plan(type, isa, 1, 256, plan)) return {};
  if (plan.native) return float_gemm_knob_space(plan);
  // t, g, u, k, p, best first on Zen 5 (zmm): 2 row groups x 5-7 tokens, then the same
  // with one knob moved, then narrower tiles for the smaller register files (down to one
  // token of one group, for Q6_K's three registers per output on ymm). Those over
  // the register file drop out; at most kMaxConfs per dot kind stay.
  constexpr size_t kMaxConfs = 10;
  const GemmConf base[] = {
      {6, 2, 1, 0, 0}, {7, 2, 1, 0, 0}, {6, 2, 1, 16, 0}, {6, 2, 2, 32, 0}, {5, 2, 1, 0, 0}, {4, 2, 1, 0, 0},
      {6, 2, 2, 0, 0}, {6, 2, 1, 0, 1024}, {3, 4, 1, 16, 0}, {8, 1, 1, 0, 0}, {3, 2, 1, 0, 0}, {2, 2, 1, 0, 0},
      {5, 1, 1, 0, 0}, {3, 2, 1, 16, 0}, {4, 1, 1, 32, 0}, {6, 1, 1, 0, 0}, {7, 1, 1, 0, 0}, {4, 1, 1, 0, 0},
      {3, 1, 1, 0, 0}, {2, 1, 1, 0, 0}, {1, 2, 1, 0, 0}, {2, 1, 1, 16, 0}, {1, 1, 1, 0, 0},
  };
  std::vector<GemmConf> out;
  for (bool vnni : {false, true}) {
    size_t taken = 0;
    for (GemmConf c : base) {
      c.vnni = vnni;
      if (plan.k_quant) c.unroll = 8;  // one super-block per iteration (chunks are already whole ones)
      if (taken < kMaxConfs && gemm_conf_fits(plan, c, isa) && std::find(out.begin(), out.end(), c) == out.end()) {
        out.push_back(c);
        ++taken;
      }
    }
  }
  return out;
}

std::unique_ptr<GeneratedKernel> generate_gemm(DType type, IsaLevel isa, const CpuInfo& cpu, int64_t rows,
                                               int64_t cols, const GemmConf& conf) {
  LayoutPlan plan;
  if (!gemm_plan(type, isa, rows, cols, plan) || !gemm_conf_fits(plan, conf, isa)) return nullptr;
  if (!cpu.has(isa) || (isa == IsaLevel::Avx2 && conf.vnni && !cpu.avx_vnni)) return nullptr;
  return make_gemm_kernel(plan, isa, conf, plan.native ? emit_float(plan, float_tile(conf)) : emit_gemm(plan, conf));
}

std::unique_ptr<GeneratedKernel> load_gemm(DType type, IsaLevel isa, int64_t rows, int64_t cols, const GemmConf& conf,
                                           std::span<const uint8_t> code) {
  LayoutPlan plan;
  if (!gemm_plan(type, isa, rows, cols, plan) || !gemm_conf_fits(plan, conf, isa)) return nullptr;
  return make_gemm_kernel(plan, isa, conf, code);
}

}  // namespace bf::jit
