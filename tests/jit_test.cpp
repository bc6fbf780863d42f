// Generated kernels (src/jit): every generator x weight type x ISA target this CPU has
// (the others skipped, named) x many shapes x every conf of the knob space, against the
// 8-bit-input reference and the hand-written variant of the same layout, over uneven
// row ranges; saved code run from another address; W^X of the code pages.
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "jit/code_buffer.h"
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

std::vector<jit::MatvecConf> confs_for(DType type, const Target& t) {
  std::vector<jit::MatvecConf> out;
  for (const jit::MatvecConf& c : jit::knob_space(type, t.isa))
    if (c.vnni == t.vnni) out.push_back(c);
  return out;
}

TEST(JitTargets, ReportWhichRunHere) {
  std::string ran, skipped;
  for (const Target& t : kTargets) (t.runs_here() ? ran : skipped).append(" ").append(t.name);
  std::printf("[ jit      ] %s: generated kernels run at:%s; skipped (CPU lacks them):%s\n",
              CpuInfo::host().brand.c_str(), ran.empty() ? " none" : ran.c_str(),
              skipped.empty() ? " none" : skipped.c_str());
  SUCCEED();
}

TEST(JitConf, StringRoundTripsAndRejectsMalformed) {
  for (DType type : test::kJitTypes)
    for (const Target& t : kTargets)
      for (const jit::MatvecConf& c : confs_for(type, t)) {
        const auto back = jit::MatvecConf::parse(c.str());
        ASSERT_TRUE(back.has_value()) << c.str();
        EXPECT_EQ(*back, c) << c.str();
      }
  EXPECT_EQ(jit::MatvecConf::parse("g2-a3-u4-p128-vnni")->str(), "g2-a3-u4-p128-vnni");
  for (const char* bad : {"", "g4", "g4-a1-u1-p0", "g4-a1-u1-p0-", "g4-a1-u1-p0-fast", "a1-g4-u1-p0-madd",
                          "gx-a1-u1-p0-madd", "g4-a1-u1-p0-maddx", "g4--a1-u1-p0-madd"})
    EXPECT_FALSE(jit::MatvecConf::parse(bad).has_value()) << bad;
}

TEST(JitKnobSpace, AHandfulPerCoveredTypeAndLevelNoneElsewhere) {
  for (DType type : test::kJitTypes)
    for (const Target& t : kTargets) {
      const size_t n = confs_for(type, t).size();
      EXPECT_GE(n, 3u) << dtype_key(type) << " " << t.name;
      EXPECT_LE(n, 12u) << dtype_key(type) << " " << t.name;
    }
  EXPECT_EQ(jit::knob_space(DType::F32, IsaLevel::Avx512Vnni), jit::knob_space(DType::F32, IsaLevel::Avx512));
  for (DType type : test::kJitFloatTypes)
    for (IsaLevel isa : {IsaLevel::Avx2, IsaLevel::Avx512}) {
      EXPECT_GE(jit::knob_space(type, isa).size(), 3u) << dtype_key(type);
      for (const jit::MatvecConf& c : jit::knob_space(type, isa)) EXPECT_FALSE(c.vnni);
    }
  EXPECT_TRUE(jit::knob_space(DType::I8G, IsaLevel::Avx2).empty());
  for (const jit::MatvecConf& c : jit::knob_space(DType::Q4_K, IsaLevel::Avx2)) EXPECT_EQ(c.unroll, 8);
  EXPECT_TRUE(jit::knob_space(DType::Q8_0, IsaLevel::Sse2).empty());
  for (const jit::MatvecConf& c : jit::knob_space(DType::Q8_0, IsaLevel::Avx512)) EXPECT_FALSE(c.vnni);
  for (const jit::MatvecConf& c : jit::knob_space(DType::Q8_0, IsaLevel::Avx512Vnni)) EXPECT_TRUE(c.vnni);
}

TEST(JitMatvec, RefusesWhatItCannotGenerate) {
  const CpuInfo& cpu = CpuInfo::host();
  const jit::MatvecConf c{};  // g4-a1-u1-p0-madd
  EXPECT_EQ(jit::generate_matvec(DType::Q8_0, IsaLevel::Avx2, cpu, 16, 48, c), nullptr) << "cols not whole blocks";
  EXPECT_EQ(jit::generate_matvec(DType::Q8_0, IsaLevel::Avx2, cpu, 0, 64, c), nullptr) << "no rows";
  EXPECT_EQ(jit::generate_matvec(DType::I8G, IsaLevel::Avx2, cpu, 16, 64, c), nullptr) << "no generator";
  EXPECT_EQ(jit::generate_matvec(DType::F32, IsaLevel::Avx2, cpu, 16, 7, c), nullptr) << "cols below a vector";
  jit::MatvecConf float_vnni = c;
  float_vnni.vnni = true;
  EXPECT_EQ(jit::generate_matvec(DType::F16, IsaLevel::Avx2, cpu, 16, 64, float_vnni), nullptr) << "floats: no vnni";
  jit::MatvecConf float_wide{8, 2, 1, 0};  // 16 accumulators + 4: more than a ymm file
  EXPECT_EQ(jit::generate_matvec(DType::F32, IsaLevel::Avx2, cpu, 16, 64, float_wide), nullptr) << "float spills";
  jit::MatvecConf odd = c;
  odd.groups = 3;
  EXPECT_EQ(jit::generate_matvec(DType::Q8_0, IsaLevel::Avx2, cpu, 16, 64, odd), nullptr) << "3 groups";
  jit::MatvecConf vnni = c;
  vnni.vnni = true;
  EXPECT_EQ(jit::generate_matvec(DType::Q8_0, IsaLevel::Avx512, cpu, 16, 64, vnni), nullptr) << "vnni is Avx512Vnni's";
  jit::MatvecConf wide = c;
  wide.accs = 3;  // 4 groups x 4 + 8 registers: more than a ymm file
  EXPECT_EQ(jit::generate_matvec(DType::Q4_0, IsaLevel::Avx2, cpu, 16, 64, wide), nullptr) << "spills";
  CpuInfo no_avx_vnni = cpu;
  no_avx_vnni.avx_vnni = false;
  EXPECT_EQ(jit::generate_matvec(DType::Q8_0, IsaLevel::Avx2, no_avx_vnni, 16, 64, vnni), nullptr) << "no AVX-VNNI";
  // A CPU without the level gets nothing.
  EXPECT_EQ(jit::generate_matvec(DType::Q8_0, IsaLevel::Avx512, cpu.capped(IsaLevel::Avx2), 16, 64, c), nullptr);
}

using test::magnitudes;
using test::run_uneven;

using Case = test::JitCase;
const auto case_name = test::jit_case_name;

class JitMatvecTest : public ::testing::TestWithParam<Case> {};

TEST_P(JitMatvecTest, MatchesReferenceAndHandWrittenOnEveryShapeAndConf) {
  const auto [type, target] = GetParam();
  if (!target.runs_here()) GTEST_SKIP() << "skipped: CPU lacks " << target.name;
  const std::string hand_name = "matmul." + std::string(dtype_key(type)) + "." + target.name + "." + target.layout;
  const Variant& hand = *registry().find(hand_name);
  const Variant& ref = *registry().find("matmul." + std::string(dtype_key(type)) + ".ref-q8");
  const std::vector<jit::MatvecConf> confs = confs_for(type, target);
  ASSERT_FALSE(confs.empty());
  int checked = 0;
  for (int64_t rows : {1, 3, 7, 8, 15, 16, 17, 24, 33, 47, 64, 65, 100, 130})
    for (int64_t cols : {32, 64, 96, 256, 288, 768, 1280, 2048, 5632}) {
      if (row_bytes(type, cols) == 0) continue;                          // K types: whole super-blocks
      if (rows * cols > 300000 && rows != 130 && rows != 47) continue;  // keep the big columns to a few row counts
      std::mt19937 rng(static_cast<uint32_t>(rows * 977 + cols * 13));
      test::OwnedTensor w = test::random_weights(type, rows, cols, rng);
      for (int n_tokens : {1, 3}) {  // a token step; and a batch, which the code loops over
        test::Activations x = test::random_activations(cols, n_tokens, rng);
        const int64_t stride = rows + 3;
        std::vector<float> want(n_tokens * stride, -7.0f), by_hand(want), got(want);
        MatmulArgs a = ref::matmul_args(w.t, nullptr, x.q8(), want.data(), n_tokens, stride);
        ref.fn(&a, 0, rows);
        PackedWeight packed;
        hand.repack(w.t, packed);
        a.w = packed.w;
        a.w_scales = packed.w_scales;
        a.out = by_hand.data();
        run_uneven(hand.fn, a, rows);
        const std::vector<double> mag = magnitudes(w.t, x, n_tokens);
        for (const jit::MatvecConf& conf : confs) {
          if (n_tokens > 1 && !(conf == confs.front())) continue;
          auto k = jit::generate_matvec(type, target.isa, CpuInfo::host(), rows, cols, conf);
          ASSERT_NE(k, nullptr) << target.name << " " << conf.str() << " " << rows << "x" << cols;
          EXPECT_EQ(k->variant.layout, hand.layout);
          EXPECT_EQ(k->variant.repack, hand.repack);
          EXPECT_EQ(k->variant.max_tokens, 1);
          std::fill(got.begin(), got.end(), -7.0f);
          a.out = got.data();
          run_uneven(k->variant.fn, a, rows);
          ASSERT_TRUE(test::outputs_match(got, want, &by_hand, mag, rows, n_tokens, stride, 1e-5, k->variant.name))
              << "vs " << hand.name;
          ++checked;
        }
      }
    }
  EXPECT_GT(checked, 100);
}

std::vector<Case> all_cases() {
  std::vector<Case> c;
  for (DType type : test::kJitTypes)
    for (const Target& t : kTargets) c.push_back({type, t});
  return c;
}

INSTANTIATE_TEST_SUITE_P(Jit, JitMatvecTest, ::testing::ValuesIn(all_cases()), case_name);

// Floats (native rows, f32 input): every conf x odd shapes, a token step and a batch.
class JitFloatMatvecTest : public ::testing::TestWithParam<Case> {};

TEST_P(JitFloatMatvecTest, MatchesReferenceAndHandWrittenOnOddShapesAndEveryConf) {
  const auto [type, target] = GetParam();
  if (!target.runs_here()) GTEST_SKIP() << "skipped: CPU lacks " << target.name;
  const std::vector<jit::MatvecConf> confs = jit::knob_space(type, target.isa);
  ASSERT_GE(confs.size(), 3u);
  const int checked = test::check_float_kernels(type, target, {1, 3}, [&](int64_t rows, int64_t cols) {
    std::vector<std::unique_ptr<jit::GeneratedKernel>> out;
    for (const jit::MatvecConf& c : confs) {
      out.push_back(jit::generate_matvec(type, target.isa, CpuInfo::host(), rows, cols, c));
      if (out.back()) {
        EXPECT_EQ(out.back()->variant.max_tokens, 1);
      }
    }
    return out;
  });
  EXPECT_EQ(checked, 8 * 8 * 2 * static_cast<int>(confs.size()));
}

INSTANTIATE_TEST_SUITE_P(JitFloat, JitFloatMatvecTest, ::testing::ValuesIn(test::jit_float_cases()), case_name);

// The first target this CPU runs for `type`, best first, or null.
const Target* best_target() {
  for (int i = 3; i >= 0; --i)
    if (kTargets[i].runs_here()) return &kTargets[i];
  return nullptr;
}

TEST(JitMatvec, SavedCodeRunsAtAnotherAddress) {
  const Target* t = best_target();
  if (!t) GTEST_SKIP() << "skipped: CPU lacks avx2";
  for (DType type : test::kJitTypes) {
    const int64_t rows = 77, cols = 512;
    std::mt19937 rng(5);
    test::OwnedTensor w = test::random_weights(type, rows, cols, rng);
    test::Activations x = test::random_activations(cols, 1, rng);
    const jit::MatvecConf conf = confs_for(type, *t).back();
    auto made = jit::generate_matvec(type, t->isa, CpuInfo::host(), rows, cols, conf);
    ASSERT_NE(made, nullptr);
    // What a snapshot would hold: the bytes alone, the generator's memory gone.
    const std::vector<uint8_t> saved(made->code().begin(), made->code().end());
    auto again = jit::generate_matvec(type, t->isa, CpuInfo::host(), rows, cols, conf);
    EXPECT_TRUE(std::equal(saved.begin(), saved.end(), again->code().begin(), again->code().end()))
        << "generation is deterministic";
    auto loaded = jit::load_matvec(type, t->isa, rows, cols, conf, saved);
    ASSERT_NE(loaded, nullptr);
    EXPECT_NE(loaded->code().data(), made->code().data());
    EXPECT_EQ(loaded->variant.name, made->variant.name);

    PackedWeight packed;
    made->variant.repack(w.t, packed);
    std::vector<float> first(rows), second(rows, -1.0f);
    MatmulArgs a = ref::matmul_args(w.t, nullptr, x.q8(), first.data(), 1, rows);
    a.w = packed.w;
    a.w_scales = packed.w_scales;
    made->variant.fn(&a, 0, rows);
    made.reset();  // unmapped: the loaded copy must not depend on it
    a.out = second.data();
    run_uneven(loaded->variant.fn, a, rows);
    EXPECT_EQ(0, std::memcmp(first.data(), second.data(), rows * sizeof(float))) << dtype_key(type);
  }
  EXPECT_EQ(jit::load_matvec(DType::Q8_0, t->isa, 16, 64, jit::knob_space(DType::Q8_0, t->isa).front(), {}), nullptr);
}

// The permissions of the /proc/self/maps line whose range holds `p` ("r-xp"...), or "".
std::string permissions_of(const void* p) {
  std::ifstream maps("/proc/self/maps");
  const auto addr = reinterpret_cast<uintptr_t>(p);
  for (std::string line; std::getline(maps, line);) {
    std::istringstream in(line);
    std::string range, perms;
    in >> range >> perms;
    const size_t dash = range.find('-');
    const uintptr_t lo = std::stoull(range.substr(0, dash), nullptr, 16), hi = std::stoull(range.substr(dash + 1), nullptr, 16);
    if (addr >= lo && addr < hi) return perms;
  }
  return "";
}

// Every mapping of the process that is writable and executable at once.
std::vector<std::string> writable_and_executable() {
  std::ifstream maps("/proc/self/maps");
  std::vector<std::string> out;
  for (std::string line; std::getline(maps, line);) {
    std::istringstream in(line);
    std::string range, perms;
    in >> range >> perms;
    if (perms.size() >= 3 && perms[1] == 'w' && perms[2] == 'x') out.push_back(line);
  }
  return out;
}

TEST(JitCodeBuffer, PagesAreNeverWritableAndExecutable) {
  const uint8_t ret42[] = {0xb8, 42, 0, 0, 0, 0xc3};  // mov eax, 42; ret
  const auto buf = jit::load_code(ret42);
  EXPECT_EQ(permissions_of(buf->entry()), "r-xp");
  EXPECT_EQ(reinterpret_cast<int (*)()>(const_cast<void*>(buf->entry()))(), 42);
  EXPECT_EQ(0, std::memcmp(buf->code().data(), ret42, sizeof ret42));
  if (const Target* t = best_target()) {
    auto k = jit::generate_matvec(DType::Q4_0, t->isa, CpuInfo::host(), 64, 256, confs_for(DType::Q4_0, *t).front());
    ASSERT_NE(k, nullptr);
    EXPECT_EQ(permissions_of(k->code().data()), "r-xp");
    EXPECT_EQ(permissions_of(k->code().data() + k->code().size() - 1), "r-xp");
  }
  EXPECT_TRUE(writable_and_executable().empty()) << writable_and_executable().front();
}

}  // namespace
}  // namespace bf
