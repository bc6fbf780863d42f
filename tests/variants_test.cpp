// Every registered kernel variant against its reference, at every ISA level this CPU
// has (variants above it are skipped with the level named): matmuls of every weight
// type over many shapes, token counts and row ranges, through their own weight
// layout; and every variant of the other ops.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "kernels/variant.h"
#include "test_weights.h"
#include "util/f16.h"

namespace bf {
namespace {

const KernelRegistry& registry() {
  static const KernelRegistry r = KernelRegistry::builtin();
  return r;
}

std::vector<std::string> variant_names(bool matmul) {
  std::vector<std::string> names;
  for (auto& v : registry().all())
    if (!v->reference && (v->op == OpKind::Matmul) == matmul) names.push_back(v->name);
  return names;
}

std::string test_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string s = info.param;
  for (char& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return s;
}

std::string lacking(const Variant& v) {
  const CpuInfo& cpu = CpuInfo::host();
  if (!cpu.has(v.isa)) return std::string(isa_level_name(v.isa));
  return "the extra features of " + v.name;
}

#define SKIP_UNLESS_RUNNABLE(v) \
  if (!(v).runs_on(CpuInfo::host())) GTEST_SKIP() << "skipped: CPU lacks " << lacking(v)

// Which levels this machine runs, printed for the CI log.
TEST(IsaLevels, ReportWhichRunHere) {
  const CpuInfo& cpu = CpuInfo::host();
  std::string ran, skipped;
  for (IsaLevel l : {IsaLevel::Sse2, IsaLevel::Avx2, IsaLevel::Avx512, IsaLevel::Avx512Vnni})
    (cpu.has(l) ? ran : skipped).append(" ").append(isa_level_name(l));
  int runnable = 0, total = 0;
  for (auto& v : registry().all()) {
    ++total;
    runnable += v->runs_on(cpu);
  }
  std::printf("[ levels   ] %s: kernel tests run at:%s; skipped:%s; %d of %d variants run here\n",
              cpu.brand.c_str(), ran.c_str(), skipped.empty() ? " none" : skipped.c_str(), runnable, total);
  EXPECT_TRUE(cpu.has(IsaLevel::Sse2));
}

// ---- Matmul ----

// The reference with the same input kind: the f32 reference, or the 8-bit-input one.
const Variant& reference_for(const Variant& v) {
  std::string name = "matmul." + std::string(dtype_key(v.type)) + (v.input == MatmulInput::Q8 ? ".ref-q8" : ".ref");
  const Variant* r = registry().find(name);
  if (!r) throw std::logic_error("no reference " + name);
  return *r;
}

struct Shape {
  int64_t rows, cols;
  int group;
};

std::vector<Shape> shapes_for(DType type) {
  std::vector<Shape> s;
  const int g = type == DType::I8G ? 32 : 0;
  for (int64_t rows : {1, 2, 3, 5, 8, 15, 16, 17, 33, 64, 100})
    for (int64_t cols : {32, 64, 96, 160, 288, 512, 768}) s.push_back({rows, cols, g});
  s.push_back({257, 2048, g});
  if (type == DType::I8G) {
    for (int group : {64, 128, 4}) s.push_back({13, 256, group});
    s.push_back({7, 172, 43});
    s.push_back({7, 172, 4});
  }
  if (type == DType::F32 || type == DType::F16 || type == DType::BF16)
    for (int64_t cols : {1, 7, 13, 172, 1001}) s.push_back({9, cols, 0});
  if (block_elems(type) == kQK)  // K types: whole super-blocks only
    for (int64_t rows : {1, 3, 8, 17, 33})
      for (int64_t cols : {256, 1280, 2816}) s.push_back({rows, cols, 0});
  return s;
}

// Runs `v` on w (repacked into its layout when it has one) over row ranges that start
// and end at uneven places, so interleaved layouts are entered mid-group.
void run_split(const Variant& v, const TensorView& w, MatmulArgs args, int64_t rows) {
  PackedWeight packed;
  if (v.repack) {
    v.repack(w, packed);
    args.w = packed.w;
    args.w_scales = packed.w_scales;
  }
  const int64_t cuts[] = {0, rows / 3, rows / 3 + 1, rows * 2 / 3 + 1, rows};
  for (int i = 0; i + 1 < 5; ++i) {
    int64_t b = std::min(cuts[i], rows), e = std::min(cuts[i + 1], rows);
    if (b < e) v.fn(&args, b, e);
  }
}

class MatmulVariantTest : public ::testing::TestWithParam<std::string> {};

TEST_P(MatmulVariantTest, MatchesReferenceOnEveryShape) {
  const Variant& v = *registry().find(GetParam());
  SKIP_UNLESS_RUNNABLE(v);
  const Variant& ref = reference_for(v);
  int tested = 0;
  for (const Shape& s : shapes_for(v.type)) {
    if (row_bytes(v.type, s.cols) == 0 || (s.group && s.cols % s.group)) continue;
    std::mt19937 rng(static_cast<uint32_t>(s.rows * 977 + s.cols * 13 + s.group));
    test::OwnedTensor w = test::random_weights(v.type, s.rows, s.cols, rng, s.group);
    if (v.accepts && !v.accepts(w.t)) continue;
    if (v.input == MatmulInput::Q8 && s.cols % kQBlock) continue;
    for (int n_tokens : {1, 2, 5, 7, 9, 17, 64}) {  // remainders 1-5 of 4- and 6-token tiles
      if (n_tokens > 5 && s.rows * s.cols > 100000) continue;  // keep the big shape quick
      test::Activations x = test::random_activations(s.cols, n_tokens, rng);
      const int64_t stride = s.rows + 3;
      std::vector<float> want(n_tokens * stride, -7.0f), got(n_tokens * stride, -7.0f);
      MatmulArgs a = ref::matmul_args(w.t, x.x.data(), x.qs.empty() ? Q8Rows{} : x.q8(), want.data(), n_tokens, stride);
      ref.fn(&a, 0, s.rows);
      a.out = got.data();
      run_split(v, w.t, a, s.rows);
      for (int64_t r = 0; r < s.rows; ++r) {
        std::vector<float> row = test::dequantized_row(w.t, r);
        for (int t = 0; t < n_tokens; ++t) {
          double magnitude = 0;
          for (int64_t j = 0; j < s.cols; ++j)
            magnitude += std::fabs(row[j] * (v.input == MatmulInput::Q8 ? x.dequantized(t, j) : x.x[t * s.cols + j]));
          // Same products, other summation order: a few ulps of the summed magnitudes.
          ASSERT_NEAR(got[t * stride + r], want[t * stride + r], 2e-5 * magnitude + 1e-5)
              << v.name << " " << s.rows << "x" << s.cols << " g" << s.group << " row " << r << " token " << t
              << " of " << n_tokens;
        }
      }
      for (int t = 0; t < n_tokens; ++t)
        for (int64_t r = s.rows; r < stride; ++r) ASSERT_EQ(got[t * stride + r], -7.0f) << "wrote past its rows";
      ++tested;
    }
  }
  EXPECT_GT(tested, 0) << v.name << " accepted no shape";
}

INSTANTIATE_TEST_SUITE_P(Registry, MatmulVariantTest, ::testing::ValuesIn(variant_names(true)), test_name);

// ---- The other ops ----

std::vector<float> random_floats(size_t n, std::mt19937& rng, float lo = -2, float hi = 2) {
  std::vector<float> v(n);
  for (auto& x : v) x = std::uniform_real_distribution<float>(lo, hi)(rng);
  return v;
}

void expect_close(const std::vector<float>& got, const std::vector<float>& want, float rel, const std::string& what) {
  float scale = 0;
  for (float w : want) scale = std::max(scale, std::fabs(w));
  for (size_t i = 0; i < want.size(); ++i)
    ASSERT_NEAR(got[i], want[i], rel * scale + 1e-7f) << what << " element " << i;
}

// Runs fn over [0, units) in three uneven pieces, as a runner might.
void run_pieces(KernelFn fn, const void* args, int64_t units) {
  const int64_t a = units / 3, b = units / 3 + (units > 2 ? 1 : 0);
  fn(args, 0, a);
  fn(args, a, b);
  fn(args, b, units);
}

void check_rmsnorm(const Variant& v, const Variant& ref) {
  std::mt19937 rng(1);
  for (int64_t n : {1, 7, 31, 33, 65, 288, 770})
    for (int tokens : {1, 3}) {
      auto x = random_floats(n * tokens, rng), w = random_floats(n, rng);
      std::vector<float> want(x.size()), got(x.size());
      RmsNormArgs a{x.data(), w.data(), want.data(), n, 1e-5f, tokens};
      ref.fn(&a, 0, tokens);
      a.out = got.data();
      run_pieces(v.fn, &a, tokens);
      expect_close(got, want, 2e-6f, v.name + " n=" + std::to_string(n));
    }
}

void check_quantize(const Variant& v, const Variant& ref) {
  std::mt19937 rng(2);
  for (int64_t cols : {32, 64, 288, 768})
    for (int tokens : {1, 4}) {
      auto x = random_floats(cols * tokens, rng);
      x[0] = 0;  // exact zeros and a whole zero block
      if (cols >= 64)
        for (int i = 32; i < 64; ++i) x[i] = 0;
      test::Activations want, got;
      for (test::Activations* s : {&want, &got}) {
        s->qs.assign(x.size(), 99);
        s->d.assign(x.size() / 32, -1);
        s->sum.assign(x.size() / 32, -1);
      }
      QuantizeArgs a{x.data(), want.q8(), cols, tokens};
      ref.fn(&a, 0, tokens);
      a.out = got.q8();
      run_pieces(v.fn, &a, tokens);
      ASSERT_EQ(got.qs, want.qs) << v.name << " cols " << cols;  // the rule is exact: bit-identical
      ASSERT_EQ(got.d, want.d) << v.name;
      ASSERT_EQ(got.sum, want.sum) << v.name;
    }
}

void check_rope(const Variant& v, const Variant& ref) {
  std::mt19937 rng(3);
  for (int head : {32, 48, 64})
    for (int pos0 : {0, 1, 17, 1000}) {
      const int heads = 4, kv_heads = 2, tokens = 3;
      auto q = random_floats(tokens * heads * head, rng), k = random_floats(tokens * kv_heads * head, rng);
      auto q2 = q, k2 = k;
      RopeArgs a{q.data(), k.data(), pos0, tokens, heads, kv_heads, head, head, 10000.0f};
      ref.fn(&a, 0, tokens);
      a.q = q2.data();
      a.k = k2.data();
      run_pieces(v.fn, &a, tokens);
      expect_close(q2, q, 2e-5f, v.name + " q pos " + std::to_string(pos0));
      expect_close(k2, k, 2e-5f, v.name + " k pos " + std::to_string(pos0));
    }
}

void check_swiglu_add(const Variant& v, const Variant& ref) {
  std::mt19937 rng(4);
  for (int64_t n : {1, 7, 33, 770, 4099}) {
    auto x = random_floats(n, rng, -20, 20), y = random_floats(n, rng);
    auto x2 = x;
    if (v.op == OpKind::SwiGLU) {
      SwiGLUArgs a{x.data(), y.data(), n};
      ref.fn(&a, 0, n);
      a.gate = x2.data();
      run_pieces(v.fn, &a, n);
      for (int64_t i = 0; i < n; ++i) ASSERT_NEAR(x2[i], x[i], 2e-6f * std::fabs(x[i]) + 1e-7f) << v.name << " " << i;
    } else {
      AddArgs a{x.data(), y.data(), n};
      ref.fn(&a, 0, n);
      a.x = x2.data();
      run_pieces(v.fn, &a, n);
      ASSERT_EQ(x2, x) << v.name;
    }
  }
}

// A filled cache of `positions` rows in `type`.
std::vector<uint8_t> cache_of(const std::vector<float>& rows, KvType type) {
  std::vector<uint8_t> out(rows.size() * kv_element_bytes(type));
  for (size_t i = 0; i < rows.size(); ++i) {
    if (type == KvType::F32)
      std::memcpy(out.data() + 4 * i, &rows[i], 4);
    else {
      uint16_t h = f32_to_f16(rows[i]);
      std::memcpy(out.data() + 2 * i, &h, 2);
    }
  }
  return out;
}

void check_kv_store(const Variant& v, const Variant& ref) {
  std::mt19937 rng(5);
  for (KvType type : {KvType::F32, KvType::F16})
    for (auto [kv_heads, head_size] : {std::pair{1, 8}, std::pair{2, 32}, std::pair{4, 64}}) {
      const int context = 20, tokens = 5, pos0 = 7, kv_dim = kv_heads * head_size;
      auto k = random_floats(tokens * kv_dim, rng), val = random_floats(tokens * kv_dim, rng);
      std::vector<uint8_t> wk(context * kv_dim * 4), wv(wk.size()), gk(wk.size()), gv(wk.size());
      KvStoreArgs a{k.data(), val.data(), wk.data(), wv.data(), pos0, tokens, kv_dim, head_size, context, type};
      ref.fn(&a, 0, tokens);
      a.key_cache = gk.data();
      a.value_cache = gv.data();
      run_pieces(v.fn, &a, tokens);
      ASSERT_EQ(gk, wk) << v.name;  // conversion to f16 rounds to nearest even in both
      ASSERT_EQ(gv, wv) << v.name;
    }
}

void check_attention(const Variant& v, const Variant& ref) {
  std::mt19937 rng(6);
  struct Case {
    int heads, kv_heads, head, pos0, tokens;
  };
  for (KvType type : {KvType::F32, KvType::F16})
    for (Case c : {Case{4, 4, 32, 0, 1}, Case{4, 4, 48, 1, 1}, Case{8, 1, 64, 17, 3}, Case{12, 12, 64, 1000, 1},
                   Case{32, 4, 64, 1000, 2}, Case{6, 6, 48, 5, 9}}) {
      const int context = c.pos0 + c.tokens + 2, kv_dim = c.kv_heads * c.head, q_dim = c.heads * c.head;
      auto keys = random_floats(static_cast<size_t>(context) * kv_dim, rng);
      auto values = random_floats(keys.size(), rng);
      auto q = random_floats(static_cast<size_t>(c.tokens) * q_dim, rng);
      auto kc = cache_of(keys, type), vc = cache_of(values, type);
      std::vector<float> scores(static_cast<size_t>(c.heads) * context), want(q.size()), got(q.size());
      AttentionArgs a{q.data(), kc.data(), vc.data(), scores.data(), want.data(), c.pos0, c.tokens, c.heads,
                      c.kv_heads, c.head, kv_dim, context, type};
      ref.fn(&a, 0, c.heads);
      a.out = got.data();
      run_pieces(v.fn, &a, c.heads);
      expect_close(got, want, 1e-5f, v.name + " pos " + std::to_string(c.pos0));
      // The runner may split heads anywhere (one kv head's group included): the sums of
      // a head may not depend on where, or token steps would drift from batched prompts.
      std::vector<float> whole(q.size()), single(q.size());
      a.out = whole.data();
      v.fn(&a, 0, c.heads);
      a.out = single.data();
      for (int h = 0; h < c.heads; ++h) v.fn(&a, h, h + 1);
      ASSERT_EQ(whole, got) << v.name << " depends on the split, pos " << c.pos0;
      ASSERT_EQ(single, got) << v.name << " depends on the split, pos " << c.pos0;
    }
}

// A prompt chunk's attention equals, bit for bit, one-token calls at each position (the
// chunk may pair tokens of a head; the goldens rely on batching changing nothing). The
// chunk lengths and starts put the pairs' ends on both sides of groups of 8 positions.
void check_attention_chunk_equals_steps(const Variant& v) {
  std::mt19937 rng(7);
  for (KvType type : {KvType::F32, KvType::F16})
    for (int head : {32, 48, 64, 128})
      for (int pos0 : {0, 5, 6, 7, 14})
        for (int tokens : {2, 5, 10}) {
          const int heads = 4, context = pos0 + tokens, q_dim = heads * head;
          auto keys = random_floats(static_cast<size_t>(context) * q_dim, rng);
          auto values = random_floats(keys.size(), rng);
          auto q = random_floats(static_cast<size_t>(tokens) * q_dim, rng);
          auto kc = cache_of(keys, type), vc = cache_of(values, type);
          std::vector<float> scores(static_cast<size_t>(heads) * context), chunk(q.size()), steps(q.size());
          AttentionArgs a{q.data(), kc.data(), vc.data(), scores.data(), chunk.data(), pos0, tokens, heads,
                          heads, head, q_dim, context, type};
          v.fn(&a, 0, heads);
          for (int t = 0; t < tokens; ++t) {
            AttentionArgs one = a;
            one.q = q.data() + t * q_dim;
            one.out = steps.data() + t * q_dim;
            one.pos0 = pos0 + t;
            one.n_tokens = 1;
            v.fn(&one, 0, heads);
          }
          ASSERT_EQ(chunk, steps) << v.name << " head " << head << " pos0 " << pos0 << " tokens " << tokens;
        }
}

class OpVariantTest : public ::testing::TestWithParam<std::string> {};

TEST_P(OpVariantTest, MatchesReference) {
  const Variant& v = *registry().find(GetParam());
  SKIP_UNLESS_RUNNABLE(v);
  const Variant& ref = registry().best(v.op, CpuInfo::host(), nullptr, true);
  switch (v.op) {
    case OpKind::RmsNorm: check_rmsnorm(v, ref); break;
    case OpKind::Quantize: check_quantize(v, ref); break;
    case OpKind::Rope: check_rope(v, ref); break;
    case OpKind::SwiGLU:
    case OpKind::Add: check_swiglu_add(v, ref); break;
    case OpKind::KvStore: check_kv_store(v, ref); break;
    case OpKind::Attention:
      check_attention(v, ref);
      check_attention_chunk_equals_steps(v);
      break;
    default: FAIL() << "no differential test for " << v.name;
  }
}

// Instantiated only when some non-reference variant of these ops exists.
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(OpVariantTest);
INSTANTIATE_TEST_SUITE_P(Registry, OpVariantTest, ::testing::ValuesIn(variant_names(false)), test_name);

TEST(Registry, NamesAreUniqueAndEveryOpHasOneReference) {
  for (OpKind k : {OpKind::Embed, OpKind::RmsNorm, OpKind::Quantize, OpKind::Rope, OpKind::KvStore, OpKind::Attention,
                   OpKind::SwiGLU, OpKind::Add}) {
    int refs = 0;
    for (auto& v : registry().all()) refs += v->op == k && v->reference;
    EXPECT_EQ(refs, 1) << op_kind_name(k);
  }
  for (DType t : {DType::F32, DType::F16, DType::Q8_0, DType::Q4_0, DType::I8G}) {
    int refs = 0;
    for (auto& v : registry().all()) refs += v->op == OpKind::Matmul && v->type == t && v->reference;
    EXPECT_EQ(refs, 1) << dtype_name(t);
  }
  // The best choice never exceeds a cap.
  CpuInfo sse2 = CpuInfo::host().capped(IsaLevel::Sse2);
  for (auto& v : registry().all()) {
    if (v->isa > IsaLevel::Sse2) {
      EXPECT_FALSE(v->runs_on(sse2)) << v->name;
    }
  }
}

}  // namespace
}  // namespace bf
