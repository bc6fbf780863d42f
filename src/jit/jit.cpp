// The API of src/jit: confs, the knob space, and generated kernels wrapped as variants
// that share the hand-written variants' layouts and repacks.
#include "jit/jit.h"

#include <algorithm>
#include <charconv>
#include <cstdio>

#include "jit/code_buffer.h"
#include "jit/matvec_gen.h"

namespace bf::jit {

std::string MatvecConf::str() const {
  char text[80];
  std::snprintf(text, sizeof text, "g%d-a%d-u%d-p%d-%s", groups, accs, unroll, prefetch, vnni ? "vnni" : "madd");
  return text;
}

std::optional<MatvecConf> MatvecConf::parse(std::string_view text) {
  MatvecConf c;
  int* fields[] = {&c.groups, &c.accs, &c.unroll, &c.prefetch};
  const char keys[] = {'g', 'a', 'u', 'p'};
  for (int i = 0; i < 4; ++i) {
    if (text.empty() || text[0] != keys[i]) return std::nullopt;
    const char* end = text.data() + text.size();
    auto [next, ec] = std::from_chars(text.data() + 1, end, *fields[i]);
    if (ec != std::errc() || next == end || *next != '-') return std::nullopt;
    text.remove_prefix(static_cast<size_t>(next + 1 - text.data()));
  }
  if (text == "vnni")
    c.vnni = true;
  else if (text != "madd")
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

bool conf_fits(const MatvecPlan& plan, const MatvecConf& c, IsaLevel isa) {
  // K types apply each block's sub-block scales from its place in the super-block,
  // which the code knows only when a loop iteration is a whole super-block.
  // Q6_K scales its two half blocks apart: one chain each.
  return knobs_legal(c) && dot_fits_level(c, isa) && (!plan.k_quant || c.unroll == 8) && (!plan.q6 || c.accs == 2) &&
         vector_registers(plan, c) <= register_file(plan);
}

// The hand-written variant whose layout (and repack) a generated one shares.
std::string hand_written_name(DType type, IsaLevel isa, bool vnni) {
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

std::unique_ptr<GeneratedKernel> make_kernel(const MatvecPlan& plan, IsaLevel isa, const MatvecConf& conf,
                                             std::span<const uint8_t> code) {
  const DType type = plan.type;
  const Variant* hand = builtin().find(hand_written_name(type, isa, conf.vnni));
  if (!hand || code.empty()) return nullptr;
  auto k = std::make_unique<GeneratedKernel>();
  k->buffer = load_code(code);
  k->conf = conf;
  k->rows = plan.rows;
  k->cols = plan.cols;
  Variant& v = k->variant;
  v.name = hand->name + ".jit." + conf.str() + "." + std::to_string(plan.rows) + "x" + std::to_string(plan.cols);
  v.op = OpKind::Matmul;
  v.type = type;
  v.isa = isa;
  v.usable = isa == IsaLevel::Avx2 && conf.vnni ? has_avx_vnni : nullptr;
  v.fn = reinterpret_cast<KernelFn>(const_cast<void*>(k->buffer->entry()));
  v.split.grain = conf.groups * plan.lanes;
  v.max_tokens = 1;
  v.input = MatmulInput::Q8;
  v.layout = hand->layout;
  v.repack = hand->repack;
  v.accepts = hand->accepts;
  return k;
}

}  // namespace

std::span<const uint8_t> GeneratedKernel::code() const { return buffer->code(); }
GeneratedKernel::~GeneratedKernel() = default;

std::vector<MatvecConf> knob_space(DType type, IsaLevel isa) {
  MatvecPlan plan;
  if (!MatvecPlan::make(type, isa, 1, 256, plan)) return {};
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
  MatvecPlan plan;
  if (!MatvecPlan::make(type, isa, rows, cols, plan) || !conf_fits(plan, conf, isa)) return nullptr;
  if (!cpu.has(isa) || (isa == IsaLevel::Avx2 && conf.vnni && !cpu.avx_vnni)) return nullptr;
  const std::vector<uint8_t> code = emit_matvec(plan, conf);
  return make_kernel(plan, isa, conf, code);
}

std::unique_ptr<GeneratedKernel> load_matvec(DType type, IsaLevel isa, int64_t rows, int64_t cols,
                                             const MatvecConf& conf, std::span<const uint8_t> code) {
  MatvecPlan plan;
  if (!MatvecPlan::make(type, isa, rows, cols, plan) || !conf_fits(plan, conf, isa)) return nullptr;
  return make_kernel(plan, isa, conf, code);
}

}  // namespace bf::jit
