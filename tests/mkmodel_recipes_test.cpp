// mkmodel's llama-quantize recipes: the exact type of every tensor and general.file_type,
// on rows of whole 256-value super-blocks and on rows that are not (the fallbacks); every
// file loads and runs close to the F32 model; `bareflow info` names and sizes the types.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "generate/generate.h"
#include "mkmodel/mkmodel.h"
#include "model/gguf.h"
#include "model/ggml_types.h"
#include "test_support.h"
#include "util/error.h"

namespace bf {
namespace {

constexpr int kLayers = 8;

// llama.cpp's use_more_bits for 8 layers, written out: the first n/8 (layer 0), from
// 7n/8 on (layer 7) and every third layer after the first n/8 (3, 6).
bool more_bits_layer(int layer) { return layer == 0 || layer == 3 || layer == 6 || layer == 7; }

// Every matrix row holds whole 256-value super-blocks.
MkModelSpec whole_blocks_spec(bool tied) {
  MkModelSpec s = test::small_model_spec(91, "recipes");
  s.dim = 256;
  s.hidden_dim = 256;
  s.n_layers = kLayers;
  s.vocab_size = 320;
  s.tied_classifier = tied;
  return s;
}

// Rows of 128 (whole 32-blocks, not 256) and ffn_down rows of 176 (not even 32-blocks).
MkModelSpec odd_rows_spec(bool tied) {
  MkModelSpec s = whole_blocks_spec(tied);
  s.dim = 128;
  s.hidden_dim = 176;
  return s;
}

// What a recipe stores on one model shape. The token embedding is `embedding` when the
// model has its own classifier and `classifier` when it shares it.
struct Expected {
  const char* recipe;
  uint32_t file_type;
  DType classifier, embedding;
  DType matrix;         // attn_q, attn_k, attn_output, ffn_gate, ffn_up; attn_v elsewhere
  DType attn_v_more;    // attn_v in the more-bits layers
  DType ffn_down, ffn_down_more;
};

using enum DType;

const Expected kWholeBlocks[] = {
    {"f32", 0, F32, F32, F32, F32, F32, F32},
    {"f16", 1, F16, F16, F16, F16, F16, F16},
    {"bf16", 32, BF16, BF16, BF16, BF16, BF16, BF16},
    {"q8_0", 7, Q8_0, Q8_0, Q8_0, Q8_0, Q8_0, Q8_0},
    {"q4_0", 2, Q4_0, Q4_0, Q4_0, Q4_0, Q4_0, Q4_0},
    {"q4_1", 3, Q6_K, Q4_1, Q4_1, Q4_1, Q4_1, Q4_1},
    {"q5_0", 8, Q6_K, Q5_0, Q5_0, Q5_0, Q5_0, Q5_0},
    {"q5_1", 9, Q6_K, Q5_1, Q5_1, Q5_1, Q5_1, Q5_1},
    {"q4_k_m", 15, Q6_K, Q4_K, Q4_K, Q6_K, Q4_K, Q6_K},
    {"q5_k_m", 17, Q6_K, Q5_K, Q5_K, Q6_K, Q5_K, Q6_K},
    {"q6_k", 18, Q6_K, Q6_K, Q6_K, Q6_K, Q6_K, Q6_K},
};

// Rows of 128: Q6_K falls back to Q8_0, Q4_K to Q5_0, Q5_K to Q5_1; rows of 176 take no
// 32-block type at all and are F16.
const Expected kOddRows[] = {
    {"f32", 0, F32, F32, F32, F32, F32, F32},
    {"f16", 1, F16, F16, F16, F16, F16, F16},
    {"bf16", 32, BF16, BF16, BF16, BF16, BF16, BF16},
    {"q8_0", 7, Q8_0, Q8_0, Q8_0, Q8_0, F16, F16},
    {"q4_0", 2, Q4_0, Q4_0, Q4_0, Q4_0, F16, F16},
    {"q4_1", 3, Q8_0, Q4_1, Q4_1, Q4_1, F16, F16},
    {"q5_0", 8, Q8_0, Q5_0, Q5_0, Q5_0, F16, F16},
    {"q5_1", 9, Q8_0, Q5_1, Q5_1, Q5_1, F16, F16},
    {"q4_k_m", 15, Q8_0, Q5_0, Q5_0, Q8_0, F16, F16},
    {"q5_k_m", 17, Q8_0, Q5_1, Q5_1, Q8_0, F16, F16},
    {"q6_k", 18, Q8_0, Q8_0, Q8_0, Q8_0, F16, F16},
};

DType expected_type(const Expected& e, const MkModelSpec& s, const std::string& name) {
  if (name.ends_with("_norm.weight")) return F32;
  if (name == "output.weight") return e.classifier;
  if (name == "token_embd.weight") return s.tied_classifier ? e.classifier : e.embedding;
  const int layer = std::stoi(name.substr(4));  // "blk.<layer>."
  if (name.ends_with(".attn_v.weight")) return more_bits_layer(layer) ? e.attn_v_more : e.matrix;
  if (name.ends_with(".ffn_down.weight")) return more_bits_layer(layer) ? e.ffn_down_more : e.ffn_down;
  return e.matrix;
}

MkModelSpec with_recipe(MkModelSpec s, const char* recipe) {
  const MkRecipe* r = find_mkmodel_recipe(recipe);
  EXPECT_NE(r, nullptr) << recipe;
  s.type = r->type;
  s.mix = r->mix;
  return s;
}

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Writes the recipe, parses the file and checks every tensor (and only the tensors) the model has.
void expect_recipe_types(const Expected& e, const MkModelSpec& shape, const std::string& path) {
  const MkModelSpec s = with_recipe(shape, e.recipe);
  write_gguf_model(path, s, nullptr);
  const std::vector<uint8_t> bytes = read_file(path);
  const GgufFile g = parse_gguf(bytes.data(), bytes.size(), path);
  const std::string label = std::string(e.recipe) + (s.tied_classifier ? " tied" : " untied");
  ASSERT_NE(g.find("general.file_type"), nullptr);
  EXPECT_EQ(g.find("general.file_type")->integer, e.file_type) << label;
  const size_t expected_tensors = 2 + 9 * kLayers + (s.tied_classifier ? 0 : 1);
  EXPECT_EQ(g.tensors.size(), expected_tensors) << label;
  for (const GgufTensorInfo& t : g.tensors) {
    const DType want = expected_type(e, s, t.name);
    EXPECT_EQ(ggml_type_name(t.type), ggml_type_of(want)->name) << label << ": " << t.name;
  }
}

TEST(MkModelRecipes, TypesOnWholeSuperBlocks) {
  test::TempDir dir;
  for (bool tied : {false, true})
    for (const Expected& e : kWholeBlocks) expect_recipe_types(e, whole_blocks_spec(tied), dir.file("m.gguf"));
}

TEST(MkModelRecipes, TypesOnRowsThatAreNotWholeSuperBlocks) {
  test::TempDir dir;
  for (bool tied : {false, true})
    for (const Expected& e : kOddRows) expect_recipe_types(e, odd_rows_spec(tied), dir.file("m.gguf"));
}

TEST(MkModelRecipes, EveryGgufRecipeIsTested) {
  for (const MkRecipe& r : mkmodel_recipes()) {
    if (r.type == DType::I8G) continue;
    int found = 0;
    for (const Expected& e : kWholeBlocks) found += r.name == e.recipe;
    EXPECT_EQ(found, 1) << r.name;
  }
  EXPECT_EQ(std::size(kWholeBlocks), std::size(kOddRows));
}

// llama-quantize --pure: the main type throughout, the old every-matrix meaning of spec.type.
TEST(MkModelRecipes, PureIsTheMainTypeThroughout) {
  test::TempDir dir;
  MkModelSpec s = with_recipe(whole_blocks_spec(true), "q4_k_m");
  s.mix = TypeMix::Pure;
  for (const MkTensor& t : mkmodel_tensors(s)) EXPECT_EQ(mkmodel_tensor_type(s, t), t.is_norm ? F32 : Q4_K) << t.name;
  s = odd_rows_spec(false);
  s.type = Q6_K;
  for (const MkTensor& t : mkmodel_tensors(s)) EXPECT_EQ(mkmodel_tensor_type(s, t), t.is_norm ? F32 : F16) << t.name;
}

TEST(MkModelRecipes, Llama2cRefusesAMix) {
  test::TempDir dir;
  for (int version : {0, 1, 2}) {
    EXPECT_THROW(write_llama2c_model(dir.file("m.bin"), with_recipe(whole_blocks_spec(true), "q4_k_m"), version),
                 InputError);
    EXPECT_FALSE(std::filesystem::exists(dir.file("m.bin")));
  }
}

// Logits of a batched 20-token prompt's last position and of 4 single steps after it.
std::vector<float> run_logits(const std::string& path) {
  auto model = load_model(path);
  Forward forward(*model, ForwardOptions{.threads = 1, .context = 0, .reference = true, .kv_type = KvType::F32});
  const int vocab = model->config.vocab_size;
  std::vector<int32_t> prompt;
  for (int i = 0; i < 20; ++i) prompt.push_back((i * 53 + 11) % vocab);
  const float* last = forward.prompt(prompt.data(), static_cast<int>(prompt.size()), 0);
  std::vector<float> all(last, last + vocab);
  for (int pos = 20; pos < 24; ++pos) {
    const float* logits = forward.step((pos * 29 + 3) % vocab, pos);
    all.insert(all.end(), logits, logits + vocab);
  }
  return all;
}

// Root-mean-square error over the reference's root-mean-square.
double rms_error(const std::vector<float>& reference, const std::vector<float>& got) {
  double err = 0, norm = 0;
  for (size_t i = 0; i < reference.size(); ++i) {
    err += (double(got[i]) - reference[i]) * (double(got[i]) - reference[i]);
    norm += double(reference[i]) * reference[i];
  }
  return std::sqrt(err / norm);
}

// Bounds are the measured errors with half again as margin: eight random layers amplify
// the weights' rounding, so the error follows each type's step (Q6_K about four times
// Q8_0's, 4-bit types about three times Q6_K's), and the K recipes are ordered by bits.
struct Bound {
  const char* recipe;
  double whole_blocks, odd_rows;
};
const Bound kBounds[] = {
    {"f16", 2e-3, 2e-3},    {"bf16", 1e-2, 1e-2},  {"q8_0", 2.5e-2, 2e-2}, {"q4_0", 0.4, 0.4},
    {"q4_1", 0.35, 0.35},   {"q5_0", 0.17, 0.13},  {"q5_1", 0.17, 0.16},   {"q4_k_m", 0.28, 0.1},
    {"q5_k_m", 0.16, 0.14}, {"q6_k", 0.1, 0.02},
};

TEST(MkModelRecipes, EveryRecipeRunsCloseToF32) {
  test::TempDir dir;
  for (bool whole : {true, false}) {
    const MkModelSpec shape = whole ? whole_blocks_spec(false) : odd_rows_spec(true);
    write_gguf_model(dir.file("f32.gguf"), shape, nullptr);
    const std::vector<float> reference = run_logits(dir.file("f32.gguf"));
    std::map<std::string, double> error;
    for (const Bound& b : kBounds) {
      const std::string path = dir.file(std::string(b.recipe) + ".gguf");
      write_gguf_model(path, with_recipe(shape, b.recipe), nullptr);
      error[b.recipe] = rms_error(reference, run_logits(path));
      const double bound = whole ? b.whole_blocks : b.odd_rows;
      std::printf("[ measured ] %s on %s rows: rms logit error / rms logit = %.3g (bound %.3g)\n", b.recipe,
                  whole ? "256-multiple" : "odd", error[b.recipe], bound);
      EXPECT_LE(error[b.recipe], bound) << b.recipe;
    }
    if (whole) {
      EXPECT_LT(error["q6_k"], error["q5_k_m"]);
      EXPECT_LT(error["q5_k_m"], error["q4_k_m"]);
    }
  }
}

// The mix spends bits where llama.cpp found them to matter: Q4_K_M beats every-matrix Q4_K.
TEST(MkModelRecipes, MediumMixIsCloserThanPure) {
  test::TempDir dir;
  const MkModelSpec shape = whole_blocks_spec(false);
  write_gguf_model(dir.file("f32.gguf"), shape, nullptr);
  const std::vector<float> reference = run_logits(dir.file("f32.gguf"));
  MkModelSpec s = with_recipe(shape, "q4_k_m");
  write_gguf_model(dir.file("mix.gguf"), s, nullptr);
  s.mix = TypeMix::Pure;
  write_gguf_model(dir.file("pure.gguf"), s, nullptr);
  const double mix = rms_error(reference, run_logits(dir.file("mix.gguf")));
  const double pure = rms_error(reference, run_logits(dir.file("pure.gguf")));
  std::printf("[ measured ] q4_k_m %.3g, every matrix Q4_K %.3g\n", mix, pure);
  EXPECT_LT(mix, pure);
}

// `bareflow mkmodel --type q4_k_m` then `bareflow info`: tensors and bytes per ggml type name.
TEST(MkModelRecipes, InfoCountsTensorsAndBytesPerType) {
  test::TempDir dir;
  const std::string model = dir.file("m.gguf"), out = dir.file("info.txt");
  const std::string bin = BAREFLOW_BINARY;
  const std::string mk = bin + " mkmodel -o " + model +
                         " --dim 256 --hidden-dim 256 --layers 8 --heads 4 --vocab-size 300 --untied --type q4_k_m"
                         " 2>/dev/null";
  ASSERT_EQ(std::system(mk.c_str()), 0);
  ASSERT_EQ(std::system((bin + " info -m " + model + " > " + out).c_str()), 0);
  const std::vector<uint8_t> text_bytes = read_file(out);
  const std::string text(text_bytes.begin(), text_bytes.end());
  // 8 layers: attn_v and ffn_down of layers 0, 3, 6, 7 and the classifier are Q6_K (9);
  // the embedding, 5 matrices a layer and the other 8 attn_v/ffn_down are Q4_K (49).
  const double q4k_mib = (256.0 * 300 + 8 * 5 * 256 * 256 + 8 * 256 * 256) / 256 * 144 / 1048576;
  const double q6k_mib = (256.0 * 300 + 8 * 256 * 256) / 256 * 210 / 1048576;
  const double f32_mib = 17.0 * 256 * 4 / 1048576;
  char want[160];
  std::snprintf(want, sizeof want, "tensor types:  F32 x17 (%.2f MiB), Q4_K x49 (%.2f MiB), Q6_K x9 (%.2f MiB)\n",
                f32_mib, q4k_mib, q6k_mib);
  EXPECT_NE(text.find(want), std::string::npos) << text;
  EXPECT_NE(text.find("classifier:    separate, Q6_K\n"), std::string::npos) << text;
  EXPECT_NE(text.find("embedding:     Q4_K\n"), std::string::npos) << text;
}

}  // namespace
}  // namespace bf
