// GGUF v3 output: header, metadata, tensor infos, then 32-byte aligned tensor data.
#include <string>
#include <vector>

#include "kernels/quantize.h"
#include "mkmodel/file_writer.h"
#include "mkmodel/mkmodel.h"
#include "model/gguf.h"
#include "util/error.h"

namespace bf {

namespace {

constexpr uint32_t kGgufVersion = 3;
constexpr uint32_t kAlignment = 32;

// The GGUF entry for a weight type; I8G has none.
const GgmlTypeInfo& ggml_entry(DType t) {
  if (const GgmlTypeInfo* e = ggml_type_of(t)) return *e;
  throw InputError("mkmodel", "type " + std::string(dtype_name(t)) + " cannot be stored in GGUF");
}

// Metadata is serialised into memory first because the header needs the pair count.
struct KvBuffer {
  std::vector<uint8_t> bytes;
  uint64_t count = 0;

  void raw(const void* p, size_t n) {
    auto b = static_cast<const uint8_t*>(p);
    bytes.insert(bytes.end(), b, b + n);
  }
  template <typename T>
  void pod(T v) {
    raw(&v, sizeof v);
  }
  void str(std::string_view s) {
    pod<uint64_t>(s.size());
    raw(s.data(), s.size());
  }
  void key(std::string_view k, GgufType t) {
    ++count;
    str(k);
    pod(static_cast<uint32_t>(t));
  }
  void u32(std::string_view k, uint32_t v) {
    key(k, GgufType::U32);
    pod(v);
  }
  void f32(std::string_view k, float v) {
    key(k, GgufType::F32);
    pod(v);
  }
  void boolean(std::string_view k, bool v) {
    key(k, GgufType::Bool);
    pod(static_cast<uint8_t>(v));
  }
  void string(std::string_view k, std::string_view v) {
    key(k, GgufType::String);
    str(v);
  }
  void array_header(std::string_view k, GgufType elem, uint64_t n) {
    key(k, GgufType::Array);
    pod(static_cast<uint32_t>(elem));
    pod(n);
  }
};

uint64_t tensor_bytes(const MkTensor& t, DType type) { return row_bytes(type, t.cols) * static_cast<uint64_t>(t.rows); }

// tokenizer.bin stores a plain space where GGUF stores U+2581.
std::string to_gguf_piece(const std::string& piece) {
  std::string out;
  for (char c : piece) out += c == ' ' ? std::string("\xe2\x96\x81") : std::string(1, c);
  return out;
}

// tokenizer.bin has no token types; derive them the way llama.cpp's converter does.
TokenType guess_type(const Vocab& v, size_t id) {
  const std::string& p = v.pieces[id];
  if (static_cast<int>(id) == v.unk_id) return TokenType::Unknown;
  if (static_cast<int>(id) == v.bos_id || static_cast<int>(id) == v.eos_id) return TokenType::Control;
  if (p.size() == 6 && p.starts_with("<0x") && p.ends_with(">")) return TokenType::Byte;
  return TokenType::Normal;
}

void put_vocab(KvBuffer& kv, const Vocab& v) {
  const bool from_tokenizer_bin = v.types.size() != v.pieces.size();
  kv.string("tokenizer.ggml.model", "llama");
  kv.array_header("tokenizer.ggml.tokens", GgufType::String, v.pieces.size());
  for (const std::string& p : v.pieces) kv.str(from_tokenizer_bin ? to_gguf_piece(p) : p);
  kv.array_header("tokenizer.ggml.scores", GgufType::F32, v.pieces.size());
  for (size_t i = 0; i < v.pieces.size(); ++i) kv.pod(i < v.scores.size() ? v.scores[i] : 0.0f);
  kv.array_header("tokenizer.ggml.token_type", GgufType::I32, v.pieces.size());
  for (size_t i = 0; i < v.pieces.size(); ++i)
    kv.pod(static_cast<int32_t>(from_tokenizer_bin ? guess_type(v, i) : v.types[i]));
  kv.u32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(v.bos_id));
  kv.u32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(v.eos_id));
  kv.u32("tokenizer.ggml.unknown_token_id", static_cast<uint32_t>(v.unk_id));
  kv.boolean("tokenizer.ggml.add_space_prefix", v.add_space_prefix);
}

KvBuffer metadata(const MkModelSpec& s, const Vocab& vocab) {
  KvBuffer kv;
  kv.string("general.architecture", "llama");
  kv.string("general.name", s.name.empty() ? "mkmodel-random" : s.name);
  kv.u32("general.alignment", kAlignment);
  kv.u32("general.file_type", ggml_entry(s.type).file_type);
  kv.u32("llama.context_length", static_cast<uint32_t>(s.seq_len));
  kv.u32("llama.embedding_length", static_cast<uint32_t>(s.dim));
  kv.u32("llama.block_count", static_cast<uint32_t>(s.n_layers));
  kv.u32("llama.feed_forward_length", static_cast<uint32_t>(s.hidden_dim));
  kv.u32("llama.attention.head_count", static_cast<uint32_t>(s.n_heads));
  kv.u32("llama.attention.head_count_kv", static_cast<uint32_t>(s.n_kv_heads));
  kv.u32("llama.rope.dimension_count", static_cast<uint32_t>(s.head_size()));
  kv.f32("llama.rope.freq_base", s.rope_base);
  kv.f32("llama.attention.layer_norm_rms_epsilon", s.norm_eps);
  put_vocab(kv, vocab);
  return kv;
}

// Tensor info: name, dims (ne0 = row length first), ggml type, offset into the data section.
void write_tensor_info(FileWriter& w, const MkTensor& t, DType type, uint64_t offset) {
  w.value<uint64_t>(t.name.size());
  w.bytes(t.name.data(), t.name.size());
  const bool vector = t.is_norm;
  w.value<uint32_t>(vector ? 1 : 2);
  w.value<uint64_t>(static_cast<uint64_t>(t.cols));
  if (!vector) w.value<uint64_t>(static_cast<uint64_t>(t.rows));
  w.value<uint32_t>(ggml_entry(type).id);
  w.value<uint64_t>(offset);
}

// Generates and encodes one row at a time so memory stays O(row length).
void write_tensor_data(FileWriter& w, const MkTensor& t, DType type, uint64_t seed) {
  std::vector<float> row(static_cast<size_t>(t.cols));
  std::vector<uint8_t> encoded(row_bytes(type, t.cols));
  for (int64_t r = 0; r < t.rows; ++r) {
    mkmodel_fill_row(seed, t, r, row.data());
    quantize_row(type, row.data(), encoded.data(), t.cols);
    w.bytes(encoded.data(), encoded.size());
  }
}

}  // namespace

void write_gguf_model(const std::string& path, const MkModelSpec& spec, const Vocab* vocab) {
  validate_spec(spec);
  ggml_entry(spec.type);  // reject I8G before creating the file
  Vocab synthetic;
  if (!vocab) {
    synthetic = synthetic_vocab(spec.vocab_size);
    vocab = &synthetic;
  }
  if (static_cast<int64_t>(vocab->pieces.size()) != spec.vocab_size)
    throw InputError("mkmodel", "vocabulary has " + std::to_string(vocab->pieces.size()) +
                                    " tokens but vocab-size is " + std::to_string(spec.vocab_size));

  const std::vector<MkTensor> tensors = mkmodel_tensors(spec);
  const KvBuffer kv = metadata(spec, *vocab);

  FileWriter w(path);
  w.bytes("GGUF", 4);
  w.value<uint32_t>(kGgufVersion);
  w.value<uint64_t>(tensors.size());
  w.value<uint64_t>(kv.count);
  w.bytes(kv.bytes.data(), kv.bytes.size());

  uint64_t offset = 0;
  for (const MkTensor& t : tensors) {
    const DType type = mkmodel_tensor_type(spec, t);
    write_tensor_info(w, t, type, offset);
    offset += tensor_bytes(t, type);
    offset += (kAlignment - offset % kAlignment) % kAlignment;
  }
  w.pad_to(kAlignment);

  // Every tensor, the last included, is padded to the alignment, as gguf-py writes it
  // (ggml's reader loads the data section as the sum of padded sizes).
  for (const MkTensor& t : tensors) {
    write_tensor_data(w, t, mkmodel_tensor_type(spec, t), spec.seed);
    w.pad_to(kAlignment);
  }
  w.commit();
}

}  // namespace bf
