// libFuzzer target for GGUF: the container parser on the raw bytes, the tokenizer
// metadata of whatever parses, and the llama model builder through load_model.
// Build and run: scripts/fuzz.sh (seeds: the GGUF files in ../shared and tiny mkmodel files).
// The first row of every tensor is decoded too: the block formats' scales and packed
// bits (K super-block scales above all) are arbitrary bytes in a corrupt file.
// fuzz-sources: src/kernels/quantize.cpp src/kernels/quantize_k.cpp
#include <cstddef>
#include <cstdint>
#include <vector>

#include "fuzz_model_common.h"
#include "kernels/quantize.h"
#include "model/gguf.h"
#include "model/vocab_loader.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    bf::GgufFile g = bf::parse_gguf(data, size, "fuzz.gguf");
    std::vector<float> row;
    for (const bf::GgufTensorInfo& t : g.tensors) {
      if (t.bytes == 0 || t.data < data || t.data > data + size || t.bytes > static_cast<size_t>(data + size - t.data))
        __builtin_trap();
      // parse_gguf accepts supported types on whole-block rows only; the row is in the
      // file, so it has fewer values than the input has bytes times 2.
      row.resize(t.dims[0]);
      bf::dequantize_row(bf::ggml_type(t.type)->dtype, t.data, nullptr, row.data(), static_cast<int64_t>(t.dims[0]));
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
