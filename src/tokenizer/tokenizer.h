// SentencePiece-BPE as Llama 2 uses it: text -> token ids -> text.
//
// One Tokenizer serves both vocabulary sources. GGUF stores the word marker as U+2581 "▁",
// llama2.c's tokenizer.bin as a plain space; the tokenizer normalises every piece to the
// plain space, so both sources give identical ids and piece() is directly printable.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/vocab.h"

namespace bf {

class Tokenizer {
 public:
  // Validates the vocabulary (sizes agree, bos/eos/unk in range, no empty vocab, no NaN score);
  // throws InputError(source, problem).
  static Tokenizer from_vocab(Vocab vocab, const std::string& source);
  // llama2.c tokenizer.bin: int32 max_token_length, then per token: float32 score, int32 len,
  // len bytes, until end of file. Every length is checked against the file; a truncated or
  // corrupt file, or a count other than expected_vocab_size (when > 0), throws InputError(path, ...).
  static Tokenizer load_llama2c(const std::string& path, int expected_vocab_size = 0);
  // The same from memory (used by the fuzzer); `name` is used in error messages.
  static Tokenizer parse_llama2c(const uint8_t* data, size_t size, const std::string& name,
                                 int expected_vocab_size = 0);

  // SentencePiece encoding: a space prefix when vocab.add_space_prefix and the text is non-empty,
  // merges by highest score (leftmost on ties), byte fallback to <0xNN> tokens (or unk when the
  // vocabulary has no such byte token). Invalid UTF-8 bytes are taken one by one. A U+2581 in the
  // text counts as a space, as in SentencePiece. Throws std::length_error for text of 2 GiB or more.
  std::vector<int> encode(std::string_view text, bool add_bos, bool add_eos) const;
  // The text of `token` printed after `prev`: byte tokens give their raw byte, the leading space of
  // a piece is dropped after BOS (llama2.c), BOS/EOS and control tokens give "".
  // The unknown token gives its piece (e.g. "<unk>"), as llama2.c prints it.
  // Throws std::out_of_range for an id outside the vocabulary.
  std::string decode(int prev, int token) const;
  // Concatenation of decode(prev, token) over the sequence; the first token has no previous one.
  std::string decode_all(const std::vector<int>& tokens) const;

  int vocab_size() const { return static_cast<int>(vocab_.pieces.size()); }
  int bos_id() const { return vocab_.bos_id; }
  int eos_id() const { return vocab_.eos_id; }
  // The normalised piece: the word marker is a plain space ' ' (never U+2581).
  // Throws std::out_of_range for an id outside the vocabulary.
  const std::string& piece(int id) const;
  // The whole vocabulary, normalised as above (used by mkmodel to embed it in a GGUF).
  const Vocab& vocab() const { return vocab_; }

 private:
  // Heterogeneous lookup, so encoding can search with string_views into the text.
  struct PieceHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using PieceMap = std::unordered_map<std::string, int, PieceHash, std::equal_to<>>;

  explicit Tokenizer(Vocab vocab);
  // `text` with every U+2581 word marker replaced by a plain space.
  static std::string plain_spaces(std::string_view text);
  int find(std::string_view piece) const;   // -1 when the piece cannot be produced by encoding
  void check_id(int id) const;
  void append_bytes(std::string_view symbol, std::vector<int>& out) const;

  Vocab vocab_;        // pieces normalised to plain spaces; types always filled in
  PieceMap ids_;       // only the pieces text can encode to (normal and user-defined tokens)
  std::array<int, 256> byte_ids_{};   // byte -> its <0xNN> token, or -1
  std::vector<int16_t> byte_of_;      // token -> the byte it stands for, or -1
};

}  // namespace bf
