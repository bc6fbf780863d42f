// stories260K reproduces llama2.c run.c token for token and logit for logit,
// from both of its forms (llama2.c .bin + tok512.bin, and GGUF), on every tier.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "generate/generate.h"
#include "kernels/avx2.h"
#include "model/vocab_loader.h"
#include "test_support.h"

namespace bf {
namespace {

struct Variant {
  const char* name;
  bool gguf;
  Tier tier;
  int threads;
};

const Variant kVariants[] = {
    {"bin_ref", false, Tier::Reference, 1},
    {"bin_mt2", false, Tier::Parallel, 2},
    {"gguf_ref", true, Tier::Reference, 1},
    {"gguf_mt2", true, Tier::Parallel, 2},
    {"bin_avx2", false, Tier::Avx2, 2},
    {"gguf_avx2", true, Tier::Avx2, 1},
};

bool runnable(const Variant& v) { return v.tier != Tier::Avx2 || avx2::supported(); }

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

class GoldenTest : public ::testing::TestWithParam<std::tuple<std::string, Variant>> {};

TEST_P(GoldenTest, GreedyTokensAndTextMatchRunC) {
  const auto& [file, v] = GetParam();
  if (!runnable(v)) GTEST_SKIP() << "no AVX2+FMA on this CPU";
  test::Golden g = test::read_golden(file);
  Loaded l = load_stories(v.gguf);
  Forward forward(*l.model, {v.threads, 0, v.tier});
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
                         ::testing::Combine(::testing::ValuesIn(test::golden_files()), ::testing::ValuesIn(kVariants)),
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

class LogitsTest : public ::testing::TestWithParam<Variant> {};

TEST_P(LogitsTest, EveryPositionWithin1e4OfRunC) {
  const Variant& v = GetParam();
  if (!runnable(v)) GTEST_SKIP() << "no AVX2+FMA on this CPU";
  auto rows = read_logits();
  ASSERT_EQ(rows.size(), 24u);
  Loaded l = load_stories(v.gguf);
  Forward forward(*l.model, {v.threads, 0, v.tier});
  for (const LogitRow& row : rows) {
    ASSERT_EQ(row.logits.size(), 512u);
    const float* logits = forward.step(row.token, row.pos);
    float max_abs = 0, max_diff = 0;
    for (int i = 0; i < 512; ++i) {
      max_abs = std::max(max_abs, std::fabs(row.logits[i]));
      max_diff = std::max(max_diff, std::fabs(row.logits[i] - logits[i]));
    }
    EXPECT_LE(max_diff / max_abs, 1e-4f) << "position " << row.pos;
  }
}

INSTANTIATE_TEST_SUITE_P(Stories260K, LogitsTest, ::testing::ValuesIn(kVariants),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace bf
