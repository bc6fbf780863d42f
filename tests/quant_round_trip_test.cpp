// The quantizers of Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K and BF16 (with Q4_0 for
// comparison): dequantize(quantize(x)) within error bounds derived from the step sizes,
// the quality order of the types, and edge cases (zero, constant, negative-only rows,
// an outlier, extreme magnitudes, bf16 rounding). The decoding itself is checked
// against the published formats in quant_formats_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <map>
#include <random>
#include <utility>
#include <vector>

#include "kernels/dtype.h"
#include "kernels/quantize.h"
#include "util/f16.h"

namespace bf {
namespace {

std::vector<float> dequantized(DType t, const std::vector<uint8_t>& row, int64_t n) {
  std::vector<float> out(static_cast<size_t>(n));
  dequantize_row(t, row.data(), nullptr, out.data(), n);
  return out;
}

std::vector<float> round_trip(DType t, const std::vector<float>& x) {
  const auto n = static_cast<int64_t>(x.size());
  std::vector<uint8_t> q(row_bytes(t, n));
  quantize_row(t, x.data(), q.data(), n);
  return dequantized(t, q, n);
}

double rms(const std::vector<float>& v) {
  double s = 0;
  for (float x : v) s += static_cast<double>(x) * x;
  return std::sqrt(s / static_cast<double>(v.size()));
}

double rms_error(const std::vector<float>& got, const std::vector<float>& want) {
  double s = 0;
  for (size_t i = 0; i < got.size(); ++i) s += (static_cast<double>(got[i]) - want[i]) * (got[i] - want[i]);
  return std::sqrt(s / static_cast<double>(got.size()));
}

// Root mean square of v about its mean: what a format with a min has to resolve.
double spread(const std::vector<float>& v) {
  double mean = 0;
  for (float x : v) mean += x;
  mean /= static_cast<double>(v.size());
  double s = 0;
  for (float x : v) s += (x - mean) * (x - mean);
  return std::sqrt(s / static_cast<double>(v.size()));
}

enum class Dist { Uniform, Gaussian };

std::vector<float> random_row(Dist d, int64_t n, uint32_t seed, float lo = -1, float hi = 1) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n));
  for (float& v : x) v = d == Dist::Uniform ? u(rng) : g(rng);
  return x;
}

// Bounds on rms(error) / rms(row), from the step sizes. Round-to-nearest on a grid of
// step D leaves errors spread evenly over +-D/2 once the values cover many steps: rms
// D/sqrt(12) (every element at its worst, D/2, would be sqrt(3) times that). The steps:
// Q4_0 amax/8 and Q5_0 amax/16 per block of 32 (the signed extreme maps onto -8, -16);
// Q4_1 and Q4_K range/15, Q5_1 and Q5_K range/31 per block (sub-block) of 32; Q6_K
// amax/32 per sub-block of 16.
//  - Uniform on [-a, a]: rms a/sqrt(3), amax <= a, range <= 2a, so the ratio is at
//    most (D/a)/2: Q4_0 1/16, Q5_0 1/32, Q4_1 and Q4_K 1/15, Q5_1 and Q5_K 1/31, Q6_K 1/64.
//  - Gaussian: over blocks of 32 normal values, rms(amax) = 2.39 sigma and rms(range) =
//    4.20 sigma; over 16, rms(amax) = 2.13 sigma (sampled): Q4_0 2.39/8/sqrt(12) =
//    0.086, Q5_0 0.043, Q4_1 and Q4_K 4.20/15/sqrt(12) = 0.081, Q5_1 and Q5_K 0.039,
//    Q6_K 2.13/32/sqrt(12) = 0.019.
// Each bound is 1.25 times that: room for Q4_0/Q5_0's one-sided clamp (+8 steps is
// stored as +7), the f16 (and 6-bit, 8-bit sub-block) rounding of the scales, and the
// spread of a 256-element sample. A decoding or quantizing mistake costs far more.
struct ErrorBound {
  DType type;
  double uniform, gaussian;
};
constexpr double kMargin = 1.25;
const ErrorBound kBounds[] = {
    {DType::Q4_0, kMargin / 16, kMargin * 0.086}, {DType::Q5_0, kMargin / 32, kMargin * 0.043},
    {DType::Q4_1, kMargin / 15, kMargin * 0.081}, {DType::Q5_1, kMargin / 31, kMargin * 0.039},
    {DType::Q4_K, kMargin / 15, kMargin * 0.081}, {DType::Q5_K, kMargin / 31, kMargin * 0.039},
    {DType::Q6_K, kMargin / 64, kMargin * 0.019},
};

// Every quantized type's relative rms error on one row.
std::map<DType, double> relative_errors(const std::vector<float>& x, double (*norm)(const std::vector<float>&)) {
  std::map<DType, double> e;
  for (const ErrorBound& b : kBounds) e[b.type] = rms_error(round_trip(b.type, x), x) / norm(x);
  return e;
}

void expect_quality_order(const std::map<DType, double>& e, Dist d) {
  EXPECT_LT(e.at(DType::Q6_K), e.at(DType::Q5_K));
  EXPECT_LT(e.at(DType::Q5_K), e.at(DType::Q4_K));
  EXPECT_LT(e.at(DType::Q5_1), e.at(DType::Q4_1));
  EXPECT_LT(e.at(DType::Q5_0), e.at(DType::Q4_0));
  // Per-sub-block scale and min fitted by least squares beat one symmetric scale
  // when the block's extremes are uneven.
  if (d == Dist::Gaussian) {
    EXPECT_LT(e.at(DType::Q4_K), e.at(DType::Q4_0));
  }
}

TEST(QuantizerRoundTrip, ErrorWithinStepBoundAndInQualityOrder) {
  for (Dist d : {Dist::Uniform, Dist::Gaussian})
    for (int64_t n : {256, 768, 1024, 4096})
      for (uint32_t seed = 1; seed <= 5; ++seed) {
        SCOPED_TRACE(::testing::Message() << (d == Dist::Uniform ? "uniform" : "gaussian") << " n=" << n << " seed=" << seed);
        const std::map<DType, double> e = relative_errors(random_row(d, n, seed * 1000 + static_cast<uint32_t>(n)), rms);
        for (const ErrorBound& b : kBounds)
          EXPECT_LE(e.at(b.type), d == Dist::Uniform ? b.uniform : b.gaussian) << dtype_name(b.type);
        expect_quality_order(e, d);
      }
}

// A row in [-2, -1]: the formats with a min place their grid on the values, so
// relative to the row's spread the error is that of a uniform row. (The K quantizers
// once stretched every sub-block's range up to 0, doubling their error here.)
TEST(QuantizerRoundTrip, NegativeOnlyRowUsesTheMin) {
  for (uint32_t seed = 1; seed <= 5; ++seed) {
    const std::vector<float> x = random_row(Dist::Uniform, 1024, seed, -2.0f, -1.0f);
    const std::map<DType, double> e = relative_errors(x, spread);
    for (const ErrorBound& b : kBounds)
      if (b.type == DType::Q4_1 || b.type == DType::Q5_1 || b.type == DType::Q4_K || b.type == DType::Q5_K) {
        EXPECT_LE(e.at(b.type), b.uniform) << dtype_name(b.type) << " seed " << seed;
      }
  }
}

// The symmetric formats treat a negated row as its mirror image, bit for bit.
TEST(QuantizerRoundTrip, SymmetricFormatsMirrorANegatedRow) {
  for (DType t : {DType::Q4_0, DType::Q5_0, DType::Q6_K, DType::BF16}) {
    std::vector<float> x = random_row(Dist::Uniform, 1024, 7, 1.0f, 2.0f), minus(x.size());
    for (size_t i = 0; i < x.size(); ++i) minus[i] = -x[i];
    const std::vector<float> y = round_trip(t, x), y_minus = round_trip(t, minus);
    for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(y_minus[i], -y[i]) << dtype_name(t) << " element " << i;
  }
}

const DType kAllNew[] = {DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::BF16};

TEST(QuantizerEdges, ZeroRowIsExactlyZero) {
  const std::vector<float> x(512, 0.0f);
  for (DType t : kAllNew)
    for (float y : round_trip(t, x)) ASSERT_EQ(y, 0.0f) << dtype_name(t);
}

// A constant row needs one grid point: its error is the rounding of the f16 scale
// (half an ulp, 2^-11 relative, twice for the K types' two-level scales), or of the
// value itself for bf16 (2^-9). The constants keep every scale a normal f16 (Q6_K's
// d is c/4096).
TEST(QuantizerEdges, ConstantRowWithinScaleRounding) {
  for (float c : {0.7f, -3.25f, 300.0f, -1.5f})
    for (DType t : kAllNew) {
      const double tol = (t == DType::BF16 ? 0x1p-9 : 0x1p-10) * std::fabs(c);
      for (float y : round_trip(t, std::vector<float>(512, c))) ASSERT_NEAR(y, c, tol) << dtype_name(t) << " c=" << c;
    }
}

// One value of 1000 among unit normals: the blocks without it are stored exactly as if
// it were not there (scales are per block), the outlier itself comes back within the
// f16 rounding of its block's scale, and its block's other values within one step of
// a grid stretched over 1000.
TEST(QuantizerEdges, OutlierStaysInItsBlock) {
  const int64_t n = 1024, at = 300;
  const std::vector<float> plain = random_row(Dist::Gaussian, n, 11);
  std::vector<float> x = plain;
  x[at] = 1000.0f;
  for (DType t : kAllNew) {
    SCOPED_TRACE(dtype_name(t));
    std::vector<uint8_t> with(row_bytes(t, n)), without(row_bytes(t, n));
    quantize_row(t, x.data(), with.data(), n);
    quantize_row(t, plain.data(), without.data(), n);
    const int64_t elems = block_elems(t), block = at / elems;
    const size_t first = static_cast<size_t>(block) * block_bytes(t), last = first + block_bytes(t);
    for (size_t i = 0; i < with.size(); ++i) {
      if (i < first || i >= last) {
        ASSERT_EQ(with[i], without[i]) << "byte " << i << " outside the outlier's block";
      }
    }
    const std::vector<float> y = dequantized(t, with, n);
    EXPECT_NEAR(y[at], 1000.0f, 1000.0 * 0x1p-10);
    const int bits = t == DType::Q4_1 || t == DType::Q4_K ? 4 : t == DType::Q6_K ? 6 : t == DType::BF16 ? 8 : 5;
    for (int64_t i = block * elems; i < (block + 1) * elems; ++i)
      EXPECT_NEAR(y[static_cast<size_t>(i)], x[static_cast<size_t>(i)], 1000.0 / ((1 << bits) - 1)) << "element " << i;
  }
}

// Magnitudes from f32 subnormals to the largest f16 (beyond it a block's f16 scale
// would overflow), mixed within rows, with zeros: the output is always finite.
TEST(QuantizerEdges, FiniteInputGivesFiniteOutput) {
  std::mt19937 rng(12);
  for (int rep = 0; rep < 40; ++rep) {
    const float lo = std::uniform_real_distribution<float>(-45.0f, 4.8f)(rng);
    const float hi = std::min(4.8f, lo + static_cast<float>(rng() % 12));
    std::vector<float> x(1024);
    for (float& v : x) {
      v = std::pow(10.0f, std::uniform_real_distribution<float>(lo, hi)(rng));
      v = std::min(v, 65504.0f) * (rng() % 2 ? -1.0f : 1.0f);
      if (rng() % 16 == 0) v = 0;
    }
    for (DType t : kAllNew)
      for (float y : round_trip(t, x)) ASSERT_TRUE(std::isfinite(y)) << dtype_name(t) << " magnitudes 1e" << lo << "..1e" << hi;
  }
}

// f32 -> bf16 rounds to nearest, ties to even, on the bits below the top 16; a NaN stays
// a NaN (a signalling NaN whose payload sits in the low bits would truncate to infinity)
// with its sign; infinities stay; the largest finite float rounds up to infinity.
TEST(QuantizerEdges, Bf16RoundsToNearestEven) {
  const std::pair<uint32_t, uint16_t> cases[] = {
      {0x3F800000, 0x3F80},  // 1: exact
      {0x3F808000, 0x3F80},  // 1 + 2^-8: a tie, to the even 0x3F80
      {0x3F818000, 0x3F82},  // a tie above the odd 0x3F81: up to even
      {0x3F808001, 0x3F81},  // just above the tie
      {0x3F807FFF, 0x3F80},  // just below it
      {0xBF808000, 0xBF80},  // negative tie
      {0xBF818000, 0xBF82},
      {0x00008000, 0x0000},  // subnormal tie to even zero
      {0x00018000, 0x0002},
      {0x007FFFFF, 0x0080},  // largest subnormal rounds up to the smallest normal
      {0x7F7F7FFF, 0x7F7F},
      {0x7F7FFFFF, 0x7F80},  // FLT_MAX: to infinity
      {0x7F800000, 0x7F80},  // +inf
      {0xFF800000, 0xFF80},  // -inf
  };
  for (auto [in, want] : cases) {
    const float x = std::bit_cast<float>(in);
    uint16_t got = 0;
    quantize_row(DType::BF16, &x, &got, 1);
    EXPECT_EQ(got, want) << std::hex << "0x" << in;
  }
  for (uint32_t nan : {0x7FC00000u, 0x7F800001u, 0xFF800001u, 0x7FFFFFFFu, 0xFFC00001u}) {
    const float x = std::bit_cast<float>(nan);
    uint16_t got = 0;
    quantize_row(DType::BF16, &x, &got, 1);
    const float back = bf16_to_f32(got);
    EXPECT_TRUE(std::isnan(back)) << std::hex << "0x" << nan << " -> 0x" << got;
    EXPECT_EQ(std::signbit(back), std::signbit(x)) << std::hex << "0x" << nan;
  }
}

}  // namespace
}  // namespace bf
