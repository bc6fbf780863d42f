// The "r16" weight layout shared by every int8 AVX-512 / AMX matmul variant.
//
// Rows are taken 16 at a time (a row group: one row per dword lane of a zmm). For each
// row group and each block of 32 columns, the block's values are stored as 8 k-groups
// of 64 bytes; k-group j holds, for each of the 16 rows, the 4 bytes of columns 4j..4j+3.
// That is the operand order of vpdpbusd (one zmm = one k-group of 16 rows) and also
// the "VNNI" row order of an AMX B tile, so one layout serves every variant and every
// n_tokens. Values are unsigned so that they can be vpdpbusd's unsigned operand:
//   int8 (Q8_0, I8G): value + 128, 512 bytes per row-group block;
//   Q4_0: nibbles as they are, 256 bytes per row-group block: byte j*64 + 4*row + i
//         holds column 4j+i in its low nibble and column 16+4j+i in its high one (the
//         native Q4_0 byte, so repacking Q4_0 only moves 4-byte groups).
// The offset is undone per token and block with the activation block sums:
//   sum(w*x) = sum(u*x) - offset * sum(x).
// Scales: Q8_0/Q4_0 keep their f16 d after all values, [row group][block][16 rows]
// (f16 keeps the bytes streamed per token as in the file); I8G keeps its f32 group
// scales in w_scales, [row group][group][16 rows]. Rows past `rows` in the last group
// are zero weights with scale 0.
#pragma once
#include <cstdint>

#include "kernels/tensor_view.h"

namespace bf {
struct PackedWeight;
}

namespace bf::int8_avx512 {

inline constexpr int kGroupRows = 16;
inline constexpr int kKGroups = 8;  // 4-byte k-groups per 32-column block

struct Layout {
  int64_t rows, cols;
  int64_t blocks;      // per row: cols / 32
  int64_t row_groups;  // ceil(rows / 16)
  int block_bytes;     // values of one block of one row group: 512 (int8) or 256 (Q4_0)

  Layout(DType t, int64_t rows_, int64_t cols_)
      : rows(rows_), cols(cols_), blocks(cols_ / 32), row_groups((rows_ + kGroupRows - 1) / kGroupRows),
        block_bytes(t == DType::Q4_0 ? 256 : 512) {}
  int64_t value_bytes() const { return row_groups * blocks * block_bytes; }
  // Bytes of the f16 scales that follow the values (Q8_0, Q4_0).
  int64_t f16_scale_bytes() const { return row_groups * blocks * kGroupRows * 2; }
};

void repack_r16(const TensorView& native, PackedWeight& out);

}  // namespace bf::int8_avx512
