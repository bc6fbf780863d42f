// The "r8" weight layout of the int8_avx2 family: eight rows interleaved so that one
// 256-bit register holds four consecutive elements of each of eight rows, one row per
// 32-bit lane. A dot-product instruction against four activation bytes broadcast to
// every lane then advances eight rows at once, and a block's result is already one
// sum per row per lane: no horizontal reduction, and a token's eight outputs are one
// store.
//
// Rows are grouped by eight (group g = rows 8g..8g+7); the last group is padded with
// zero-scale rows. w holds the groups one after the other; within a group, block b
// (elements 32b..32b+31 of each row) takes kBlockBytes bytes:
//   Q8_0, I8G: chunk c = 0..7, then row r = 0..7: w[r][32b+4c .. +3] + 128 (offset
//              binary, so that the bytes are the unsigned operand of vpdpbusd).
//   nibbles:   load k = 0..3, then row r = 0..7: four bytes whose low nibbles are bits
//              0-3 of elements 4k..4k+3 and high nibbles those of 16+4k..16+4k+3 (Q4_0's
//              native byte order), so one 32-byte load feeds two chunks. Every type but
//              Q8_0/I8G starts so; the values are unsigned integers u (value = s u + m).
//   Q5 types:  then a 32-byte plane of bit 4: row r, byte i has, for load k, bit 4 of
//              element 4k+i at bit 4+k and bit 4 of element 16+4k+i at bit k.
//   Q6_K:      then two 32-byte planes of bits 4-5: plane p (loads k = 2p, 2p+1) row r
//              byte i has, for k = 2p, elements 4k+i at bits 4-5 and 16+4k+i at bits
//              6-7; for k = 2p+1, at bits 0-1 and 2-3. Then the block's int8 sub-block
//              scales: elements 0-15 of rows 0..7, then elements 16-31 of rows 0..7.
// Each bit position is one shift and one mask away from bit 4 (5) of a byte.
//
// Scales live apart (MatmulArgs::w_scales), lane-ordered too, the files' own f16 bits:
//   Q8_0, Q4_0, Q5_0: f16 d, [group][block][8] (Q5_0's -16 d offset is integer).
//   Q4_1, Q5_1:       f16 [group][block][16]: d of rows 0..7, then m of rows 0..7.
//   Q4_K, Q5_K:       per group and super-block: f16 d of rows 0..7, f16 -dmin of rows
//                     0..7, then per block: the 6-bit scales of rows 0..7 as bytes, then
//                     the 6-bit mins. Block scale d * sc is exact in f32.
//   Q6_K:             f16 d, [group][super-block][8].
//   I8G:              f32, [group][group of the row][8].
#pragma once
#include <cstdint>

#include "kernels/dtype.h"
#include "kernels/variant.h"

namespace bf::int8_avx2 {

inline constexpr int kRows = 8;             // rows per group: one per 32-bit lane
inline constexpr int kQ8BlockBytes = 256;   // one block of a group, Q8_0 and I8G
inline constexpr int kQ4BlockBytes = 128;   // the nibbles of one block of a group
inline constexpr int kQ5BlockBytes = kQ4BlockBytes + 32;       // + the bit-4 plane
inline constexpr int kQ6BlockBytes = kQ4BlockBytes + 64 + 16;  // + two bit planes, int8 scales
inline constexpr int kBlocksPerSuper = kQK / kQBlock;
inline constexpr int kKScaleHeadBytes = 2 * kRows * 2;   // Q4_K/Q5_K per super-block: d, -dmin
inline constexpr int kKScaleBlockBytes = 2 * kRows;      // Q4_K/Q5_K per block: sc, m

inline int64_t row_groups(int64_t rows) { return (rows + kRows - 1) / kRows; }

void repack_q8_0(const TensorView& native, PackedWeight& out);
void repack_q4_0(const TensorView& native, PackedWeight& out);
void repack_i8g(const TensorView& native, PackedWeight& out);
void repack_q4_1(const TensorView& native, PackedWeight& out);
void repack_q5_0(const TensorView& native, PackedWeight& out);
void repack_q5_1(const TensorView& native, PackedWeight& out);
void repack_q4_k(const TensorView& native, PackedWeight& out);
void repack_q5_k(const TensorView& native, PackedWeight& out);
void repack_q6_k(const TensorView& native, PackedWeight& out);

}  // namespace bf::int8_avx2
