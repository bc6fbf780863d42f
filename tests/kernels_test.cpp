// The reference kernels against their definitions: every matmul weight type against
// dequantize-then-multiply in double precision over many shapes, with f32 input and
// with 8-bit input; the activation quantizer; the small ops on worked examples.
#include <gtest/gtest.h>

#include <cmath>

#include "kernels/reference.h"
#include "kernels/variant.h"
#include "test_weights.h"
#include "util/f16.h"

namespace bf {
namespace {

struct MatmulCase {
  DType type;
  int64_t rows, cols;
  int group;
};

std::vector<MatmulCase> matmul_cases() {
  std::vector<MatmulCase> cases;
  for (DType t : {DType::F32, DType::F16, DType::Q8_0, DType::Q4_0, DType::I8G})
    for (int64_t rows : {1, 3, 17, 64, 255})
      for (int64_t cols : {32, 64, 96, 288, 1024, 2080}) cases.push_back({t, rows, cols, t == DType::I8G ? 32 : 0});
  // Row lengths that are not multiples of 32 exist for the dense types and int8 groups.
  for (DType t : {DType::F32, DType::F16})
    for (int64_t cols : {1, 7, 13, 172, 1001}) cases.push_back({t, 9, cols, 0});
  for (int group : {4, 43}) cases.push_back({DType::I8G, 11, 172, group});
  cases.push_back({DType::I8G, 5, 256, 64});
  cases.push_back({DType::I8G, 5, 256, 128});
  for (DType t : {DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::BF16})
    for (int64_t cols : {32, 96, 288, 2080}) cases.push_back({t, 17, cols, 0});
  cases.push_back({DType::BF16, 9, 13, 0});
  for (DType t : {DType::Q4_K, DType::Q5_K, DType::Q6_K})
    for (int64_t rows : {1, 17, 64})
      for (int64_t cols : {256, 768, 2816}) cases.push_back({t, rows, cols, 0});
  return cases;
}

// The registry's reference variant (f32 input) and 8-bit-input reference of a type.
const KernelRegistry& registry() {
  static const KernelRegistry r = KernelRegistry::builtin();
  return r;
}

KernelFn f32_reference(DType t) {
  return registry().find("matmul." + std::string(dtype_key(t)) + ".ref")->fn;
}

class MatmulTest : public ::testing::TestWithParam<MatmulCase> {};

// Every token's outputs equal the double-precision dot of the dequantized row and the
// input; only float rounding separates them: a few ulps of the summed magnitudes.
TEST_P(MatmulTest, F32InputMatchesDequantizeThenMultiply) {
  const MatmulCase c = GetParam();
  std::mt19937 rng(static_cast<uint32_t>(c.rows * 131 + c.cols * 7 + static_cast<int>(c.type)));
  test::OwnedTensor w = test::random_weights(c.type, c.rows, c.cols, rng, c.group);
  const int n_tokens = 3;
  test::Activations x = test::random_activations(c.cols, n_tokens, rng);
  std::vector<float> out(n_tokens * (c.rows + 5), -1.0f);
  MatmulArgs a = ref::matmul_args(w.t, x.x.data(), {}, out.data(), n_tokens, c.rows + 5);
  f32_reference(c.type)(&a, 0, c.rows);
  for (int64_t r = 0; r < c.rows; ++r) {
    std::vector<float> row = test::dequantized_row(w.t, r);
    for (int t = 0; t < n_tokens; ++t) {
      double exact = 0, magnitude = 0;
      for (int64_t j = 0; j < c.cols; ++j) {
        exact += static_cast<double>(row[j]) * x.x[t * c.cols + j];
        magnitude += std::fabs(static_cast<double>(row[j]) * x.x[t * c.cols + j]);
      }
      EXPECT_NEAR(out[t * (c.rows + 5) + r], exact, 1e-5 * magnitude + 1e-6) << "row " << r << " token " << t;
    }
  }
  // The padding between token rows is never written.
  for (int t = 0; t < n_tokens; ++t)
    for (int64_t r = c.rows; r < c.rows + 5; ++r) EXPECT_EQ(out[t * (c.rows + 5) + r], -1.0f);
}

// With 8-bit input the result is the dot of the dequantized row and the dequantized
// input; and it stays within the activation rounding (|x - q d| <= d/2 per element)
// of the f32-input result.
KernelFn q8_reference(const MatmulCase& c) {
  const Variant* v = registry().find("matmul." + std::string(dtype_key(c.type)) + ".ref-q8");
  if (!v || c.cols % kQBlock != 0 || (c.type == DType::I8G && c.group % kQBlock != 0)) return nullptr;
  return v->fn;  // null: no 8-bit-input form
}

// The cases whose type and shape have an 8-bit-input form.
std::vector<MatmulCase> q8_cases() {
  std::vector<MatmulCase> out;
  for (const MatmulCase& c : matmul_cases())
    if (q8_reference(c)) out.push_back(c);
  return out;
}

class Q8MatmulTest : public ::testing::TestWithParam<MatmulCase> {};

TEST_P(Q8MatmulTest, Q8InputMatchesDequantizedActivations) {
  const MatmulCase c = GetParam();
  KernelFn fn = q8_reference(c);
  std::mt19937 rng(static_cast<uint32_t>(c.rows * 31 + c.cols * 3 + static_cast<int>(c.type)));
  test::OwnedTensor w = test::random_weights(c.type, c.rows, c.cols, rng, c.group);
  const int n_tokens = 2;
  test::Activations x = test::random_activations(c.cols, n_tokens, rng);
  std::vector<float> out(n_tokens * c.rows);
  MatmulArgs a = ref::matmul_args(w.t, x.x.data(), x.q8(), out.data(), n_tokens, c.rows);
  fn(&a, 0, c.rows);
  for (int64_t r = 0; r < c.rows; ++r) {
    std::vector<float> row = test::dequantized_row(w.t, r);
    for (int t = 0; t < n_tokens; ++t) {
      double exact_q = 0, exact_f = 0, magnitude = 0, rounding = 0;
      for (int64_t j = 0; j < c.cols; ++j) {
        exact_q += static_cast<double>(row[j]) * x.dequantized(t, j);
        exact_f += static_cast<double>(row[j]) * x.x[t * c.cols + j];
        magnitude += std::fabs(static_cast<double>(row[j]) * x.dequantized(t, j));
        rounding += std::fabs(row[j]) * x.d[(t * c.cols + j) / kQBlock] / 2;
      }
      const float got = out[t * c.rows + r];
      EXPECT_NEAR(got, exact_q, 1e-5 * magnitude + 1e-6) << "row " << r << " token " << t;
      EXPECT_NEAR(got, exact_f, rounding + 1e-5 * magnitude + 1e-6) << "row " << r << " token " << t;
    }
  }
}

std::string case_name(const ::testing::TestParamInfo<MatmulCase>& info) {
  const MatmulCase& c = info.param;
  return std::string(dtype_name(c.type)) + "_" + std::to_string(c.rows) + "x" + std::to_string(c.cols) +
         (c.group ? "_g" + std::to_string(c.group) : "");
}

INSTANTIATE_TEST_SUITE_P(Shapes, MatmulTest, ::testing::ValuesIn(matmul_cases()), case_name);
INSTANTIATE_TEST_SUITE_P(Shapes, Q8MatmulTest, ::testing::ValuesIn(q8_cases()), case_name);

TEST(Quantize, BlocksFollowTheStatedRule) {
  std::mt19937 rng(5);
  test::Activations a = test::random_activations(96, 2, rng);
  for (size_t b = 0; b < a.d.size(); ++b) {
    float amax = 0;
    int32_t sum = 0;
    for (int i = 0; i < kQBlock; ++i) amax = std::max(amax, std::fabs(a.x[b * kQBlock + i]));
    EXPECT_EQ(a.d[b], amax / 127.0f);
    for (int i = 0; i < kQBlock; ++i) {
      const size_t k = b * kQBlock + i;
      EXPECT_LE(std::abs(a.qs[k]), 127);
      EXPECT_LE(std::fabs(a.x[k] - a.qs[k] * a.d[b]), a.d[b] / 2 * (1 + 1e-6f)) << k;
      sum += a.qs[k];
    }
    EXPECT_EQ(a.sum[b], sum);
  }
  // An all-zero block quantizes to zeros with scale 0.
  std::vector<float> zeros(32, 0.0f);
  int8_t q[32];
  float d = -1;
  EXPECT_EQ(ref::quantize_block(zeros.data(), q, &d), 0);
  EXPECT_EQ(d, 0.0f);
}

TEST(Reference, RmsNormAndSwiGLUMatchTheirDefinitions) {
  std::vector<float> x = {1, -2, 3, -4, 2, 2, 2, 2}, w = {1, 0.5f, 2, 1}, out(8);
  RmsNormArgs r{x.data(), w.data(), out.data(), 4, 1e-5f, 2};
  ref::rmsnorm(&r, 0, 2);
  float scale = 1.0f / std::sqrt((1 + 4 + 9 + 16) / 4.0f + 1e-5f);
  for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(out[i], w[i] * x[i] * scale);
  float scale2 = 1.0f / std::sqrt(4.0f + 1e-5f);
  for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(out[4 + i], w[i] * 2 * scale2);
  std::vector<float> gate = {0, 1, -1, 3}, up = {2, 2, 2, 0.5f};
  SwiGLUArgs s{gate.data(), up.data(), 4};
  ref::swiglu(&s, 0, 4);
  EXPECT_FLOAT_EQ(gate[0], 0);
  EXPECT_FLOAT_EQ(gate[1], 2 * (1 / (1 + std::exp(-1.0f))));
  EXPECT_FLOAT_EQ(gate[3], 0.5f * 3 / (1 + std::exp(-3.0f)));
}

TEST(Reference, RopeRotatesAdjacentPairsByPosition) {
  // One head of size 4, rope over all 4 dims: pair 0 turns at rate 1, pair 1 at base^-0.5.
  // Two tokens at positions 3 and 4.
  std::vector<float> q = {1, 0, 1, 0, 1, 0, 1, 0}, k = {0, 1, 0, 1, 0, 1, 0, 1};
  RopeArgs a{q.data(), k.data(), 3, 2, 1, 1, 4, 4, 100.0f};
  ref::rope(&a, 0, 2);
  EXPECT_NEAR(q[0], std::cos(3.0f), 1e-6);
  EXPECT_NEAR(q[1], std::sin(3.0f), 1e-6);
  EXPECT_NEAR(q[2], std::cos(0.3f), 1e-6);
  EXPECT_NEAR(q[3], std::sin(0.3f), 1e-6);
  EXPECT_NEAR(k[0], -std::sin(3.0f), 1e-6);
  EXPECT_NEAR(k[1], std::cos(3.0f), 1e-6);
  EXPECT_NEAR(q[4], std::cos(4.0f), 1e-6);
  EXPECT_NEAR(q[5], std::sin(4.0f), 1e-6);
}

// Attention of a chunk is causal: token t sees positions 0..pos0+t only, whatever
// the cache holds beyond. With one position visible the output is that value row.
TEST(Reference, AttentionIsCausalOverTheChunk) {
  const int head = 4, context = 8;
  std::vector<float> keys(context * head), values(context * head), q(2 * head, 0.5f), scores(context), out(2 * head);
  for (int p = 0; p < context; ++p)
    for (int i = 0; i < head; ++i) {
      keys[p * head + i] = 0.1f * (p + i);
      values[p * head + i] = p == 0 ? 1.0f + i : 1000.0f;  // positions >= 1 must not leak into token 0
    }
  AttentionArgs a{q.data(), keys.data(), values.data(), scores.data(), out.data(), 0, 1, 1, 1, head, head, context,
                  KvType::F32};
  ref::attention(&a, 0, 1);
  for (int i = 0; i < head; ++i) EXPECT_FLOAT_EQ(out[i], 1.0f + i);
  // F16 storage of the same cache: values round to 11 bits.
  std::vector<uint16_t> k16(keys.size()), v16(values.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    k16[i] = f32_to_f16(keys[i]);
    v16[i] = f32_to_f16(values[i]);
  }
  AttentionArgs h = a;
  h.key_cache = k16.data();
  h.value_cache = v16.data();
  h.kv_type = KvType::F16;
  ref::attention(&h, 0, 1);
  for (int i = 0; i < head; ++i) EXPECT_FLOAT_EQ(out[i], 1.0f + i);
}

}  // namespace
}  // namespace bf
