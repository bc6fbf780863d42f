// Reading llama2.c's tokenizer.bin. Every length is checked against the bytes left before it is
// used, so a corrupt file costs at most its own size in memory.
#include <cstring>
#include <string>
#include <utility>

#include "tokenizer/tokenizer.h"
#include "util/error.h"
#include "util/mapped_file.h"

namespace bf {
namespace {

struct Reader {
  const uint8_t* data;
  size_t size;
  size_t pos;
  const std::string& name;

  size_t left() const { return size - pos; }

  // tokenizer.bin is little-endian, like every machine BareFlow runs on.
  template <typename T>
  T read(const std::string& what) {
    T value;
    if (left() < sizeof value) {
      throw InputError(name, "truncated at offset " + std::to_string(pos) + " while reading " + what);
    }
    std::memcpy(&value, data + pos, sizeof value);
    pos += sizeof value;
    return value;
  }
};

struct Entry {
  float score;
  std::string piece;
};

Entry read_entry(Reader& r, int index) {
  std::string what = "token " + std::to_string(index);
  float score = r.read<float>(what + " score");
  int32_t len = r.read<int32_t>(what + " length");
  if (len < 0) throw InputError(r.name, what + " has negative length " + std::to_string(len));
  if (static_cast<size_t>(len) > r.left()) {
    throw InputError(r.name, what + " length " + std::to_string(len) + " at offset " +
                                 std::to_string(r.pos - 4) + " runs past the end of the file");
  }
  std::string piece(reinterpret_cast<const char*>(r.data + r.pos), static_cast<size_t>(len));
  r.pos += static_cast<size_t>(len);
  return {score, std::move(piece)};
}

}  // namespace

Tokenizer Tokenizer::parse_llama2c(const uint8_t* data, size_t size, const std::string& name,
                                   int expected_vocab_size) {
  Reader r{data, size, 0, name};
  int32_t max_len = r.read<int32_t>("max_token_length");
  if (max_len < 0) throw InputError(name, "negative max_token_length " + std::to_string(max_len));
  Vocab vocab;
  while (r.left() > 0) {
    int index = static_cast<int>(vocab.pieces.size());
    if (expected_vocab_size > 0 && index == expected_vocab_size) {
      throw InputError(name, "more than the expected " + std::to_string(expected_vocab_size) + " tokens");
    }
    Entry e = read_entry(r, index);
    vocab.pieces.push_back(std::move(e.piece));
    vocab.scores.push_back(e.score);
  }
  if (expected_vocab_size > 0 && vocab.pieces.size() != static_cast<size_t>(expected_vocab_size)) {
    throw InputError(name, "has " + std::to_string(vocab.pieces.size()) + " tokens, expected " +
                               std::to_string(expected_vocab_size));
  }
  return from_vocab(std::move(vocab), name);
}

Tokenizer Tokenizer::load_llama2c(const std::string& path, int expected_vocab_size) {
  MappedFile file(path);
  return parse_llama2c(file.data(), file.size(), path, expected_vocab_size);
}

}  // namespace bf
