// The "r16" weight layout shared by every int8 AVX-512 / AMX matmul variant.
//
// Rows are taken 16 at a time (a row group: one row per dword lane of a zmm). For each
// row group and each block of 32 columns, the block's values are stored as 8 k-groups
// of 64 bytes; k-group j holds, for each of the 16 rows, the 4 bytes of columns 4j..4j+3.
// That is the operand order of vpdpbusd (one zmm = one k-group of 16 rows) and also
// the "VNNI" row order of an AMX B tile, so one layout serves every variant and every
// n_tokens. Values are unsigned so that they can be vpdpbusd's unsigned operand:
//   int8 (Q8_0, I8G): value + 128, 512 bytes per row-group block;
//   4-, 5- and 6-bit types: the low 4 bits as nibbles, 256 bytes: byte j*64 + 4*row + i
//         holds column 4j+i in its low nibble and column 16+4j+i in its high one (the
//         native Q4_0 byte, so repacking Q4_0 only moves 4-byte groups); then the high
//         bits as 64-byte planes in the same byte order, one bit per k-group: the
//         5-bit types (Q5_0, Q5_1, Q5_K) keep bit 4 of column 4j+i in bit j of plane
//         byte 4*row + i (320 bytes per block); Q6_K keeps bits 4-5 of column 4j+i in
//         bits 2(j%4), 2(j%4)+1 of plane j/4 (384 bytes).
// Unsigned value u means weight scale*u + offset (kernels/int_block.h with the
// integer q split as sub-scale * u + constant):
//   Q8_0, I8G: u - 128; Q4_0: u - 8; Q5_0: u - 16 (the constant undone per token and
//   block with the activation block sums: sum(w*x) = sum(u*x) - offset * sum(x));
//   Q4_1, Q5_1: d*u + m; Q4_K, Q5_K: d*sc*u - dmin*m; Q6_K: d*sc*(u - 32), with sc the
//   int8 scale of each 16-column half of the block.
// Scales, after all values, one item per row group and block, super-block or I8G group:
//   Q8_0, Q4_0, Q5_0: the 16 rows' f16 d (f16 keeps the bytes streamed per token as in
//       the file);
//   Q4_1, Q5_1: 16 f16 d, then 16 f16 m;
//   Q4_K, Q5_K, per super-block: 16 f16 d, 16 f16 dmin, then the integer sub-block
//       scales sc as bytes [block 0..7][row], then the mins m likewise (320 bytes);
//   Q6_K, per super-block: 16 f16 d, then the int8 scales [block 0..7][half][row];
//   I8G: 16 f32 group scales (in w_scales).
// Sub-block scales stay small integers: the kernels fold them into the integer sums
// exactly and multiply by d in f32, as the reference does. Rows past `rows` in the last
// group are zero values with zero scales and offsets.
// Order: row groups are stored 4 at a time, item by item (an item is one block's values,
// or one scale item): [set of 4 groups][item][group in set], the last set narrower when
// the groups do not divide by 4. A token step reads 4 row groups at once, so it streams
// the values (and the scales) in one sequential pass.
#pragma once
#include <algorithm>
#include <cstdint>

#include "kernels/tensor_view.h"

namespace bf {
struct PackedWeight;
}

namespace bf::int8_avx512 {

inline constexpr int kGroupRows = 16;
inline constexpr int kKGroups = 8;  // 4-byte k-groups per 32-column block
inline constexpr int kSuperBlocks = 8;  // 32-column blocks per K super-block

inline constexpr int kSetGroups = 4;  // row groups interleaved item by item

// Row groups in the set holding row group rg (of row_groups).
inline int64_t set_width(int64_t row_groups, int64_t rg) {
  return std::min<int64_t>(kSetGroups, row_groups - rg / kSetGroups * kSetGroups);
}

// Index, in items, of item i of row group rg, with `per_group` items per row group.
// Item i+1 of the same row group follows at + set_width.
inline int64_t item_index(int64_t row_groups, int64_t rg, int64_t i, int64_t per_group) {
  const int64_t first = rg / kSetGroups * kSetGroups;
  return first * per_group + i * set_width(row_groups, rg) + (rg - first);
}

// Bits per value above the low nibble (0 for the int8 types, which have no nibbles).
constexpr int high_bits(DType t) {
  switch (t) {
    case DType::Q5_0: case DType::Q5_1: case DType::Q5_K: return 1;
    case DType::Q6_K: return 2;
    default: return 0;
  }
}

constexpr bool is_k_type(DType t) { return t == DType::Q4_K || t == DType::Q5_K || t == DType::Q6_K; }

// Bytes of the values of one block of one row group.
constexpr int value_block_bytes(DType t) {
  return t == DType::Q8_0 || t == DType::I8G ? 512 : 256 + 64 * high_bits(t);
}

// Bytes of one scale item (see above).
constexpr int scale_item_bytes(DType t) {
  switch (t) {
    case DType::Q4_1: case DType::Q5_1: return 2 * kGroupRows * 2;
    case DType::Q4_K: case DType::Q5_K: return 2 * kGroupRows * 2 + 2 * kSuperBlocks * kGroupRows;
    case DType::Q6_K: return kGroupRows * 2 + 2 * kSuperBlocks * kGroupRows;
    case DType::I8G: return kGroupRows * 4;
    default: return kGroupRows * 2;
  }
}

struct Layout {
  int64_t rows, cols;
  int64_t blocks;       // per row: cols / 32
  int64_t row_groups;   // ceil(rows / 16)
  int block_bytes;      // values of one block of one row group
  int64_t scale_items;  // per row group: blocks, super-blocks or I8G groups
  int scale_bytes;      // of one scale item

  Layout(DType t, int64_t rows_, int64_t cols_, int64_t group = 0)
      : rows(rows_), cols(cols_), blocks(cols_ / 32), row_groups((rows_ + kGroupRows - 1) / kGroupRows),
        block_bytes(value_block_bytes(t)),
        scale_items(t == DType::I8G ? cols_ / group : is_k_type(t) ? blocks / kSuperBlocks : blocks),
        scale_bytes(scale_item_bytes(t)) {}
  int64_t value_bytes() const { return row_groups * blocks * block_bytes; }
  int64_t scale_area_bytes() const { return row_groups * scale_items * scale_bytes; }
  // Start of scale item i of row group rg within the scale area.
  int64_t scale_item_at(int64_t rg, int64_t i) const {
    return item_index(row_groups, rg, i, scale_items) * scale_bytes;
  }
};

void repack_r16(const TensorView& native, PackedWeight& out);

}  // namespace bf::int8_avx512
