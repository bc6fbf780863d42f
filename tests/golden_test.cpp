// stories260K reproduces llama2.c run.c token for token and logit for logit,
// from both of its forms (llama2.c .bin + tok512.bin, and GGUF), on every tier.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "generate/generate.h"
#include "model/vocab_loader.h"
#include "test_support.h"

namespace bf {
namespace {

// One way of running the model: file form, kernels (reference, or the best up to a
// level), threads, KV cache type and prompt chunk size.
struct Config {
  const char* name;
  bool gguf;
  bool reference;
  IsaLevel level;
  int threads;
  KvType kv = KvType::F32;
  int batch = 512;
};

const Config kConfigs[] = {
    {"bin_ref", false, true, IsaLevel::Sse2, 1},
    {"gguf_ref", true, true, IsaLevel::Sse2, 1},
    {"bin_ref_mt2_b1", false, true, IsaLevel::Sse2, 2, KvType::F32, 1},
    {"bin_sse2", false, false, IsaLevel::Sse2, 2},
    {"gguf_avx2", true, false, IsaLevel::Avx2, 1},
    {"bin_avx2_b3", false, false, IsaLevel::Avx2, 2, KvType::F32, 3},
    {"bin_avx512", false, false, IsaLevel::Avx512, 2},
    {"gguf_avx512vnni", true, false, IsaLevel::Avx512Vnni, 1},
    {"bin_avx512vnni_b2", false, false, IsaLevel::Avx512Vnni, 2, KvType::F32, 2},
};

// The configurations that keep the KV cache in F16 (the default): same tokens, logits
// within a looser bound.
const Config kF16Configs[] = {
    {"bin_ref_f16kv", false, true, IsaLevel::Sse2, 1, KvType::F16},
    {"gguf_best_f16kv", true, false, IsaLevel::Avx512Vnni, 2, KvType::F16},
};

// Skips (with the level's name) a configuration above what this CPU runs.
#define SKIP_IF_CPU_LACKS(level)                                                          \
  if (!CpuInfo::host().has(level))                                                        \
  GTEST_SKIP() << "skipped: CPU lacks " << isa_level_name(level)

ForwardOptions options_of(const Config& c) {
  ForwardOptions o;
  o.threads = c.threads;
  o.reference = c.reference;
  o.max_isa = c.level;
  o.kv_type = c.kv;
  o.batch = c.batch;
  return o;
}

struct Loaded {
  std::unique_ptr<Model> model;
  std::optional<Tokenizer> tokenizer;
};

Loaded load_stories(bool gguf) {
  Loaded l;
  if (gguf) {
    l.model = load_model(test::shared_path("models/stories260K/stories260K.gguf"));
    l.tokenizer = Tokenizer::from_vocab(*l.model->vocab, "stories260K.gguf");
  } else {
    l.model = load_model(test::shared_path("models/stories260K/stories260K.bin"));
    l.tokenizer = load_tokenizer(test::shared_path("models/stories260K/tok512.bin"), 512);
  }
  return l;
}

class GoldenTest : public ::testing::TestWithParam<std::tuple<std::string, Config>> {};

TEST_P(GoldenTest, GreedyTokensAndTextMatchRunC) {
  const auto& [file, v] = GetParam();
  SKIP_IF_CPU_LACKS(v.level);
  test::Golden g = test::read_golden(file);
  Loaded l = load_stories(v.gguf);
  Forward forward(*l.model, options_of(v));
  GenerateOptions o;
  o.prompt = g.prompt;
  o.sampler.temperature = 0;
  const int prompt_tokens = static_cast<int>(l.tokenizer->encode(g.prompt, true, false).size());
  o.max_new_tokens = g.steps - (prompt_tokens - 1);
  std::string text;
  GenerateResult r = generate(forward, *l.tokenizer, o, [&](const std::string& s) { text += s; });
  // run.c's list ends with the BOS that stopped it.
  if (r.stopped_at_end) r.tokens.push_back(r.end_token);
  EXPECT_EQ(r.tokens, g.tokens);
  EXPECT_EQ(text + "\n", g.text);
}

std::string variant_name(const ::testing::TestParamInfo<GoldenTest::ParamType>& info) {
  return std::filesystem::path(std::get<0>(info.param)).stem().string() + "_" + std::get<1>(info.param).name;
}

INSTANTIATE_TEST_SUITE_P(Stories260K, GoldenTest,
                         ::testing::Combine(::testing::ValuesIn(test::golden_files()), ::testing::ValuesIn(kConfigs)),
                         variant_name);
INSTANTIATE_TEST_SUITE_P(Stories260KF16Kv, GoldenTest,
                         ::testing::Combine(::testing::ValuesIn(test::golden_files()), ::testing::ValuesIn(kF16Configs)),
                         variant_name);

// once.logits: per position, the input token and run.c's 512 logits.
struct LogitRow {
  int pos, token;
  std::vector<float> logits;
};

std::vector<LogitRow> read_logits() {
  std::ifstream in(test::shared_path("golden/once.logits"));
  std::vector<LogitRow> rows;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ss(line);
    LogitRow r;
    ss >> r.pos >> r.token;
    for (float x; ss >> x;) r.logits.push_back(x);
    rows.push_back(std::move(r));
  }
  return rows;
}

// Largest |difference| over the largest |logit| of run.c's row.
float relative_error(const LogitRow& row, const float* logits) {
  float max_abs = 0, max_diff = 0;
  for (int i = 0; i < 512; ++i) {
    max_abs = std::max(max_abs, std::fabs(row.logits[i]));
    max_diff = std::max(max_diff, std::fabs(row.logits[i] - logits[i]));
  }
  return max_diff / max_abs;
}

// F32 cache: 1e-4 of the largest logit. F16 cache: keys and values rounded to 11
// significant bits move the logits by a few 1e-4 at most; the bound is 2e-3.
float bound_of(const Config& c) { return c.kv == KvType::F32 ? 1e-4f : 2e-3f; }

class LogitsTest : public ::testing::TestWithParam<Config> {};

TEST_P(LogitsTest, EveryPositionTokenByTokenWithinBoundOfRunC) {
  const Config& v = GetParam();
  SKIP_IF_CPU_LACKS(v.level);
  auto rows = read_logits();
  ASSERT_EQ(rows.size(), 24u);
  Loaded l = load_stories(v.gguf);
  Forward forward(*l.model, options_of(v));
  for (const LogitRow& row : rows) {
    ASSERT_EQ(row.logits.size(), 512u);
    EXPECT_LE(relative_error(row, forward.step(row.token, row.pos)), bound_of(v)) << "position " << row.pos;
  }
}

// A prompt of the first k+1 tokens as one batched call (in chunks of the config's
// batch) gives run.c's logits at position k, for every k.
TEST_P(LogitsTest, BatchedPromptOfEveryLengthWithinBoundOfRunC) {
  const Config& v = GetParam();
  SKIP_IF_CPU_LACKS(v.level);
  auto rows = read_logits();
  Loaded l = load_stories(v.gguf);
  Forward forward(*l.model, options_of(v));
  std::vector<int32_t> tokens;
  for (const LogitRow& row : rows) {
    tokens.push_back(row.token);
    const float* logits = forward.prompt(tokens.data(), static_cast<int>(tokens.size()), 0);
    EXPECT_LE(relative_error(row, logits), bound_of(v)) << "prompt of " << tokens.size() << " tokens";
  }
}

INSTANTIATE_TEST_SUITE_P(Stories260K, LogitsTest, ::testing::ValuesIn(kConfigs),
                         [](const auto& info) { return std::string(info.param.name); });
INSTANTIATE_TEST_SUITE_P(Stories260KF16Kv, LogitsTest, ::testing::ValuesIn(kF16Configs),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace bf
