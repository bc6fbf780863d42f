// Tokenizer tests: llama.cpp's SentencePiece test vectors (from tokenizer.bin and from the GGUF
// vocabulary), llama2.c golden outputs for stories260K, and corrupt tokenizer.bin files.
#include "tokenizer/tokenizer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "model/vocab_loader.h"
#include "util/error.h"
#include "test_support.h"

namespace bf {
namespace {

using test::shared_dir;

std::string llama_dir() { return shared_dir() + "/models/llama2-tokenizer/"; }

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::string s = read_all(path);
  return {s.begin(), s.end()};
}

std::vector<std::string> split(const std::string& s, const std::string& sep) {
  std::vector<std::string> parts;
  size_t from = 0;
  for (size_t at; (at = s.find(sep, from)) != std::string::npos; from = at + sep.size()) {
    parts.push_back(s.substr(from, at - from));
  }
  parts.push_back(s.substr(from));
  return parts;
}

std::vector<int> parse_ids(const std::string& line) {
  std::vector<int> ids;
  std::istringstream in(line);
  for (int id; in >> id;) ids.push_back(id);
  return ids;
}

// llama.cpp's test vectors: every input ends with "\n__ggml_vocab_test__\n" (the newline before
// the marker is not part of the input); the .out has one line of ids per input.
struct TestVector {
  std::string text;
  std::vector<int> ids;
};

std::vector<TestVector> load_test_vectors() {
  std::string base = llama_dir() + "ggml-vocab-llama-spm.gguf";
  std::vector<std::string> inputs = split(read_all(base + ".inp"), "\n__ggml_vocab_test__\n");
  std::vector<std::string> outputs = split(read_all(base + ".out"), "\n");
  // Both files end with their delimiter, leaving one empty part at the end.
  inputs.pop_back();
  outputs.pop_back();
  if (inputs.size() != outputs.size()) throw std::runtime_error("test vector files disagree");
  std::vector<TestVector> vectors;
  for (size_t i = 0; i < inputs.size(); i++) vectors.push_back({inputs[i], parse_ids(outputs[i])});
  return vectors;
}

// A minimal GGUF v3 metadata reader, just enough to pull the vocabulary out of the test file.
class GgufVocabReader {
 public:
  explicit GgufVocabReader(std::vector<uint8_t> bytes) : b_(std::move(bytes)) {}

  Vocab read() {
    if (take(4) != "GGUF") throw std::runtime_error("not GGUF");
    num<uint32_t>();  // version
    num<uint64_t>();  // tensor count
    uint64_t n_kv = num<uint64_t>();
    for (uint64_t i = 0; i < n_kv; i++) read_kv();
    return vocab_;
  }

 private:
  enum Type : uint32_t { U8, I8, U16, I16, U32, I32, F32, Bool, String, Array, U64, I64, F64 };

  std::string take(uint64_t n) {
    if (n > b_.size() - pos_) throw std::runtime_error("GGUF truncated");
    std::string s(reinterpret_cast<const char*>(b_.data() + pos_), n);
    pos_ += n;
    return s;
  }
  template <typename T>
  T num() {
    T v;
    std::memcpy(&v, take(sizeof v).data(), sizeof v);
    return v;
  }
  std::string str() { return take(num<uint64_t>()); }

  static size_t scalar_size(uint32_t type) {
    switch (type) {
      case U8: case I8: case Bool: return 1;
      case U16: case I16: return 2;
      case U32: case I32: case F32: return 4;
      case U64: case I64: case F64: return 8;
    }
    throw std::runtime_error("bad GGUF type");
  }

  // An integer-valued scalar (the special token ids and flags), as int64.
  int64_t integer(uint32_t type) {
    switch (type) {
      case U8: case Bool: return num<uint8_t>();
      case I8: return num<int8_t>();
      case U16: return num<uint16_t>();
      case I16: return num<int16_t>();
      case U32: return num<uint32_t>();
      case I32: return num<int32_t>();
      case U64: return static_cast<int64_t>(num<uint64_t>());
      case I64: return num<int64_t>();
    }
    take(scalar_size(type));
    return 0;
  }

  void skip(uint32_t type) {
    if (type == String) {
      str();
    } else if (type == Array) {
      uint32_t elem = num<uint32_t>();
      for (uint64_t n = num<uint64_t>(); n > 0; n--) skip(elem);
    } else {
      take(scalar_size(type));
    }
  }

  void read_array(const std::string& key) {
    uint32_t elem = num<uint32_t>();
    uint64_t n = num<uint64_t>();
    for (uint64_t i = 0; i < n; i++) {
      if (key == "tokenizer.ggml.tokens" && elem == String) {
        vocab_.pieces.push_back(str());
      } else if (key == "tokenizer.ggml.scores" && elem == F32) {
        vocab_.scores.push_back(num<float>());
      } else if (key == "tokenizer.ggml.token_type" && elem == I32) {
        vocab_.types.push_back(static_cast<TokenType>(num<int32_t>()));
      } else {
        skip(elem);
      }
    }
  }

  void read_kv() {
    std::string key = str();
    uint32_t type = num<uint32_t>();
    if (type == Array) return read_array(key);
    if (type == String || type == F32 || type == F64) return skip(type);
    int64_t v = integer(type);
    if (key == "tokenizer.ggml.bos_token_id") vocab_.bos_id = static_cast<int>(v);
    if (key == "tokenizer.ggml.eos_token_id") vocab_.eos_id = static_cast<int>(v);
    if (key == "tokenizer.ggml.unknown_token_id") vocab_.unk_id = static_cast<int>(v);
    if (key == "tokenizer.ggml.add_space_prefix") vocab_.add_space_prefix = v != 0;
  }

  std::vector<uint8_t> b_;
  size_t pos_ = 0;
  Vocab vocab_;
};

// Loading the 32000-token vocabulary takes a moment: share it across tests.
const Tokenizer& llama_bin() {
  static const Tokenizer tok = Tokenizer::load_llama2c(llama_dir() + "tokenizer.bin", 32000);
  return tok;
}

const Tokenizer& llama_gguf() {
  static const Tokenizer tok = [] {
    std::string path = llama_dir() + "ggml-vocab-llama-spm.gguf";
    return Tokenizer::from_vocab(GgufVocabReader(read_bytes(path)).read(), path);
  }();
  return tok;
}

Tokenizer tiny_stories() { return Tokenizer::load_llama2c(shared_dir() + "/models/stories260K/tok512.bin", 512); }

std::string escaped(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c < 0x20 || c >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

void expect_vectors(const Tokenizer& tok) {
  std::vector<TestVector> vectors = load_test_vectors();
  ASSERT_EQ(vectors.size(), 46u);
  for (const TestVector& v : vectors) {
    EXPECT_EQ(tok.encode(v.text, false, false), v.ids) << "input \"" << escaped(v.text) << "\"";
  }
}

TEST(Tokenizer, LlamaTestVectorsFromTokenizerBin) { expect_vectors(llama_bin()); }

TEST(Tokenizer, LlamaTestVectorsFromGgufVocab) {
  EXPECT_EQ(llama_gguf().vocab_size(), 32000);
  expect_vectors(llama_gguf());
}

// The same through the engine's own GGUF loader.
TEST(Tokenizer, LlamaTestVectorsThroughVocabLoader) {
  expect_vectors(load_tokenizer(llama_dir() + "ggml-vocab-llama-spm.gguf", 32000));
}

TEST(Tokenizer, GgufAndBinAgreeOnPieces) {
  const Tokenizer& a = llama_bin();
  const Tokenizer& b = llama_gguf();
  ASSERT_EQ(a.vocab_size(), b.vocab_size());
  int differ = 0;
  // tokenizer.bin spells BOS and EOS "\n<s>\n" and "\n</s>\n"; everything else must match.
  for (int id = 3; id < a.vocab_size(); id++) differ += a.piece(id) != b.piece(id);
  EXPECT_EQ(differ, 0);
  EXPECT_EQ(a.piece(29871), " ");  // the normalised word marker is a plain space
  EXPECT_EQ(b.piece(29871), " ");
  EXPECT_EQ(a.bos_id(), 1);
  EXPECT_EQ(a.eos_id(), 2);
}

TEST(Tokenizer, DecodeInvertsEncode) {
  const Tokenizer& tok = llama_bin();
  for (const TestVector& v : load_test_vectors()) {
    std::vector<int> ids = tok.encode(v.text, true, false);
    EXPECT_EQ(tok.decode_all(ids), v.text) << "input \"" << escaped(v.text) << "\"";
    // Without BOS nothing marks the prefix as a dummy: it stays.
    EXPECT_EQ(tok.decode_all(tok.encode(v.text, false, false)), v.text.empty() ? "" : " " + v.text);
  }
}

TEST(Tokenizer, BosEosAndEmptyText) {
  const Tokenizer& tok = llama_bin();
  EXPECT_EQ(tok.encode("", false, false), std::vector<int>{});
  EXPECT_EQ(tok.encode("", true, true), (std::vector<int>{1, 2}));
  EXPECT_EQ(tok.encode("Hello world", true, true), (std::vector<int>{1, 15043, 3186, 2}));
  EXPECT_EQ(tok.decode(1, 1), "");
  EXPECT_EQ(tok.decode(15043, 2), "");
  EXPECT_EQ(tok.decode(1, 15043), "Hello");    // BOS drops the dummy prefix
  EXPECT_EQ(tok.decode(3186, 15043), " Hello");
  EXPECT_EQ(tok.decode(1, 13), "\n");           // <0x0A>
  EXPECT_EQ(tok.decode(1, 0), "<unk>");
  EXPECT_THROW(tok.decode(1, 32000), std::out_of_range);
  EXPECT_THROW(tok.decode(1, -1), std::out_of_range);
  EXPECT_THROW(tok.piece(32000), std::out_of_range);
}

TEST(Tokenizer, WordMarkerInTextActsAsSpace) {
  const Tokenizer& tok = llama_bin();
  EXPECT_EQ(tok.encode("Hello\xE2\x96\x81world", false, false), tok.encode("Hello world", false, false));
}

TEST(Tokenizer, InvalidUtf8BecomesBytes) {
  const Tokenizer& tok = llama_bin();
  std::string text = "a\xff" "b\xe2\x82" "c\xe2\x82\xac\x80\xc0";  // stray, truncated, valid, stray bytes
  std::vector<int> ids = tok.encode(text, true, false);
  EXPECT_EQ(tok.decode_all(ids), text);
  std::string bad = "\xff";
  EXPECT_EQ(tok.encode(bad, false, false), (std::vector<int>{29871, 3 + 0xff}));
}

TEST(Tokenizer, LongPromptIsFast) {
  const Tokenizer& tok = llama_bin();
  std::string text;
  for (int i = 0; text.size() < 200000; i++) text += "Once upon a time, token " + std::to_string(i) + " met 🦙. ";
  std::string spaces(50000, ' ');
  auto start = std::chrono::steady_clock::now();
  std::vector<int> ids = tok.encode(text, true, false);
  std::vector<int> space_ids = tok.encode(spaces, false, false);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(tok.decode_all(ids), text);
  EXPECT_EQ(tok.decode_all(space_ids), " " + spaces);
  EXPECT_LT(seconds, 2.0);  // quadratic merging would take minutes here
}

// The toy vocabulary exercises the merge rules directly.
Vocab toy_vocab() {
  Vocab v;
  v.pieces = {"<unk>", "<s>", "</s>", "a", "b", "ab", "ba", "\xE2\x96\x81" "a", "<0x63>"};
  v.scores = {0, 0, 0, -1, -1, -5, -5, -2, 0};
  v.add_space_prefix = false;
  return v;
}

TEST(Tokenizer, TiesMergeLeftmostFirst) {
  Tokenizer tok = Tokenizer::from_vocab(toy_vocab(), "toy");
  EXPECT_EQ(tok.encode("aba", false, false), (std::vector<int>{5, 3}));
  EXPECT_EQ(tok.encode("bab", false, false), (std::vector<int>{6, 4}));
  EXPECT_EQ(tok.encode(" ab", false, false), (std::vector<int>{7, 4}));  // " a" beats "ab"
  EXPECT_EQ(tok.piece(7), " a");
}

TEST(Tokenizer, ByteFallbackUsesUnkWithoutByteToken) {
  Tokenizer tok = Tokenizer::from_vocab(toy_vocab(), "toy");
  EXPECT_EQ(tok.encode("cd", false, false), (std::vector<int>{8, 0}));
  EXPECT_EQ(tok.decode(3, 8), "c");
}

TEST(Tokenizer, FromVocabRejectsBadVocabularies) {
  auto expect_bad = [](Vocab v, const char* what) {
    try {
      Tokenizer::from_vocab(std::move(v), "vocab.src");
      ADD_FAILURE() << "accepted: " << what;
    } catch (const InputError& e) {
      EXPECT_EQ(std::string(e.what()).rfind("vocab.src: ", 0), 0u) << e.what();
    }
  };
  Vocab v = toy_vocab();
  v.scores.pop_back();
  expect_bad(v, "score count");
  v = toy_vocab();
  v.types = {TokenType::Normal};
  expect_bad(v, "type count");
  v = toy_vocab();
  v.bos_id = 9;
  expect_bad(v, "bos out of range");
  v = toy_vocab();
  v.eos_id = -1;
  expect_bad(v, "eos out of range");
  v = toy_vocab();
  v.unk_id = 100;
  expect_bad(v, "unk out of range");
  v = toy_vocab();
  v.scores[4] = std::nanf("");
  expect_bad(v, "NaN score");
  expect_bad(Vocab{}, "empty");
}

TEST(Tokenizer, Stories260KPrompt) {
  Tokenizer tok = tiny_stories();
  EXPECT_EQ(tok.vocab_size(), 512);
  EXPECT_EQ(tok.encode("Once upon a time", true, false), (std::vector<int>{1, 403, 407, 261, 378}));
}

TEST(Tokenizer, Stories260KGgufMatchesTokenizerBin) {
  Tokenizer bin = tiny_stories();
  Tokenizer gguf = load_tokenizer(shared_dir() + "/models/stories260K/stories260K.gguf", 512);
  for (int id = 3; id < 512; id++) EXPECT_EQ(gguf.piece(id), bin.piece(id)) << id;
  for (const TestVector& v : load_test_vectors()) {
    EXPECT_EQ(gguf.encode(v.text, true, true), bin.encode(v.text, true, true)) << escaped(v.text);
  }
}

std::map<std::string, std::string> read_golden(const std::string& name) {
  std::map<std::string, std::string> fields;
  std::istringstream in(read_all(shared_dir() + "/golden/" + name + ".golden"));
  for (std::string line; std::getline(in, line);) {
    size_t tab = line.find('\t');
    if (tab != std::string::npos) fields[line.substr(0, tab)] = line.substr(tab + 1);
  }
  return fields;
}

std::string unescape_newlines(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] == '\\' && i + 1 < s.size() && s[i + 1] == 'n') {
      out += '\n';
      i++;
    } else {
      out += s[i];
    }
  }
  return out;
}

TEST(Tokenizer, Stories260KGoldenText) {
  Tokenizer tok = tiny_stories();
  for (const char* name : {"once", "empty", "lily", "long"}) {
    std::map<std::string, std::string> g = read_golden(name);
    std::vector<int> tokens = parse_ids(g["tokens"]);
    std::vector<int> prompt = tok.encode(g["prompt"], true, false);
    ASSERT_LE(prompt.size(), tokens.size() + 1) << name;
    EXPECT_TRUE(std::equal(prompt.begin() + 1, prompt.end(), tokens.begin())) << name;
    tokens.insert(tokens.begin(), tok.bos_id());
    std::string text = unescape_newlines(g["text"]);
    ASSERT_FALSE(text.empty());
    text.pop_back();  // run.c ends its output with a newline of its own
    EXPECT_EQ(tok.decode_all(tokens), text) << name;
  }
}

// A well-formed tokenizer.bin in memory.
std::vector<uint8_t> make_bin(int32_t max_len, const std::vector<std::pair<float, std::string>>& entries) {
  std::vector<uint8_t> out;
  auto put = [&](const void* p, size_t n) { out.insert(out.end(), (const uint8_t*)p, (const uint8_t*)p + n); };
  put(&max_len, 4);
  for (const auto& [score, piece] : entries) {
    int32_t len = static_cast<int32_t>(piece.size());
    put(&score, 4);
    put(&len, 4);
    put(piece.data(), piece.size());
  }
  return out;
}

void expect_parse_error(const std::vector<uint8_t>& bytes, int expected, const std::string& what) {
  try {
    Tokenizer::parse_llama2c(bytes.data(), bytes.size(), "bad.bin", expected);
    ADD_FAILURE() << "accepted: " << what;
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("bad.bin: ", 0), 0u) << e.what();
  }
}

TEST(Tokenizer, TruncatedTokenizerBinThrows) {
  std::vector<uint8_t> bytes = read_bytes(llama_dir() + "tokenizer.bin");
  // Offsets where one entry ends and the next begins give a shorter but well-formed file.
  std::vector<bool> boundary(bytes.size() + 1, false);
  for (size_t pos = 4; pos + 8 <= bytes.size();) {
    int32_t len;
    std::memcpy(&len, bytes.data() + pos + 4, 4);
    pos += 8 + static_cast<size_t>(len);
    boundary[pos] = true;
  }
  for (size_t cut = 0; cut < 600; cut++) {
    std::vector<uint8_t> part(bytes.begin(), bytes.begin() + cut);
    expect_parse_error(part, 32000, "cut at " + std::to_string(cut));
    if (!boundary[cut]) expect_parse_error(part, 0, "cut at " + std::to_string(cut));
  }
  expect_parse_error({bytes.begin(), bytes.end() - 1}, 0, "last byte cut");
}

TEST(Tokenizer, CorruptTokenizerBinThrows) {
  std::vector<std::pair<float, std::string>> good = {{0, "<unk>"}, {0, "<s>"}, {0, "</s>"}, {-1, "a"}};
  EXPECT_EQ(Tokenizer::parse_llama2c(make_bin(8, good).data(), make_bin(8, good).size(), "ok", 4).vocab_size(), 4);
  expect_parse_error(make_bin(-1, good), 0, "negative max length");
  expect_parse_error(make_bin(8, good), 5, "too few tokens");
  expect_parse_error(make_bin(8, good), 3, "too many tokens");
  expect_parse_error(make_bin(8, {{0, "<unk>"}, {0, "<s>"}}), 0, "no EOS");
  expect_parse_error(make_bin(8, {}), 0, "no tokens");
  std::vector<uint8_t> bytes = make_bin(8, good);
  for (int32_t len : {-1, INT32_MIN, INT32_MAX, 2}) {
    std::vector<uint8_t> bad = bytes;
    std::memcpy(bad.data() + bad.size() - 1 - 4, &len, 4);  // the length of "a"
    expect_parse_error(bad, 0, "length " + std::to_string(len));
  }
  std::vector<uint8_t> nan = bytes;
  float nan_score = std::nanf("");
  std::memcpy(nan.data() + nan.size() - 1 - 8, &nan_score, 4);
  expect_parse_error(nan, 0, "NaN score");
}

TEST(Tokenizer, LoadErrorsNameTheFile) {
  std::string path = ::testing::TempDir() + "tokenizer_test_truncated.bin";
  std::vector<uint8_t> bytes = read_bytes(llama_dir() + "tokenizer.bin");
  {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), 101);  // mid-entry
  }
  try {
    Tokenizer::load_llama2c(path);
    ADD_FAILURE() << "truncated file accepted";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()).rfind(path + ": ", 0), 0u) << e.what();
  }
  std::remove(path.c_str());
  EXPECT_THROW(Tokenizer::load_llama2c(shared_dir() + "/no/such/tokenizer.bin"), InputError);
  EXPECT_THROW(Tokenizer::load_llama2c(llama_dir() + "tokenizer.bin", 512), InputError);
}

}  // namespace
}  // namespace bf
