// Generated prompt GEMMs (src/jit/gemm_gen.cpp): every weight type x ISA target this CPU
// has (the others skipped, named) x shapes (rows odd, below a group, not whole groups or
// sets; cols 32..5632) x n_tokens 1..100 x every conf of the GEMM knob space, against the
// 8-bit-input reference over uneven row ranges; saved code run from another address.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>

#include "jit/jit.h"
#include "kernels/variant.h"
#include "jit_targets.h"
#include "test_weights.h"

namespace bf {
namespace {

const KernelRegistry& registry() {
  static const KernelRegistry r = KernelRegistry::builtin();
  return r;
}

using Target = test::JitTarget;
const auto& kTargets = test::kJitTargets;
const auto& kTypes = test::kJitTypes;

std::vector<jit::GemmConf> confs_for(DType type, const Target& t) {
  std::vector<jit::GemmConf> out;
  for (const jit::GemmConf& c : jit::gemm_knob_space(type, t.isa))
    if (c.vnni == t.vnni) out.push_back(c);
  return out;
}

TEST(JitGemmTargets, ReportWhichRunHere) {
  std::string ran, skipped;
  for (const Target& t : kTargets) (t.runs_here() ? ran : skipped).append(" ").append(t.name);
  std::printf("[ jit gemm ] %s: generated GEMMs run at:%s; skipped (CPU lacks them):%s\n",
              CpuInfo::host().brand.c_str(), ran.empty() ? " none" : ran.c_str(),
              skipped.empty() ? " none" : skipped.c_str());
  SUCCEED();
}

TEST(JitGemmConf, StringRoundTripsAndRejectsMalformed) {
  for (DType type : kTypes)
    for (const Target& t : kTargets)
      for (const jit::GemmConf& c : confs_for(type, t)) {
        const auto back = jit::GemmConf::parse(c.str());
        ASSERT_TRUE(back.has_value()) << c.str();
        EXPECT_EQ(*back, c) << c.str();
      }
  EXPECT_EQ(jit::GemmConf::parse("t6-g1-u2-k8-p1024-madd")->str(), "t6-g1-u2-k8-p1024-madd");
  for (const char* bad : {"", "t4", "t4-g2-u1-k0-p0", "t4-g2-u1-k0-p0-", "t4-g2-u1-k0-p0-fast", "g2-t4-u1-k0-p0-vnni",
                          "tx-g2-u1-k0-p0-vnni", "t4-g2-u1-k0-p0-vnnix", "t4--g2-u1-k0-p0-vnni", "t4-g2-u1-p0-vnni",
                          "g4-a1-u1-p0-vnni"})
    EXPECT_FALSE(jit::GemmConf::parse(bad).has_value()) << bad;
}

TEST(JitGemmKnobSpace, AHandfulPerCoveredTypeAndLevelNoneElsewhere) {
  for (DType type : kTypes)
    for (const Target& t : kTargets) {
      const size_t n = confs_for(type, t).size();
      EXPECT_GE(n, 3u) << dtype_key(type) << " " << t.name;
      EXPECT_LE(n, 12u) << dtype_key(type) << " " << t.name;
    }
  EXPECT_EQ(jit::gemm_knob_space(DType::BF16, IsaLevel::Avx512Vnni), jit::gemm_knob_space(DType::BF16, IsaLevel::Avx512));
  for (DType type : test::kJitFloatTypes)
    for (IsaLevel isa : {IsaLevel::Avx2, IsaLevel::Avx512}) {
      EXPECT_GE(jit::gemm_knob_space(type, isa).size(), 3u) << dtype_key(type);
      for (const jit::GemmConf& c : jit::gemm_knob_space(type, isa)) EXPECT_EQ(c.chunk, 0);
    }
  EXPECT_TRUE(jit::gemm_knob_space(DType::Q8_0, IsaLevel::Sse2).empty());
  for (const jit::GemmConf& c : jit::gemm_knob_space(DType::Q8_0, IsaLevel::Avx512)) EXPECT_FALSE(c.vnni);
  for (const jit::GemmConf& c : jit::gemm_knob_space(DType::Q4_0, IsaLevel::Avx512Vnni)) EXPECT_TRUE(c.vnni);
}

TEST(JitGemm, RefusesWhatItCannotGenerate) {
  const CpuInfo& cpu = CpuInfo::host();
  const jit::GemmConf c{2, 1, 1, 0, 0, false};  // fits every level's register file
  if (cpu.has(IsaLevel::Avx2)) {
    EXPECT_NE(jit::generate_gemm(DType::Q8_0, IsaLevel::Avx2, cpu, 16, 64, c), nullptr);
  }
  EXPECT_EQ(jit::generate_gemm(DType::Q8_0, IsaLevel::Avx2, cpu, 16, 48, c), nullptr) << "cols not whole blocks";
  EXPECT_EQ(jit::generate_gemm(DType::Q8_0, IsaLevel::Avx2, cpu, 0, 64, c), nullptr) << "no rows";
  EXPECT_EQ(jit::generate_gemm(DType::I8G, IsaLevel::Avx2, cpu, 16, 64, c), nullptr) << "no generator";
  jit::GemmConf chunked{4, 2, 1, 16, 0};
  EXPECT_EQ(jit::generate_gemm(DType::F32, IsaLevel::Avx2, cpu, 16, 64, chunked), nullptr) << "floats: no chunk";
  jit::GemmConf float_wide{4, 4, 1, 0, 0};  // 16 accumulators + 4 weights + 1: more than a ymm file
  EXPECT_EQ(jit::generate_gemm(DType::F16, IsaLevel::Avx2, cpu, 16, 64, float_wide), nullptr) << "float spills";
  jit::GemmConf odd = c;
  odd.groups = 3;
  EXPECT_EQ(jit::generate_gemm(DType::Q8_0, IsaLevel::Avx2, cpu, 16, 64, odd), nullptr) << "3 groups";
  jit::GemmConf many = c;
  many.tokens = 9;
  EXPECT_EQ(jit::generate_gemm(DType::Q8_0, IsaLevel::Avx512, cpu, 16, 64, many), nullptr) << "9 tokens";
  jit::GemmConf vnni = c;
  vnni.vnni = true;
  EXPECT_EQ(jit::generate_gemm(DType::Q8_0, IsaLevel::Avx512, cpu, 16, 64, vnni), nullptr) << "vnni is Avx512Vnni's";
  jit::GemmConf wide = c;
  wide.tokens = 4;  // 2 x (2 x 4) accumulators + 4 nibble registers + 5: more than a ymm file
  wide.groups = 2;
  EXPECT_EQ(jit::generate_gemm(DType::Q4_0, IsaLevel::Avx2, cpu, 16, 64, wide), nullptr) << "spills";
  jit::GemmConf part = c;  // K types: a loop iteration and a chunk are whole super-blocks
  EXPECT_EQ(jit::generate_gemm(DType::Q4_K, IsaLevel::Avx2, cpu, 16, 256, part), nullptr) << "unroll 1";
  part.unroll = 8;
  part.chunk = 4;
  EXPECT_EQ(jit::generate_gemm(DType::Q5_K, IsaLevel::Avx2, cpu, 16, 256, part), nullptr) << "chunk 4";
  EXPECT_EQ(jit::generate_gemm(DType::Q8_0, IsaLevel::Avx512, cpu.capped(IsaLevel::Avx2), 16, 64, c), nullptr)
      << "a CPU without the level gets nothing";
}

using test::magnitudes;
using test::run_uneven;

using Case = test::JitCase;
const auto case_name = test::jit_case_name;

class JitGemmTest : public ::testing::TestWithParam<Case> {};

// Shapes: rows below a group, odd, and past whole groups and sets of 4 groups; the big
// columns with a few row counts only, and the long batches on the smaller shapes.
struct Shape {
  int64_t rows, cols;
};
std::vector<Shape> shapes(DType type) {
  std::vector<Shape> out;
  for (int64_t rows : {1, 3, 7, 8, 15, 16, 17, 24, 33, 47, 64, 65, 100, 130})
    for (int64_t cols : {32, 64, 96, 256, 288, 768, 2048, 5632})
      if (row_bytes(type, cols) == 0) continue;  // K types: whole super-blocks
      else if (cols <= 288 || rows == 17 || rows == 47 || (cols <= 768 && rows == 130)) out.push_back({rows, cols});
  return out;
}
const int kTokenCounts[] = {1, 2, 3, 5, 8, 17, 64, 100};
bool batch_fits(const Shape& s, int n_tokens) { return n_tokens <= 17 || s.rows * s.cols * n_tokens <= 3'000'000; }

TEST_P(JitGemmTest, MatchesReferenceOnEveryShapeTokenCountAndConf) {
  const auto [type, target] = GetParam();
  if (!target.runs_here()) GTEST_SKIP() << "skipped: CPU lacks " << target.name;
  const Variant& ref = *registry().find("matmul." + std::string(dtype_key(type)) + ".ref-q8");
  const Variant& hand =
      *registry().find("matmul." + std::string(dtype_key(type)) + "." + target.name + "." + target.layout);
  const std::vector<jit::GemmConf> confs = confs_for(type, target);
  ASSERT_FALSE(confs.empty());
  int checked = 0;
  for (const Shape& s : shapes(type)) {
    std::vector<std::unique_ptr<jit::GeneratedKernel>> kernels;
    for (const jit::GemmConf& conf : confs) {
      kernels.push_back(jit::generate_gemm(type, target.isa, CpuInfo::host(), s.rows, s.cols, conf));
      ASSERT_NE(kernels.back(), nullptr) << target.name << " " << conf.str() << " " << s.rows << "x" << s.cols;
      EXPECT_EQ(kernels.back()->variant.layout, hand.layout);
      EXPECT_EQ(kernels.back()->variant.repack, hand.repack);
      EXPECT_EQ(kernels.back()->variant.max_tokens, 0);
      EXPECT_EQ(kernels.back()->conf_text, conf.str());
    }
    std::mt19937 rng(static_cast<uint32_t>(s.rows * 977 + s.cols * 13));
    test::OwnedTensor w = test::random_weights(type, s.rows, s.cols, rng);
    PackedWeight packed;
    hand.repack(w.t, packed);
    for (int n_tokens : kTokenCounts) {
      if (!batch_fits(s, n_tokens)) continue;
      test::Activations x = test::random_activations(s.cols, n_tokens, rng);
      const int64_t stride = s.rows + 3;
      std::vector<float> want(n_tokens * stride, -7.0f), got(want);
      MatmulArgs a = ref::matmul_args(w.t, nullptr, x.q8(), want.data(), n_tokens, stride);
      ref.fn(&a, 0, s.rows);
      a.w = packed.w;
      a.w_scales = packed.w_scales;
      a.out = got.data();
      const std::vector<double> mag = magnitudes(w.t, x, n_tokens);
      for (const auto& k : kernels) {
        std::fill(got.begin(), got.end(), -7.0f);
        run_uneven(k->variant.fn, a, s.rows);
        ASSERT_TRUE(test::outputs_match(got, want, nullptr, mag, s.rows, n_tokens, stride, 1e-5, k->variant.name));
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 150);
}

std::vector<Case> all_cases() {
  std::vector<Case> c;
  for (DType type : kTypes)
    for (const Target& t : kTargets) c.push_back({type, t});
  return c;
}

INSTANTIATE_TEST_SUITE_P(Jit, JitGemmTest, ::testing::ValuesIn(all_cases()), case_name);

// Floats (native rows, f32 input): every conf x odd shapes x token counts off the tiles.
class JitFloatGemmTest : public ::testing::TestWithParam<Case> {};

TEST_P(JitFloatGemmTest, MatchesReferenceAndHandWrittenOnOddShapesTokenCountsAndEveryConf) {
  const auto [type, target] = GetParam();
  if (!target.runs_here()) GTEST_SKIP() << "skipped: CPU lacks " << target.name;
  const std::vector<jit::GemmConf> confs = jit::gemm_knob_space(type, target.isa);
  ASSERT_GE(confs.size(), 3u);
  const int checked = test::check_float_kernels(type, target, {1, 2, 3, 5, 8, 17}, [&](int64_t rows, int64_t cols) {
    std::vector<std::unique_ptr<jit::GeneratedKernel>> out;
    for (const jit::GemmConf& c : confs) {
      out.push_back(jit::generate_gemm(type, target.isa, CpuInfo::host(), rows, cols, c));
      if (out.back()) {
        EXPECT_EQ(out.back()->conf_text, c.str());
      }
    }
    return out;
  });
  EXPECT_EQ(checked, 8 * 8 * 6 * static_cast<int>(confs.size()));
}

INSTANTIATE_TEST_SUITE_P(JitFloat, JitFloatGemmTest, ::testing::ValuesIn(test::jit_float_cases()), case_name);

TEST(JitGemm, SavedCodeRunsAtAnotherAddress) {
  int ran = 0;
  for (const Target& t : kTargets) {
    if (!t.runs_here()) continue;
    std::vector<DType> types(std::begin(kTypes), std::end(kTypes));
    types.insert(types.end(), std::begin(test::kJitFloatTypes), std::end(test::kJitFloatTypes));
    for (DType type : types) {
      if (confs_for(type, t).empty()) continue;  // floats: no dot kind, so not at the vnni targets
      const int64_t rows = 77, cols = 512;
      const int n_tokens = 11;
      std::mt19937 rng(5);
      test::OwnedTensor w = test::random_weights(type, rows, cols, rng);
      test::Activations x = test::random_activations(cols, n_tokens, rng);
      const jit::GemmConf conf = confs_for(type, t).back();
      auto made = jit::generate_gemm(type, t.isa, CpuInfo::host(), rows, cols, conf);
      ASSERT_NE(made, nullptr);
      // What a snapshot would hold: the bytes alone, the generator's memory gone.
      const std::vector<uint8_t> saved(made->code().begin(), made->code().end());
      auto again = jit::generate_gemm(type, t.isa, CpuInfo::host(), rows, cols, conf);
      EXPECT_TRUE(std::equal(saved.begin(), saved.end(), again->code().begin(), again->code().end()))
          << "generation is deterministic";
      auto loaded = jit::load_gemm(type, t.isa, rows, cols, conf, saved);
      ASSERT_NE(loaded, nullptr);
      EXPECT_NE(loaded->code().data(), made->code().data());
      EXPECT_EQ(loaded->variant.name, made->variant.name);
      EXPECT_NE(made->variant.name.find(".gemm." + conf.str() + ".77x512"), std::string::npos) << made->variant.name;

      PackedWeight packed;
      std::vector<float> first(rows * n_tokens), second(first.size(), -1.0f);
      MatmulArgs a = ref::matmul_args(w.t, x.x.data(), x.q8(), first.data(), n_tokens, rows);
      if (made->variant.repack) {  // floats read the native rows
        made->variant.repack(w.t, packed);
        a.w = packed.w;
        a.w_scales = packed.w_scales;
      }
      made->variant.fn(&a, 0, rows);
      made.reset();  // unmapped: the loaded copy must not depend on it
      a.out = second.data();
      run_uneven(loaded->variant.fn, a, rows);
      EXPECT_EQ(0, std::memcmp(first.data(), second.data(), first.size() * sizeof(float)))
          << dtype_key(type) << " " << t.name;
      ++ran;
    }
    EXPECT_EQ(jit::load_gemm(DType::Q8_0, t.isa, 16, 64, confs_for(DType::Q8_0, t).front(), {}), nullptr);
  }
  if (ran == 0) GTEST_SKIP() << "skipped: CPU lacks avx2";
}

}  // namespace
}  // namespace bf
