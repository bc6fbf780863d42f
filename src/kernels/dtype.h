// Weight element types and their storage layouts.
//
// The ggml block formats, as GGUF files store them (the layouts are ggml's; the
// comments give the value of element i of a block):
//   Q8_0, Q4_0, Q4_1, Q5_0, Q5_1: blocks of 32 elements with f16 scale d (and min m);
//   Q4_K, Q5_K, Q6_K: "K" super-blocks of 256 elements made of sub-blocks that carry
//   small integer scales of their own, themselves scaled by f16 super-block scales;
//   BF16: the upper half of an IEEE binary32.
// I8G is llama2.c's version-2 export: int8 values with one f32 scale per group of
// `group` consecutive elements; the values and the scales live in separate arrays.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace bf {

enum class DType : uint8_t { F32, F16, Q8_0, Q4_0, I8G, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K, BF16 };

inline constexpr int kQBlock = 32;   // elements per Q8_0 / Q4_0 / Q4_1 / Q5_0 / Q5_1 block
inline constexpr int kQK = 256;      // elements per K-quant super-block

struct BlockQ8_0 {
  uint16_t d;  // f16 scale
  int8_t qs[kQBlock];
};
static_assert(sizeof(BlockQ8_0) == 34);

// The 32-element 4- and 5-bit blocks share one nibble order: element j < 16 is the low
// nibble of qs[j], element j + 16 its high nibble. Q5 types add bit j of qh (read as a
// little-endian uint32) as bit 4 of element j.
struct BlockQ4_0 {
  uint16_t d;               // f16 scale
  uint8_t qs[kQBlock / 2];  // value = (q - 8) * d
};
static_assert(sizeof(BlockQ4_0) == 18);

struct BlockQ4_1 {
  uint16_t d, m;            // f16 scale and min
  uint8_t qs[kQBlock / 2];  // value = q * d + m
};
static_assert(sizeof(BlockQ4_1) == 20);

struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[kQBlock / 2];  // value = (q - 16) * d
};
static_assert(sizeof(BlockQ5_0) == 22);

struct BlockQ5_1 {
  uint16_t d, m;
  uint8_t qh[4];
  uint8_t qs[kQBlock / 2];  // value = q * d + m
};
static_assert(sizeof(BlockQ5_1) == 24);

// Q4_K and Q5_K: eight sub-blocks of 32, sub-block s with 6-bit scale sc[s] and min
// m[s] (packed in `scales`, see unpack_k_scales): value = d * sc[s] * q - dmin * m[s].
// qs holds four 32-byte chunks; chunk c has sub-block 2c in its low nibbles and
// sub-block 2c+1 in its high nibbles, element l of each at byte l. Q5_K adds bit 2c
// (sub-block 2c) or 2c+1 (sub-block 2c+1) of qh[l] as bit 4.
struct BlockQ4_K {
  uint16_t d, dmin;
  uint8_t scales[12];
  uint8_t qs[kQK / 2];
};
static_assert(sizeof(BlockQ4_K) == 144);

struct BlockQ5_K {
  uint16_t d, dmin;
  uint8_t scales[12];
  uint8_t qh[kQK / 8];
  uint8_t qs[kQK / 2];
};
static_assert(sizeof(BlockQ5_K) == 176);

// Q6_K: sixteen sub-blocks of 16 with int8 scales: value = d * scales[i / 16] * (q - 32),
// q 6 bits. Each half h (elements 128h ..) uses ql[64h ..] and qh[32h ..]; for l < 32:
//   element l      low nibble of ql[l],       bits 0-1 of qh[l]
//   element l + 32 low nibble of ql[l + 32],  bits 2-3
//   element l + 64 high nibble of ql[l],      bits 4-5
//   element l + 96 high nibble of ql[l + 32], bits 6-7
struct BlockQ6_K {
  uint8_t ql[kQK / 2];
  uint8_t qh[kQK / 4];
  int8_t scales[kQK / 16];
  uint16_t d;
};
static_assert(sizeof(BlockQ6_K) == 210);

// The 6-bit scale and min of Q4_K/Q5_K sub-block s (0..7) from the 12 packed bytes:
// sub-blocks 0-3 keep theirs in the low 6 bits of bytes s and s+4; sub-blocks 4-7 put
// their low 4 bits in byte s+4 and their top 2 bits in the top bits of bytes s-4, s.
inline void unpack_k_scale(const uint8_t* scales, int s, int& sc, int& m) {
  if (s < 4) {
    sc = scales[s] & 63;
    m = scales[s + 4] & 63;
  } else {
    sc = (scales[s + 4] & 0x0f) | (scales[s - 4] >> 6) << 4;
    m = (scales[s + 4] >> 4) | (scales[s] >> 6) << 4;
  }
}

// The inverse of unpack_k_scale for all eight sub-blocks (sc, m < 64).
inline void pack_k_scales(const uint8_t (&sc)[8], const uint8_t (&m)[8], uint8_t* scales) {
  for (int s = 0; s < 4; ++s) {
    scales[s] = static_cast<uint8_t>((sc[s] & 63) | (sc[s + 4] >> 4) << 6);
    scales[s + 4] = static_cast<uint8_t>((m[s] & 63) | (m[s + 4] >> 4) << 6);
    scales[s + 8] = static_cast<uint8_t>((sc[s + 4] & 0x0f) | (m[s + 4] & 0x0f) << 4);
  }
}

// Bit 4 of each element of a Q5_0/Q5_1 block.
inline uint32_t q5_high_bits(const uint8_t (&qh)[4]) {
  uint32_t bits;
  std::memcpy(&bits, qh, 4);
  return bits;
}

std::string_view dtype_name(DType t);
// The lower-case name kernel variants use: "matmul.<key>.<isa>...", e.g. "q4_k".
std::string_view dtype_key(DType t);

// Elements and bytes of one block of the type (1 and the element size for F32, F16,
// BF16 and I8G, whose I8G scales live elsewhere).
int block_elems(DType t);
size_t block_bytes(DType t);

// Bytes of one row of `cols` elements, or 0 when `cols` is not a legal row length for
// the type (a whole number of blocks). I8G counts only the int8 values.
size_t row_bytes(DType t, int64_t cols);

}  // namespace bf
