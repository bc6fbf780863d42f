// Every 32-element block of the quantized weight types in one integer form:
//     value[i] = scale * q[i] + offset
// with q exact small integers (sub-block scales folded in) and scale, offset floats.
// A block of 8-bit activations (x = dx * xq) then dots as
//     dx * (scale * sum(q * xq) + offset * sum(xq)),
// the integer semantics every integer matmul computes (the reference ref-q8 kernels
// state it with this decoder). The dequantizers are the same formula in floats.
#pragma once
#include <cstdint>

#include "kernels/dtype.h"
#include "util/f16.h"

namespace bf {

struct IntBlock {
  int16_t q[kQBlock];
  float scale = 0, offset = 0;
};

namespace int_block_detail {
// Element j of a 32-element block in the shared 4/5-bit nibble order (kernels/dtype.h).
template <class Block>
inline int16_t nibble_quant(const Block& blk, int j) {
  int q = j < kQBlock / 2 ? blk.qs[j] & 0x0f : blk.qs[j - kQBlock / 2] >> 4;
  if constexpr (requires { blk.qh; }) q |= static_cast<int>((q5_high_bits(blk.qh) >> j) & 1) << 4;
  return static_cast<int16_t>(q);
}

template <class Block>
inline const Block& block_at(const void* row, int64_t i) {
  return static_cast<const Block*>(row)[i];
}

// Sub-block s (0..7) of a Q4_K/Q5_K super-block.
template <class Block>
inline void k_min_block(const Block& blk, int s, IntBlock& out) {
  int sc, m;
  unpack_k_scale(blk.scales, s, sc, m);
  const uint8_t* qs = blk.qs + (s / 2) * kQBlock;
  for (int l = 0; l < kQBlock; ++l) {
    int q = s % 2 ? qs[l] >> 4 : qs[l] & 0x0f;
    if constexpr (requires { blk.qh; }) q |= ((blk.qh[l] >> s) & 1) << 4;
    out.q[l] = static_cast<int16_t>(sc * q);
  }
  out.scale = f16_to_f32(blk.d);
  out.offset = -f16_to_f32(blk.dmin) * static_cast<float>(m);
}

// Elements 32c .. 32c+31 (c = 0..7) of a Q6_K super-block.
inline void q6_k_block(const BlockQ6_K& blk, int c, IntBlock& out) {
  const int h = c / 4, k = c % 4;  // half, and quarter within the half
  for (int l = 0; l < kQBlock; ++l) {
    const uint8_t low = blk.ql[64 * h + l + 32 * (k % 2)];
    const int q = ((k < 2 ? low & 0x0f : low >> 4) | ((blk.qh[32 * h + l] >> (2 * k)) & 3) << 4) - 32;
    out.q[l] = static_cast<int16_t>(blk.scales[2 * c + l / 16] * q);
  }
  out.scale = f16_to_f32(blk.d);
  out.offset = 0;
}
}  // namespace int_block_detail

// Block b (elements 32b .. 32b+31) of a row of type t, for every block type but I8G
// (whose scales live apart).
inline IntBlock int_block(DType t, const void* row, int64_t b) {
  using namespace int_block_detail;
  IntBlock out;
  switch (t) {
    case DType::Q8_0: {
      const BlockQ8_0& blk = block_at<BlockQ8_0>(row, b);
      for (int j = 0; j < kQBlock; ++j) out.q[j] = blk.qs[j];
      out.scale = f16_to_f32(blk.d);
      break;
    }
    case DType::Q4_0: {
      const BlockQ4_0& blk = block_at<BlockQ4_0>(row, b);
      for (int j = 0; j < kQBlock; ++j) out.q[j] = static_cast<int16_t>(nibble_quant(blk, j) - 8);
      out.scale = f16_to_f32(blk.d);
      break;
    }
    case DType::Q5_0: {
      const BlockQ5_0& blk = block_at<BlockQ5_0>(row, b);
      for (int j = 0; j < kQBlock; ++j) out.q[j] = static_cast<int16_t>(nibble_quant(blk, j) - 16);
      out.scale = f16_to_f32(blk.d);
      break;
    }
    case DType::Q4_1: {
      const BlockQ4_1& blk = block_at<BlockQ4_1>(row, b);
      for (int j = 0; j < kQBlock; ++j) out.q[j] = nibble_quant(blk, j);
      out.scale = f16_to_f32(blk.d);
      out.offset = f16_to_f32(blk.m);
      break;
    }
    case DType::Q5_1: {
      const BlockQ5_1& blk = block_at<BlockQ5_1>(row, b);
      for (int j = 0; j < kQBlock; ++j) out.q[j] = nibble_quant(blk, j);
      out.scale = f16_to_f32(blk.d);
      out.offset = f16_to_f32(blk.m);
      break;
    }
    case DType::Q4_K: k_min_block(block_at<BlockQ4_K>(row, b / 8), static_cast<int>(b % 8), out); break;
    case DType::Q5_K: k_min_block(block_at<BlockQ5_K>(row, b / 8), static_cast<int>(b % 8), out); break;
    case DType::Q6_K: q6_k_block(block_at<BlockQ6_K>(row, b / 8), static_cast<int>(b % 8), out); break;
    case DType::F32: case DType::F16: case DType::BF16: case DType::I8G: break;
  }
  return out;
}

// A block as the integer kernels store it: q[j] = sc[j / 16] * (u[j] - bias), u unsigned
// (at most 8 bits), sc the integer sub-block scale of each 16-element half (1 for types
// without one). It undoes int_block's folding: the division is exact, so exact in floats
// too (much faster than integer division at load). Where sc is 0 every u is the bias:
// the block's values are 0 whatever u is.
struct UnsignedBlock {
  int u[kQBlock];
  int sc[2] = {1, 1};
  int bias = 0;
};

inline UnsignedBlock unsigned_block(DType t, const void* row, int64_t b) {
  using namespace int_block_detail;
  UnsignedBlock out;
  const int s = static_cast<int>(b % (kQK / kQBlock));  // sub-block within a K super-block
  int m;
  switch (t) {
    case DType::Q8_0: out.bias = 128; break;
    case DType::Q4_0: out.bias = 8; break;
    case DType::Q5_0: out.bias = 16; break;
    case DType::Q4_K: unpack_k_scale(block_at<BlockQ4_K>(row, b / 8).scales, s, out.sc[0], m); break;
    case DType::Q5_K: unpack_k_scale(block_at<BlockQ5_K>(row, b / 8).scales, s, out.sc[0], m); break;
    case DType::Q6_K: {
      const int8_t* sc = block_at<BlockQ6_K>(row, b / 8).scales + 2 * s;
      out.sc[0] = sc[0], out.sc[1] = sc[1], out.bias = 32;
      break;
    }
    default: break;
  }
  if (t == DType::Q4_K || t == DType::Q5_K) out.sc[1] = out.sc[0];
  const IntBlock blk = int_block(t, row, b);
  for (int j = 0; j < kQBlock; ++j) {
    const int sc = out.sc[j / (kQBlock / 2)];
    out.u[j] = (sc ? static_cast<int>(static_cast<float>(blk.q[j]) / static_cast<float>(sc)) : 0) + out.bias;
  }
  return out;
}

// Whether int_block decodes type t.
constexpr bool has_int_blocks(DType t) {
  return t != DType::F32 && t != DType::F16 && t != DType::BF16 && t != DType::I8G;
}

}  // namespace bf
