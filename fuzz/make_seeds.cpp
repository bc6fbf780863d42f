// Writes tiny models in every format the loaders read, as fuzzing seeds: small inputs
// keep libFuzzer fast, and together they reach every branch of the header parsers.
// Usage: make_seeds DIR  ->  DIR/gguf/*.gguf  DIR/llama2c/*.bin  DIR/snapshot/*.bfsnap
// Built and run by scripts/fuzz.sh; nothing here goes into the repository's data.
#include <cstdio>
#include <exception>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "mkmodel/mkmodel.h"
#include "model/ggml_types.h"
#include "snapshot/snapshot.h"

namespace {

// Snapshots with no entry, one, and several with code: every field of the format.
void write_snapshot_seeds(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  bf::Snapshot s;
  s.key = {"1", "GenuineIntel 6.143.8 avx512vnni xcr0=0xe7", "0123456789abcdef", "fedcba9876543210"};
  for (int n = 0; n < 4; ++n) {
    if (n > 0) {
      bf::SnapshotEntry e;
      e.shape_class = "matmul q4_0 " + std::to_string(64 * n) + "x" + std::to_string(96 * n) + " n1";
      e.variant = n % 2 ? "matmul.q4_0.avx2.r8" : "jit.matvec.q4_0.avx512";
      e.generator = n % 2 ? "" : "rows=16 unroll=" + std::to_string(n);
      e.layout = n % 2 ? "r8" : "r16";
      e.grain = 8 * n;
      e.threads = n;
      e.ns_per_call = 100.5 * n;
      e.code.assign(static_cast<size_t>(n == 3 ? 40 : 0), static_cast<uint8_t>(0xc3));
      s.entries.push_back(e);
    }
    const std::vector<uint8_t> bytes = bf::encode_snapshot(s);
    std::FILE* f = std::fopen((dir / ("entries" + std::to_string(n) + ".bfsnap")).string().c_str(), "wb");
    if (!f || std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size() || std::fclose(f) != 0)
      throw std::runtime_error("cannot write a snapshot seed in " + dir.string());
  }
}

}  // namespace

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
    write_snapshot_seeds(dir / "snapshot");
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
