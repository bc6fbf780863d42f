// The raw vocabulary a tokenizer is built from, as a model file or tokenizer.bin stores it.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace bf {

// GGUF token types (tokenizer.ggml.token_type).
enum class TokenType : int32_t { Undefined = 0, Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6 };

struct Vocab {
  // UTF-8 pieces. GGUF stores the SentencePiece word marker U+2581; llama2.c's
  // tokenizer.bin stores a plain space instead. The tokenizer accepts either.
  std::vector<std::string> pieces;
  std::vector<float> scores;
  std::vector<TokenType> types;  // empty when the source has no types (tokenizer.bin)
  int bos_id = 1;
  int eos_id = 2;
  int unk_id = 0;
  bool add_space_prefix = true;
};

}  // namespace bf
