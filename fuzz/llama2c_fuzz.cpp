// libFuzzer target for llama2.c checkpoints (v0 legacy header, v1/v2 "ak42"): load_model
// on the bytes, then every invariant of the loaded model (shapes, views inside the file).
// Build and run: scripts/fuzz.sh (seeds: stories260K.bin and tiny mkmodel v0/v1/v2 files).
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "fuzz_model_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size >= 4 && std::memcmp(data, "GGUF", 4) == 0) return 0;  // gguf_fuzz's job
  fuzz_model::load_and_check(data, size);
  return 0;
}
