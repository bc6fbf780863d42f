// One random model written in every format and weight type gives the same logits:
// exactly the same for the F32 forms, within a stated bound for the quantized ones.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <map>

#include "generate/generate.h"
#include "mkmodel/mkmodel.h"
#include "model/vocab_loader.h"
#include "test_support.h"
#include "util/error.h"

namespace bf {
namespace {

MkModelSpec small_spec() { return test::wide_model_spec(1234, "formats", 64); }

// Logits of a fixed 24-token sequence, concatenated over positions.
std::vector<float> run_sequence(const std::string& path) {
  auto model = load_model(path);
  Forward forward(*model, ForwardOptions{.threads = 1, .context = 0, .reference = true, .kv_type = KvType::F32});
  std::vector<float> all;
  for (int pos = 0; pos < 24; ++pos) {
    const float* logits = forward.step((pos * 37 + 5) % model->config.vocab_size, pos);
    all.insert(all.end(), logits, logits + model->config.vocab_size);
  }
  return all;
}

// max |a - b| over max |a|: the error relative to the logit scale.
float relative_error(const std::vector<float>& a, const std::vector<float>& b) {
  float diff = 0, scale = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, std::fabs(a[i] - b[i]));
    scale = std::max(scale, std::fabs(a[i]));
  }
  return diff / scale;
}

// Checks the bound and prints the measured error, so the margin is visible in the log.
void expect_close(const std::vector<float>& reference, const std::string& path, float bound, const char* label) {
  float e = relative_error(reference, run_sequence(path));
  std::printf("[ measured ] %s: max |logit error| / max |logit| = %.3g (bound %.3g)\n", label, e, bound);
  EXPECT_LE(e, bound) << label;
}

class ModelFormats : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir;
    MkModelSpec s = small_spec();
    write_gguf_model(dir_->file("f32.gguf"), s, nullptr);
    reference_ = new std::vector<float>(run_sequence(dir_->file("f32.gguf")));
  }
  static void TearDownTestSuite() {
    delete reference_;
    delete dir_;
  }
  static std::string write(DType type, const std::string& name) {
    MkModelSpec s = small_spec();
    s.type = type;
    write_gguf_model(dir_->file(name), s, nullptr);
    return dir_->file(name);
  }
  static inline test::TempDir* dir_ = nullptr;
  static inline std::vector<float>* reference_ = nullptr;
};

TEST_F(ModelFormats, Llama2cF32FormsEqualGgufF32) {
  for (int version : {0, 1}) {
    std::string path = dir_->file(version == 0 ? "v0.bin" : "v1.bin");
    write_llama2c_model(path, small_spec(), version);
    expect_close(*reference_, path, 1e-6f, version == 0 ? "llama2.c v0 vs GGUF F32" : "llama2.c v1 vs GGUF F32");
  }
}

// Bounds, measured on this model with margin: F16 keeps 11 significant bits, Q8_0
// about 8 and Q4_0 about 4, and the error grows through the layers.
TEST_F(ModelFormats, F16CloseToF32) { expect_close(*reference_, write(DType::F16, "f16.gguf"), 2e-3f, "GGUF F16"); }
TEST_F(ModelFormats, Q8_0CloseToF32) { expect_close(*reference_, write(DType::Q8_0, "q8.gguf"), 2e-2f, "GGUF Q8_0"); }
TEST_F(ModelFormats, Q4_0CloseToF32) { expect_close(*reference_, write(DType::Q4_0, "q4.gguf"), 0.25f, "GGUF Q4_0"); }

TEST_F(ModelFormats, BF16CloseToF32) { expect_close(*reference_, write(DType::BF16, "bf16.gguf"), 2e-2f, "GGUF BF16"); }
TEST_F(ModelFormats, Q4_1CloseToF32) { expect_close(*reference_, write(DType::Q4_1, "q41.gguf"), 0.25f, "GGUF Q4_1"); }
TEST_F(ModelFormats, Q5_0CloseToF32) { expect_close(*reference_, write(DType::Q5_0, "q50.gguf"), 0.12f, "GGUF Q5_0"); }
TEST_F(ModelFormats, Q5_1CloseToF32) { expect_close(*reference_, write(DType::Q5_1, "q51.gguf"), 0.12f, "GGUF Q5_1"); }

// The K types on a model whose rows are whole super-blocks: the more bits, the closer,
// and each at least as close as the 32-block type of the same width.
TEST(SuperBlockFormats, CloserToF32WithMoreBits) {
  test::TempDir dir;
  MkModelSpec s = test::super_block_model_spec(4321, "kformats", 64);
  auto write = [&](DType type) {
    s.type = type;
    const std::string path = dir.file(std::string(dtype_key(type)) + ".gguf");
    write_gguf_model(path, s, nullptr);
    return path;
  };
  const std::vector<float> reference = run_sequence(write(DType::F32));
  std::map<DType, float> error;
  for (DType t : {DType::Q4_0, DType::Q4_K, DType::Q5_0, DType::Q5_K, DType::Q6_K, DType::Q8_0}) {
    error[t] = relative_error(reference, run_sequence(write(t)));
    std::printf("[ measured ] GGUF %s on 256-wide rows: max |logit error| / max |logit| = %.3g\n",
                std::string(dtype_name(t)).c_str(), error[t]);
  }
  EXPECT_LT(error[DType::Q6_K], error[DType::Q5_K]);
  EXPECT_LT(error[DType::Q5_K], error[DType::Q4_K]);
  EXPECT_LT(error[DType::Q4_K], error[DType::Q4_0]);
  EXPECT_LT(error[DType::Q5_K], error[DType::Q5_0] * 1.2f);
  EXPECT_LT(error[DType::Q6_K], 6 * error[DType::Q8_0]);  // a quarter of Q8_0's resolution
  EXPECT_LT(error[DType::Q4_K], 0.25f);
}

TEST_F(ModelFormats, Llama2cInt8CloseToF32) {
  std::string path = dir_->file("v2.bin");
  write_llama2c_model(path, small_spec(), 2);
  expect_close(*reference_, path, 2e-2f, "llama2.c v2 int8");
}

TEST_F(ModelFormats, QuantizedArgmaxMostlyAgreesWithF32) {
  // A quantized model is only useful if it picks the same tokens most of the time.
  std::vector<float> q8 = run_sequence(write(DType::Q8_0, "q8b.gguf"));
  const int vocab = small_spec().vocab_size;
  int agree = 0;
  for (int pos = 0; pos < 24; ++pos)
    agree += Sampler::argmax(reference_->data() + pos * vocab, vocab) == Sampler::argmax(q8.data() + pos * vocab, vocab);
  EXPECT_GE(agree, 22);
}

TEST(TinyRandom, F16GgufLoadsAndGenerates) {
  auto model = load_model(test::shared_path("models/tiny-random/llama-2-tiny-random.gguf"));
  EXPECT_EQ(model->config.dim, 8);
  EXPECT_EQ(model->config.vocab_size, 32000);
  EXPECT_EQ(model->layers[0].wq.type, DType::F16);
  ASSERT_TRUE(model->vocab.has_value());
  Tokenizer tok = Tokenizer::from_vocab(*model->vocab, "tiny-random");
  std::string a, b;
  for (std::string* out : {&a, &b}) {
    Forward forward(*model, ForwardOptions{.threads = 2, .context = 256, .reference = true});
    GenerateOptions o;
    o.prompt = "Hello world";
    o.max_new_tokens = 20;
    o.sampler.temperature = 0;
    GenerateResult r = generate(forward, tok, o, [&](const std::string& s) { *out += s; });
    EXPECT_EQ(r.prompt_tokens, 3);  // BOS, "▁Hello", "▁world"
    EXPECT_TRUE(r.generated == 20 || r.stopped_at_end);
  }
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.rfind("Hello world", 0), 0u);
}

TEST(Generate, StopsAtTheContextLength) {
  auto model = load_model(test::shared_path("models/stories260K/stories260K.bin"));
  Tokenizer tok = load_tokenizer(test::shared_path("models/stories260K/tok512.bin"), 512);
  Forward forward(*model, ForwardOptions{.threads = 1, .context = 16, .reference = true});
  GenerateOptions o;
  o.prompt = "Once upon a time";
  o.max_new_tokens = 1000;
  o.sampler.temperature = 0;
  GenerateResult r = generate(forward, tok, o, [](const std::string&) {});
  EXPECT_TRUE(r.stopped_at_context);
  EXPECT_EQ(r.tokens.size(), 16u);  // one token after each of the 16 positions
}

TEST(Generate, PromptLongerThanContextIsAnError) {
  auto model = load_model(test::shared_path("models/stories260K/stories260K.bin"));
  Tokenizer tok = load_tokenizer(test::shared_path("models/stories260K/tok512.bin"), 512);
  Forward forward(*model, ForwardOptions{.threads = 1, .context = 4, .reference = true});
  GenerateOptions o;
  o.prompt = "Once upon a time there was";
  EXPECT_THROW(generate(forward, tok, o, [](const std::string&) {}), InputError);
}

TEST(Sampler, SameSeedSameTokensDifferentSeedDifferent) {
  auto model = load_model(test::shared_path("models/stories260K/stories260K.bin"));
  Tokenizer tok = load_tokenizer(test::shared_path("models/stories260K/tok512.bin"), 512);
  auto sample = [&](uint64_t seed) {
    Forward forward(*model, ForwardOptions{.threads = 1, .context = 0, .reference = true, .kv_type = KvType::F32});
    GenerateOptions o;
    o.prompt = "Once upon a time";
    o.max_new_tokens = 60;
    o.sampler = {1.0f, 0, 0.95f, seed};
    return generate(forward, tok, o, [](const std::string&) {}).tokens;
  };
  EXPECT_EQ(sample(7), sample(7));
  EXPECT_NE(sample(7), sample(8));
}

TEST(Sampler, TopKOneAndTinyTopPAreGreedy) {
  std::vector<float> logits = {0.1f, 2.0f, -1.0f, 1.9f, 0.5f};
  for (SamplerOptions o : {SamplerOptions{1.0f, 1, 1.0f, 3}, SamplerOptions{1.0f, 0, 1e-6f, 3}}) {
    Sampler s(5, o);
    for (int i = 0; i < 20; ++i) {
      std::vector<float> l = logits;
      EXPECT_EQ(s.sample(l.data()), 1);
    }
  }
}

TEST(Sampler, FrequenciesFollowTheSoftmax) {
  std::vector<float> logits = {0.0f, std::log(2.0f), std::log(5.0f)};  // probabilities 1/8, 2/8, 5/8
  Sampler s(3, {1.0f, 0, 1.0f, 99});
  int counts[3] = {};
  const int n = 40000;
  for (int i = 0; i < n; ++i) {
    std::vector<float> l = logits;
    ++counts[s.sample(l.data())];
  }
  EXPECT_NEAR(counts[0] / double(n), 0.125, 0.01);
  EXPECT_NEAR(counts[1] / double(n), 0.25, 0.01);
  EXPECT_NEAR(counts[2] / double(n), 0.625, 0.01);
}

TEST(Sampler, TopKExcludesUnlikelyTokens) {
  std::vector<float> logits = {3.0f, 2.9f, 0.0f, -1.0f};
  Sampler s(4, {1.0f, 2, 1.0f, 5});
  for (int i = 0; i < 500; ++i) {
    std::vector<float> l = logits;
    EXPECT_LT(s.sample(l.data()), 2);
  }
}

}  // namespace
}  // namespace bf
