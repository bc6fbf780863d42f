// Writes tiny models in every format the loaders read, as fuzzing seeds: small inputs
// keep libFuzzer fast, and together they reach every branch of the header parsers.
// Usage: make_seeds DIR  ->  DIR/gguf/*.gguf  DIR/llama2c/*.bin
// Built and run by scripts/fuzz.sh; nothing here goes into the repository's data.
#include <cstdio>
#include <exception>
#include <filesystem>
#include <string>

#include "mkmodel/mkmodel.h"
#include "model/ggml_types.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seeds DIR\n");
    return 2;
  }
  namespace fs = std::filesystem;
  const fs::path dir = argv[1];
  try {
    fs::create_directories(dir / "gguf");
    fs::create_directories(dir / "llama2c");
    bf::MkModelSpec s;
    s.dim = 8;
    s.hidden_dim = 16;
    s.n_layers = 1;
    s.n_heads = 2;
    s.n_kv_heads = 1;
    s.vocab_size = 8;
    s.seq_len = 4;
    s.name = "seed";
    for (bool tied : {true, false}) {
      s.tied_classifier = tied;
      const std::string t = tied ? "" : "_untied";
      for (int v : {0, 1, 2}) bf::write_llama2c_model((dir / "llama2c" / ("v" + std::to_string(v) + t + ".bin")).string(), s, v);
      s.type = bf::DType::F32;
      bf::write_gguf_model((dir / "gguf" / ("f32" + t + ".gguf")).string(), s, nullptr);
    }
    // Every other GGUF type, one type throughout. Rows of 32 take the 32-value block
    // types; the K types need rows of 256, which only ffn_down's (hidden) rows have here,
    // so their files stay a few KB: the other matrices fall back to F16.
    s.tied_classifier = true;
    s.dim = 32;
    s.hidden_dim = 256;
    for (const bf::GgmlTypeInfo& t : bf::kGgmlTypes) {
      if (!t.supported || t.dtype == bf::DType::F32) continue;
      s.type = t.dtype;
      bf::write_gguf_model((dir / "gguf" / (std::string(t.name) + ".gguf")).string(), s, nullptr);
    }
    // Every llama-quantize recipe, untied, over two layers: the _M recipes then hold
    // Q4_K/Q5_K (layer 0) and Q6_K (layer 1) ffn_down beside their fallback types.
    s.tied_classifier = false;
    s.n_layers = 2;
    for (const bf::MkRecipe& r : bf::mkmodel_recipes()) {
      if (r.mix != bf::TypeMix::LlamaQuantize) continue;
      s.type = r.type;
      s.mix = r.mix;
      bf::write_gguf_model((dir / "gguf" / ("recipe_" + std::string(r.name) + ".gguf")).string(), s, nullptr);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "make_seeds: %s\n", e.what());
    return 1;
  }
  return 0;
}
