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

struct Entry {
  DType type;
  const char* type_name;
  KernelFn bw, vnni, amx;
};

Variant make(const Entry& e, const char* isa_name, IsaLevel isa, KernelFn fn, int rank) {
  Variant v;
  v.name = std::string("matmul.") + e.type_name + "." + isa_name + ".r16";
  v.op = OpKind::Matmul;
  v.type = e.type;
  v.isa = isa;
  v.rank = rank;
  v.fn = fn;
  v.split.grain = kGroupRows;
  v.input = MatmulInput::Q8;
  v.layout = "r16";
  v.repack = repack_r16;
  v.accepts = e.type == DType::I8G ? i8g_fits : cols_fit;
  return v;
}

}  // namespace

void add_int8_avx512_variants(KernelRegistry& r) {
  const Entry entries[] = {
      {DType::Q8_0, "q8_0", q8_0_avx512, q8_0_vnni, q8_0_amx},
      {DType::Q4_0, "q4_0", q4_0_avx512, q4_0_vnni, q4_0_amx},
      {DType::I8G, "i8g", i8g_avx512, i8g_vnni, i8g_amx},
  };
  for (const Entry& e : entries) {
    r.add(make(e, "avx512", IsaLevel::Avx512, e.bw, 0));
    r.add(make(e, "avx512vnni", IsaLevel::Avx512Vnni, e.vnni, 0));
    Variant amx = make(e, "amx", IsaLevel::Avx512Vnni, e.amx, 1);
    amx.usable = amx_usable;
    r.add(std::move(amx));
  }
}

}  // namespace bf
