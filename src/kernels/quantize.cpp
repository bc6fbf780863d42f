#include "kernels/quantize.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

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

void quantize_row_f16(const float* x, uint16_t* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = f32_to_f16(x[i]);
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

void dequantize_row_f16(const uint16_t* x, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = f16_to_f32(x[i]);
}

void dequantize_i8g(const int8_t* q, const float* scales, float* out, int64_t n, int group) {
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(q[i]) * scales[i / group];
}

void dequantize_row(DType t, const void* row, const float* scales, float* out, int64_t n, int group) {
  if (t == DType::Q8_0 || t == DType::Q4_0) check_multiple("dequantize_row", n, kQBlock);
  if (t == DType::I8G) check_multiple("dequantize_row (I8G group)", n, group);
  switch (t) {
    case DType::F32:
      std::copy_n(static_cast<const float*>(row), n, out);
      return;
    case DType::F16:
      dequantize_row_f16(static_cast<const uint16_t*>(row), out, n);
      return;
    case DType::Q8_0:
      dequantize_row_q8_0(static_cast<const BlockQ8_0*>(row), out, n);
      return;
    case DType::Q4_0:
      dequantize_row_q4_0(static_cast<const BlockQ4_0*>(row), out, n);
      return;
    case DType::I8G:
      dequantize_i8g(static_cast<const int8_t*>(row), scales, out, n, group);
      return;
  }
}

}  // namespace bf
