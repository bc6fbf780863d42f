#include <string>

#include "kernels/families.h"
#include "kernels/int8_avx512/kernels.h"
#include "kernels/int8_avx512/layout.h"
#include "kernels/variant.h"

namespace bf {
namespace {

using namespace int8_avx512;

// I8G groups must cover whole blocks of the activations and lie within a row.
bool i8g_fits(const TensorView& w) { return w.group > 0 && w.group % 32 == 0 && w.cols % w.group == 0; }
bool cols_fit(const TensorView& w) { return w.cols > 0 && w.cols % 32 == 0; }
bool k_cols_fit(const TensorView& w) { return w.cols > 0 && w.cols % kQK == 0; }

Variant make(const MatmulKernels& k, const char* isa_name, IsaLevel isa, KernelFn fn, int rank) {
  Variant v;
  v.name = "matmul." + std::string(dtype_key(k.type)) + "." + isa_name + ".r16";
  v.op = OpKind::Matmul;
  v.type = k.type;
  v.isa = isa;
  v.rank = rank;
  v.fn = fn;
  // Chunks of whole sets of row groups (layout.h): a set is one contiguous run of
  // values and of scales, so each chunk is one stream read by the streaming tile (a
  // chunk boundary inside a set left both neighbours a strided part of it and one-group
  // tiles without the prefetch).
  v.split.grain = kGroupRows * kSetGroups;
  v.input = MatmulInput::Q8;
  v.layout = "r16";
  v.repack = repack_r16;
  v.accepts = k.type == DType::I8G ? i8g_fits : is_k_type(k.type) ? k_cols_fit : cols_fit;
  return v;
}

}  // namespace

void add_int8_avx512_variants(KernelRegistry& r) {
  for (int i = 0; i < kMatmulKernelCount; ++i) {
    const MatmulKernels& k = kMatmulKernels[i];
    r.add(make(k, "avx512", IsaLevel::Avx512, k.bw, 0));
    r.add(make(k, "avx512vnni", IsaLevel::Avx512Vnni, k.vnni, 0));
    if (!k.amx) continue;
    Variant amx = make(k, "amx", IsaLevel::Avx512Vnni, k.amx, 1);
    amx.usable = amx_usable;
    r.add(std::move(amx));
  }
}

}  // namespace bf
