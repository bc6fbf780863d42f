#include <cstring>
#include <stdexcept>

#include "kernels/int8_avx512/layout.h"
#include "kernels/int_block.h"
#include "kernels/variant.h"
#include "util/stream_memory.h"

namespace bf::int8_avx512 {
namespace {

// Byte offset of column k (0..31) of block b for row r in the value area (for the
// nibble types, k < 16 names the byte holding columns k and k + 16).
int64_t value_offset(const Layout& l, int64_t r, int64_t b, int k) {
  const int64_t base = item_index(l.row_groups, r / kGroupRows, b, l.blocks) * l.block_bytes;
  return base + (k / 4) * 64 + (r % kGroupRows) * 4 + k % 4;
}

// Stores the unsigned values u of block b of row r (layout.h): bytes for the int8
// types, else nibbles and high-bit planes (zeroed beforehand).
void put_values(const Layout& l, DType t, uint8_t* v, int64_t r, int64_t b, const int (&u)[kQBlock]) {
  if (l.block_bytes == value_block_bytes(DType::Q8_0)) {
    for (int k = 0; k < kQBlock; ++k) v[value_offset(l, r, b, k)] = static_cast<uint8_t>(u[k]);
    return;
  }
  constexpr int kHalf = kQBlock / 2;
  for (int k = 0; k < kHalf; ++k) v[value_offset(l, r, b, k)] = static_cast<uint8_t>((u[k] & 15) | (u[k + kHalf] & 15) << 4);
  const int hb = high_bits(t);
  for (int k = 0; k < kQBlock && hb > 0; ++k) {
    const int at = hb * (k / 4);  // bit index over the planes
    v[value_offset(l, r, b, k % 4) + 256 + 64 * (at / 8)] |= static_cast<uint8_t>((u[k] >> 4) << at % 8);
  }
}

// The K super-block holding block b of a row.
template <class Block>
const Block& super_block(const void* row, int64_t b) {
  return static_cast<const Block*>(row)[b / kSuperBlocks];
}

// The integer sub-block scale and min of block b of a Q4_K/Q5_K row.
void k_scale(DType t, const void* row, int64_t b, int& sc, int& m) {
  const uint8_t* packed = t == DType::Q4_K ? super_block<BlockQ4_K>(row, b).scales : super_block<BlockQ5_K>(row, b).scales;
  unpack_k_scale(packed, static_cast<int>(b % kSuperBlocks), sc, m);
}

void put_f16(uint8_t* item, int at, uint16_t h) { std::memcpy(item + 2 * at, &h, 2); }

// Row r's scales of block b (layout.h), its item in the scale area `s`.
void put_scales(const Layout& l, DType t, uint8_t* s, int64_t r, const void* row, int64_t b) {
  const int64_t rg = r / kGroupRows;
  const int lane = static_cast<int>(r % kGroupRows);
  const int sb = static_cast<int>(b % kSuperBlocks);  // block within its K super-block
  uint8_t* item = s + l.scale_item_at(rg, is_k_type(t) ? b / kSuperBlocks : b);
  switch (t) {
    case DType::Q8_0: put_f16(item, lane, static_cast<const BlockQ8_0*>(row)[b].d); break;
    case DType::Q4_0: put_f16(item, lane, static_cast<const BlockQ4_0*>(row)[b].d); break;
    case DType::Q5_0: put_f16(item, lane, static_cast<const BlockQ5_0*>(row)[b].d); break;
    case DType::Q4_1:
      put_f16(item, lane, static_cast<const BlockQ4_1*>(row)[b].d);
      put_f16(item, kGroupRows + lane, static_cast<const BlockQ4_1*>(row)[b].m);
      break;
    case DType::Q5_1:
      put_f16(item, lane, static_cast<const BlockQ5_1*>(row)[b].d);
      put_f16(item, kGroupRows + lane, static_cast<const BlockQ5_1*>(row)[b].m);
      break;
    case DType::Q4_K: case DType::Q5_K: {
      put_f16(item, lane, t == DType::Q4_K ? super_block<BlockQ4_K>(row, b).d : super_block<BlockQ5_K>(row, b).d);
      put_f16(item, kGroupRows + lane,
              t == DType::Q4_K ? super_block<BlockQ4_K>(row, b).dmin : super_block<BlockQ5_K>(row, b).dmin);
      int sc, m;
      k_scale(t, row, b, sc, m);
      uint8_t* subs = item + 4 * kGroupRows;
      subs[sb * kGroupRows + lane] = static_cast<uint8_t>(sc);
      subs[(kSuperBlocks + sb) * kGroupRows + lane] = static_cast<uint8_t>(m);
      break;
    }
    case DType::Q6_K: {
      const auto& blk = super_block<BlockQ6_K>(row, b);
      put_f16(item, lane, blk.d);
      for (int h = 0; h < 2; ++h)
        item[2 * kGroupRows + (2 * sb + h) * kGroupRows + lane] = static_cast<uint8_t>(blk.scales[2 * sb + h]);
      break;
    }
    default: throw std::invalid_argument("repack_r16: not a block type");
  }
}

}  // namespace

void repack_r16(const TensorView& t, PackedWeight& out) {
  if (t.cols % (is_k_type(t.type) ? kQK : kQBlock) != 0)
    throw std::invalid_argument("repack_r16: cols must be whole blocks");
  if (t.type == DType::I8G && (t.group % kQBlock != 0 || t.cols % t.group != 0))
    throw std::invalid_argument("repack_r16: I8G groups must be whole blocks within a row");
  const Layout l(t.type, t.rows, t.cols, t.group);
  const size_t bytes = static_cast<size_t>(l.value_bytes() + l.scale_area_bytes());
  out.storage = allocate_stream_buffer(bytes, out.arena);
  uint8_t* p = out.storage.get();
  // Padding rows: zero weights (int8: the unsigned encoding of 0) with scale 0.
  std::memset(p, l.block_bytes == value_block_bytes(DType::Q8_0) ? 0x80 : 0, l.value_bytes());
  std::memset(p + l.value_bytes(), 0, l.scale_area_bytes());
  uint8_t* v = p;
  uint8_t* s = p + l.value_bytes();
  const size_t row_stride = row_bytes(t.type, t.cols);

  for (int64_t r = 0; r < t.rows; ++r) {
    int u[kQBlock];
    if (t.type == DType::I8G) {
      const int8_t* q = reinterpret_cast<const int8_t*>(t.data) + r * t.cols;
      for (int64_t b = 0; b < l.blocks; ++b) {
        for (int k = 0; k < kQBlock; ++k) u[k] = q[b * kQBlock + k] + 128;
        put_values(l, t.type, v, r, b, u);
      }
      for (int64_t g = 0; g < l.scale_items; ++g)
        std::memcpy(s + l.scale_item_at(r / kGroupRows, g) + 4 * (r % kGroupRows),
                    &t.scales[r * l.scale_items + g], 4);
      continue;
    }
    const void* row = static_cast<const uint8_t*>(t.data) + r * row_stride;
    for (int64_t b = 0; b < l.blocks; ++b) {
      put_values(l, t.type, v, r, b, unsigned_block(t.type, row, b).u);
      put_scales(l, t.type, s, r, row, b);
    }
  }
  out.w = v;
  out.w_scales = t.type == DType::I8G ? reinterpret_cast<const float*>(s) : nullptr;
  out.bytes = bytes;
}

}  // namespace bf::int8_avx512
