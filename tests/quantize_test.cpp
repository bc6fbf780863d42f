// Reference quantizers: exact results on hand-made blocks (rounding rules, nibble
// layout) and derived error bounds on random data over many sizes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <stdexcept>
#include <vector>

#include "kernels/quantize.h"
#include "util/f16.h"

namespace bf {
namespace {

// Sizes in elements: 1, 2, 3, 7, 33 blocks and a few larger odd block counts.
const int64_t kBlockCounts[] = {1, 2, 3, 7, 33, 65, 129};

std::vector<float> random_floats(int64_t n, uint32_t seed, float scale) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-scale, scale);
  std::vector<float> x(static_cast<size_t>(n));
  for (float& v : x) v = u(rng);
  return x;
}

// Slack for f32 rounding in x * (1/d): a few ulps of the block's largest value.
float ulp_slack(float amax) { return amax * 8.0f * std::numeric_limits<float>::epsilon(); }

TEST(QuantizeQ8_0, HandBlockRoundsHalfAwayFromZero) {
  std::vector<float> x(kQBlock, 0.0f);
  x[0] = 127.0f;  // d = 1 exactly
  x[1] = 63.5f;
  x[2] = -63.5f;
  x[3] = 0.5f;
  x[4] = 2.5f;
  x[5] = -2.5f;
  x[6] = 1.49f;
  BlockQ8_0 b;
  quantize_row_q8_0(x.data(), &b, kQBlock);
  EXPECT_EQ(f16_to_f32(b.d), 1.0f);
  EXPECT_EQ(b.qs[0], 127);
  EXPECT_EQ(b.qs[1], 64);
  EXPECT_EQ(b.qs[2], -64);
  EXPECT_EQ(b.qs[3], 1);
  EXPECT_EQ(b.qs[4], 3);  // round-half-even would give 2
  EXPECT_EQ(b.qs[5], -3);
  EXPECT_EQ(b.qs[6], 1);
  EXPECT_EQ(b.qs[7], 0);
}

TEST(QuantizeQ8_0, ZeroBlockHasZeroScale) {
  std::vector<float> x(kQBlock, 0.0f);
  BlockQ8_0 b;
  quantize_row_q8_0(x.data(), &b, kQBlock);
  EXPECT_EQ(b.d, 0);
  for (int8_t q : b.qs) EXPECT_EQ(q, 0);
}

// |x - q*d16| <= |x - q*d| + |q| |d - d16| <= d/2 + 127 |d - d16| (+ f32 rounding).
TEST(QuantizeQ8_0, RoundTripWithinBound) {
  for (int64_t blocks : kBlockCounts) {
    const int64_t n = blocks * kQBlock;
    const std::vector<float> x = random_floats(n, static_cast<uint32_t>(blocks), 3.0f);
    std::vector<BlockQ8_0> q(static_cast<size_t>(blocks));
    std::vector<float> y(static_cast<size_t>(n));
    quantize_row_q8_0(x.data(), q.data(), n);
    dequantize_row_q8_0(q.data(), y.data(), n);
    for (int64_t b = 0; b < blocks; ++b) {
      float amax = 0.0f;
      for (int j = 0; j < kQBlock; ++j) amax = std::max(amax, std::fabs(x[b * kQBlock + j]));
      const float d = amax / 127.0f;
      const float d16 = f16_to_f32(q[b].d);
      EXPECT_EQ(q[b].d, f32_to_f16(d));
      const float bound = d / 2 + 127.0f * std::fabs(d - d16) + ulp_slack(amax);
      for (int j = 0; j < kQBlock; ++j) {
        const int64_t i = b * kQBlock + j;
        ASSERT_LE(std::fabs(x[i] - y[i]), bound) << "n=" << n << " i=" << i;
        ASSERT_EQ(y[i], q[b].qs[j] * d16);
      }
    }
  }
}

TEST(QuantizeQ4_0, HandBlockLayoutAndRounding) {
  std::vector<float> x(kQBlock, 0.0f);
  x[0] = -8.0f;   // largest magnitude, negative: d = 1, maps to nibble 0
  x[1] = 7.5f;    // 16.0 clamps to 15 -> 7
  x[2] = 0.5f;    // 9.0 -> 1 (round half up)
  x[3] = -0.5f;   // 8.0 -> 0
  x[4] = 3.49f;   // 11.99 -> 11 -> 3
  x[16] = -7.0f;  // high nibble of qs[0]: 1
  x[17] = 6.0f;   // high nibble of qs[1]: 14
  BlockQ4_0 b;
  quantize_row_q4_0(x.data(), &b, kQBlock);
  EXPECT_EQ(f16_to_f32(b.d), 1.0f);
  EXPECT_EQ(b.qs[0], 0x10);
  EXPECT_EQ(b.qs[1], 0xE0 | 15);
  EXPECT_EQ(b.qs[2], 0x80 | 9);
  EXPECT_EQ(b.qs[3], 0x80 | 8);
  EXPECT_EQ(b.qs[4], 0x80 | 11);
  EXPECT_EQ(b.qs[5], 0x88);
  float y[kQBlock];
  dequantize_row_q4_0(&b, y, kQBlock);
  EXPECT_EQ(y[0], -8.0f);
  EXPECT_EQ(y[1], 7.0f);
  EXPECT_EQ(y[2], 1.0f);
  EXPECT_EQ(y[3], 0.0f);
  EXPECT_EQ(y[16], -7.0f);
  EXPECT_EQ(y[17], 6.0f);
}

TEST(QuantizeQ4_0, PositiveMaxGivesNegativeScale) {
  std::vector<float> x(kQBlock, 0.0f);
  x[0] = 8.0f;  // d = -1
  x[1] = -8.0f;  // same magnitude, later: does not replace the first; 16.5 -> 15 -> -7
  BlockQ4_0 b;
  quantize_row_q4_0(x.data(), &b, kQBlock);
  EXPECT_EQ(f16_to_f32(b.d), -1.0f);
  float y[kQBlock];
  dequantize_row_q4_0(&b, y, kQBlock);
  EXPECT_EQ(y[0], 8.0f);
  EXPECT_EQ(y[1], -7.0f);
}

// With t = x/d in [-8, 8]: q - 8 = floor(t + 0.5) except t >= 7.5 clamps to 7, so
// |x - (q-8) d| <= |d|/2, or |d| (t - 7) when clamped; the f16 scale adds 8 |d - d16|.
TEST(QuantizeQ4_0, RoundTripWithinBound) {
  for (int64_t blocks : kBlockCounts) {
    const int64_t n = blocks * kQBlock;
    const std::vector<float> x = random_floats(n, static_cast<uint32_t>(100 + blocks), 2.0f);
    std::vector<BlockQ4_0> q(static_cast<size_t>(blocks));
    std::vector<float> y(static_cast<size_t>(n));
    quantize_row_q4_0(x.data(), q.data(), n);
    dequantize_row_q4_0(q.data(), y.data(), n);
    for (int64_t b = 0; b < blocks; ++b) {
      float amax = 0.0f, max = 0.0f;
      for (int j = 0; j < kQBlock; ++j) {
        const float v = x[b * kQBlock + j];
        if (std::fabs(v) > amax) amax = std::fabs(v), max = v;
      }
      const float d = max / -8.0f;
      const float d16 = f16_to_f32(q[b].d);
      EXPECT_EQ(q[b].d, f32_to_f16(d));
      for (int j = 0; j < kQBlock; ++j) {
        const int64_t i = b * kQBlock + j;
        const float t = x[i] / d;
        const float rounding = t >= 7.5f ? std::fabs(d) * (t - 7.0f) : std::fabs(d) / 2;
        const float bound = rounding + 8.0f * std::fabs(d - d16) + ulp_slack(amax);
        ASSERT_LE(std::fabs(x[i] - y[i]), bound) << "n=" << n << " i=" << i;
      }
    }
  }
}

TEST(QuantizeF16, ExactForRepresentableValues) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff)) continue;  // NaN payloads need not survive
    const float f = f16_to_f32(static_cast<uint16_t>(h));
    uint16_t back;
    quantize_row_f16(&f, &back, 1);
    ASSERT_EQ(back, h) << std::hex << h;
  }
}

TEST(QuantizeF16, TiesRoundToEven) {
  // Midpoints between neighbouring finite f16 values of one sign, normal and subnormal.
  for (uint32_t h = 0; h < 0x7bff; ++h) {
    const double lo = f16_to_f32(static_cast<uint16_t>(h));
    const double hi = f16_to_f32(static_cast<uint16_t>(h + 1));
    const auto mid = static_cast<float>((lo + hi) / 2);  // exact: needs 12 significant bits
    ASSERT_EQ(static_cast<double>(mid), (lo + hi) / 2);
    uint16_t q;
    quantize_row_f16(&mid, &q, 1);
    ASSERT_EQ(q, (h & 1) ? h + 1 : h) << std::hex << h;
    const float neg = -mid;
    quantize_row_f16(&neg, &q, 1);
    ASSERT_EQ(q, 0x8000 | ((h & 1) ? h + 1 : h)) << std::hex << h;
  }
}

TEST(QuantizeF16, OverflowAndUnderflow) {
  const float values[] = {65504.0f, 65519.0f, 65520.0f, 1e6f, 0x1p-25f, 0x1.0p-24f, 0x1.8p-25f};
  const uint16_t expect[] = {0x7bff, 0x7bff, 0x7c00, 0x7c00, 0x0000, 0x0001, 0x0001};
  uint16_t q[7];
  quantize_row_f16(values, q, 7);
  for (int i = 0; i < 7; ++i) EXPECT_EQ(q[i], expect[i]) << values[i];
}

TEST(QuantizeI8G, HandGroupRoundsHalfToEven) {
  // torch.round in export.py rounds half to even.
  const float x[8] = {127.0f, 2.5f, -2.5f, 3.5f, 0.5f, -126.5f, 1.2f, 0.0f};
  int8_t q[8];
  float s;
  quantize_i8g(x, q, &s, 8, 8);
  EXPECT_EQ(s, 1.0f);
  const int8_t expect[8] = {127, 2, -2, 4, 0, -126, 1, 0};
  for (int i = 0; i < 8; ++i) EXPECT_EQ(q[i], expect[i]) << i;
}

TEST(QuantizeI8G, ZeroGroup) {
  const float x[4] = {0, 0, 0, 0};
  int8_t q[4] = {1, 1, 1, 1};
  float s = 1;
  quantize_i8g(x, q, &s, 4, 4);
  EXPECT_EQ(s, 0.0f);
  for (int8_t v : q) EXPECT_EQ(v, 0);
}

// q = round(x / s) with s = max|x| / 127: |x - q s| <= s/2 (+ rounding of the division).
TEST(QuantizeI8G, RoundTripWithinBound) {
  for (int group : {1, 4, 16, 32, 64}) {
    for (int64_t groups : {1, 3, 7, 31, 101}) {
      const int64_t n = groups * group;
      const std::vector<float> x = random_floats(n, static_cast<uint32_t>(group * 1000 + groups), 0.5f);
      std::vector<int8_t> q(static_cast<size_t>(n));
      std::vector<float> s(static_cast<size_t>(groups)), y(static_cast<size_t>(n));
      quantize_i8g(x.data(), q.data(), s.data(), n, group);
      dequantize_i8g(q.data(), s.data(), y.data(), n, group);
      for (int64_t i = 0; i < n; ++i) {
        const float scale = s[static_cast<size_t>(i / group)];
        ASSERT_LE(std::fabs(x[i] - y[i]), scale / 2 + ulp_slack(scale * 127)) << "group=" << group << " i=" << i;
      }
    }
  }
}

TEST(Dequantize, RowDispatchMatchesTypedFunctions) {
  const int64_t n = 5 * kQBlock;
  const std::vector<float> x = random_floats(n, 7, 1.0f);
  std::vector<float> want(n), got(n);

  dequantize_row(DType::F32, x.data(), nullptr, got.data(), n);
  EXPECT_EQ(got, x);

  std::vector<uint16_t> h(n);
  quantize_row_f16(x.data(), h.data(), n);
  dequantize_row_f16(h.data(), want.data(), n);
  dequantize_row(DType::F16, h.data(), nullptr, got.data(), n);
  EXPECT_EQ(got, want);

  std::vector<BlockQ8_0> q8(5);
  quantize_row_q8_0(x.data(), q8.data(), n);
  dequantize_row_q8_0(q8.data(), want.data(), n);
  dequantize_row(DType::Q8_0, q8.data(), nullptr, got.data(), n);
  EXPECT_EQ(got, want);

  std::vector<BlockQ4_0> q4(5);
  quantize_row_q4_0(x.data(), q4.data(), n);
  dequantize_row_q4_0(q4.data(), want.data(), n);
  dequantize_row(DType::Q4_0, q4.data(), nullptr, got.data(), n);
  EXPECT_EQ(got, want);

  std::vector<int8_t> qi(n);
  std::vector<float> s(n / 32);
  quantize_i8g(x.data(), qi.data(), s.data(), n, 32);
  dequantize_i8g(qi.data(), s.data(), want.data(), n, 32);
  dequantize_row(DType::I8G, qi.data(), s.data(), got.data(), n, 32);
  EXPECT_EQ(got, want);
}

TEST(Dequantize, RejectsPartialBlocksAndMissingGroup) {
  std::vector<float> x(64), out(64);
  std::vector<BlockQ8_0> q8(2);
  std::vector<int8_t> qi(64);
  EXPECT_THROW(quantize_row_q8_0(x.data(), q8.data(), 40), std::invalid_argument);
  EXPECT_THROW(dequantize_row(DType::Q4_0, q8.data(), nullptr, out.data(), 33), std::invalid_argument);
  EXPECT_THROW(dequantize_row(DType::I8G, qi.data(), x.data(), out.data(), 64), std::invalid_argument);
  EXPECT_THROW(dequantize_row(DType::I8G, qi.data(), x.data(), out.data(), 64, 48), std::invalid_argument);
}

}  // namespace
}  // namespace bf
