#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>

#include "kernels/int8_avx512/layout.h"
#include "kernels/variant.h"

namespace bf::int8_avx512 {
namespace {

// Byte offset of column k (0..31) of block b for row r in the value area.
int64_t value_offset(const Layout& l, int64_t r, int64_t b, int k) {
  const int64_t base = (r / kGroupRows * l.blocks + b) * l.block_bytes;
  return base + (k / 4) * 64 + (r % kGroupRows) * 4 + k % 4;
}

// Index of row r's scale for block-or-group s, with `per_row` of them per row.
int64_t scale_index(int64_t r, int64_t s, int64_t per_row) {
  return (r / kGroupRows * per_row + s) * kGroupRows + r % kGroupRows;
}

uint8_t* alloc64(size_t bytes) {
  auto* p = static_cast<uint8_t*>(std::aligned_alloc(64, (bytes + 63) / 64 * 64));
  if (!p) throw std::bad_alloc();
  return p;
}

// Values of a signed int8 row (Q8_0 block values or I8G values), offset to unsigned.
void put_int8_row(const Layout& l, uint8_t* v, int64_t r, const int8_t* q, int64_t stride_per_block) {
  for (int64_t b = 0; b < l.blocks; ++b)
    for (int k = 0; k < 32; ++k)
      v[value_offset(l, r, b, k)] = static_cast<uint8_t>(q[b * stride_per_block + k] + 128);
}

}  // namespace

void repack_r16(const TensorView& t, PackedWeight& out) {
  if (t.cols % 32 != 0) throw std::invalid_argument("repack_r16: cols must be a multiple of 32");
  const Layout l(t.type, t.rows, t.cols);
  const int64_t scales_per_row = t.type == DType::I8G ? t.cols / t.group : l.blocks;
  const int64_t scale_bytes = t.type == DType::I8G ? l.row_groups * scales_per_row * kGroupRows * 4
                                                   : l.f16_scale_bytes();
  const size_t bytes = static_cast<size_t>(l.value_bytes() + scale_bytes);
  uint8_t* p = alloc64(bytes);
  out.storage = decltype(out.storage)(p, [](uint8_t* q) { std::free(q); });
  // Padding rows: zero weights (the unsigned encoding of 0) with scale 0.
  std::memset(p, t.type == DType::Q4_0 ? 0x88 : 0x80, l.value_bytes());
  std::memset(p + l.value_bytes(), 0, scale_bytes);
  uint8_t* v = p;
  auto* d16 = reinterpret_cast<uint16_t*>(p + l.value_bytes());
  auto* d32 = reinterpret_cast<float*>(p + l.value_bytes());

  for (int64_t r = 0; r < t.rows; ++r) {
    switch (t.type) {
      case DType::Q8_0: {
        auto* blk = reinterpret_cast<const BlockQ8_0*>(t.data) + r * l.blocks;
        put_int8_row(l, v, r, blk[0].qs, sizeof(BlockQ8_0));
        for (int64_t b = 0; b < l.blocks; ++b) d16[scale_index(r, b, l.blocks)] = blk[b].d;
        break;
      }
      case DType::Q4_0: {
        auto* blk = reinterpret_cast<const BlockQ4_0*>(t.data) + r * l.blocks;
        for (int64_t b = 0; b < l.blocks; ++b) {
          for (int k = 0; k < 16; ++k) v[value_offset(l, r, b, k)] = blk[b].qs[k];
          d16[scale_index(r, b, l.blocks)] = blk[b].d;
        }
        break;
      }
      case DType::I8G: {
        put_int8_row(l, v, r, reinterpret_cast<const int8_t*>(t.data) + r * t.cols, 32);
        for (int64_t g = 0; g < scales_per_row; ++g)
          d32[scale_index(r, g, scales_per_row)] = t.scales[r * scales_per_row + g];
        break;
      }
      default: throw std::invalid_argument("repack_r16: not an integer type");
    }
  }
  out.w = v;
  out.w_scales = t.type == DType::I8G ? d32 : nullptr;
  out.bytes = bytes;
}

}  // namespace bf::int8_avx512
