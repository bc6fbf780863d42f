// The int8_avx2 family: Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K and I8G weights
// (repacked to r8, r8_layout.h) times 8-bit activations, on AVX2 (vpmaddubsw) and AVX-VNNI (vpdpbusd, ranked higher).
#include <string>

#include "kernels/families.h"
#include "kernels/int8_avx2/kernels.h"
#include "kernels/int8_avx2/r8_layout.h"
#include "kernels/variant.h"

namespace bf {
namespace {

using int8_avx2::kRows;

// The llama2.c format runs here only when a group is whole blocks of activations.
bool i8g_in_blocks(const TensorView& w) {
  return w.group > 0 && w.group % kQBlock == 0 && w.cols % w.group == 0;
}

bool has_avx_vnni(const CpuInfo& cpu) { return cpu.avx_vnni; }

struct TypeKernels {
  DType type;
  const char* name;
  void (*repack)(const TensorView&, PackedWeight&);
  bool (*accepts)(const TensorView&);
  KernelFn avx2, avxvnni;
};

void add(KernelRegistry& r, const TypeKernels& k, const char* isa, KernelFn fn, bool (*usable)(const CpuInfo&),
         int rank) {
  Variant v;
  v.name = std::string("matmul.") + k.name + "." + isa + ".r8";
  v.op = OpKind::Matmul;
  v.type = k.type;
  v.isa = IsaLevel::Avx2;
  v.usable = usable;
  v.rank = rank;
  v.fn = fn;
  // Whole panels of row groups per chunk: a thread boundary inside a group makes both
  // threads compute it.
  v.split.grain = 4 * kRows;
  v.input = MatmulInput::Q8;
  v.layout = "r8";
  v.repack = k.repack;
  v.accepts = k.accepts;
  r.add(std::move(v));
}

}  // namespace

void add_int8_avx2_variants(KernelRegistry& r) {
  using namespace int8_avx2;
  const TypeKernels types[] = {
      {DType::Q8_0, "q8_0", repack_q8_0, nullptr, matmul_q8_0_avx2, matmul_q8_0_avxvnni},
      {DType::Q4_0, "q4_0", repack_q4_0, nullptr, matmul_q4_0_avx2, matmul_q4_0_avxvnni},
      {DType::I8G, "i8g", repack_i8g, i8g_in_blocks, matmul_i8g_avx2, matmul_i8g_avxvnni},
      {DType::Q4_1, "q4_1", repack_q4_1, nullptr, matmul_q4_1_avx2, matmul_q4_1_avxvnni},
      {DType::Q5_0, "q5_0", repack_q5_0, nullptr, matmul_q5_0_avx2, matmul_q5_0_avxvnni},
      {DType::Q5_1, "q5_1", repack_q5_1, nullptr, matmul_q5_1_avx2, matmul_q5_1_avxvnni},
      {DType::Q4_K, "q4_k", repack_q4_k, nullptr, matmul_q4_k_avx2, matmul_q4_k_avxvnni},
      {DType::Q5_K, "q5_k", repack_q5_k, nullptr, matmul_q5_k_avx2, matmul_q5_k_avxvnni},
      {DType::Q6_K, "q6_k", repack_q6_k, nullptr, matmul_q6_k_avx2, matmul_q6_k_avxvnni},
  };
  for (const auto& k : types) {
    add(r, k, "avx2", k.avx2, nullptr, 10);
    add(r, k, "avxvnni", k.avxvnni, has_avx_vnni, 20);
  }
}

}  // namespace bf
