// Reference quantizers for the K super-block types (layouts: kernels/dtype.h).
//
// Two levels of scale: each sub-block gets a float scale (and, for Q4_K/Q5_K, a min)
// fitted to its values, then those are themselves quantized against one f16 scale per
// super-block, and the values are finally quantized with the scales as stored, so
// the rounding of the scales is absorbed by the values.
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "kernels/quantize.h"
#include "util/f16.h"

namespace bf {
namespace {

constexpr int kSubBlocks = kQK / kQBlock;  // Q4_K / Q5_K sub-blocks of 32

void check_super_blocks(const char* fn, int64_t n) {
  if (n < 0 || n % kQK != 0)
    throw std::invalid_argument(std::string(fn) + ": length " + std::to_string(n) + " is not a multiple of " +
                                std::to_string(kQK));
}

inline int clamp_round(float v, int lo, int hi) {
  return std::clamp(static_cast<int>(std::nearbyint(v)), lo, hi);
}

// Scale and min (value = scale * q - min, q in 0..levels) of one sub-block: start from
// its range, extended down to 0 when every value is positive (the format subtracts
// min >= 0, it cannot add), then refit both by least squares for the quants they give,
// keeping the fit with the smallest squared error. The top of the range is never raised
// to 0: an all-negative sub-block would waste the levels between its max and 0, and the
// refit keeps the quants it starts from, so it would never win them back.
struct ScaleMin {
  float scale = 0, min = 0;
};

float squared_error(const float* x, int n, ScaleMin f, int levels) {
  const float inv = f.scale != 0 ? 1.0f / f.scale : 0.0f;
  float err = 0;
  for (int i = 0; i < n; ++i) {
    const int q = clamp_round((x[i] + f.min) * inv, 0, levels);
    const float e = f.scale * static_cast<float>(q) - f.min - x[i];
    err += e * e;
  }
  return err;
}

ScaleMin fit_scale_min(const float* x, int n, int levels) {
  float lo = 0, hi = x[0];
  for (int i = 0; i < n; ++i) {
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
  }
  ScaleMin best{(hi - lo) / static_cast<float>(levels), -lo};
  if (best.scale == 0) return best;
  float best_err = squared_error(x, n, best, levels);
  ScaleMin cur = best;
  for (int iter = 0; iter < 4; ++iter) {
    // Least squares for x ~ scale * q - min over the current quants.
    const float inv = 1.0f / cur.scale;
    double sq = 0, sqq = 0, sx = 0, sqx = 0;
    for (int i = 0; i < n; ++i) {
      const double q = clamp_round((x[i] + cur.min) * inv, 0, levels);
      sq += q;
      sqq += q * q;
      sx += x[i];
      sqx += q * x[i];
    }
    const double det = n * sqq - sq * sq;
    if (det <= 0) break;
    ScaleMin next{static_cast<float>((n * sqx - sq * sx) / det), static_cast<float>(-(sqq * sx - sq * sqx) / det)};
    if (next.min < 0) {  // the format's min is never negative: refit the scale alone
      next.min = 0;
      next.scale = sqq > 0 ? static_cast<float>(sqx / sqq) : 0.0f;
    }
    if (!(next.scale > 0)) break;
    const float err = squared_error(x, n, next, levels);
    if (err >= best_err) break;
    best = cur = next;
    best_err = err;
  }
  return best;
}

// Q4_K and Q5_K: `levels` 15 or 31; `put` stores quant q of element l of sub-block s.
template <class Block, class Put>
void quantize_k_min(const float* xb, Block& blk, int levels, Put put) {
  ScaleMin fit[kSubBlocks];
  float max_scale = 0, max_min = 0;
  for (int s = 0; s < kSubBlocks; ++s) {
    fit[s] = fit_scale_min(xb + s * kQBlock, kQBlock, levels);
    max_scale = std::max(max_scale, fit[s].scale);
    max_min = std::max(max_min, fit[s].min);
  }
  const float d = max_scale / 63.0f, dmin = max_min / 63.0f;
  blk.d = f32_to_f16(d);
  blk.dmin = f32_to_f16(dmin);
  uint8_t sc[kSubBlocks], m[kSubBlocks];
  for (int s = 0; s < kSubBlocks; ++s) {
    sc[s] = static_cast<uint8_t>(d > 0 ? clamp_round(fit[s].scale / d, 0, 63) : 0);
    m[s] = static_cast<uint8_t>(dmin > 0 ? clamp_round(fit[s].min / dmin, 0, 63) : 0);
  }
  pack_k_scales(sc, m, blk.scales);
  // The values against the scales as the file stores them (f16 d and dmin).
  const float d_stored = f16_to_f32(blk.d), dmin_stored = f16_to_f32(blk.dmin);
  for (int s = 0; s < kSubBlocks; ++s) {
    const float scale = d_stored * sc[s], min = dmin_stored * m[s];
    const float inv = scale != 0 ? 1.0f / scale : 0.0f;
    for (int l = 0; l < kQBlock; ++l) put(s, l, clamp_round((xb[s * kQBlock + l] + min) * inv, 0, levels));
  }
}

}  // namespace

void quantize_row_q4_k(const float* x, BlockQ4_K* out, int64_t n) {
  check_super_blocks("quantize_row_q4_k", n);
  for (int64_t b = 0; b < n / kQK; ++b) {
    BlockQ4_K& blk = out[b];
    std::fill(std::begin(blk.qs), std::end(blk.qs), 0);
    quantize_k_min(x + b * kQK, blk, 15, [&](int s, int l, int q) {
      blk.qs[(s / 2) * kQBlock + l] |= static_cast<uint8_t>(q << (4 * (s % 2)));
    });
  }
}

void quantize_row_q5_k(const float* x, BlockQ5_K* out, int64_t n) {
  check_super_blocks("quantize_row_q5_k", n);
  for (int64_t b = 0; b < n / kQK; ++b) {
    BlockQ5_K& blk = out[b];
    std::fill(std::begin(blk.qs), std::end(blk.qs), 0);
    std::fill(std::begin(blk.qh), std::end(blk.qh), 0);
    quantize_k_min(x + b * kQK, blk, 31, [&](int s, int l, int q) {
      blk.qs[(s / 2) * kQBlock + l] |= static_cast<uint8_t>((q & 0x0f) << (4 * (s % 2)));
      blk.qh[l] |= static_cast<uint8_t>((q >> 4) << s);
    });
  }
}

void quantize_row_q6_k(const float* x, BlockQ6_K* out, int64_t n) {
  check_super_blocks("quantize_row_q6_k", n);
  constexpr int kSub = 16, kSubs = kQK / kSub;
  for (int64_t b = 0; b < n / kQK; ++b) {
    const float* xb = x + b * kQK;
    BlockQ6_K& blk = out[b];
    // Per sub-block, the signed extreme maps onto -32 (as Q4_0 does onto -8); the
    // sub-block scale of largest magnitude maps onto -128.
    float scale[kSubs], extreme = 0;
    for (int s = 0; s < kSubs; ++s) {
      float amax = 0, max = 0;
      for (int i = 0; i < kSub; ++i)
        if (std::fabs(xb[s * kSub + i]) > amax) {
          amax = std::fabs(xb[s * kSub + i]);
          max = xb[s * kSub + i];
        }
      scale[s] = max / -32.0f;
      if (std::fabs(scale[s]) > std::fabs(extreme)) extreme = scale[s];
    }
    const float d = extreme / -128.0f;
    blk.d = f32_to_f16(d);
    const float d_stored = f16_to_f32(blk.d);
    std::fill(std::begin(blk.ql), std::end(blk.ql), 0);
    std::fill(std::begin(blk.qh), std::end(blk.qh), 0);
    for (int s = 0; s < kSubs; ++s) {
      blk.scales[s] = static_cast<int8_t>(d != 0 ? clamp_round(scale[s] / d, -128, 127) : 0);
      const float step = d_stored * blk.scales[s];
      const float inv = step != 0 ? 1.0f / step : 0.0f;
      for (int j = 0; j < kSub; ++j) {
        const int i = s * kSub + j;
        const int q = clamp_round(xb[i] * inv, -32, 31) + 32;
        const int h = i / 128, k = (i % 128) / 32, l = i % 32;
        blk.ql[64 * h + l + 32 * (k % 2)] |= static_cast<uint8_t>((q & 0x0f) << (k < 2 ? 0 : 4));
        blk.qh[32 * h + l] |= static_cast<uint8_t>((q >> 4) << (2 * k));
      }
    }
  }
}

}  // namespace bf
