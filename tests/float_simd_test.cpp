// The float_simd family (kernels/float_simd/) against plain scalar oracles written here,
// at every ISA level this CPU has; the levels it lacks are skipped with a message
// naming them. Each test calls a kernel directly with hand-made argument structs over
// a unit range that starts and ends mid-tile, and checks that nothing outside it moved.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "cpu/cpu.h"
#include "kernels/contract.h"
#include "kernels/families.h"
#include "kernels/quantize.h"
#include "kernels/variant.h"
#include "util/f16.h"

namespace bf {
namespace {

constexpr float kUntouched = 12345.0f;  // fill of outputs a call must not write

const KernelRegistry& registry() {
  static const KernelRegistry r = [] {
    KernelRegistry reg;
    add_float_simd_variants(reg);
    return reg;
  }();
  return r;
}

std::vector<float> random_floats(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

// The middle of [0, n): drops the first and last unit when there are enough.
std::pair<int64_t, int64_t> middle(int64_t n) { return {n > 2 ? 1 : 0, n > 3 ? n - 1 : n}; }

}  // namespace

// gtest prints a test's parameter by this.
void PrintTo(IsaLevel level, std::ostream* os) { *os << isa_level_name(level); }

namespace {

class FloatSimd : public ::testing::TestWithParam<IsaLevel> {
 protected:
  void SetUp() override {
    if (!CpuInfo::host().has(GetParam()))
      GTEST_SKIP() << "skipped: CPU lacks " << isa_level_name(GetParam());
  }
  KernelFn fn(const std::string& op, const std::string& suffix = "") const {
    std::string name = op + "." + std::string(isa_level_name(GetParam())) + suffix;
    const Variant* v = registry().find(name);
    EXPECT_NE(v, nullptr) << name;
    return v ? v->fn : nullptr;
  }
};

// ---- Matmul ---------------------------------------------------------------------

// A random rows x cols weight in `type`, and the same values decoded by the reference
// dequantizers (the oracle multiplies those).
struct Weight {
  DType type;
  int64_t rows, cols;
  int group = 0;
  std::vector<uint8_t> data;
  std::vector<float> scales;  // I8G
  std::vector<float> values;  // decoded, rows x cols

  Weight(DType t, int64_t r, int64_t c, int g, uint32_t seed) : type(t), rows(r), cols(c), group(g) {
    std::vector<float> x = random_floats(static_cast<size_t>(r * c), seed);
    const size_t rb = t == DType::I8G ? static_cast<size_t>(c) : row_bytes(t, c);
    data.resize(rb * static_cast<size_t>(r));
    if (t == DType::I8G) {
      scales.resize(static_cast<size_t>(r * c / g));
      quantize_i8g(x.data(), reinterpret_cast<int8_t*>(data.data()), scales.data(), r * c, g);
    }
    for (int64_t i = 0; i < r; ++i) {
      const float* xr = x.data() + i * c;
      uint8_t* out = data.data() + rb * static_cast<size_t>(i);
      if (t != DType::I8G) quantize_row(t, xr, out, c);
    }
    values.resize(x.size());
    for (int64_t i = 0; i < r; ++i)
      dequantize_row(t, data.data() + rb * static_cast<size_t>(i), t == DType::I8G ? scales.data() + i * c / g : nullptr,
                     values.data() + i * c, c, g);
  }
};

// A matmul over weights `w` (rows x cols) and n_tokens input rows.
MatmulArgs matmul_args(const void* w, int64_t rows, int64_t cols, const float* x, float* out, int64_t out_stride,
                       int n_tokens) {
  MatmulArgs a{};
  a.w = w;
  a.x = x;
  a.out = out;
  a.rows = rows;
  a.cols = cols;
  a.out_stride = out_stride;
  a.n_tokens = n_tokens;
  return a;
}

// Runs the variant for `w` over rows [begin, end) of n_tokens tokens and checks every
// output against a double-precision dot of the decoded weights:
//   |out - dot| <= 1e-5 * sum |w_i x_i| + 1e-6
// (an element left out or counted twice costs about sum/cols, far above that).
void check_matmul(KernelFn f, const Weight& w, int n_tokens, int64_t begin, int64_t end) {
  SCOPED_TRACE(::testing::Message() << dtype_name(w.type) << " rows=" << w.rows << " cols=" << w.cols
                                    << " group=" << w.group << " tokens=" << n_tokens << " range=[" << begin
                                    << "," << end << ")");
  std::vector<float> x = random_floats(static_cast<size_t>(n_tokens * w.cols), 7u + static_cast<uint32_t>(n_tokens));
  const int64_t stride = w.rows + 3;
  std::vector<float> out(static_cast<size_t>(stride * n_tokens), kUntouched);
  MatmulArgs a = matmul_args(w.data.data(), w.rows, w.cols, x.data(), out.data(), stride, n_tokens);
  a.w_scales = w.type == DType::I8G ? w.scales.data() : nullptr;
  a.group = w.group;
  f(&a, begin, end);
  for (int t = 0; t < n_tokens; ++t)
    for (int64_t r = 0; r < stride; ++r) {
      const float got = out[static_cast<size_t>(t * stride + r)];
      if (r < begin || r >= end) {
        ASSERT_EQ(got, kUntouched) << "wrote outside its rows: t=" << t << " r=" << r;
        continue;
      }
      double dot = 0, mag = 0;
      for (int64_t c = 0; c < w.cols; ++c) {
        const double p = static_cast<double>(w.values[static_cast<size_t>(r * w.cols + c)]) * x[static_cast<size_t>(t * w.cols + c)];
        dot += p;
        mag += std::fabs(p);
      }
      ASSERT_NEAR(got, dot, 1e-5 * mag + 1e-6) << "t=" << t << " r=" << r;
    }
}

void check_matmul_shapes(KernelFn f, DType type, const std::vector<int64_t>& cols_list, int group = 0) {
  uint32_t seed = 1;
  for (int64_t cols : cols_list)
    for (int64_t rows : {1, 3, 5, 13})
      for (int n_tokens : {1, 2, 3, 5, 17}) {
        Weight w(type, rows, cols, group, seed++);
        check_matmul(f, w, n_tokens, 0, rows);
        auto [b, e] = middle(rows);
        check_matmul(f, w, n_tokens, b, e);
      }
}

TEST_P(FloatSimd, MatmulF32) {
  check_matmul_shapes(fn("matmul.f32"), DType::F32, {1, 7, 8, 31, 33, 65, 288, 770});
  check_matmul(fn("matmul.f32"), Weight(DType::F32, 37, 288, 0, 99), 64, 2, 35);
}

TEST_P(FloatSimd, MatmulF16) {
  check_matmul_shapes(fn("matmul.f16"), DType::F16, {1, 7, 8, 31, 33, 65, 288, 770});
  check_matmul(fn("matmul.f16"), Weight(DType::F16, 37, 288, 0, 98), 64, 2, 35);
}

TEST_P(FloatSimd, MatmulBF16) {
  check_matmul_shapes(fn("matmul.bf16"), DType::BF16, {1, 7, 8, 15, 16, 17, 31, 33, 65, 288, 770});
  check_matmul(fn("matmul.bf16"), Weight(DType::BF16, 37, 288, 0, 94), 64, 2, 35);
}

// Widening is exact: a row of weights that are powers of two (any exponent bf16 has,
// subnormals included) times inputs that are small integers gives products and sums
// that are exact in f32, so the kernel must equal the double-precision dot exactly.
// A shift into the wrong half, a lost sign or a dropped tail lane changes the result.
TEST_P(FloatSimd, MatmulBF16WidensExactly) {
  KernelFn f = fn("matmul.bf16");
  for (int64_t cols : {5, 16, 23, 40}) {
    SCOPED_TRACE(::testing::Message() << "cols=" << cols);
    const int64_t rows = 6;
    const int n_tokens = 3;
    std::mt19937 rng(static_cast<uint32_t>(cols));
    std::vector<uint16_t> w(static_cast<size_t>(rows * cols));
    std::vector<float> x(static_cast<size_t>(n_tokens * cols));
    // Row r's weights are +-2^(e - k), e = exponents[r], k in 0..3 (from bf16's
    // smallest subnormal, 2^-133, to 2^100). Every product is a multiple of 2^(e - 3)
    // and |dot| < 40 * 7 * 2^e < 2^(e + 9): 12 significant bits, exact in f32.
    const int exponents[rows] = {-130, -126, -20, 0, 17, 100};
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) {
        const float v = std::ldexp(rng() % 2 ? -1.0f : 1.0f, exponents[r] - static_cast<int>(rng() % 4));
        w[static_cast<size_t>(r * cols + c)] = f32_to_bf16(v);
        ASSERT_EQ(bf16_to_f32(w[static_cast<size_t>(r * cols + c)]), v);
      }
    for (auto& v : x) v = static_cast<float>(static_cast<int>(rng() % 15) - 7);
    std::vector<float> out(static_cast<size_t>(rows * n_tokens), kUntouched);
    MatmulArgs a = matmul_args(w.data(), rows, cols, x.data(), out.data(), rows, n_tokens);
    f(&a, 0, rows);
    for (int t = 0; t < n_tokens; ++t)
      for (int64_t r = 0; r < rows; ++r) {
        double dot = 0;
        for (int64_t c = 0; c < cols; ++c)
          dot += static_cast<double>(bf16_to_f32(w[static_cast<size_t>(r * cols + c)])) * x[static_cast<size_t>(t * cols + c)];
        ASSERT_EQ(out[static_cast<size_t>(t * rows + r)], static_cast<float>(dot)) << "t=" << t << " r=" << r;
      }
  }
}

TEST_P(FloatSimd, MatmulQ8_0FloatInput) {
  check_matmul_shapes(fn("matmul.q8_0", ".f32in"), DType::Q8_0, {32, 64, 288, 800});
  check_matmul(fn("matmul.q8_0", ".f32in"), Weight(DType::Q8_0, 37, 288, 0, 97), 64, 2, 35);
}

TEST_P(FloatSimd, MatmulQ4_0FloatInput) {
  check_matmul_shapes(fn("matmul.q4_0", ".f32in"), DType::Q4_0, {32, 64, 288, 800});
  check_matmul(fn("matmul.q4_0", ".f32in"), Weight(DType::Q4_0, 37, 288, 0, 96), 64, 2, 35);
}

TEST_P(FloatSimd, MatmulI8GAnyGroupFloatInput) {
  KernelFn f = fn("matmul.i8g", ".f32in");
  // Groups below, at and above both vector widths, and not multiples of 8 or 32.
  for (int group : {1, 3, 5, 7, 8, 16, 24, 33, 64}) {
    SCOPED_TRACE(::testing::Message() << "group " << group);
    check_matmul_shapes(f, DType::I8G, {group, 3 * group, 12 * group}, group);
  }
  check_matmul(f, Weight(DType::I8G, 37, 288, 32, 95), 64, 2, 35);
}

// ---- Quantize -------------------------------------------------------------------

// The rule, scalar: per block of 32, d = max|x| / 127, id = d != 0 ? 1/d : 0,
// q = round-half-even(x * id), sum = sum of q. Must match bit for bit.
TEST_P(FloatSimd, QuantizeIsBitExactWithTheRule) {
  KernelFn f = fn("quantize.f32");
  for (int64_t cols : {32, 64, 288, 800})
    for (int n_tokens : {1, 3, 5}) {
      SCOPED_TRACE(::testing::Message() << "cols=" << cols << " tokens=" << n_tokens);
      std::vector<float> x = random_floats(static_cast<size_t>(cols * n_tokens), static_cast<uint32_t>(cols + n_tokens), -3, 3);
      // Ties: a block whose max is 127 has d = 1, so x + 0.5 lands halfway.
      for (int i = 0; i < 32; ++i) x[static_cast<size_t>(i)] = i == 0 ? 127.0f : static_cast<float>(i) - 15.5f;
      if (cols > 32)
        for (int i = 32; i < 64; ++i) x[static_cast<size_t>(i)] = 0.0f;  // an all-zero block
      const int64_t blocks = cols / kQBlock * n_tokens;
      std::vector<int8_t> qs(static_cast<size_t>(cols * n_tokens), 99);
      std::vector<float> d(static_cast<size_t>(blocks), kUntouched);
      std::vector<int32_t> sum(static_cast<size_t>(blocks), 12345);
      QuantizeArgs a{x.data(), {qs.data(), d.data(), sum.data()}, cols, n_tokens};
      auto [begin, end] = middle(n_tokens);
      f(&a, begin, end);
      for (int64_t b = 0; b < blocks; ++b) {
        const int64_t t = b / (cols / kQBlock);
        if (t < begin || t >= end) {
          ASSERT_EQ(d[static_cast<size_t>(b)], kUntouched);
          ASSERT_EQ(sum[static_cast<size_t>(b)], 12345);
          continue;
        }
        const float* xb = x.data() + b * kQBlock;
        float amax = 0;
        for (int i = 0; i < kQBlock; ++i) amax = std::max(amax, std::fabs(xb[i]));
        const float dd = amax / 127.0f, id = dd != 0.0f ? 1.0f / dd : 0.0f;
        int32_t s = 0;
        for (int i = 0; i < kQBlock; ++i) {
          const auto q = static_cast<int8_t>(std::nearbyint(xb[i] * id));
          ASSERT_EQ(qs[static_cast<size_t>(b * kQBlock + i)], q) << "block " << b << " element " << i;
          s += q;
        }
        ASSERT_EQ(d[static_cast<size_t>(b)], dd) << "block " << b;
        ASSERT_EQ(sum[static_cast<size_t>(b)], s) << "block " << b;
      }
    }
}

// ---- RmsNorm --------------------------------------------------------------------

// |out - exact| <= 4e-6 |exact| + 1e-30, with out separate from x and aliasing it.
TEST_P(FloatSimd, RmsNorm) {
  KernelFn f = fn("rmsnorm.f32");
  for (int64_t n : {1, 7, 31, 33, 65, 288, 770})
    for (bool in_place : {false, true}) {
      SCOPED_TRACE(::testing::Message() << "n=" << n << " in_place=" << in_place);
      const int n_tokens = 4;
      std::vector<float> x = random_floats(static_cast<size_t>(n * n_tokens), static_cast<uint32_t>(n), -4, 4);
      std::vector<float> w = random_floats(static_cast<size_t>(n), 3, 0.5f, 1.5f);
      const std::vector<float> x0 = x;
      std::vector<float> sep(x.size(), kUntouched);
      float* out = in_place ? x.data() : sep.data();
      RmsNormArgs a{x.data(), w.data(), out, n, 1e-5f, n_tokens};
      f(&a, 1, 3);
      for (int t = 0; t < n_tokens; ++t) {
        const float* xt = x0.data() + t * n;
        double ss = 0;
        for (int64_t i = 0; i < n; ++i) ss += static_cast<double>(xt[i]) * xt[i];
        const double scale = 1.0 / std::sqrt(ss / static_cast<double>(n) + 1e-5);
        for (int64_t i = 0; i < n; ++i) {
          const float got = out[t * n + i];
          if (t < 1 || t >= 3) {
            ASSERT_EQ(got, in_place ? xt[i] : kUntouched);
            continue;
          }
          const double want = w[static_cast<size_t>(i)] * xt[i] * scale;
          ASSERT_NEAR(got, want, 4e-6 * std::fabs(want) + 1e-30) << "t=" << t << " i=" << i;
        }
      }
    }
}

// ---- Rope -----------------------------------------------------------------------

// Angles as the reference formula makes them (float: freq = 1/powf(base, i/rope_dim),
// angle = pos*freq), rotated in double: |out - exact| <= 1e-6 (|a| + |b|) per pair;
// dimensions at and past rope_dim and tokens outside the range stay as they were.
TEST_P(FloatSimd, Rope) {
  KernelFn f = fn("rope.f32");
  struct Shape { int n_heads, n_kv_heads, head_size, rope_dim; };
  for (Shape s : {Shape{4, 4, 32, 32}, Shape{8, 1, 48, 48}, Shape{4, 1, 64, 64}, Shape{2, 2, 64, 32},
                  Shape{3, 3, 48, 2}, Shape{2, 1, 384, 384}})
    for (int pos0 : {0, 1, 17, 1000}) {
      SCOPED_TRACE(::testing::Message() << "heads=" << s.n_heads << "/" << s.n_kv_heads << " head=" << s.head_size
                                        << " rope_dim=" << s.rope_dim << " pos0=" << pos0);
      const int n_tokens = 4;
      const int qd = s.n_heads * s.head_size, kd = s.n_kv_heads * s.head_size;
      std::vector<float> q = random_floats(static_cast<size_t>(qd * n_tokens), 11), k = random_floats(static_cast<size_t>(kd * n_tokens), 12);
      const std::vector<float> q0 = q, k0 = k;
      RopeArgs a{q.data(), k.data(), pos0, n_tokens, s.n_heads, s.n_kv_heads, s.head_size, s.rope_dim, 10000.0f};
      f(&a, 1, 3);
      auto check = [&](const std::vector<float>& got, const std::vector<float>& was, int heads, int t) {
        for (int h = 0; h < heads; ++h) {
          const size_t at = static_cast<size_t>((t * heads + h) * s.head_size);
          for (int i = 0; i < s.head_size; i += 2) {
            const float a0 = was[at + i], b0 = was[at + i + 1];
            if (t < 1 || t >= 3 || i >= s.rope_dim) {
              ASSERT_EQ(got[at + i], a0);
              ASSERT_EQ(got[at + i + 1], b0);
              continue;
            }
            const float freq = 1.0f / std::pow(10000.0f, static_cast<float>(i) / static_cast<float>(s.rope_dim));
            const double angle = static_cast<float>(pos0 + t) * freq;
            const double c = std::cos(angle), sn = std::sin(angle), tol = 1e-6 * (std::fabs(a0) + std::fabs(b0));
            ASSERT_NEAR(got[at + i], a0 * c - b0 * sn, tol) << "t=" << t << " h=" << h << " i=" << i;
            ASSERT_NEAR(got[at + i + 1], a0 * sn + b0 * c, tol) << "t=" << t << " h=" << h << " i=" << i;
          }
        }
      };
      for (int t = 0; t < n_tokens; ++t) {
        check(q, q0, s.n_heads, t);
        check(k, k0, s.n_kv_heads, t);
      }
    }
}

// ---- KvStore --------------------------------------------------------------------

// Exact: f32 copies, f16 rounds to nearest even exactly as f32_to_f16 (including
// subnormals and overflow to infinity). Rows of other tokens stay untouched.
TEST_P(FloatSimd, KvStore) {
  struct Heads { int kv_heads, head_size; };
  for (KvType type : {KvType::F32, KvType::F16})
    for (const char* name : {"kvstore.f32", "kvstore.f16kv"})
      for (Heads h : {Heads{1, 1}, Heads{1, 7}, Heads{3, 11}, Heads{4, 64}})
        for (int pos0 : {0, 5}) {
          const int kv_dim = h.kv_heads * h.head_size;
          SCOPED_TRACE(::testing::Message() << name << " cache=" << (type == KvType::F16 ? "f16" : "f32")
                                            << " heads=" << h.kv_heads << "x" << h.head_size << " pos0=" << pos0);
          const int n_tokens = 4, context = pos0 + n_tokens + 1;
          std::vector<float> k = random_floats(static_cast<size_t>(kv_dim * n_tokens), 21, -2, 2);
          std::vector<float> v = random_floats(static_cast<size_t>(kv_dim * n_tokens), 22, -2, 2);
          const float odd[] = {1e-6f, -3e-8f, 65519.0f, 65520.0f, -1e5f, 0.0f, -0.0f};
          for (size_t i = 0; i < std::size(odd) && i < k.size(); ++i) k[k.size() - 1 - i] = odd[i];
          const size_t cells = static_cast<size_t>(context * kv_dim);
          std::vector<float> kc32(cells, kUntouched), vc32(cells, kUntouched);
          std::vector<uint16_t> kc16(cells, 0x7777), vc16(cells, 0x7777);
          const bool f16 = type == KvType::F16;
          KvStoreArgs a{k.data(), v.data(), f16 ? static_cast<void*>(kc16.data()) : kc32.data(),
                        f16 ? static_cast<void*>(vc16.data()) : vc32.data(), pos0, n_tokens, kv_dim, h.head_size,
                        context, type};
          fn(name)(&a, 1, 3);
          // Head g's positions are contiguous: element i of position p at (g * context + p) * head_size + i.
          for (int g = 0; g < h.kv_heads; ++g)
            for (int p = 0; p < context; ++p)
              for (int i = 0; i < h.head_size; ++i) {
                const size_t c = static_cast<size_t>((g * context + p) * h.head_size + i);
                const int t = p - pos0;
                const bool written = t >= 1 && t < 3;
                const size_t src = static_cast<size_t>(t * kv_dim + g * h.head_size + i);
                if (f16) {
                  ASSERT_EQ(kc16[c], written ? f32_to_f16(k[src]) : 0x7777) << "g=" << g << " p=" << p << " i=" << i;
                  ASSERT_EQ(vc16[c], written ? f32_to_f16(v[src]) : 0x7777) << "g=" << g << " p=" << p << " i=" << i;
                } else {
                  ASSERT_EQ(kc32[c], written ? k[src] : kUntouched) << "g=" << g << " p=" << p << " i=" << i;
                  ASSERT_EQ(vc32[c], written ? v[src] : kUntouched) << "g=" << g << " p=" << p << " i=" << i;
                }
              }
        }
}

// ---- Attention ------------------------------------------------------------------

// Against a double-precision softmax over the cache as stored (f16 decoded exactly):
// |out - exact| <= 1e-5 * max|v|. Heads outside the range keep their output.
void check_attention(KernelFn f, KvType type, int n_heads, int n_kv_heads, int hs, int pos0, int n_tokens) {
  SCOPED_TRACE(::testing::Message() << "cache=" << (type == KvType::F16 ? "f16" : "f32") << " heads=" << n_heads << "/"
                                    << n_kv_heads << " head=" << hs << " pos0=" << pos0 << " tokens=" << n_tokens);
  const int kv_dim = n_kv_heads * hs, context = pos0 + n_tokens + 2, qd = n_heads * hs;
  std::vector<float> q = random_floats(static_cast<size_t>(qd * n_tokens), 31, -3, 3);
  std::vector<float> kf = random_floats(static_cast<size_t>(context * kv_dim), 32);
  std::vector<float> vf = random_floats(static_cast<size_t>(context * kv_dim), 33);
  std::vector<uint16_t> k16(kf.size()), v16(vf.size());
  if (type == KvType::F16) {
    for (size_t i = 0; i < kf.size(); ++i) {
      k16[i] = f32_to_f16(kf[i]);
      kf[i] = f16_to_f32(k16[i]);
      v16[i] = f32_to_f16(vf[i]);
      vf[i] = f16_to_f32(v16[i]);
    }
  }
  const bool f16 = type == KvType::F16;
  std::vector<float> scores(static_cast<size_t>(n_heads * context), kUntouched);
  std::vector<float> out(static_cast<size_t>(qd * n_tokens), kUntouched);
  AttentionArgs a{q.data(), f16 ? static_cast<const void*>(k16.data()) : kf.data(),
                  f16 ? static_cast<const void*>(v16.data()) : vf.data(), scores.data(), out.data(), pos0, n_tokens,
                  n_heads, n_kv_heads, hs, kv_dim, context, type};
  auto [begin, end] = middle(n_heads);
  f(&a, begin, end);
  const int group = n_heads / n_kv_heads;
  for (int t = 0; t < n_tokens; ++t)
    for (int h = 0; h < n_heads; ++h) {
      const float* got = out.data() + (t * n_heads + h) * hs;
      if (h < begin || h >= end) {
        for (int i = 0; i < hs; ++i) ASSERT_EQ(got[i], kUntouched);
        continue;
      }
      const int n = pos0 + t + 1, kv = (h / group) * context * hs;  // the kv head's first row
      const float* qh = q.data() + (t * n_heads + h) * hs;
      std::vector<double> p(static_cast<size_t>(n));
      double max = -1e300, sum = 0;
      for (int j = 0; j < n; ++j) {
        double s = 0;
        for (int i = 0; i < hs; ++i) s += static_cast<double>(qh[i]) * kf[static_cast<size_t>(kv + j * hs + i)];
        p[static_cast<size_t>(j)] = s / std::sqrt(static_cast<double>(hs));
        max = std::max(max, p[static_cast<size_t>(j)]);
      }
      for (auto& x : p) sum += (x = std::exp(x - max));
      for (int i = 0; i < hs; ++i) {
        double want = 0;
        for (int j = 0; j < n; ++j) want += p[static_cast<size_t>(j)] * vf[static_cast<size_t>(kv + j * hs + i)];
        ASSERT_NEAR(got[i], want / sum, 1e-5) << "t=" << t << " h=" << h << " i=" << i;  // max|v| = 1
      }
    }
}

TEST_P(FloatSimd, Attention) {
  struct Shape { int n_heads, n_kv_heads, head_size; };
  for (const char* name : {"attention.f32", "attention.f16kv"})
    for (KvType type : {KvType::F32, KvType::F16})
      for (Shape s : {Shape{4, 4, 32}, Shape{8, 1, 48}, Shape{4, 4, 64}, Shape{8, 1, 64}, Shape{3, 3, 20},
                      Shape{4, 2, 128}})
        for (int pos0 : {0, 1, 17, 1000})
          for (int n_tokens : {1, 3}) {
            SCOPED_TRACE(name);
            check_attention(fn(name), type, s.n_heads, s.n_kv_heads, s.head_size, pos0, n_tokens);
          }
}

// ---- SwiGLU and Add -------------------------------------------------------------

// gate = g / (1 + e^-g) * up, with the vectorized e^x: |out - exact| <= 1e-6 |exact|
// + 1e-30 (the absolute term covers results below float's normal range), for g over
// [-100, 100] including e^-g's overflow.
TEST_P(FloatSimd, SwiGLU) {
  KernelFn f = fn("swiglu.f32");
  for (int64_t n : {1, 7, 31, 33, 65, 288, 770}) {
    SCOPED_TRACE(::testing::Message() << "n=" << n);
    std::vector<float> g = random_floats(static_cast<size_t>(n), static_cast<uint32_t>(n), -12, 12);
    const float odd[] = {-100.0f, 100.0f, -88.5f, 88.8f, 0.0f, -20.0f, 1e-3f};
    for (size_t i = 0; i < std::size(odd) && i < g.size(); ++i) g[i * 3 % g.size()] = odd[i];
    std::vector<float> up = random_floats(static_cast<size_t>(n), 5, -2, 2);
    const std::vector<float> g0 = g;
    SwiGLUArgs a{g.data(), up.data(), n};
    auto [begin, end] = middle(n);
    f(&a, begin, end);
    for (int64_t i = 0; i < n; ++i) {
      const double x = g0[static_cast<size_t>(i)];
      if (i < begin || i >= end) {
        ASSERT_EQ(g[static_cast<size_t>(i)], g0[static_cast<size_t>(i)]);
        continue;
      }
      const double want = x / (1.0 + std::exp(-x)) * up[static_cast<size_t>(i)];
      ASSERT_NEAR(g[static_cast<size_t>(i)], want, 1e-6 * std::fabs(want) + 1e-30) << "g=" << x;
    }
  }
}

TEST_P(FloatSimd, AddIsExact) {
  KernelFn f = fn("add.f32");
  for (int64_t n : {1, 7, 31, 33, 65, 288, 770}) {
    std::vector<float> x = random_floats(static_cast<size_t>(n), 41), y = random_floats(static_cast<size_t>(n), 42);
    const std::vector<float> x0 = x;
    AddArgs a{x.data(), y.data(), n};
    auto [begin, end] = middle(n);
    f(&a, begin, end);
    for (int64_t i = 0; i < n; ++i) {
      const size_t k = static_cast<size_t>(i);
      ASSERT_EQ(x[k], i >= begin && i < end ? x0[k] + y[k] : x0[k]) << "n=" << n << " i=" << i;
    }
  }
}

TEST(FloatSimdRegistry, VariantsHaveTheirOpTypeAndLevel) {
  const KernelRegistry& r = registry();
  for (const char* level : {"avx2", "avx512"}) {
    const std::string l = level;
    const IsaLevel isa = *parse_isa_level(l);
    auto check = [&](const std::string& name, OpKind op, DType type) {
      const Variant* v = r.find(name);
      ASSERT_NE(v, nullptr) << name;
      EXPECT_EQ(v->op, op) << name;
      EXPECT_EQ(v->type, type) << name;
      EXPECT_EQ(v->isa, isa) << name;
      EXPECT_EQ(v->layout, "native") << name;
    };
    check("matmul.f32." + l, OpKind::Matmul, DType::F32);
    check("matmul.f16." + l, OpKind::Matmul, DType::F16);
    check("matmul.bf16." + l, OpKind::Matmul, DType::BF16);
    check("matmul.q8_0." + l + ".f32in", OpKind::Matmul, DType::Q8_0);
    check("matmul.q4_0." + l + ".f32in", OpKind::Matmul, DType::Q4_0);
    check("matmul.i8g." + l + ".f32in", OpKind::Matmul, DType::I8G);
    check("attention.f16kv." + l, OpKind::Attention, DType::F16);
    check("attention.f32." + l, OpKind::Attention, DType::F32);
    check("kvstore.f16kv." + l, OpKind::KvStore, DType::F16);
    check("quantize.f32." + l, OpKind::Quantize, DType::F32);
    check("rmsnorm.f32." + l, OpKind::RmsNorm, DType::F32);
    check("rope.f32." + l, OpKind::Rope, DType::F32);
    check("swiglu.f32." + l, OpKind::SwiGLU, DType::F32);
    check("add.f32." + l, OpKind::Add, DType::F32);
    EXPECT_LT(r.find("matmul.q8_0." + l + ".f32in")->rank, 0) << "fallbacks must lose to the integer kernels";
  }
}

INSTANTIATE_TEST_SUITE_P(Levels, FloatSimd, ::testing::Values(IsaLevel::Avx2, IsaLevel::Avx512),
                         [](const ::testing::TestParamInfo<IsaLevel>& i) { return std::string(isa_level_name(i.param)); });

}  // namespace
}  // namespace bf
