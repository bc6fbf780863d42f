// The "r8" weight layout of the int8_avx2 family: eight rows interleaved so that one
// 256-bit register holds four consecutive elements of each of eight rows, one row per
// 32-bit lane. A dot-product instruction against four activation bytes broadcast to
// every lane then advances eight rows at once, and a block's result is already one
// sum per row per lane: no horizontal reduction, and a token's eight outputs are one
// store.
//
// Rows are grouped by eight (group g = rows 8g..8g+7); the last group is padded with
// zero-scale rows. w holds the groups one after the other; within a group, block b
// (elements 32b..32b+31 of each row) takes kGroupBlockBytes bytes:
//   Q8_0, I8G: chunk c = 0..7, then row r = 0..7: w[r][32b+4c .. +3] + 128 (offset
//              binary, so that the bytes are the unsigned operand of vpdpbusd).
//   Q4_0:      load k = 0..3, then row r = 0..7: the native bytes qs[4k .. 4k+3] of the
//              row's block: the low nibbles are elements 4k..4k+3, the high nibbles
//              elements 16+4k..16+4k+3, so one 32-byte load feeds two chunks.
// Scales live apart (MatmulArgs::w_scales), lane-ordered too:
//   Q8_0, Q4_0: f16, [group][block][8], the files' own scales (no extra bytes streamed).
//   I8G:        f32, [group][group of the row][8].
#pragma once
#include <cstdint>

#include "kernels/dtype.h"
#include "kernels/variant.h"

namespace bf::int8_avx2 {

inline constexpr int kRows = 8;             // rows per group: one per 32-bit lane
inline constexpr int kQ8BlockBytes = 256;   // one block of a group, Q8_0 and I8G
inline constexpr int kQ4BlockBytes = 128;   // one block of a group, Q4_0

inline int64_t row_groups(int64_t rows) { return (rows + kRows - 1) / kRows; }

void repack_q8_0(const TensorView& native, PackedWeight& out);
void repack_q4_0(const TensorView& native, PackedWeight& out);
void repack_i8g(const TensorView& native, PackedWeight& out);

}  // namespace bf::int8_avx2
