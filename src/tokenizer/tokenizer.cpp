// Vocabulary validation, normalisation and decoding.
#include "tokenizer/tokenizer.h"

#include <climits>
#include <cmath>
#include <stdexcept>
#include <utility>

#include "util/error.h"

namespace bf {
namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;  // lowercase is not a byte piece: SentencePiece always writes <0xNN> upper-case
}

// The byte a "<0xNN>" piece stands for, or -1.
int byte_piece_value(const std::string& piece) {
  if (piece.size() != 6 || piece.compare(0, 3, "<0x") != 0 || piece[5] != '>') return -1;
  int hi = hex_digit(piece[3]), lo = hex_digit(piece[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

// tokenizer.bin has no types: recover them from the llama2.c conventions.
std::vector<TokenType> infer_types(const Vocab& v) {
  std::vector<TokenType> types(v.pieces.size(), TokenType::Normal);
  for (size_t id = 0; id < types.size(); id++) {
    if (byte_piece_value(v.pieces[id]) >= 0) types[id] = TokenType::Byte;
  }
  types[v.unk_id] = TokenType::Unknown;
  types[v.bos_id] = TokenType::Control;
  types[v.eos_id] = TokenType::Control;
  return types;
}

// Text can encode to normal and user-defined pieces only; matching "<s>" or "<0x41>" literally
// in user text would be wrong (and tokenizer.bin spells BOS "\n<s>\n").
bool encodable(TokenType t) {
  return t == TokenType::Normal || t == TokenType::UserDefined || t == TokenType::Undefined;
}

void check_vocab(const Vocab& v, const std::string& source) {
  size_t n = v.pieces.size();
  if (n == 0) throw InputError(source, "empty vocabulary");
  if (n > static_cast<size_t>(INT_MAX)) throw InputError(source, "vocabulary too large");
  if (v.scores.size() != n) {
    throw InputError(source, std::to_string(n) + " pieces but " + std::to_string(v.scores.size()) +
                                 " scores");
  }
  if (!v.types.empty() && v.types.size() != n) {
    throw InputError(source, std::to_string(n) + " pieces but " + std::to_string(v.types.size()) +
                                 " token types");
  }
  auto check_special = [&](int id, const char* what) {
    if (id < 0 || static_cast<size_t>(id) >= n) {
      throw InputError(source, std::string(what) + " id " + std::to_string(id) +
                                   " outside the vocabulary of " + std::to_string(n));
    }
  };
  check_special(v.bos_id, "BOS");
  check_special(v.eos_id, "EOS");
  check_special(v.unk_id, "unknown-token");
  for (size_t id = 0; id < n; id++) {
    // A NaN score would break the merge order.
    if (std::isnan(v.scores[id])) throw InputError(source, "token " + std::to_string(id) + " has a NaN score");
  }
}

}  // namespace

std::string Tokenizer::plain_spaces(std::string_view text) {
  constexpr std::string_view kWordMarker = "\xE2\x96\x81";  // U+2581
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    if (text.compare(i, kWordMarker.size(), kWordMarker) == 0) {
      out += ' ';
      i += kWordMarker.size();
    } else {
      out += text[i++];
    }
  }
  return out;
}

Tokenizer Tokenizer::from_vocab(Vocab vocab, const std::string& source) {
  check_vocab(vocab, source);
  return Tokenizer(std::move(vocab));
}

Tokenizer::Tokenizer(Vocab vocab) : vocab_(std::move(vocab)) {
  for (auto& p : vocab_.pieces) p = plain_spaces(p);
  if (vocab_.types.empty()) vocab_.types = infer_types(vocab_);
  byte_ids_.fill(-1);
  byte_of_.assign(vocab_.pieces.size(), -1);
  ids_.reserve(vocab_.pieces.size());
  for (int id = 0; id < vocab_size(); id++) {
    const std::string& p = vocab_.pieces[id];
    TokenType t = vocab_.types[id];
    int byte = t == TokenType::Byte ? byte_piece_value(p) : -1;
    if (byte >= 0) {
      byte_of_[id] = static_cast<int16_t>(byte);
      if (byte_ids_[byte] < 0) byte_ids_[byte] = id;
    }
    bool special = id == vocab_.bos_id || id == vocab_.eos_id || id == vocab_.unk_id;
    // Duplicates keep the lowest id, so the result does not depend on hash order.
    if (!special && encodable(t) && !p.empty()) ids_.try_emplace(p, id);
  }
}

int Tokenizer::find(std::string_view piece) const {
  auto it = ids_.find(piece);
  return it == ids_.end() ? -1 : it->second;
}

void Tokenizer::check_id(int id) const {
  if (id < 0 || id >= vocab_size()) {
    throw std::out_of_range("token id " + std::to_string(id) + " outside the vocabulary of " +
                            std::to_string(vocab_size()));
  }
}

const std::string& Tokenizer::piece(int id) const {
  check_id(id);
  return vocab_.pieces[id];
}

std::string Tokenizer::decode(int prev, int token) const {
  check_id(token);
  if (token == vocab_.bos_id || token == vocab_.eos_id || vocab_.types[token] == TokenType::Control) return "";
  if (byte_of_[token] >= 0) return std::string(1, static_cast<char>(byte_of_[token]));
  const std::string& p = vocab_.pieces[token];
  // The space prefix encode() added belongs to no word: drop it after BOS, as llama2.c does.
  if (prev == vocab_.bos_id && !p.empty() && p[0] == ' ') return p.substr(1);
  return p;
}

std::string Tokenizer::decode_all(const std::vector<int>& tokens) const {
  std::string out;
  int prev = -1;
  for (int token : tokens) {
    out += decode(prev, token);
    prev = token;
  }
  return out;
}

}  // namespace bf
