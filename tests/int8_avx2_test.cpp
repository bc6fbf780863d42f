// The int8_avx2 matmul variants (r8 layout) against an oracle computed here in double
// precision from the raw native blocks, and against the f32 dot of the dequantized
// weights within the activation-quantization bound.
//
// Bounds, per output (row r, token t), with isum_b the exact integer dot of block b:
//   kernel vs oracle:  |got - oracle| <= 1e-5 * sum_b |d_w d_x isum_b| + 1e-6
//     (the integer sums are exact; only float scaling and summation order differ:
//      a few ulps of f32 per term over at most a few hundred blocks);
//   quantized activations vs real ones: per element |x - q d_x| <= d_x / 2, so
//     |got - dot(w, x)| <= sum_i |w_i| d_x(block of i) / 2, plus the bound above.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/families.h"
#include "kernels/quantize.h"
#include "kernels/variant.h"

namespace bf {
namespace {

const KernelRegistry& family() {
  static const KernelRegistry r = [] {
    KernelRegistry k;
    add_int8_avx2_variants(k);
    return k;
  }();
  return r;
}

float f16_to_f32(uint16_t h) {
  float f;
  dequantize_row_f16(&h, &f, 1);
  return f;
}

// Activations in the Q8Rows format.
struct Acts {
  int64_t cols = 0;
  std::vector<int8_t> qs;
  std::vector<float> d;
  std::vector<int32_t> sum;
  Q8Rows rows() { return {qs.data(), d.data(), sum.data()}; }
  int64_t blocks() const { return cols / kQBlock; }
};

void fill_sums(Acts& a) {
  a.sum.assign(a.d.size(), 0);
  for (size_t b = 0; b < a.sum.size(); ++b)
    for (int i = 0; i < kQBlock; ++i) a.sum[b] += a.qs[b * kQBlock + i];
}

// The contract's quantizer (contract.h), written independently of the engine's.
Acts quantize_acts(const std::vector<float>& x, int64_t cols) {
  Acts a;
  a.cols = cols;
  a.qs.resize(x.size());
  a.d.resize(x.size() / kQBlock);
  for (size_t b = 0; b < a.d.size(); ++b) {
    float amax = 0;
    for (int i = 0; i < kQBlock; ++i) amax = std::max(amax, std::fabs(x[b * kQBlock + i]));
    a.d[b] = amax / 127;
    for (int i = 0; i < kQBlock; ++i)
      a.qs[b * kQBlock + i] = amax == 0 ? 0 : static_cast<int8_t>(std::lround(x[b * kQBlock + i] / a.d[b]));
  }
  fill_sums(a);
  return a;
}

// Random codes in the full legal range [-127, 127], some all-zero blocks.
Acts random_acts(int n_tokens, int64_t cols, std::mt19937& rng, int extreme = 0) {
  Acts a;
  a.cols = cols;
  a.qs.resize(n_tokens * cols);
  a.d.resize(n_tokens * cols / kQBlock);
  std::uniform_int_distribution<int> q(-127, 127);
  std::uniform_real_distribution<float> d(0.001f, 0.05f);
  for (auto& v : a.qs) v = static_cast<int8_t>(extreme ? extreme * (q(rng) >= 0 ? 1 : -1) : q(rng));
  for (size_t b = 0; b < a.d.size(); ++b) {
    a.d[b] = d(rng);
    if (!extreme && b % 7 == 3) {
      a.d[b] = 0;
      std::memset(&a.qs[b * kQBlock], 0, kQBlock);
    }
  }
  fill_sums(a);
  return a;
}

// A native weight matrix and the raw access the oracle needs.
struct Weights {
  DType type = DType::Q8_0;
  int64_t rows = 0, cols = 0;
  int group = 0;
  std::vector<uint8_t> data;
  std::vector<float> scales;

  TensorView view() const {
    TensorView v;
    v.type = type;
    v.rows = rows;
    v.cols = cols;
    v.data = data.data();
    v.scales = scales.empty() ? nullptr : scales.data();
    v.group = group;
    v.bytes = data.size() + scales.size() * sizeof(float);
    return v;
  }
  int64_t blocks() const { return cols / kQBlock; }
  // The integer value of element i of row r.
  int q(int64_t r, int64_t i) const {
    const int64_t b = i / kQBlock, j = i % kQBlock;
    switch (type) {
      case DType::Q8_0: return reinterpret_cast<const BlockQ8_0*>(data.data())[r * blocks() + b].qs[j];
      case DType::Q4_0: {
        const BlockQ4_0& blk = reinterpret_cast<const BlockQ4_0*>(data.data())[r * blocks() + b];
        return (j < 16 ? blk.qs[j] & 15 : blk.qs[j - 16] >> 4) - 8;
      }
      default: return static_cast<int8_t>(data[r * cols + i]);
    }
  }
  // The scale of element i's block.
  double scale(int64_t r, int64_t i) const {
    const int64_t b = i / kQBlock;
    switch (type) {
      case DType::Q8_0: return f16_to_f32(reinterpret_cast<const BlockQ8_0*>(data.data())[r * blocks() + b].d);
      case DType::Q4_0: return f16_to_f32(reinterpret_cast<const BlockQ4_0*>(data.data())[r * blocks() + b].d);
      default: return scales[(r * cols + i) / group];
    }
  }
};

// Quantized from uniform floats by the file formats' own quantizers; with `extreme`,
// every code at the end of its range instead (Q8_0 and I8G: +-127 and -128), so that
// a saturating int16 step would show.
Weights make_weights(DType type, int64_t rows, int64_t cols, int group, std::mt19937& rng, bool extreme = false) {
  Weights w;
  w.type = type;
  w.rows = rows;
  w.cols = cols;
  w.group = group;
  w.data.resize(row_bytes(type, cols) * rows);
  if (type == DType::I8G) w.scales.resize(rows * cols / group);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> row(cols);
  for (int64_t r = 0; r < rows; ++r) {
    for (auto& v : row) v = u(rng) * (1.0f + static_cast<float>(r % 5));
    uint8_t* dst = w.data.data() + row_bytes(type, cols) * r;
    if (type == DType::Q8_0) quantize_row_q8_0(row.data(), reinterpret_cast<BlockQ8_0*>(dst), cols);
    if (type == DType::Q4_0) quantize_row_q4_0(row.data(), reinterpret_cast<BlockQ4_0*>(dst), cols);
    if (type == DType::I8G)
      quantize_i8g(row.data(), reinterpret_cast<int8_t*>(dst), w.scales.data() + r * cols / group, cols, group);
  }
  if (!extreme) return w;
  std::uniform_int_distribution<int> pick(0, 2);
  const int8_t ends[] = {127, -127, -128};
  for (int64_t r = 0; r < rows; ++r) {
    uint8_t* row_data = w.data.data() + row_bytes(type, cols) * r;
    for (int64_t b = 0; b < w.blocks(); ++b) {
      if (type == DType::Q4_0) {
        auto& blk = reinterpret_cast<BlockQ4_0*>(row_data)[b];
        for (auto& v : blk.qs) v = pick(rng) ? 0xff : 0x00;  // nibbles 15 or 0
      } else {
        int8_t* qs = type == DType::Q8_0 ? reinterpret_cast<BlockQ8_0*>(row_data)[b].qs
                                         : reinterpret_cast<int8_t*>(row_data) + b * kQBlock;
        for (int j = 0; j < kQBlock; ++j) qs[j] = ends[pick(rng)];
      }
    }
  }
  return w;
}

// The kernel's semantics in double precision, and the magnitude the bound scales with.
struct Expected {
  double value = 0, magnitude = 0;
};

Expected oracle(const Weights& w, Acts& x, int64_t r, int t) {
  Expected e;
  for (int64_t b = 0; b < w.blocks(); ++b) {
    int64_t isum = 0;
    for (int j = 0; j < kQBlock; ++j)
      isum += static_cast<int64_t>(w.q(r, b * kQBlock + j)) * x.qs[t * x.cols + b * kQBlock + j];
    const double term = w.scale(r, b * kQBlock) * x.d[t * x.blocks() + b] * static_cast<double>(isum);
    e.value += term;
    e.magnitude += std::fabs(term);
  }
  return e;
}

constexpr float kUntouched = -7.0e30f;  // outputs outside the row range must keep it

struct Output {
  std::vector<float> out;
  int64_t stride = 0;
};

// Runs the variant over [begin, end) split at `cuts` (as threads would), on a buffer
// whose token rows are longer than `rows`.
Output run(const Variant& v, const Weights& w, Acts& x, int n_tokens, int64_t begin, int64_t end,
        const std::vector<int64_t>& cuts = {}) {
  PackedWeight pw;
  v.repack(w.view(), pw);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(pw.w) % 64, 0u);
  Output res;
  res.stride = w.rows + 3;
  res.out.assign(n_tokens * res.stride, kUntouched);
  MatmulArgs a{};
  a.w = pw.w;
  a.w_scales = pw.w_scales;
  a.xq = x.rows();
  a.out = res.out.data();
  a.rows = w.rows;
  a.cols = w.cols;
  a.out_stride = res.stride;
  a.n_tokens = n_tokens;
  a.group = w.group;
  int64_t from = begin;
  for (int64_t c : cuts) {
    if (c <= from || c >= end) continue;
    v.fn(&a, from, c);
    from = c;
  }
  v.fn(&a, from, end);
  return res;
}

void check(const Weights& w, Acts& x, const Output& res, int n_tokens, int64_t begin, int64_t end) {
  for (int t = 0; t < n_tokens; ++t)
    for (int64_t r = 0; r < res.stride; ++r) {
      const float got = res.out[t * res.stride + r];
      if (r < begin || r >= end) {
        ASSERT_EQ(got, kUntouched) << "wrote row " << r << " outside [" << begin << ", " << end << ") token " << t;
        continue;
      }
      const Expected e = oracle(w, x, r, t);
      ASSERT_NEAR(got, e.value, 1e-5 * e.magnitude + 1e-6)
          << "row " << r << " token " << t << " of " << w.rows << "x" << w.cols << " n_tokens " << n_tokens;
    }
}

const Variant& variant_or_skip(const std::string& name, bool& skip) {
  const Variant* v = family().find(name);
  EXPECT_NE(v, nullptr) << name;
  skip = !v->runs_on(CpuInfo::host());
  return *v;
}

#define SKIP_IF_UNUSABLE(v)                                                                                 \
  do {                                                                                                      \
    bool skip_;                                                                                             \
    const Variant& vv_ = variant_or_skip(v, skip_);                                                         \
    if (skip_) GTEST_SKIP() << "skipped: CPU lacks " << (vv_.usable ? "avxvnni" : "avx2") << " for " << v; \
  } while (0)

struct TypeCase {
  std::string variant;
  DType type;
  int group;
};

void PrintTo(const TypeCase& c, std::ostream* os) { *os << c.variant << " group " << c.group; }

class Int8Avx2Matmul : public ::testing::TestWithParam<TypeCase> {};

std::vector<int64_t> cols_for(const TypeCase& c) {
  if (c.group > 32) return {int64_t{c.group}, 3 * int64_t{c.group}, 768};
  return {32, 64, 96, 288};
}

TEST_P(Int8Avx2Matmul, AllShapesAndTokenCountsMatchOracle) {
  const TypeCase c = GetParam();
  SKIP_IF_UNUSABLE(c.variant);
  const Variant& v = *family().find(c.variant);
  std::mt19937 rng(17);
  for (int64_t rows : {1, 3, 7, 8, 9, 17, 40, 67})
    for (int64_t cols : cols_for(c)) {
      if (cols % (c.group ? c.group : kQBlock)) continue;
      Weights w = make_weights(c.type, rows, cols, c.group, rng);
      for (int n_tokens = 1; n_tokens <= 17; ++n_tokens) {
        Acts x = random_acts(n_tokens, cols, rng);
        check(w, x, run(v, w, x, n_tokens, 0, rows), n_tokens, 0, rows);
      }
    }
}

TEST_P(Int8Avx2Matmul, RowRangesStartAndEndInsideAnInterleaveGroup) {
  const TypeCase c = GetParam();
  SKIP_IF_UNUSABLE(c.variant);
  const Variant& v = *family().find(c.variant);
  std::mt19937 rng(29);
  const int64_t rows = 77, cols = c.group > 32 ? 2 * c.group : 160;
  Weights w = make_weights(c.type, rows, cols, c.group, rng);
  for (int n_tokens : {1, 4, 9}) {
    Acts x = random_acts(n_tokens, cols, rng);
    const std::pair<int64_t, int64_t> ranges[] = {{3, 5}, {5, 21}, {17, 31}, {13, 77}, {0, 70}, {9, 10}, {64, 77}};
    for (auto [begin, end] : ranges) {
      check(w, x, run(v, w, x, n_tokens, begin, end), n_tokens, begin, end);
      // The same range cut as threads would cut it, at points inside groups.
      check(w, x, run(v, w, x, n_tokens, begin, end, {begin + 1, begin + 6, begin + 15, begin + 40}), n_tokens, begin,
            end);
    }
  }
}

TEST_P(Int8Avx2Matmul, PromptChunkAndRealModelShape) {
  const TypeCase c = GetParam();
  SKIP_IF_UNUSABLE(c.variant);
  const Variant& v = *family().find(c.variant);
  std::mt19937 rng(31);
  // stories15M's w1 (hidden 768 x dim 288), a 64-token chunk; I8G with a 96-element group.
  const int64_t rows = 768, cols = c.group > 32 ? 3 * c.group : 288;
  Weights w = make_weights(c.type, rows, cols, c.group, rng);
  Acts x = random_acts(64, cols, rng);
  check(w, x, run(v, w, x, 64, 0, rows), 64, 0, rows);
}

TEST_P(Int8Avx2Matmul, ExtremeCodesDoNotSaturate) {
  const TypeCase c = GetParam();
  SKIP_IF_UNUSABLE(c.variant);
  const Variant& v = *family().find(c.variant);
  std::mt19937 rng(37);
  const int64_t rows = 19, cols = c.group > 32 ? 2 * c.group : 256;
  Weights w = make_weights(c.type, rows, cols, c.group, rng, /*extreme=*/true);
  for (int n_tokens : {1, 5}) {
    Acts x = random_acts(n_tokens, cols, rng, /*extreme=*/127);
    check(w, x, run(v, w, x, n_tokens, 0, rows), n_tokens, 0, rows);
  }
}

TEST_P(Int8Avx2Matmul, WithinActivationQuantizationBoundOfF32Dot) {
  const TypeCase c = GetParam();
  SKIP_IF_UNUSABLE(c.variant);
  const Variant& v = *family().find(c.variant);
  std::mt19937 rng(41);
  const int64_t rows = 37, cols = c.group > 32 ? 4 * c.group : 544;
  const int n_tokens = 3;
  Weights w = make_weights(c.type, rows, cols, c.group, rng);
  std::vector<float> xf(n_tokens * cols);
  std::normal_distribution<float> g(0.0f, 1.5f);
  for (auto& e : xf) e = g(rng);
  Acts x = quantize_acts(xf, cols);
  Output res = run(v, w, x, n_tokens, 0, rows);
  for (int t = 0; t < n_tokens; ++t)
    for (int64_t r = 0; r < rows; ++r) {
      double exact = 0, bound = 0;
      for (int64_t i = 0; i < cols; ++i) {
        const double wi = w.scale(r, i) * w.q(r, i);
        exact += wi * xf[t * cols + i];
        bound += std::fabs(wi) * x.d[(t * cols + i) / kQBlock] / 2;
      }
      const Expected e = oracle(w, x, r, t);
      ASSERT_NEAR(res.out[t * res.stride + r], exact, bound + 1e-5 * e.magnitude + 1e-6)
          << "row " << r << " token " << t;
    }
}

INSTANTIATE_TEST_SUITE_P(Variants, Int8Avx2Matmul,
                         ::testing::Values(TypeCase{"matmul.q8_0.avx2.r8", DType::Q8_0, 0},
                                           TypeCase{"matmul.q4_0.avx2.r8", DType::Q4_0, 0},
                                           TypeCase{"matmul.i8g.avx2.r8", DType::I8G, 32},
                                           TypeCase{"matmul.i8g.avx2.r8", DType::I8G, 64},
                                           TypeCase{"matmul.q8_0.avxvnni.r8", DType::Q8_0, 0},
                                           TypeCase{"matmul.q4_0.avxvnni.r8", DType::Q4_0, 0},
                                           TypeCase{"matmul.i8g.avxvnni.r8", DType::I8G, 32},
                                           TypeCase{"matmul.i8g.avxvnni.r8", DType::I8G, 64}),
                         [](const auto& info) {
                           std::string n = info.param.variant + "_g" + std::to_string(info.param.group);
                           for (auto& ch : n)
                             if (ch == '.') ch = '_';
                           return n;
                         });

TEST(Int8Avx2Registry, TwoVariantsPerTypeOnTheR8LayoutWithQ8Input) {
  int n = 0;
  for (auto& v : family().all()) {
    ++n;
    EXPECT_EQ(v->op, OpKind::Matmul) << v->name;
    EXPECT_EQ(v->layout, "r8") << v->name;
    EXPECT_EQ(v->input, MatmulInput::Q8) << v->name;
    EXPECT_EQ(v->isa, IsaLevel::Avx2) << v->name;
    EXPECT_NE(v->repack, nullptr) << v->name;
  }
  EXPECT_EQ(n, 2 * 9);  // AVX2 and AVX-VNNI for Q8_0, Q4_0, I8G, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K
  // AVX-VNNI outranks AVX2 where the CPU has it.
  CpuInfo cpu = CpuInfo::host().capped(IsaLevel::Avx2);
  cpu.level = IsaLevel::Avx2;
  cpu.avx_vnni = true;
  TensorView q8;
  q8.type = DType::Q8_0;
  q8.rows = 8;
  q8.cols = 32;
  EXPECT_EQ(family().best(OpKind::Matmul, cpu, &q8).name, "matmul.q8_0.avxvnni.r8");
  cpu.avx_vnni = false;
  EXPECT_EQ(family().best(OpKind::Matmul, cpu, &q8).name, "matmul.q8_0.avx2.r8");
}

TEST(Int8Avx2Registry, I8gOnlyWhenGroupsAreWholeBlocks) {
  const Variant* v = family().find("matmul.i8g.avx2.r8");
  ASSERT_NE(v, nullptr);
  TensorView w;
  w.type = DType::I8G;
  w.rows = 4;
  w.cols = 192;
  for (auto [group, ok] : {std::pair{32, true}, {64, true}, {96, true}, {48, false}, {16, false}, {128, false}}) {
    w.group = group;
    EXPECT_EQ(v->accepts(w), ok) << "group " << group;
  }
}

}  // namespace
}  // namespace bf
