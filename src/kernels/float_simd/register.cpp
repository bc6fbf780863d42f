#include <string>

#include "kernels/families.h"
#include "kernels/float_simd/kernels.h"
#include "kernels/variant.h"

namespace bf {
namespace {

using float_simd::KernelSet;

// Below the integer kernels of the same level (rank 0): the float-input matmuls of the
// quantized types are what runs when those do not accept a shape.
constexpr int kFallbackRank = -1;

void add_op(KernelRegistry& r, const char* op_name, const char* level, OpKind op, DType type, IsaLevel isa,
            KernelFn fn) {
  Variant v;
  v.name = std::string(op_name) + "." + level;
  v.op = op;
  v.type = type;
  v.isa = isa;
  v.fn = fn;
  r.add(std::move(v));
}

void add_matmul(KernelRegistry& r, const std::string& name, DType type, IsaLevel isa, KernelFn fn, int rank) {
  Variant v;
  v.name = name;
  v.op = OpKind::Matmul;
  v.type = type;
  v.isa = isa;
  v.fn = fn;
  v.rank = rank;
  v.input = MatmulInput::F32;
  r.add(std::move(v));
}

void add_level(KernelRegistry& r, const KernelSet& k, IsaLevel isa) {
  const std::string level(isa_level_name(isa));
  add_matmul(r, "matmul.f32." + level, DType::F32, isa, k.matmul_f32, 0);
  add_matmul(r, "matmul.f16." + level, DType::F16, isa, k.matmul_f16, 0);
  add_matmul(r, "matmul.bf16." + level, DType::BF16, isa, k.matmul_bf16, 0);
  // ".f32in": the integer families own "matmul.<type>.<level>" for these types.
  add_matmul(r, "matmul.q8_0." + level + ".f32in", DType::Q8_0, isa, k.matmul_q8_0, kFallbackRank);
  add_matmul(r, "matmul.q4_0." + level + ".f32in", DType::Q4_0, isa, k.matmul_q4_0, kFallbackRank);
  add_matmul(r, "matmul.i8g." + level + ".f32in", DType::I8G, isa, k.matmul_i8g, kFallbackRank);
  const char* l = level.c_str();
  add_op(r, "quantize.f32", l, OpKind::Quantize, DType::F32, isa, k.quantize);
  add_op(r, "rmsnorm.f32", l, OpKind::RmsNorm, DType::F32, isa, k.rmsnorm);
  add_op(r, "rope.f32", l, OpKind::Rope, DType::F32, isa, k.rope);
  add_op(r, "swiglu.f32", l, OpKind::SwiGLU, DType::F32, isa, k.swiglu);
  add_op(r, "add.f32", l, OpKind::Add, DType::F32, isa, k.add);
  // The cache type is in the arguments and every kernel takes both; the variant's
  // `type` (F32 or F16) says which cache it is named and measured for.
  add_op(r, "kvstore.f32", l, OpKind::KvStore, DType::F32, isa, k.kvstore);
  add_op(r, "kvstore.f16kv", l, OpKind::KvStore, DType::F16, isa, k.kvstore);
  add_op(r, "attention.f32", l, OpKind::Attention, DType::F32, isa, k.attention);
  add_op(r, "attention.f16kv", l, OpKind::Attention, DType::F16, isa, k.attention);
}

}  // namespace

void add_float_simd_variants(KernelRegistry& r) {
  add_level(r, float_simd::avx2_kernels, IsaLevel::Avx2);
  add_level(r, float_simd::avx512_kernels, IsaLevel::Avx512);
}

}  // namespace bf
