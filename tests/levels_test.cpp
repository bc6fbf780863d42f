// The whole forward pass at every ISA level this CPU has, on random models of every
// weight type: a batched prompt gives the token-by-token logits, and the fastest
// kernels (8-bit activations for the integer types) stay within a stated bound of the
// reference kernels. Levels the CPU lacks are skipped by name.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "graph/forward.h"
#include "mkmodel/mkmodel.h"
#include "test_support.h"

namespace bf {
namespace {

MkModelSpec spec() { return test::wide_model_spec(77, "levels", 96); }

struct ModelCase {
  const char* name;
  DType type;
  bool llama2c;  // llama2.c v2 int8 instead of GGUF
  bool super_blocks;  // rows of whole K super-blocks (test::super_block_model_spec)
  // max |logit - reference| / max |logit| allowed for the best kernels: the 8-bit
  // activations (|x - q d| <= d/2 per element) add about as much error as Q8_0 weights.
  float bound;
};

const ModelCase kModels[] = {
    {"f32", DType::F32, false, false, 1e-4f},   {"f16", DType::F16, false, false, 1e-4f},
    {"bf16", DType::BF16, false, false, 1e-4f}, {"q8_0", DType::Q8_0, false, false, 3e-2f},
    {"q4_0", DType::Q4_0, false, false, 3e-2f}, {"q4_1", DType::Q4_1, false, false, 3e-2f},
    {"q5_0", DType::Q5_0, false, false, 3e-2f}, {"q5_1", DType::Q5_1, false, false, 3e-2f},
    {"int8", DType::I8G, true, false, 3e-2f},   {"q4_k", DType::Q4_K, false, true, 3e-2f},
    {"q5_k", DType::Q5_K, false, true, 3e-2f},  {"q6_k", DType::Q6_K, false, true, 3e-2f},
};

const IsaLevel kLevels[] = {IsaLevel::Sse2, IsaLevel::Avx2, IsaLevel::Avx512, IsaLevel::Avx512Vnni};

class LevelsTest : public ::testing::TestWithParam<std::tuple<ModelCase, IsaLevel>> {
 protected:
  static void SetUpTestSuite() { dir_ = new test::TempDir; }
  static void TearDownTestSuite() { delete dir_; }
  static std::string model_file(const ModelCase& m) {
    std::string path = dir_->file(std::string(m.name) + (m.llama2c ? ".bin" : ".gguf"));
    if (!std::filesystem::exists(path)) {
      MkModelSpec s = m.super_blocks ? test::super_block_model_spec(78, "levels", 96) : spec();
      if (m.llama2c) {
        write_llama2c_model(path, s, 2);
      } else {
        s.type = m.type;
        write_gguf_model(path, s, nullptr);
      }
    }
    return path;
  }
  static inline test::TempDir* dir_ = nullptr;
};

constexpr int kPromptLength = 40;

int token_at(int i, int vocab) { return (i * 37 + 5) % vocab; }

// Logits after each position, one token at a time.
std::vector<std::vector<float>> token_by_token(Forward& f, int vocab) {
  std::vector<std::vector<float>> all;
  for (int pos = 0; pos < kPromptLength; ++pos) {
    const float* l = f.step(token_at(pos, vocab), pos);
    all.emplace_back(l, l + vocab);
  }
  return all;
}

float relative_error(const std::vector<float>& want, const float* got) {
  float diff = 0, scale = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    diff = std::max(diff, std::fabs(want[i] - got[i]));
    scale = std::max(scale, std::fabs(want[i]));
  }
  return diff / scale;
}

TEST_P(LevelsTest, BatchedPromptEqualsTokenByTokenAndBestStaysNearReference) {
  const auto& [m, level] = GetParam();
  if (!CpuInfo::host().has(level)) GTEST_SKIP() << "skipped: CPU lacks " << isa_level_name(level);
  auto model = load_model(model_file(m));
  const int vocab = model->config.vocab_size;
  ForwardOptions o{.threads = 2, .context = 0, .max_isa = level, .reference = false, .batch = 512,
                   .kv_type = KvType::F32};
  Forward best(*model, o);
  std::vector<std::vector<float>> steps = token_by_token(best, vocab);

  // Chunks of every size class: the whole prompt, uneven chunks, and single tokens.
  std::vector<int32_t> prompt(kPromptLength);
  for (int i = 0; i < kPromptLength; ++i) prompt[i] = token_at(i, vocab);
  float worst_batch = 0;
  for (int batch : {512, 7, 16, 1}) {
    o.batch = batch;
    Forward f(*model, o);
    for (int n : {1, 2, 9, 17, kPromptLength}) {
      float e = relative_error(steps[n - 1], f.prompt(prompt.data(), n, 0));
      worst_batch = std::max(worst_batch, e);
      // Same kernels, other blocking: only the float summation order differs.
      EXPECT_LE(e, 2e-4f) << "batch " << batch << ", prompt of " << n;
    }
  }

  ForwardOptions r = o;
  r.reference = true;
  Forward reference(*model, r);
  std::vector<std::vector<float>> want = token_by_token(reference, vocab);
  float worst = 0;
  for (int pos = 0; pos < kPromptLength; ++pos) worst = std::max(worst, relative_error(want[pos], steps[pos].data()));
  std::printf("[ measured ] %s at %s: batched vs token-by-token %.3g (bound 2e-4); best kernels vs reference %.3g "
              "(bound %.3g)\n",
              m.name, std::string(isa_level_name(level)).c_str(), worst_batch, worst, m.bound);
  EXPECT_LE(worst, m.bound);
}

// The f16 KV cache stays within a stated bound of the f32 one. Keys and values keep
// 11 significant bits (relative rounding 2^-11 = 4.9e-4); random weights amplify that
// through the layers about as much as F16 weights do (ModelFormats: 4.9e-4 measured).
TEST(KvCache, F16WithinBoundOfF32) {
  test::TempDir dir;
  MkModelSpec s = spec();
  s.type = DType::F32;
  write_gguf_model(dir.file("m.gguf"), s, nullptr);
  auto model = load_model(dir.file("m.gguf"));
  ForwardOptions o{.threads = 2, .kv_type = KvType::F32};
  Forward f32(*model, o);
  o.kv_type = KvType::F16;
  Forward f16(*model, o);
  std::vector<std::vector<float>> want = token_by_token(f32, s.vocab_size);
  float worst = 0;
  for (int pos = 0; pos < kPromptLength; ++pos) {
    const float* l = f16.step(token_at(pos, s.vocab_size), pos);
    worst = std::max(worst, relative_error(want[pos], l));
  }
  std::printf("[ measured ] f16 vs f32 KV cache: %.3g (bound 2e-3)\n", worst);
  EXPECT_LE(worst, 2e-3f);
}

std::string name(const ::testing::TestParamInfo<LevelsTest::ParamType>& info) {
  return std::string(std::get<0>(info.param).name) + "_" + std::string(isa_level_name(std::get<1>(info.param)));
}

INSTANTIATE_TEST_SUITE_P(Models, LevelsTest, ::testing::Combine(::testing::ValuesIn(kModels), ::testing::ValuesIn(kLevels)),
                         name);

}  // namespace
}  // namespace bf
