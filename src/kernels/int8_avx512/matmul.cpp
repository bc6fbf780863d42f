#include "kernels/int8_avx512/kernels.h"
#include "kernels/int8_avx512/tiles.h"

namespace bf::int8_avx512 {

Ctx make_ctx(const MatmulArgs& a, int64_t begin, int64_t end, int block_bytes) {
  const int64_t blocks = a.cols / 32;
  const int64_t row_groups = (a.rows + kGroupRows - 1) / kGroupRows;
  const auto* values = static_cast<const uint8_t*>(a.w);
  Ctx c{};
  c.values = values;
  c.d16 = reinterpret_cast<const uint16_t*>(values + row_groups * blocks * block_bytes);
  c.d32 = a.w_scales;
  c.blocks = blocks;
  c.scales_per_row = a.group > 0 ? a.cols / a.group : 0;
  c.blocks_per_scale = a.group / 32;
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

template <class V, class S, class D>
BF_AVX512 void matmul(const void* args, int64_t begin, int64_t end) {
  const auto& a = *static_cast<const MatmulArgs*>(args);
  if (begin >= end) return;
  const Ctx c = make_ctx(a, begin, end, V::kBlockBytes);
  run_tiles<V, S, D>(c, begin / kGroupRows, (end + kGroupRows - 1) / kGroupRows, 0, a.n_tokens);
}

}  // namespace

void q8_0_avx512(const void* a, int64_t b, int64_t e) { matmul<Int8Values, F16Scales, BwSigned>(a, b, e); }
void q4_0_avx512(const void* a, int64_t b, int64_t e) { matmul<NibbleValues, F16Scales, BwNibble>(a, b, e); }
void i8g_avx512(const void* a, int64_t b, int64_t e) { matmul<Int8Values, GroupScales, BwSigned>(a, b, e); }
void q8_0_vnni(const void* a, int64_t b, int64_t e) { matmul<Int8Values, F16Scales, Vnni>(a, b, e); }
void q4_0_vnni(const void* a, int64_t b, int64_t e) { matmul<NibbleValues, F16Scales, Vnni>(a, b, e); }
void i8g_vnni(const void* a, int64_t b, int64_t e) { matmul<Int8Values, GroupScales, Vnni>(a, b, e); }

}  // namespace bf::int8_avx512
