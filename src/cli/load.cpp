#include <sys/resource.h>

#include <filesystem>

#include "cli/commands.h"
#include "generate/generate.h"
#include "model/vocab_loader.h"
#include "util/error.h"

namespace bf::cli {

LoadedModel load_model_and_tokenizer(const std::string& model_path, const std::string& tokenizer_path) {
  LoadedModel l;
  double start = now_seconds();
  l.model = load_model(model_path);
  int vocab = l.model->config.vocab_size;
  if (!tokenizer_path.empty()) {
    l.tokenizer = load_tokenizer(tokenizer_path, vocab);
  } else if (l.model->vocab) {
    l.tokenizer = Tokenizer::from_vocab(*l.model->vocab, model_path);
  } else {
    auto beside = std::filesystem::path(model_path).parent_path() / "tokenizer.bin";
    if (!std::filesystem::exists(beside))
      throw InputError(model_path, "has no vocabulary and there is no tokenizer.bin beside it: pass -z TOKENIZER");
    l.tokenizer = load_tokenizer(beside.string(), vocab);
  }
  l.seconds = now_seconds() - start;
  return l;
}

double peak_memory_mib() {
  struct rusage u {};
  if (getrusage(RUSAGE_SELF, &u) != 0 || u.ru_maxrss <= 0) return -1;
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}

}  // namespace bf::cli
