// Helpers shared by the engine tests: where ../shared is, temp dirs, golden files.
#pragma once
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "mkmodel/mkmodel.h"

namespace bf::test {

inline std::string shared_dir() {
  if (const char* env = std::getenv("BAREFLOW_SHARED"); env && *env) return env;
  return BAREFLOW_SHARED_DIR;
}

inline std::string shared_path(const std::string& rel) { return shared_dir() + "/" + rel; }

// A fresh directory removed when the test ends.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "bareflow-test-XXXXXX").string();
    path_ = mkdtemp(tmpl.data()) ? tmpl : std::string();
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Small but complete: grouped-query attention, rows in whole Q8_0/Q4_0 blocks, room
// for the 256 byte tokens. Loads and runs in milliseconds.
inline MkModelSpec small_model_spec(uint64_t seed, const std::string& name) {
  MkModelSpec s;
  s.dim = 64;
  s.hidden_dim = 96;
  s.n_layers = 2;
  s.n_heads = 4;
  s.n_kv_heads = 2;
  s.vocab_size = 300;
  s.seq_len = 32;
  s.seed = seed;
  s.name = name;
  return s;
}

// Wider than small_model_spec so quantization error builds up over real-sized rows
// (a hidden width that is not a multiple of 64), with a separate classifier so both
// output paths are covered.
inline MkModelSpec wide_model_spec(uint64_t seed, const std::string& name, int seq_len) {
  MkModelSpec s = small_model_spec(seed, name);
  s.dim = 128;
  s.hidden_dim = 352;
  s.vocab_size = 320;
  s.seq_len = seq_len;
  s.tied_classifier = false;
  return s;
}

// Rows in whole K super-blocks (256): every matrix can take Q4_K/Q5_K/Q6_K, none
// falls back to another type.
inline MkModelSpec super_block_model_spec(uint64_t seed, const std::string& name, int seq_len) {
  MkModelSpec s = wide_model_spec(seed, name, seq_len);
  s.dim = 256;
  s.hidden_dim = 512;
  return s;
}

// One ../shared/golden/NAME.golden: run.c's greedy output for stories260K.
struct Golden {
  std::string name, prompt, text;
  int steps = 0;
  std::vector<int> tokens;
};

inline Golden read_golden(const std::string& path) {
  Golden g;
  g.name = std::filesystem::path(path).stem().string();
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    auto tab = line.find('\t');
    if (tab == std::string::npos) continue;
    std::string key = line.substr(0, tab), value = line.substr(tab + 1);
    if (key == "prompt") g.prompt = value;
    if (key == "steps") g.steps = std::stoi(value);
    if (key == "tokens") {
      std::istringstream ss(value);
      for (int t; ss >> t;) g.tokens.push_back(t);
    }
    if (key == "text") {
      for (size_t i = 0; i < value.size(); ++i) {
        if (value[i] == '\\' && i + 1 < value.size() && value[i + 1] == 'n') {
          g.text += '\n';
          ++i;
        } else {
          g.text += value[i];
        }
      }
    }
  }
  return g;
}

inline std::vector<std::string> golden_files() {
  std::vector<std::string> files;
  for (auto& e : std::filesystem::directory_iterator(shared_path("golden")))
    if (e.path().extension() == ".golden") files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace bf::test
