// libFuzzer target for GGUF: the container parser on the raw bytes, the tokenizer
// metadata of whatever parses, and the llama model builder through load_model.
// Build and run: scripts/fuzz.sh (seeds: the GGUF files in ../shared and tiny mkmodel files).
#include <cstddef>
#include <cstdint>

#include "fuzz_model_common.h"
#include "model/gguf.h"
#include "model/vocab_loader.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    bf::GgufFile g = bf::parse_gguf(data, size, "fuzz.gguf");
    for (const bf::GgufTensorInfo& t : g.tensors) {
      if (t.bytes == 0 || t.data < data || t.data > data + size || t.bytes > static_cast<size_t>(data + size - t.data))
        __builtin_trap();
    }
    if (g.find("tokenizer.ggml.tokens")) {
      try {
        bf::Tokenizer tok = bf::Tokenizer::from_vocab(bf::vocab_from_gguf(g, "fuzz.gguf"), "fuzz.gguf");
        tok.encode("Once upon a time", true, false);
      } catch (const bf::InputError&) {
      }
    }
  } catch (const bf::InputError&) {
    return 0;  // load_model would reject it the same way
  }
  fuzz_model::load_and_check(data, size);
  return 0;
}
