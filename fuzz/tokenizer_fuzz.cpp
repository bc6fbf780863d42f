// libFuzzer target for the tokenizer: the tokenizer.bin parser, and encode/decode over a vocabulary
// built from the input. Beyond "never crash", it checks that decoding undoes encoding whenever the
// vocabulary has every byte token.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace {

// What decode gives back for `text`: SentencePiece treats U+2581 as a space.
std::string spaced(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size();) {
    if (text.substr(i, 3) == "\xE2\x96\x81") {
      out += ' ';
      i += 3;
    } else {
      out += text[i++];
    }
  }
  return out;
}

void exercise(const bf::Tokenizer& tok, std::string_view text) {
  std::vector<int> ids = tok.encode(text, true, true);
  for (int id : ids) {
    if (id < 0 || id >= tok.vocab_size()) __builtin_trap();
  }
  tok.decode_all(ids);
  for (int id = 0; id < tok.vocab_size() && id < 600; id++) tok.decode(tok.bos_id(), id);
}

// Specials, " ", all 256 byte tokens, then the input's '\n'-separated pieces with made-up scores.
bf::Vocab fuzz_vocab(std::string_view spec, bool space_prefix) {
  bf::Vocab v;
  v.pieces = {"<unk>", "<s>", "</s>", " "};
  for (int b = 0; b < 256; b++) {
    static const char* hex = "0123456789ABCDEF";
    v.pieces.push_back(std::string("<0x") + hex[b >> 4] + hex[b & 15] + ">");
  }
  for (size_t from = 0; from <= spec.size() && v.pieces.size() < 4096;) {
    size_t at = spec.find('\n', from);
    if (at == std::string_view::npos) at = spec.size();
    v.pieces.emplace_back(spec.substr(from, at - from));
    from = at + 1;
  }
  for (size_t i = 0; i < v.pieces.size(); i++) {
    // Few distinct scores, so ties are common.
    v.scores.push_back(-static_cast<float>((i * 2654435761u) % 7));
  }
  v.add_space_prefix = space_prefix;
  return v;
}

// The vocabulary has every byte and " ", so decoding must give back exactly the text.
void check_round_trip(std::string_view spec, std::string_view text, bool space_prefix) {
  bf::Tokenizer tok = bf::Tokenizer::from_vocab(fuzz_vocab(spec, space_prefix), "fuzz");
  exercise(tok, text);
  std::string back = space_prefix ? tok.decode_all(tok.encode(text, true, false))
                                  : tok.decode_all(tok.encode(text, false, false));
  if (back != spaced(text)) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  try {
    bf::Tokenizer tok = bf::Tokenizer::parse_llama2c(data, size, "fuzz.bin");
    exercise(tok, input);
  } catch (const bf::InputError&) {
    // Rejecting a corrupt file is the expected outcome.
  }
  // Input layout for the encoder: vocabulary pieces, a NUL, then the text.
  size_t nul = input.find('\0');
  std::string_view spec = nul == std::string_view::npos ? std::string_view() : input.substr(0, nul);
  std::string_view text = nul == std::string_view::npos ? input : input.substr(nul + 1);
  check_round_trip(spec, text, size % 2 == 0);
  return 0;
}
