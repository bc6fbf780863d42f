#include "kernels/quantize.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <cstring>
#include <string>

#include "kernels/int_block.h"
#include "util/f16.h"

namespace bf {

namespace {

// A partial block or group would be silently dropped; callers get an error instead.
void check_multiple(const char* fn, int64_t n, int64_t unit) {
  if (unit <= 0 || n < 0 || n % unit != 0)
    throw std::invalid_argument(std::string(fn) + ": length " + std::to_string(n) + " is not a multiple of " +
                                std::to_string(unit));
}

}  // namespace

void quantize_row_q8_0(const float* x, BlockQ8_0* out, int64_t n) {
  check_multiple("quantize_row_q8_0", n, kQBlock);
  for (int64_t b = 0; b < n / kQBlock; ++b) {
    const float* xb = x + b * kQBlock;
    float amax = 0.0f;
    for (int j = 0; j < kQBlock; ++j) amax = std::max(amax, std::fabs(xb[j]));
    // ggml multiplies by the f32 inverse of the unrounded d; the f16 d is only stored.
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    out[b].d = f32_to_f16(d);
    for (int j = 0; j < kQBlock; ++j) out[b].qs[j] = static_cast<int8_t>(std::roundf(xb[j] * id));
  }
}

void quantize_row_q4_0(const float* x, BlockQ4_0* out, int64_t n) {
  check_multiple("quantize_row_q4_0", n, kQBlock);
  constexpr int kHalf = kQBlock / 2;
  for (int64_t b = 0; b < n / kQBlock; ++b) {
    const float* xb = x + b * kQBlock;
    float amax = 0.0f;
    float max = 0.0f;  // signed: the extreme value maps exactly onto -8
    for (int j = 0; j < kQBlock; ++j) {
      if (amax < std::fabs(xb[j])) {
        amax = std::fabs(xb[j]);
        max = xb[j];
      }
    }
    const float d = max / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    out[b].d = f32_to_f16(d);
    for (int j = 0; j < kHalf; ++j) {
      // x*id + 8.5 lies in [0.5, 16.5], so truncation is round-half-up; 16 clamps to 15.
      auto lo = static_cast<uint8_t>(std::min(15, static_cast<int>(static_cast<int8_t>(xb[j] * id + 8.5f))));
      auto hi = static_cast<uint8_t>(std::min(15, static_cast<int>(static_cast<int8_t>(xb[j + kHalf] * id + 8.5f))));
      out[b].qs[j] = static_cast<uint8_t>(lo | hi << 4);
    }
  }
}

namespace {
// The min and max of a block, and the scale that maps [min, max] onto 0..levels.
struct MinMax {
  float min, d, id;
};
MinMax min_max(const float* xb, int levels) {
  float lo = xb[0], hi = xb[0];
  for (int j = 1; j < kQBlock; ++j) {
    lo = std::min(lo, xb[j]);
    hi = std::max(hi, xb[j]);
  }
  const float d = (hi - lo) / static_cast<float>(levels);
  return {lo, d, d != 0.0f ? 1.0f / d : 0.0f};
}

// Element j's quant from a block's min-max scale, as ggml rounds it (x - min >= 0).
inline int min_max_quant(float x, const MinMax& s, int levels) {
  return std::min(levels, static_cast<int>(static_cast<uint8_t>((x - s.min) * s.id + 0.5f)));
}

// Stores 32 quants of 4 or 5 bits in the shared nibble order (and bit 4 in qh).
template <class Block>
void store_nibbles(Block& blk, const int (&q)[kQBlock]) {
  constexpr int kHalf = kQBlock / 2;
  for (int j = 0; j < kHalf; ++j) blk.qs[j] = static_cast<uint8_t>((q[j] & 0x0f) | (q[j + kHalf] & 0x0f) << 4);
  if constexpr (requires { blk.qh; }) {
    uint32_t bits = 0;
    for (int j = 0; j < kQBlock; ++j) bits |= static_cast<uint32_t>((q[j] >> 4) & 1) << j;
    std::memcpy(blk.qh, &bits, 4);
  }
}

template <class Block>
void quantize_min_max(const char* fn, const float* x, Block* out, int64_t n, int levels) {
  check_multiple(fn, n, kQBlock);
  for (int64_t b = 0; b < n / kQBlock; ++b) {
    const float* xb = x + b * kQBlock;
    const MinMax s = min_max(xb, levels);
    out[b].d = f32_to_f16(s.d);
    out[b].m = f32_to_f16(s.min);
    int q[kQBlock];
    for (int j = 0; j < kQBlock; ++j) q[j] = min_max_quant(xb[j], s, levels);
    store_nibbles(out[b], q);
  }
}

}  // namespace

void quantize_row_q4_1(const float* x, BlockQ4_1* out, int64_t n) { quantize_min_max("quantize_row_q4_1", x, out, n, 15); }
void quantize_row_q5_1(const float* x, BlockQ5_1* out, int64_t n) { quantize_min_max("quantize_row_q5_1", x, out, n, 31); }

void quantize_row_q5_0(const float* x, BlockQ5_0* out, int64_t n) {
  check_multiple("quantize_row_q5_0", n, kQBlock);
  for (int64_t b = 0; b < n / kQBlock; ++b) {
    const float* xb = x + b * kQBlock;
    float amax = 0.0f, max = 0.0f;  // signed extreme: it maps exactly onto -16
    for (int j = 0; j < kQBlock; ++j)
      if (amax < std::fabs(xb[j])) {
        amax = std::fabs(xb[j]);
        max = xb[j];
      }
    const float d = max / -16.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    out[b].d = f32_to_f16(d);
    int q[kQBlock];
    for (int j = 0; j < kQBlock; ++j) q[j] = std::min(31, static_cast<int>(static_cast<int8_t>(xb[j] * id + 16.5f)));
    store_nibbles(out[b], q);
  }
}

void quantize_row_f16(const float* x, uint16_t* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = f32_to_f16(x[i]);
}

void quantize_row_bf16(const float* x, uint16_t* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = f32_to_bf16(x[i]);
}

void quantize_row(DType t, const float* x, void* out, int64_t n) {
  if (t != DType::I8G) check_multiple("quantize_row", n, block_elems(t));
  switch (t) {
    case DType::F32: std::copy_n(x, n, static_cast<float*>(out)); return;
    case DType::F16: quantize_row_f16(x, static_cast<uint16_t*>(out), n); return;
    case DType::BF16: quantize_row_bf16(x, static_cast<uint16_t*>(out), n); return;
    case DType::Q8_0: quantize_row_q8_0(x, static_cast<BlockQ8_0*>(out), n); return;
    case DType::Q4_0: quantize_row_q4_0(x, static_cast<BlockQ4_0*>(out), n); return;
    case DType::Q4_1: quantize_row_q4_1(x, static_cast<BlockQ4_1*>(out), n); return;
    case DType::Q5_0: quantize_row_q5_0(x, static_cast<BlockQ5_0*>(out), n); return;
    case DType::Q5_1: quantize_row_q5_1(x, static_cast<BlockQ5_1*>(out), n); return;
    case DType::Q4_K: quantize_row_q4_k(x, static_cast<BlockQ4_K*>(out), n); return;
    case DType::Q5_K: quantize_row_q5_k(x, static_cast<BlockQ5_K*>(out), n); return;
    case DType::Q6_K: quantize_row_q6_k(x, static_cast<BlockQ6_K*>(out), n); return;
    case DType::I8G: break;
  }
  throw std::invalid_argument("quantize_row: I8G rows need a group size (quantize_i8g)");
}

void quantize_i8g(const float* x, int8_t* q, float* scales, int64_t n, int group) {
  check_multiple("quantize_i8g", n, group);
  for (int64_t g = 0; g < n / group; ++g) {
    const float* xg = x + g * group;
    float wmax = 0.0f;
    for (int j = 0; j < group; ++j) wmax = std::max(wmax, std::fabs(xg[j]));
    const float scale = wmax / 127.0f;
    scales[g] = scale;
    // export.py divides (not multiplies by an inverse) and torch.round rounds half to even,
    // which is nearbyint under the default rounding mode.
    for (int j = 0; j < group; ++j)
      q[g * group + j] = scale != 0.0f ? static_cast<int8_t>(std::nearbyint(xg[j] / scale)) : int8_t{0};
  }
}

void dequantize_row_q8_0(const BlockQ8_0* x, float* out, int64_t n) {
  for (int64_t b = 0; b < n / kQBlock; ++b) {
    const float d = f16_to_f32(x[b].d);
    for (int j = 0; j < kQBlock; ++j) out[b * kQBlock + j] = static_cast<float>(x[b].qs[j]) * d;
  }
}

void dequantize_row_q4_0(const BlockQ4_0* x, float* out, int64_t n) {
  constexpr int kHalf = kQBlock / 2;
  for (int64_t b = 0; b < n / kQBlock; ++b) {
    const float d = f16_to_f32(x[b].d);
    float* ob = out + b * kQBlock;
    for (int j = 0; j < kHalf; ++j) {
      ob[j] = static_cast<float>((x[b].qs[j] & 0x0f) - 8) * d;
      ob[j + kHalf] = static_cast<float>((x[b].qs[j] >> 4) - 8) * d;
    }
  }
}

namespace {
// The block types int_block decodes: value = scale * q + offset, block by block.
void dequantize_int_blocks(DType t, const void* row, float* out, int64_t n) {
  for (int64_t b = 0; b < n / kQBlock; ++b) {
    const IntBlock blk = int_block(t, row, b);
    for (int j = 0; j < kQBlock; ++j) out[b * kQBlock + j] = blk.scale * static_cast<float>(blk.q[j]) + blk.offset;
  }
}
}  // namespace

void dequantize_row_q4_1(const BlockQ4_1* x, float* out, int64_t n) { dequantize_int_blocks(DType::Q4_1, x, out, n); }
void dequantize_row_q5_0(const BlockQ5_0* x, float* out, int64_t n) { dequantize_int_blocks(DType::Q5_0, x, out, n); }
void dequantize_row_q5_1(const BlockQ5_1* x, float* out, int64_t n) { dequantize_int_blocks(DType::Q5_1, x, out, n); }
void dequantize_row_q4_k(const BlockQ4_K* x, float* out, int64_t n) { dequantize_int_blocks(DType::Q4_K, x, out, n); }
void dequantize_row_q5_k(const BlockQ5_K* x, float* out, int64_t n) { dequantize_int_blocks(DType::Q5_K, x, out, n); }
void dequantize_row_q6_k(const BlockQ6_K* x, float* out, int64_t n) { dequantize_int_blocks(DType::Q6_K, x, out, n); }

void dequantize_row_f16(const uint16_t* x, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = f16_to_f32(x[i]);
}

void dequantize_row_bf16(const uint16_t* x, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = bf16_to_f32(x[i]);
}

void dequantize_i8g(const int8_t* q, const float* scales, float* out, int64_t n, int group) {
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(q[i]) * scales[i / group];
}

void dequantize_row(DType t, const void* row, const float* scales, float* out, int64_t n, int group) {
  if (t == DType::I8G)
    check_multiple("dequantize_row (I8G group)", n, group);
  else
    check_multiple("dequantize_row", n, block_elems(t));
  switch (t) {
    case DType::F32: std::copy_n(static_cast<const float*>(row), n, out); return;
    case DType::F16: dequantize_row_f16(static_cast<const uint16_t*>(row), out, n); return;
    case DType::BF16: dequantize_row_bf16(static_cast<const uint16_t*>(row), out, n); return;
    case DType::Q8_0: dequantize_row_q8_0(static_cast<const BlockQ8_0*>(row), out, n); return;
    case DType::Q4_0: dequantize_row_q4_0(static_cast<const BlockQ4_0*>(row), out, n); return;
    case DType::Q4_1: dequantize_row_q4_1(static_cast<const BlockQ4_1*>(row), out, n); return;
    case DType::Q5_0: dequantize_row_q5_0(static_cast<const BlockQ5_0*>(row), out, n); return;
    case DType::Q5_1: dequantize_row_q5_1(static_cast<const BlockQ5_1*>(row), out, n); return;
    case DType::Q4_K: dequantize_row_q4_k(static_cast<const BlockQ4_K*>(row), out, n); return;
    case DType::Q5_K: dequantize_row_q5_k(static_cast<const BlockQ5_K*>(row), out, n); return;
    case DType::Q6_K: dequantize_row_q6_k(static_cast<const BlockQ6_K*>(row), out, n); return;
    case DType::I8G: dequantize_i8g(static_cast<const int8_t*>(row), scales, out, n, group); return;
  }
}

}  // namespace bf
