// Every kernel against its reference: quantized matvec against dequantize-then-F32
// (in double precision) over many shapes, and the parallel tier against the
// single-threaded reference bit for bit.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "graph/kernels.h"
#include "kernels/avx2.h"
#include "kernels/quantize.h"
#include "kernels/reference.h"
#include "threads/pool.h"

namespace bf {
namespace {

// A weight matrix in one storage type, built from random floats.
struct OwnedTensor {
  std::vector<uint8_t> data;
  std::vector<float> scales;
  Tensor t;
};

OwnedTensor quantized(DType type, int64_t rows, int64_t cols, std::mt19937& rng, int group = 0) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  OwnedTensor o;
  o.data.resize(row_bytes(type, cols) * rows);
  if (type == DType::I8G) o.scales.resize(rows * cols / group);
  std::vector<float> row(cols);
  for (int64_t r = 0; r < rows; ++r) {
    for (auto& x : row) x = u(rng);
    uint8_t* dst = o.data.data() + row_bytes(type, cols) * r;
    switch (type) {
      case DType::F32: std::memcpy(dst, row.data(), cols * 4); break;
      case DType::F16: quantize_row_f16(row.data(), reinterpret_cast<uint16_t*>(dst), cols); break;
      case DType::Q8_0: quantize_row_q8_0(row.data(), reinterpret_cast<BlockQ8_0*>(dst), cols); break;
      case DType::Q4_0: quantize_row_q4_0(row.data(), reinterpret_cast<BlockQ4_0*>(dst), cols); break;
      case DType::I8G:
        quantize_i8g(row.data(), reinterpret_cast<int8_t*>(dst), o.scales.data() + r * cols / group, cols, group);
        break;
    }
  }
  o.t.type = type;
  o.t.rows = rows;
  o.t.cols = cols;
  o.t.data = o.data.data();
  o.t.scales = o.scales.empty() ? nullptr : o.scales.data();
  o.t.group = group;
  return o;
}

struct MatvecCase {
  DType type;
  int64_t rows, cols;
  int group;
};

std::vector<MatvecCase> matvec_cases() {
  std::vector<MatvecCase> cases;
  for (DType t : {DType::F32, DType::F16, DType::Q8_0, DType::Q4_0, DType::I8G})
    for (int64_t rows : {1, 3, 17, 64, 255})
      for (int64_t cols : {32, 64, 96, 288, 1024, 2080}) cases.push_back({t, rows, cols, t == DType::I8G ? 32 : 0});
  // Row lengths that are not multiples of 32 exist for the dense types and int8 groups.
  for (DType t : {DType::F32, DType::F16})
    for (int64_t cols : {1, 7, 13, 172, 1001}) cases.push_back({t, 9, cols, 0});
  for (int group : {4, 43}) cases.push_back({DType::I8G, 11, 172, group});
  return cases;
}

class MatvecTest : public ::testing::TestWithParam<MatvecCase> {};

TEST_P(MatvecTest, MatchesDequantizeThenF32) {
  const MatvecCase c = GetParam();
  std::mt19937 rng(static_cast<uint32_t>(c.rows * 131 + c.cols * 7 + static_cast<int>(c.type)));
  OwnedTensor w = quantized(c.type, c.rows, c.cols, rng, c.group);
  std::vector<float> x(c.cols), out(c.rows), row(c.cols);
  std::uniform_real_distribution<float> u(-2.0f, 2.0f);
  for (auto& v : x) v = u(rng);
  ref::matvec(w.t, x.data(), out.data(), 0, c.rows);
  for (int64_t r = 0; r < c.rows; ++r) {
    ref::embed(w.t, r, row.data());  // the dequantized row
    double exact = 0, magnitude = 0;
    for (int64_t j = 0; j < c.cols; ++j) {
      exact += static_cast<double>(row[j]) * x[j];
      magnitude += std::fabs(static_cast<double>(row[j]) * x[j]);
    }
    // Only float rounding separates the two: a few ulps of the summed magnitudes.
    EXPECT_NEAR(out[r], exact, 1e-5 * magnitude + 1e-6) << "row " << r;
  }
}

std::string case_name(const ::testing::TestParamInfo<MatvecCase>& info) {
  const MatvecCase& c = info.param;
  return std::string(dtype_name(c.type)) + "_" + std::to_string(c.rows) + "x" + std::to_string(c.cols) +
         (c.group ? "_g" + std::to_string(c.group) : "");
}

// The AVX2 kernels reassociate the sums (eight lanes, FMA); against the reference they
// may differ by rounding only.
TEST_P(MatvecTest, Avx2MatchesReference) {
  if (!avx2::supported()) GTEST_SKIP() << "no AVX2+FMA on this CPU";
  const MatvecCase c = GetParam();
  std::mt19937 rng(static_cast<uint32_t>(c.rows * 31 + c.cols * 17 + static_cast<int>(c.type)));
  OwnedTensor w = quantized(c.type, c.rows, c.cols, rng, c.group);
  std::vector<float> x(c.cols), ref_out(c.rows), avx_out(c.rows), row(c.cols);
  for (auto& v : x) v = std::uniform_real_distribution<float>(-2.0f, 2.0f)(rng);
  ref::matvec(w.t, x.data(), ref_out.data(), 0, c.rows);
  avx2::matvec(w.t, x.data(), avx_out.data(), 0, c.rows);
  for (int64_t r = 0; r < c.rows; ++r) {
    ref::embed(w.t, r, row.data());
    double magnitude = 0;
    for (int64_t j = 0; j < c.cols; ++j) magnitude += std::fabs(static_cast<double>(row[j]) * x[j]);
    EXPECT_NEAR(avx_out[r], ref_out[r], 2e-5 * magnitude + 1e-6) << "row " << r;
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, MatvecTest, ::testing::ValuesIn(matvec_cases()), case_name);

// The parallel tier splits rows or heads between threads; each output element must
// come out exactly as the reference computes it.
TEST(ParallelTier, MatvecIsBitIdenticalToReference) {
  ThreadPool pool(2);
  std::mt19937 rng(7);
  for (DType type : {DType::F32, DType::F16, DType::Q8_0, DType::Q4_0, DType::I8G}) {
    for (int64_t rows : {1, 31, 500, 2049}) {
      OwnedTensor w = quantized(type, rows, 256, rng, 64);
      std::vector<float> x(256), ref_out(rows), mt_out(rows);
      for (auto& v : x) v = std::uniform_real_distribution<float>(-1, 1)(rng);
      OpInstance op;
      op.kind = OpKind::Matvec;
      op.weight = &w.t;
      op.rows = rows;
      op.cols = 256;
      op.in = x.data();
      op.pool = &pool;
      op.out = ref_out.data();
      portable_kernel(OpKind::Matvec, Tier::Reference)(op, {0, 0});
      op.out = mt_out.data();
      portable_kernel(OpKind::Matvec, Tier::Parallel)(op, {0, 0});
      EXPECT_EQ(ref_out, mt_out) << dtype_name(type) << " rows " << rows;
    }
  }
}

TEST(ParallelTier, AttentionIsBitIdenticalToReference) {
  ThreadPool pool(2);
  std::mt19937 rng(11);
  ModelConfig c;
  c.dim = 512;
  c.n_heads = 8;
  c.n_kv_heads = 2;
  const int context = 300;
  std::vector<float> q(c.dim), k(c.kv_dim()), v(c.kv_dim());
  std::vector<float> kc(context * c.kv_dim()), vc(context * c.kv_dim()), scores(c.n_heads * context);
  std::vector<float> out_ref(c.dim), out_mt(c.dim);
  auto fill = [&](std::vector<float>& a) {
    for (auto& x : a) x = std::uniform_real_distribution<float>(-1, 1)(rng);
  };
  fill(kc);
  fill(vc);
  for (int pos : {0, 1, 63, 299}) {
    fill(q);
    fill(k);
    fill(v);
    OpInstance op;
    op.kind = OpKind::Attention;
    op.config = &c;
    op.q = q.data();
    op.k = k.data();
    op.in2 = v.data();
    op.key_cache = kc.data();
    op.value_cache = vc.data();
    op.scores = scores.data();
    op.pool = &pool;
    op.out = out_ref.data();
    portable_kernel(OpKind::Attention, Tier::Reference)(op, {0, pos});
    op.out = out_mt.data();
    portable_kernel(OpKind::Attention, Tier::Parallel)(op, {0, pos});
    EXPECT_EQ(out_ref, out_mt) << "pos " << pos;
  }
}

TEST(Reference, RmsNormAndSwiGLUMatchTheirDefinitions) {
  std::vector<float> x = {1, -2, 3, -4}, w = {1, 0.5f, 2, 1}, out(4);
  ref::rmsnorm(x.data(), w.data(), out.data(), 4, 1e-5f);
  float scale = 1.0f / std::sqrt((1 + 4 + 9 + 16) / 4.0f + 1e-5f);
  for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(out[i], w[i] * x[i] * scale);
  std::vector<float> gate = {0, 1, -1, 3}, up = {2, 2, 2, 0.5f};
  ref::swiglu(gate.data(), up.data(), 0, 4);
  EXPECT_FLOAT_EQ(gate[0], 0);
  EXPECT_FLOAT_EQ(gate[1], 2 * (1 / (1 + std::exp(-1.0f))));
  EXPECT_FLOAT_EQ(gate[3], 0.5f * 3 / (1 + std::exp(-3.0f)));
}

TEST(Reference, RopeRotatesAdjacentPairsByPosition) {
  // One head of size 4, rope over all 4 dims: pair 0 turns at rate 1, pair 1 at base^-0.5.
  std::vector<float> q = {1, 0, 1, 0}, k = {0, 1, 0, 1};
  ref::rope(q.data(), k.data(), 3, 1, 1, 4, 4, 100.0f);
  EXPECT_NEAR(q[0], std::cos(3.0f), 1e-6);
  EXPECT_NEAR(q[1], std::sin(3.0f), 1e-6);
  EXPECT_NEAR(q[2], std::cos(0.3f), 1e-6);
  EXPECT_NEAR(q[3], std::sin(0.3f), 1e-6);
  EXPECT_NEAR(k[0], -std::sin(3.0f), 1e-6);
  EXPECT_NEAR(k[1], std::cos(3.0f), 1e-6);
}

}  // namespace
}  // namespace bf
