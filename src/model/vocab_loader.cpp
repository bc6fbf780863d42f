#include "model/vocab_loader.h"

#include "model/gguf.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"
#include "util/mapped_file.h"

namespace bf {
namespace {

int token_id(const GgufFile& g, const char* key, int fallback, size_t n, const std::string& file) {
  const GgufValue* v = g.find(key);
  if (!v) return fallback;
  if (!v->is_integer || v->integer < 0 || static_cast<uint64_t>(v->integer) >= n)
    throw InputError(file, std::string(key) + " is not a token id");
  return static_cast<int>(v->integer);
}

}  // namespace

Vocab vocab_from_gguf(const GgufFile& g, const std::string& file) {
  if (const GgufValue* model = g.find("tokenizer.ggml.model");
      model && (model->type != GgufType::String || model->str != "llama"))
    throw InputError(file, "tokenizer model '" + model->str + "' is not supported (only 'llama' SentencePiece)");
  const GgufValue* tokens = g.find("tokenizer.ggml.tokens");
  if (!tokens || tokens->type != GgufType::Array || tokens->elem_type != GgufType::String)
    throw InputError(file, "missing tokenizer.ggml.tokens (array of strings)");
  Vocab v;
  v.pieces = tokens->strings;
  size_t n = v.pieces.size();
  if (n == 0) throw InputError(file, "tokenizer.ggml.tokens is empty");
  if (const GgufValue* s = g.find("tokenizer.ggml.scores")) {
    if (s->type != GgufType::Array || s->numbers.size() != n)
      throw InputError(file, "tokenizer.ggml.scores does not have one number per token");
    v.scores.assign(s->numbers.begin(), s->numbers.end());
  } else {
    v.scores.assign(n, 0.0f);
  }
  if (const GgufValue* t = g.find("tokenizer.ggml.token_type")) {
    if (t->type != GgufType::Array || t->numbers.size() != n)
      throw InputError(file, "tokenizer.ggml.token_type does not have one type per token");
    for (double x : t->numbers) {
      // NaN fails the range test, so it never reaches the cast.
      if (!(x >= 0 && x <= 6) || x != static_cast<int>(x)) throw InputError(file, "tokenizer.ggml.token_type has an unknown type");
      v.types.push_back(static_cast<TokenType>(static_cast<int>(x)));
    }
  }
  v.bos_id = token_id(g, "tokenizer.ggml.bos_token_id", 1 < n ? 1 : 0, n, file);
  v.eos_id = token_id(g, "tokenizer.ggml.eos_token_id", 2 < n ? 2 : 0, n, file);
  v.unk_id = token_id(g, "tokenizer.ggml.unknown_token_id", 0, n, file);
  if (const GgufValue* p = g.find("tokenizer.ggml.add_space_prefix"); p && p->type == GgufType::Bool)
    v.add_space_prefix = p->integer != 0;
  return v;
}

Vocab load_vocab(const std::string& path) {
  MappedFile f(path);
  if (is_gguf(f.data(), f.size())) return vocab_from_gguf(parse_gguf(f.data(), f.size(), path), path);
  return Tokenizer::parse_llama2c(f.data(), f.size(), path).vocab();
}

Tokenizer load_tokenizer(const std::string& path, int expected_vocab_size) {
  MappedFile f(path);
  if (!is_gguf(f.data(), f.size())) return Tokenizer::parse_llama2c(f.data(), f.size(), path, expected_vocab_size);
  Tokenizer t = Tokenizer::from_vocab(vocab_from_gguf(parse_gguf(f.data(), f.size(), path), path), path);
  if (expected_vocab_size > 0 && t.vocab_size() != expected_vocab_size)
    throw InputError(path, "tokenizer has " + std::to_string(t.vocab_size()) + " tokens, the model " +
                               std::to_string(expected_vocab_size));
  return t;
}

}  // namespace bf
