// int8 AVX-512BW / AVX-512-VNNI / AMX matmul variants (src/kernels/int8_avx512): every
// registered variant against an oracle computed here in double precision from the raw
// blocks, over odd shapes, token counts, row ranges and output strides; and, with
// activations quantized from real floats, against the f32 dot of the dequantized weights.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "cpu/cpu.h"
#include "kernels/quantize.h"
#include "kernels/variant.h"
#include "util/f16.h"

namespace bf {
namespace {

constexpr float kSentinel = -12345.0f;

// ---- activations: the Q8Rows contract, quantized by this test's own quantizer.
struct Acts {
  int64_t cols = 0;
  int n_tokens = 0;
  std::vector<int8_t> qs;
  std::vector<float> d;
  std::vector<int32_t> sum;
  Q8Rows view() { return {qs.data(), d.data(), sum.data()}; }
};

Acts quantize_acts(const std::vector<float>& x, int n_tokens, int64_t cols) {
  Acts a{cols, n_tokens, std::vector<int8_t>(x.size()), std::vector<float>(x.size() / 32),
         std::vector<int32_t>(x.size() / 32)};
  for (size_t b = 0; b < a.d.size(); ++b) {
    float amax = 0.0f;
    for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[b * 32 + i]));
    const float d = amax / 127.0f;
    a.d[b] = d;
    int32_t s = 0;
    for (int i = 0; i < 32; ++i) {
      const int q = d == 0.0f ? 0 : static_cast<int>(std::lround(x[b * 32 + i] / d));
      a.qs[b * 32 + i] = static_cast<int8_t>(std::clamp(q, -127, 127));
      s += a.qs[b * 32 + i];
    }
    a.sum[b] = s;
  }
  return a;
}

// Random floats with one all-zero block per token (d = 0) and a range of magnitudes.
Acts random_acts(int n_tokens, int64_t cols, uint32_t seed, std::vector<float>* raw = nullptr) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n_tokens * cols));
  for (size_t i = 0; i < x.size(); ++i) x[i] = u(rng) * (1.0f + static_cast<float>(i / 32 % 5));
  for (int t = 0; t < n_tokens; ++t)
    for (int i = 0; i < 32; ++i) x[t * cols + (t * 32) % cols + i] = 0.0f;
  if (raw) *raw = x;
  return quantize_acts(x, n_tokens, cols);
}

// ---- weights in their file formats, made by the reference quantizers.
struct Weight {
  DType type;
  int64_t rows, cols;
  int group;
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
    v.bytes = data.size() + scales.size() * 4;
    return v;
  }
  // Integer value and scale of element (r, k), decoded from the raw bytes.
  int q(int64_t r, int64_t k) const {
    switch (type) {
      case DType::Q8_0: return block<BlockQ8_0>(r, k).qs[k % 32];
      case DType::Q4_0: {
        const uint8_t byte = block<BlockQ4_0>(r, k).qs[k % 16];
        return (k % 32 < 16 ? byte & 15 : byte >> 4) - 8;
      }
      default: return static_cast<int8_t>(data[r * cols + k]);
    }
  }
  double scale(int64_t r, int64_t k) const {
    switch (type) {
      case DType::Q8_0: return f16_to_f32(block<BlockQ8_0>(r, k).d);
      case DType::Q4_0: return f16_to_f32(block<BlockQ4_0>(r, k).d);
      default: return scales[(r * cols + k) / group];
    }
  }
  template <class B>
  const B& block(int64_t r, int64_t k) const {
    return reinterpret_cast<const B*>(data.data())[r * (cols / 32) + k / 32];
  }
};

Weight make_weight(DType type, int64_t rows, int64_t cols, int group, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> n(0.0f, 0.05f);
  std::vector<float> f(static_cast<size_t>(rows * cols));
  for (size_t i = 0; i < f.size(); ++i) f[i] = n(rng) * (1.0f + static_cast<float>(i / 32 % 3));
  Weight w{type, rows, cols, type == DType::I8G ? group : 0, {}, {}};
  if (type == DType::Q8_0) {
    w.data.resize(rows * cols / 32 * sizeof(BlockQ8_0));
    quantize_row_q8_0(f.data(), reinterpret_cast<BlockQ8_0*>(w.data.data()), rows * cols);
  } else if (type == DType::Q4_0) {
    w.data.resize(rows * cols / 32 * sizeof(BlockQ4_0));
    quantize_row_q4_0(f.data(), reinterpret_cast<BlockQ4_0*>(w.data.data()), rows * cols);
  } else {
    w.data.resize(rows * cols);
    w.scales.resize(rows * cols / group);
    quantize_i8g(f.data(), reinterpret_cast<int8_t*>(w.data.data()), w.scales.data(), rows * cols, group);
  }
  return w;
}

// ---- the oracle: sum_b d_w * d_x * isum_b in double, and sum_b |d_w d_x isum_b|.
struct Expect {
  double value, magnitude;
};

Expect oracle(const Weight& w, const Acts& x, int64_t r, int t) {
  Expect e{0.0, 0.0};
  for (int64_t b = 0; b < w.cols / 32; ++b) {
    int64_t isum = 0;
    for (int64_t k = b * 32; k < b * 32 + 32; ++k) isum += int64_t{w.q(r, k)} * x.qs[t * w.cols + k];
    const double term = w.scale(r, b * 32) * x.d[t * (w.cols / 32) + b] * static_cast<double>(isum);
    e.value += term;
    e.magnitude += std::fabs(term);
  }
  return e;
}

// ---- running a variant on a hand-made MatmulArgs.
struct Harness {
  PackedWeight packed;
  MatmulArgs args{};
  std::vector<float> out;
};

void prepare(const Variant& v, const Weight& w, Acts& x, int64_t out_stride, Harness& run) {
  ASSERT_TRUE(v.repack);
  v.repack(w.view(), run.packed);
  run.out.assign(static_cast<size_t>(x.n_tokens * out_stride), kSentinel);
  run.args.w = run.packed.w;
  run.args.w_scales = run.packed.w_scales;
  run.args.xq = x.view();
  run.args.out = run.out.data();
  run.args.rows = w.rows;
  run.args.cols = w.cols;
  run.args.out_stride = out_stride;
  run.args.n_tokens = x.n_tokens;
  run.args.group = w.group;
}

// ---- the variants, one test instance per ISA tier.
struct Tier {
  const char* isa;  // the name part after the type
  const char* skip;
  bool (*available)(const CpuInfo&);
};

const Tier kTiers[] = {
    {"avx512", "skipped: CPU lacks avx512 (F+BW+VL+DQ)", [](const CpuInfo& c) { return c.has(IsaLevel::Avx512); }},
    {"avx512vnni", "skipped: CPU lacks avx512vnni", [](const CpuInfo& c) { return c.has(IsaLevel::Avx512Vnni); }},
    {"amx", "skipped: CPU lacks amx-int8", [](const CpuInfo& c) { return c.amx_int8; }},
};

void PrintTo(const Tier& t, std::ostream* os) { *os << t.isa; }

struct Case {
  DType type;
  const char* name;
  int group;
};
const Case kCases[] = {
    {DType::Q8_0, "q8_0", 0}, {DType::Q4_0, "q4_0", 0}, {DType::I8G, "i8g", 64}, {DType::I8G, "i8g", 32}};

class Int8Avx512 : public ::testing::TestWithParam<Tier> {
 protected:
  void SetUp() override {
    if (!GetParam().available(CpuInfo::host())) GTEST_SKIP() << GetParam().skip;
  }
  const Variant& variant(const Case& c) {
    const std::string name = std::string("matmul.") + c.name + "." + GetParam().isa + ".r16";
    const Variant* v = registry.find(name);
    EXPECT_NE(v, nullptr) << name;
    if (!v) throw std::runtime_error("missing variant " + name);
    EXPECT_TRUE(v->runs_on(CpuInfo::host())) << name;
    return *v;
  }
  KernelRegistry registry = KernelRegistry::builtin();
};

// Only the float accumulation order differs from the oracle: every term d_w*d_x*isum is
// formed with at most 2 roundings and summed in f32 over the blocks, so
//   |got - oracle| <= 1e-5 * sum_b |d_w d_x isum_b| + 1e-6.
void check_rows(const Weight& w, const Acts& x, const Harness& run, int64_t begin, int64_t end, int64_t out_stride,
                const std::string& what) {
  for (int t = 0; t < x.n_tokens; ++t) {
    for (int64_t r = 0; r < out_stride; ++r) {
      const float got = run.out[t * out_stride + r];
      if (r < begin || r >= end) {
        ASSERT_EQ(got, kSentinel) << what << " wrote row " << r << " token " << t << " outside its range";
        continue;
      }
      const Expect e = oracle(w, x, r, t);
      ASSERT_LE(std::fabs(got - e.value), 1e-5 * e.magnitude + 1e-6)
          << what << " row " << r << " token " << t << " got " << got << " want " << e.value;
    }
  }
}

TEST_P(Int8Avx512, MatchesIntegerOracleOverShapesTokensAndSplits) {
  // (rows, cols): below one row group, exactly one, odd counts, stories15M-like, and
  // 10 row groups (sets of 4, 4 and 2 interleaved groups) cut inside the sets.
  const int64_t shapes[][2] = {{1, 64}, {5, 64}, {16, 128}, {17, 192}, {33, 288}, {40, 768}, {150, 64}};
  const int token_counts[] = {1, 2, 3, 4, 5, 7, 16, 17, 33};
  uint32_t seed = 1;
  for (const Case& c : kCases) {
    const Variant& v = variant(c);
    for (auto [rows, cols] : shapes) {
      if (cols % (c.group ? c.group : 32) != 0) continue;
      const Weight w = make_weight(c.type, rows, cols, c.group, seed++);
      for (int n : token_counts) {
        Acts x = random_acts(n, cols, seed++);
        const int64_t stride = rows + 3;
        Harness run;
        prepare(v, w, x, stride, run);
        // Three calls over [0, a), [a, b), [b, rows), cut inside row groups.
        const int64_t a = rows / 3, b = rows * 2 / 3;
        v.fn(&run.args, 0, a);
        v.fn(&run.args, a, b);
        v.fn(&run.args, b, rows);
        check_rows(w, x, run, 0, rows, stride,
                   v.name + " " + std::to_string(rows) + "x" + std::to_string(cols) + " n_tokens " + std::to_string(n));
      }
    }
  }
}

TEST_P(Int8Avx512, RowRangeWritesOnlyItsRows) {
  for (const Case& c : kCases) {
    const Variant& v = variant(c);
    const Weight w = make_weight(c.type, 70, 128, c.group, 99);
    for (int n : {1, 6, 64}) {
      Acts x = random_acts(n, 128, 7 + n);
      Harness run;
      prepare(v, w, x, 75, run);
      v.fn(&run.args, 5, 37);  // starts and ends inside row groups, spans three
      check_rows(w, x, run, 5, 37, 75, v.name + " rows [5,37) n_tokens " + std::to_string(n));
    }
  }
}

// With activations quantized from real floats x (|x - q*d_x| <= d_x/2 per element), the
// result is the exact dot of the dequantized weights with x within
//   sum_b sum_{i in b} |w_i| * d_x[b] / 2, plus the accumulation slack above. The
// quantizer rounds x/d in f32 (|x/d| <= 127, so off by <= 127 * 2^-24 < 1e-5), which
// widens d_x/2 to d_x * (0.5 + 1e-5).
TEST_P(Int8Avx512, WithinActivationQuantizationBoundOfFloatDot) {
  for (const Case& c : kCases) {
    const Variant& v = variant(c);
    for (auto [rows, cols] : {std::pair<int64_t, int64_t>{288, 768}, {45, 2048}}) {
      const Weight w = make_weight(c.type, rows, cols, c.group, 5);
      std::vector<float> raw;
      for (int n : {1, 17}) {
        Acts x = random_acts(n, cols, 11 + n, &raw);
        Harness run;
        prepare(v, w, x, rows, run);
        v.fn(&run.args, 0, rows);
        for (int t = 0; t < n; ++t) {
          for (int64_t r = 0; r < rows; ++r) {
            double exact = 0.0, bound = 0.0;
            for (int64_t b = 0; b < cols / 32; ++b) {
              double abs_w = 0.0;
              for (int64_t k = b * 32; k < b * 32 + 32; ++k) {
                const double wk = w.q(r, k) * w.scale(r, k);
                exact += wk * raw[t * cols + k];
                abs_w += std::fabs(wk);
              }
              bound += abs_w * x.d[t * (cols / 32) + b] * (0.5 + 1e-5);
            }
            const Expect e = oracle(w, x, r, static_cast<int>(t));
            bound += 1e-5 * e.magnitude + 1e-6;
            ASSERT_LE(std::fabs(run.out[t * rows + r] - exact), bound) << v.name << " row " << r << " token " << t;
          }
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Tiers, Int8Avx512, ::testing::ValuesIn(kTiers),
                         [](const auto& info) { return std::string(info.param.isa); });

TEST(Int8Avx512Registry, VariantsAndShapesAccepted) {
  const KernelRegistry r = KernelRegistry::builtin();
  for (const char* type : {"q8_0", "q4_0", "i8g"})
    for (const char* isa : {"avx512", "avx512vnni", "amx"}) {
      const std::string name = std::string("matmul.") + type + "." + isa + ".r16";
      const Variant* v = r.find(name);
      ASSERT_NE(v, nullptr) << name;
      EXPECT_EQ(v->layout, "r16");
      EXPECT_EQ(v->input, MatmulInput::Q8);
      EXPECT_NE(v->repack, nullptr);
    }
  const Variant& i8g = *r.find("matmul.i8g.avx512vnni.r16");
  TensorView t;
  t.type = DType::I8G;
  t.rows = 4;
  t.cols = 192;
  t.group = 64;
  EXPECT_TRUE(i8g.accepts(t));
  t.group = 48;  // not whole activation blocks
  EXPECT_FALSE(i8g.accepts(t));
  t.cols = 96;
  t.group = 64;  // groups would span rows
  EXPECT_FALSE(i8g.accepts(t));
}

}  // namespace
}  // namespace bf
