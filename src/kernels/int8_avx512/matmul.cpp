#include "kernels/int8_avx512/kernels.h"
#include "kernels/int8_avx512/tiles.h"

namespace bf::int8_avx512 {

Ctx make_ctx(const MatmulArgs& a, int64_t begin, int64_t end, DType type) {
  const Layout l(type, a.rows, a.cols, a.group);
  const auto* values = static_cast<const uint8_t*>(a.w);
  Ctx c{};
  c.values = values;
  c.scales = values + l.value_bytes();
  c.blocks = l.blocks;
  c.row_groups = l.row_groups;
  c.scale_items = l.scale_items;
  c.blocks_per_scale = static_cast<int>(l.blocks / l.scale_items);
  c.xqs = a.xq.qs;
  c.xd = a.xq.d;
  c.xsum = a.xq.sum;
  c.cols = a.cols;
  c.out = a.out;
  c.out_stride = a.out_stride;
  c.begin = begin;
  c.end = end;
  return c;
}

namespace {

template <DType kType, class V, class S, class D>
BF_AVX512 void matmul(const void* args, int64_t begin, int64_t end) {
  static_assert(V::kBlockBytes == value_block_bytes(kType) && S::kItemBytes == scale_item_bytes(kType));
  const auto& a = *static_cast<const MatmulArgs*>(args);
  if (begin >= end) return;
  const Ctx c = make_ctx(a, begin, end, kType);
  run_tiles<V, S, D>(c, begin / kGroupRows, (end + kGroupRows - 1) / kGroupRows, 0, a.n_tokens);
}

// Each type's value format and scales (layout.h), with the AVX-512BW dot that fits it.
template <DType kType, class V, class S, class Bw>
struct Kernels {
  static void bw(const void* a, int64_t b, int64_t e) { matmul<kType, V, S, Bw>(a, b, e); }
  static void vnni(const void* a, int64_t b, int64_t e) { matmul<kType, V, S, Vnni>(a, b, e); }
};

using Q8_0 = Kernels<DType::Q8_0, Int8Values, F16Scales, BwSigned>;
using Q4_0 = Kernels<DType::Q4_0, NibbleValues, F16Scales, BwUnsigned>;
using I8G = Kernels<DType::I8G, Int8Values, GroupScales, BwSigned>;
using Q4_1 = Kernels<DType::Q4_1, Nibbles<0, 0>, F16ScaleMin, BwUnsigned>;
using Q5_0 = Kernels<DType::Q5_0, Nibbles<1, 16>, F16Scales, BwUnsigned>;
using Q5_1 = Kernels<DType::Q5_1, Nibbles<1, 0>, F16ScaleMin, BwUnsigned>;
using Q4_K = Kernels<DType::Q4_K, Nibbles<0, 0>, KMinScales, BwUnsigned>;
using Q5_K = Kernels<DType::Q5_K, Nibbles<1, 0>, KMinScales, BwUnsigned>;
using Q6_K = Kernels<DType::Q6_K, Nibbles<2, 32>, Q6Scales, BwUnsigned>;

}  // namespace

const MatmulKernels kMatmulKernels[] = {
    {DType::Q8_0, Q8_0::bw, Q8_0::vnni, q8_0_amx},
    {DType::Q4_0, Q4_0::bw, Q4_0::vnni, q4_0_amx},
    {DType::I8G, I8G::bw, I8G::vnni, i8g_amx},
    {DType::Q4_1, Q4_1::bw, Q4_1::vnni, nullptr},
    {DType::Q5_0, Q5_0::bw, Q5_0::vnni, nullptr},
    {DType::Q5_1, Q5_1::bw, Q5_1::vnni, nullptr},
    {DType::Q4_K, Q4_K::bw, Q4_K::vnni, nullptr},
    {DType::Q5_K, Q5_K::bw, Q5_K::vnni, nullptr},
    {DType::Q6_K, Q6_K::bw, Q6_K::vnni, nullptr},
};
const int kMatmulKernelCount = sizeof(kMatmulKernels) / sizeof(kMatmulKernels[0]);

}  // namespace bf::int8_avx512
