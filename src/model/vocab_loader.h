// Reads a vocabulary from any file that carries one: a GGUF model or vocab-only GGUF
// (tokenizer.ggml.* metadata) or a llama2.c tokenizer.bin. Throws InputError.
#pragma once
#include <string>

#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"

namespace bf {

struct GgufFile;

Vocab load_vocab(const std::string& path);

// A tokenizer from a tokenizer.bin or any GGUF with tokenizer metadata. A
// tokenizer.bin must hold exactly `expected_vocab_size` tokens when that is > 0.
Tokenizer load_tokenizer(const std::string& path, int expected_vocab_size = 0);

// The tokenizer.ggml.* metadata of a parsed GGUF; `file` names it in errors.
Vocab vocab_from_gguf(const GgufFile& gguf, const std::string& file);

}  // namespace bf
