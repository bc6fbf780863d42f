// mkmodel: file layouts (sizes implied by the headers, a structural GGUF parse),
// determinism, the same weights across formats, and the command's argument checks.
#include <gtest/gtest.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <unistd.h>
#include <string>
#include <vector>

#include "kernels/quantize.h"
#include "mkmodel/mkmodel.h"
#include "model/ggml_types.h"
#include "cli/mkmodel_command.h"
#include "util/error.h"
#include "test_support.h"

namespace bf {
namespace {

namespace fs = std::filesystem;

std::vector<uint8_t> read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A fresh directory per test, removed afterwards.
class MkModelTest : public ::testing::Test {
 protected:
  std::string path(const std::string& name) const { return dir_.file(name); }
  test::TempDir dir_;
};

MkModelSpec small_spec() { return test::small_model_spec(42, "small"); }

// ---- a minimal GGUF reader, independent of the engine's loader ----

struct ByteReader {
  const std::vector<uint8_t>& b;
  size_t pos = 0;

  template <typename T>
  T get() {
    if (pos + sizeof(T) > b.size()) throw std::runtime_error("truncated");
    T v;
    std::memcpy(&v, b.data() + pos, sizeof v);
    pos += sizeof v;
    return v;
  }
  std::string str() {
    auto n = get<uint64_t>();
    if (pos + n > b.size()) throw std::runtime_error("truncated string");
    std::string s(reinterpret_cast<const char*>(b.data() + pos), n);
    pos += n;
    return s;
  }
};

struct GgufValue {
  uint32_t type = 0;
  uint64_t u = 0;  // integer and bool values
  float f = 0;
  std::string s;
  uint32_t elem_type = 0;
  std::vector<std::string> strings;  // string arrays
  std::vector<uint64_t> ints;        // integer arrays
  std::vector<float> floats;         // f32 arrays
};

struct GgufTensorInfo {
  std::vector<uint64_t> dims;
  uint32_t type = 0;
  uint64_t offset = 0;
};

struct GgufFile {
  uint32_t version = 0;
  std::map<std::string, GgufValue> kv;
  std::vector<std::string> order;
  std::map<std::string, GgufTensorInfo> tensors;
  uint64_t data_start = 0;
};

GgufValue read_scalar(ByteReader& r, uint32_t type) {
  GgufValue v;
  v.type = type;
  switch (type) {
    case 0: v.u = r.get<uint8_t>(); break;
    case 1: v.u = static_cast<uint64_t>(r.get<int8_t>()); break;
    case 2: v.u = r.get<uint16_t>(); break;
    case 3: v.u = static_cast<uint64_t>(r.get<int16_t>()); break;
    case 4: v.u = r.get<uint32_t>(); break;
    case 5: v.u = static_cast<uint64_t>(r.get<int32_t>()); break;
    case 6: v.f = r.get<float>(); break;
    case 7: v.u = r.get<uint8_t>(); break;
    case 8: v.s = r.str(); break;
    case 10: v.u = r.get<uint64_t>(); break;
    case 11: v.u = static_cast<uint64_t>(r.get<int64_t>()); break;
    case 12: v.f = static_cast<float>(r.get<double>()); break;
    default: throw std::runtime_error("bad value type " + std::to_string(type));
  }
  return v;
}

GgufFile parse_gguf(const std::vector<uint8_t>& bytes) {
  ByteReader r{bytes};
  GgufFile g;
  if (r.get<uint32_t>() != 0x46554747) throw std::runtime_error("bad magic");  // "GGUF"
  g.version = r.get<uint32_t>();
  const auto n_tensors = r.get<uint64_t>();
  const auto n_kv = r.get<uint64_t>();
  for (uint64_t i = 0; i < n_kv; ++i) {
    const std::string key = r.str();
    const auto type = r.get<uint32_t>();
    GgufValue v;
    if (type == 9) {
      v.type = 9;
      v.elem_type = r.get<uint32_t>();
      const auto n = r.get<uint64_t>();
      for (uint64_t j = 0; j < n; ++j) {
        GgufValue e = read_scalar(r, v.elem_type);
        if (v.elem_type == 8) v.strings.push_back(e.s);
        else if (v.elem_type == 6) v.floats.push_back(e.f);
        else v.ints.push_back(e.u);
      }
    } else {
      v = read_scalar(r, type);
    }
    g.kv[key] = v;
  }
  for (uint64_t i = 0; i < n_tensors; ++i) {
    const std::string name = r.str();
    GgufTensorInfo t;
    const auto n_dims = r.get<uint32_t>();
    for (uint32_t d = 0; d < n_dims; ++d) t.dims.push_back(r.get<uint64_t>());
    t.type = r.get<uint32_t>();
    t.offset = r.get<uint64_t>();
    g.order.push_back(name);
    g.tensors[name] = t;
  }
  const uint64_t align = g.kv.count("general.alignment") ? g.kv["general.alignment"].u : 32;
  g.data_start = (r.pos + align - 1) / align * align;
  return g;
}

uint64_t ggml_nbytes(const GgufTensorInfo& t) {
  uint64_t n = 1;
  for (uint64_t d : t.dims) n *= d;
  // ggml's block sizes, written out here so the check does not lean on the engine's table.
  switch (t.type) {
    case 0: return n * 4;
    case 1: case 30: return n * 2;  // F16, BF16
    case 2: return n / 32 * 18;
    case 3: return n / 32 * 20;     // Q4_1
    case 6: return n / 32 * 22;     // Q5_0
    case 7: return n / 32 * 24;     // Q5_1
    case 8: return n / 32 * 34;
    case 12: return n / 256 * 144;  // Q4_K
    case 13: return n / 256 * 176;  // Q5_K
    case 14: return n / 256 * 210;  // Q6_K
  }
  throw std::runtime_error("unexpected ggml type");
}

// The f32 rows a writer generates for tensor `name` of `spec`.
std::vector<float> reference_weights(const MkModelSpec& spec, const std::string& name) {
  for (const MkTensor& t : mkmodel_tensors(spec)) {
    if (t.name != name) continue;
    std::vector<float> w(static_cast<size_t>(t.rows * t.cols));
    for (int64_t r = 0; r < t.rows; ++r) mkmodel_fill_row(spec.seed, t, r, w.data() + r * t.cols);
    return w;
  }
  throw std::runtime_error("no tensor " + name);
}

template <typename T>
std::vector<T> slice(const std::vector<uint8_t>& bytes, uint64_t offset, size_t count) {
  std::vector<T> v(count);
  EXPECT_LE(offset + count * sizeof(T), bytes.size());
  std::memcpy(v.data(), bytes.data() + offset, count * sizeof(T));
  return v;
}

// ---- GGUF ----

// Data: tensors back to back in header order, each 32-aligned; the file ends after the
// last one's padding.
void expect_back_to_back(const GgufFile& g, size_t file_size) {
  uint64_t expect_offset = 0;
  for (const std::string& n : g.order) {
    const GgufTensorInfo& t = g.tensors.at(n);
    EXPECT_EQ(t.offset, expect_offset) << n;
    EXPECT_EQ(t.offset % 32, 0u) << n;
    expect_offset += (ggml_nbytes(t) + 31) / 32 * 32;
  }
  EXPECT_EQ(file_size, g.data_start + expect_offset);
}

TEST_F(MkModelTest, GgufParsesWithExpectedMetadataAndTensors) {
  MkModelSpec s = small_spec();
  s.tied_classifier = false;
  write_gguf_model(path("m.gguf"), s, nullptr);
  const auto bytes = read_all(path("m.gguf"));
  const GgufFile g = parse_gguf(bytes);

  EXPECT_EQ(g.version, 3u);
  EXPECT_EQ(g.kv.at("general.architecture").s, "llama");
  EXPECT_EQ(g.kv.at("general.name").s, "small");
  EXPECT_EQ(g.kv.at("general.alignment").u, 32u);
  EXPECT_EQ(g.kv.at("llama.embedding_length").u, 64u);
  EXPECT_EQ(g.kv.at("llama.feed_forward_length").u, 96u);
  EXPECT_EQ(g.kv.at("llama.block_count").u, 2u);
  EXPECT_EQ(g.kv.at("llama.attention.head_count").u, 4u);
  EXPECT_EQ(g.kv.at("llama.attention.head_count_kv").u, 2u);
  EXPECT_EQ(g.kv.at("llama.context_length").u, 32u);
  EXPECT_EQ(g.kv.at("llama.rope.dimension_count").u, 16u);
  EXPECT_EQ(g.kv.at("llama.rope.freq_base").f, 10000.0f);
  EXPECT_EQ(g.kv.at("llama.attention.layer_norm_rms_epsilon").f, 1e-5f);
  EXPECT_EQ(g.kv.at("tokenizer.ggml.model").s, "llama");
  EXPECT_EQ(g.kv.at("tokenizer.ggml.tokens").strings.size(), 300u);
  EXPECT_EQ(g.kv.at("tokenizer.ggml.scores").floats.size(), 300u);
  EXPECT_EQ(g.kv.at("tokenizer.ggml.token_type").ints.size(), 300u);
  EXPECT_EQ(g.kv.at("tokenizer.ggml.bos_token_id").u, 1u);
  EXPECT_EQ(g.kv.at("tokenizer.ggml.eos_token_id").u, 2u);
  EXPECT_EQ(g.kv.at("tokenizer.ggml.unknown_token_id").u, 0u);

  // 1 embedding + 9 per layer + final norm + classifier.
  ASSERT_EQ(g.tensors.size(), 1u + 9u * 2 + 2);
  const auto dims = [&](const std::string& n) { return g.tensors.at(n).dims; };
  EXPECT_EQ(dims("token_embd.weight"), (std::vector<uint64_t>{64, 300}));
  EXPECT_EQ(dims("blk.1.attn_norm.weight"), (std::vector<uint64_t>{64}));
  EXPECT_EQ(dims("blk.1.attn_q.weight"), (std::vector<uint64_t>{64, 64}));
  EXPECT_EQ(dims("blk.1.attn_k.weight"), (std::vector<uint64_t>{64, 32}));
  EXPECT_EQ(dims("blk.1.attn_v.weight"), (std::vector<uint64_t>{64, 32}));
  EXPECT_EQ(dims("blk.1.attn_output.weight"), (std::vector<uint64_t>{64, 64}));
  EXPECT_EQ(dims("blk.1.ffn_gate.weight"), (std::vector<uint64_t>{64, 96}));
  EXPECT_EQ(dims("blk.1.ffn_down.weight"), (std::vector<uint64_t>{96, 64}));
  EXPECT_EQ(dims("blk.1.ffn_up.weight"), (std::vector<uint64_t>{64, 96}));
  EXPECT_EQ(dims("output_norm.weight"), (std::vector<uint64_t>{64}));
  EXPECT_EQ(dims("output.weight"), (std::vector<uint64_t>{64, 300}));

  expect_back_to_back(g, bytes.size());
}

// A recipe mixes types in one file; the layout is the same: Q4_K, Q6_K and the Q5_0
// fallback (rows of 64) back to back.
TEST_F(MkModelTest, GgufRecipeTensorsAreBackToBack) {
  MkModelSpec s = small_spec();
  s.hidden_dim = 256;
  s.n_layers = 2;
  s.tied_classifier = false;
  s.type = DType::Q4_K;
  s.mix = TypeMix::LlamaQuantize;
  write_gguf_model(path("r.gguf"), s, nullptr);
  const auto bytes = read_all(path("r.gguf"));
  const GgufFile g = parse_gguf(bytes);
  EXPECT_EQ(g.kv.at("general.file_type").u, 15u);  // MOSTLY_Q4_K_M
  EXPECT_EQ(g.tensors.at("blk.0.ffn_down.weight").type, 12u);  // Q4_K
  EXPECT_EQ(g.tensors.at("blk.1.ffn_down.weight").type, 14u);  // Q6_K: the last n/8 layers
  EXPECT_EQ(g.tensors.at("blk.1.ffn_up.weight").type, 6u);     // Q5_0 for rows of 64
  EXPECT_EQ(g.tensors.at("output.weight").type, 8u);           // Q8_0 for Q6_K's rows of 64
  expect_back_to_back(g, bytes.size());
}

// The one ggml type table (model/ggml_types.h) that the writer and the loader share,
// against ggml's published ids and the engine's own row sizes.
TEST(GgmlTypes, TableMatchesGgmlAndTheEngineRowSizes) {
  for (size_t i = 0; i < std::size(kGgmlTypes); ++i) {
    EXPECT_EQ(kGgmlTypes[i].id, i) << "ids are dense and in order";
    EXPECT_EQ(ggml_type(kGgmlTypes[i].id), &kGgmlTypes[i]);
  }
  EXPECT_EQ(ggml_type(31), nullptr);
  EXPECT_EQ(ggml_type_name(31), "unknown");
  EXPECT_EQ(ggml_type_name(12), "Q4_K");
  EXPECT_EQ(ggml_type_name(30), "BF16");
  const std::pair<DType, uint32_t> ids[] = {{DType::F32, 0},   {DType::F16, 1},   {DType::Q4_0, 2},  {DType::Q4_1, 3},
                                            {DType::Q5_0, 6},  {DType::Q5_1, 7},  {DType::Q8_0, 8},  {DType::Q4_K, 12},
                                            {DType::Q5_K, 13}, {DType::Q6_K, 14}, {DType::BF16, 30}};
  for (auto [dtype, id] : ids) {
    const GgmlTypeInfo* t = ggml_type_of(dtype);
    ASSERT_NE(t, nullptr) << dtype_name(dtype);
    EXPECT_EQ(t->id, id);
    EXPECT_EQ(t->name, dtype_name(dtype));
    for (int64_t cols : {256, 512, 2048, 5632})
      EXPECT_EQ(cols / t->block_elems * t->block_bytes, row_bytes(dtype, cols)) << t->name << " " << cols;
  }
  EXPECT_EQ(ggml_type_of(DType::I8G), nullptr);
  int supported = 0;
  for (const GgmlTypeInfo& t : kGgmlTypes) supported += t.supported;
  EXPECT_EQ(supported, static_cast<int>(std::size(ids)));
  // llama.cpp's general.file_type: ALL_F32 0, MOSTLY_F16 1, MOSTLY_Q4_0 2, MOSTLY_Q4_1 3, MOSTLY_Q8_0 7,
  // MOSTLY_Q5_0 8, MOSTLY_Q5_1 9, MOSTLY_Q4_K_M 15, MOSTLY_Q5_K_M 17, MOSTLY_Q6_K 18, MOSTLY_BF16 32.
  const std::pair<DType, uint32_t> file_types[] = {{DType::Q4_0, 2},  {DType::Q4_1, 3},  {DType::Q8_0, 7},
                                                   {DType::Q5_0, 8},  {DType::Q5_1, 9},  {DType::Q4_K, 15},
                                                   {DType::Q5_K, 17}, {DType::Q6_K, 18}, {DType::BF16, 32}};
  for (auto [dtype, file_type] : file_types) EXPECT_EQ(ggml_type_of(dtype)->file_type, file_type) << dtype_name(dtype);
}

TEST_F(MkModelTest, GgufTiedHasNoClassifier) {
  write_gguf_model(path("m.gguf"), small_spec(), nullptr);
  const GgufFile g = parse_gguf(read_all(path("m.gguf")));
  EXPECT_EQ(g.tensors.count("output.weight"), 0u);
  EXPECT_EQ(g.tensors.size(), 1u + 9u * 2 + 1);
}

TEST_F(MkModelTest, GgufQuantizedTensorsAreTheF32WeightsQuantized) {
  for (DType type : {DType::F16, DType::Q8_0, DType::Q4_0}) {
    MkModelSpec s = small_spec();
    s.type = type;
    write_gguf_model(path("q.gguf"), s, nullptr);
    const auto bytes = read_all(path("q.gguf"));
    const GgufFile g = parse_gguf(bytes);
    const uint32_t want_id = type == DType::F16 ? 1 : type == DType::Q4_0 ? 2 : 8;
    for (const auto& [name, t] : g.tensors) EXPECT_EQ(t.type, t.dims.size() == 1 ? 0u : want_id) << name;

    const std::string name = "blk.1.ffn_down.weight";
    const std::vector<float> w = reference_weights(s, name);
    const GgufTensorInfo& t = g.tensors.at(name);
    const uint64_t at = g.data_start + t.offset;
    const size_t nbytes = ggml_nbytes(t);
    std::vector<uint8_t> want(nbytes);
    const auto n = static_cast<int64_t>(w.size());
    if (type == DType::F16) quantize_row_f16(w.data(), reinterpret_cast<uint16_t*>(want.data()), n);
    if (type == DType::Q8_0) quantize_row_q8_0(w.data(), reinterpret_cast<BlockQ8_0*>(want.data()), n);
    if (type == DType::Q4_0) quantize_row_q4_0(w.data(), reinterpret_cast<BlockQ4_0*>(want.data()), n);
    EXPECT_EQ(slice<uint8_t>(bytes, at, nbytes), want) << dtype_name(type);
  }
}

TEST_F(MkModelTest, GgufBlockTypeFallsBackToF16ForOddRowLength) {
  MkModelSpec s = *mkmodel_preset("stories260K");  // hidden 172: ffn_down rows are not whole blocks
  s.type = DType::Q8_0;
  write_gguf_model(path("q.gguf"), s, nullptr);
  const GgufFile g = parse_gguf(read_all(path("q.gguf")));
  EXPECT_EQ(g.tensors.at("blk.0.ffn_down.weight").type, 1u);
  EXPECT_EQ(g.tensors.at("blk.0.ffn_gate.weight").type, 8u);
  EXPECT_EQ(g.tensors.at("token_embd.weight").type, 8u);
}

TEST_F(MkModelTest, GgufRejectsInt8) {
  MkModelSpec s = small_spec();
  s.type = DType::I8G;
  EXPECT_THROW(write_gguf_model(path("q.gguf"), s, nullptr), InputError);
  EXPECT_FALSE(fs::exists(path("q.gguf")));
}

TEST_F(MkModelTest, GgufEmbedsAGivenVocab) {
  MkModelSpec s = small_spec();
  s.vocab_size = 4;
  Vocab v;
  v.pieces = {"<unk>", "<s>", "</s>", " hello"};  // tokenizer.bin style: plain space, no types
  v.scores = {0, 0, 0, -1.5f};
  write_gguf_model(path("v.gguf"), s, &v);
  const GgufFile g = parse_gguf(read_all(path("v.gguf")));
  EXPECT_EQ(g.kv.at("tokenizer.ggml.tokens").strings,
            (std::vector<std::string>{"<unk>", "<s>", "</s>", "\xe2\x96\x81hello"}));
  EXPECT_EQ(g.kv.at("tokenizer.ggml.scores").floats, (std::vector<float>{0, 0, 0, -1.5f}));
  EXPECT_EQ(g.kv.at("tokenizer.ggml.token_type").ints, (std::vector<uint64_t>{2, 3, 3, 1}));

  v.pieces.pop_back();
  EXPECT_THROW(write_gguf_model(path("w.gguf"), s, &v), InputError);
}

// ---- llama2.c ----

struct Llama2cHeader {
  int32_t dim, hidden, layers, heads, kv_heads, vocab, seq;
  bool shared = true;
  int32_t group = 0;
};

Llama2cHeader read_header(const std::vector<uint8_t>& b, int version) {
  Llama2cHeader h{};
  const size_t at = version == 0 ? 0 : 8;
  std::memcpy(&h.dim, b.data() + at, 7 * sizeof(int32_t));
  if (version == 0) {
    h.shared = h.vocab > 0;
    h.vocab = std::abs(h.vocab);
  } else {
    h.shared = b[at + 28] != 0;
    if (version == 2) std::memcpy(&h.group, b.data() + at + 29, 4);
  }
  return h;
}

// Element counts, straight from the header fields.
struct Counts {
  int64_t norms, embed, layer_matrices;
};
Counts counts(const Llama2cHeader& h) {
  const int64_t kv = int64_t{h.dim} / h.heads * h.kv_heads;
  return {int64_t{h.layers} * 2 * h.dim + h.dim, int64_t{h.vocab} * h.dim,
          int64_t{h.layers} * (2 * h.dim * h.dim + 2 * kv * h.dim + 3 * int64_t{h.dim} * h.hidden)};
}

TEST_F(MkModelTest, Llama2cSizesMatchTheirHeaders) {
  for (bool tied : {true, false}) {
    MkModelSpec s = small_spec();
    s.tied_classifier = tied;
    for (int version : {0, 1, 2}) {
      const std::string p = path("m" + std::to_string(version) + ".bin");
      write_llama2c_model(p, s, version);
      const auto b = read_all(p);
      if (version > 0) {
        uint32_t magic;
        int32_t ver;
        std::memcpy(&magic, b.data(), 4);
        std::memcpy(&ver, b.data() + 4, 4);
        EXPECT_EQ(magic, 0x616b3432u);
        EXPECT_EQ(ver, version);
      }
      const Llama2cHeader h = read_header(b, version);
      EXPECT_EQ(h.dim, 64);
      EXPECT_EQ(h.hidden, 96);
      EXPECT_EQ(h.kv_heads, 2);
      EXPECT_EQ(h.vocab, 300);
      EXPECT_EQ(h.shared, tied);
      const Counts c = counts(h);
      const int64_t cls = h.shared ? 0 : c.embed;
      int64_t expect = 0;
      if (version == 0) {
        const int64_t rope = int64_t{h.seq} * (h.dim / h.heads);  // real + imag halves
        expect = 28 + 4 * (c.norms + c.embed + c.layer_matrices + rope + cls);
      } else if (version == 1) {
        expect = 256 + 4 * (c.norms + c.embed + c.layer_matrices + cls);
      } else {
        EXPECT_EQ(h.group, 32);
        const int64_t q = c.embed + c.layer_matrices + cls;
        expect = 256 + 4 * c.norms + q + 4 * q / h.group;
      }
      EXPECT_EQ(static_cast<int64_t>(b.size()), expect) << "version " << version << " tied " << tied;
    }
  }
}

TEST_F(MkModelTest, SharedStories260KLayoutSize) {
  // Same shape as ../shared stories260K.bin (v0, shared classifier): same size.
  write_llama2c_model(path("s.bin"), *mkmodel_preset("stories260K"), 0);
  EXPECT_EQ(fs::file_size(path("s.bin")), 1056540u);
}

TEST_F(MkModelTest, Llama2cAndGgufHoldTheSameWeights) {
  MkModelSpec s = small_spec();
  s.tied_classifier = false;
  write_gguf_model(path("m.gguf"), s, nullptr);
  write_llama2c_model(path("m0.bin"), s, 0);
  write_llama2c_model(path("m1.bin"), s, 1);
  write_llama2c_model(path("m2.bin"), s, 2);
  const auto gb = read_all(path("m.gguf"));
  const GgufFile g = parse_gguf(gb);
  const auto b0 = read_all(path("m0.bin"));
  const auto b1 = read_all(path("m1.bin"));
  const auto b2 = read_all(path("m2.bin"));
  const auto from_gguf = [&](const std::string& n, size_t count) {
    return slice<float>(gb, g.data_start + g.tensors.at(n).offset, count);
  };
  const int64_t dim = 64, kv = 32, hidden = 96, vocab = 300, L = 2;

  // v0: embedding first; wk of layer 1 after embedding, att norms, all wq, wk of layer 0.
  EXPECT_EQ(slice<float>(b0, 28, vocab * dim), from_gguf("token_embd.weight", vocab * dim));
  const uint64_t wk1_v0 = 28 + 4 * (vocab * dim + L * dim + L * dim * dim + kv * dim);
  EXPECT_EQ(slice<float>(b0, wk1_v0, kv * dim), from_gguf("blk.1.attn_k.weight", kv * dim));
  // v0 ends with the classifier.
  EXPECT_EQ(slice<float>(b0, b0.size() - 4 * vocab * dim, vocab * dim), from_gguf("output.weight", vocab * dim));

  // v1: norms, final norm, embedding, then matrices; w2 (ffn_down) of layer 0.
  EXPECT_EQ(slice<float>(b1, 256 + 4 * dim, dim), from_gguf("blk.1.attn_norm.weight", dim));
  const uint64_t embed_v1 = 256 + 4 * (2 * L * dim + dim);
  EXPECT_EQ(slice<float>(b1, embed_v1, vocab * dim), from_gguf("token_embd.weight", vocab * dim));
  const uint64_t w2_v1 = embed_v1 + 4 * (vocab * dim + L * (2 * dim * dim + 2 * kv * dim) + L * hidden * dim);
  EXPECT_EQ(slice<float>(b1, w2_v1, dim * hidden), from_gguf("blk.0.ffn_down.weight", dim * hidden));

  // v2: the embedding's int8 values and scales are export.py's quantization of the same weights.
  const int group = 32;
  const std::vector<float> e = from_gguf("token_embd.weight", vocab * dim);
  std::vector<int8_t> q(e.size());
  std::vector<float> sc(e.size() / group);
  quantize_i8g(e.data(), q.data(), sc.data(), static_cast<int64_t>(e.size()), group);
  const uint64_t embed_v2 = 256 + 4 * (2 * L * dim + dim);
  EXPECT_EQ(slice<float>(b2, 256, 2 * L * dim + dim), slice<float>(b1, 256, 2 * L * dim + dim));
  EXPECT_EQ(slice<int8_t>(b2, embed_v2, e.size()), q);
  EXPECT_EQ(slice<float>(b2, embed_v2 + e.size(), sc.size()), sc);
}

TEST_F(MkModelTest, Llama2cV0RopeTables) {
  MkModelSpec s = small_spec();
  write_llama2c_model(path("m0.bin"), s, 0);
  const auto b = read_all(path("m0.bin"));
  const Counts c = counts(read_header(b, 0));
  const uint64_t at = 28 + 4 * (c.embed + c.norms + c.layer_matrices);
  const int half = 8;  // head size 16
  const auto real = slice<float>(b, at, 32 * half);
  const auto imag = slice<float>(b, at + 4 * 32 * half, 32 * half);
  for (int pos : {0, 1, 31}) {
    for (int i : {0, 3, 7}) {
      const double angle = pos * std::pow(10000.0, -2.0 * i / 16);
      EXPECT_NEAR(real[pos * half + i], std::cos(angle), 1e-5);
      EXPECT_NEAR(imag[pos * half + i], std::sin(angle), 1e-5);
    }
  }
}

// ---- determinism and weight statistics ----

TEST_F(MkModelTest, SameSeedSameBytesDifferentSeedDifferentBytes) {
  MkModelSpec s = small_spec();
  for (DType t : {DType::F32, DType::Q4_0}) {
    s.type = t;
    s.seed = 7;
    write_gguf_model(path("a.gguf"), s, nullptr);
    write_gguf_model(path("b.gguf"), s, nullptr);
    s.seed = 8;
    write_gguf_model(path("c.gguf"), s, nullptr);
    EXPECT_EQ(read_all(path("a.gguf")), read_all(path("b.gguf")));
    const auto a = read_all(path("a.gguf")), c = read_all(path("c.gguf"));
    EXPECT_EQ(a.size(), c.size());
    EXPECT_NE(a, c);
  }
  for (int version : {0, 1, 2}) {
    s.seed = 7;
    write_llama2c_model(path("a.bin"), s, version);
    write_llama2c_model(path("b.bin"), s, version);
    s.seed = 8;
    write_llama2c_model(path("c.bin"), s, version);
    EXPECT_EQ(read_all(path("a.bin")), read_all(path("b.bin")));
    EXPECT_NE(read_all(path("a.bin")), read_all(path("c.bin")));
  }
}

TEST(MkModelWeights, RangesAndIndependenceOfTensors) {
  const MkModelSpec s = small_spec();
  const auto norm = reference_weights(s, "blk.0.ffn_norm.weight");
  for (float v : norm) EXPECT_TRUE(v > 0.95f && v < 1.05f) << v;
  const auto wq = reference_weights(s, "blk.0.attn_q.weight");
  const float a = 1.0f / 8.0f;  // 1/sqrt(64)
  double sum = 0, sq = 0;
  for (float v : wq) {
    EXPECT_LT(std::fabs(v), a);
    sum += v;
    sq += double{v} * v;
  }
  EXPECT_NEAR(sum / wq.size(), 0.0, 0.01);
  EXPECT_NEAR(sq / wq.size(), a * a / 3, a * a / 3 * 0.1);  // variance of U(-a, a)
  EXPECT_NE(reference_weights(s, "blk.0.attn_q.weight"), reference_weights(s, "blk.1.attn_q.weight"));
}

TEST(MkModelWeights, ParamCountMatchesTensorList) {
  for (std::string_view name : mkmodel_preset_names()) {
    for (bool tied : {true, false}) {
      MkModelSpec s = *mkmodel_preset(name);
      s.tied_classifier = tied;
      validate_spec(s);
      int64_t n = 0;
      for (const MkTensor& t : mkmodel_tensors(s)) n += t.rows * t.cols;
      EXPECT_EQ(mkmodel_param_count(s), n) << name;
    }
  }
  MkModelSpec tl = *mkmodel_preset("tinyllama");
  tl.tied_classifier = true;
  EXPECT_EQ(mkmodel_param_count(tl), 1034512384);  // TinyLlama-1.1B's shapes, classifier shared
}

// TinyLlama-1.1B as its config.json describes it, with its own lm_head: 1.100 B weights.
TEST(MkModelPresets, TinyLlamaHasTheRealShapesAndItsOwnClassifier) {
  const MkModelSpec s = *mkmodel_preset("tinyllama");
  EXPECT_EQ(s.dim, 2048);
  EXPECT_EQ(s.hidden_dim, 5632);
  EXPECT_EQ(s.n_layers, 22);
  EXPECT_EQ(s.n_heads, 32);
  EXPECT_EQ(s.n_kv_heads, 4);
  EXPECT_EQ(s.vocab_size, 32000);
  EXPECT_EQ(s.seq_len, 2048);
  EXPECT_EQ(s.rope_base, 10000.0f);
  EXPECT_EQ(s.norm_eps, 1e-5f);
  EXPECT_FALSE(s.tied_classifier);
  EXPECT_EQ(mkmodel_param_count(s), 1100048384);
  const std::vector<MkTensor> ts = mkmodel_tensors(s);
  ASSERT_EQ(ts.size(), 1u + 9u * 22 + 2);
  EXPECT_EQ(ts.back().name, "output.weight");
  EXPECT_EQ(ts.back().rows, 32000);
  EXPECT_EQ(ts.back().cols, 2048);
  // The llama2.c stories models share the embedding, as their checkpoints do.
  for (const char* name : {"stories15M", "stories42M", "stories110M", "stories260K"})
    EXPECT_TRUE(mkmodel_preset(name)->tied_classifier) << name;
}

TEST(MkModelVocab, SyntheticVocabIsUniqueAndTyped) {
  for (int n : {3, 10, 259, 300, 512, 32000}) {
    const Vocab v = synthetic_vocab(n);
    ASSERT_EQ(v.pieces.size(), static_cast<size_t>(n));
    ASSERT_EQ(v.scores.size(), static_cast<size_t>(n));
    ASSERT_EQ(v.types.size(), static_cast<size_t>(n));
    EXPECT_EQ(v.pieces[0], "<unk>");
    EXPECT_EQ(v.pieces[1], "<s>");
    EXPECT_EQ(v.pieces[2], "</s>");
    std::map<std::string, int> seen;
    for (const std::string& p : v.pieces) EXPECT_EQ(seen[p]++, 0) << p;
    if (n >= 259) {
      EXPECT_EQ(v.pieces[3], "<0x00>");
      EXPECT_EQ(v.pieces[3 + 0x41], "<0x41>");
      EXPECT_EQ(v.types[3 + 255], TokenType::Byte);
    }
  }
}

TEST(MkModelSpecCheck, RejectsBadShapes) {
  auto bad = [](auto change) {
    MkModelSpec s = small_spec();
    change(s);
    EXPECT_THROW(validate_spec(s), InputError);
  };
  bad([](MkModelSpec& s) { s.dim = 0; });
  bad([](MkModelSpec& s) { s.hidden_dim = -1; });
  bad([](MkModelSpec& s) { s.n_layers = 0; });
  bad([](MkModelSpec& s) { s.dim = 60, s.n_heads = 8; });     // not divisible
  bad([](MkModelSpec& s) { s.n_kv_heads = 3; });              // 4 % 3
  bad([](MkModelSpec& s) { s.dim = 36, s.n_heads = 4; });     // head size 9
  bad([](MkModelSpec& s) { s.vocab_size = 2; });
  bad([](MkModelSpec& s) { s.seq_len = 0; });
  EXPECT_NO_THROW(validate_spec(small_spec()));
}

// ---- the command ----

// Parses `bareflow mkmodel ARGS...`; the mkmodel callback runs inside parse.
void run_cli(std::vector<std::string> args) {
  CLI::App app{"test"};
  cli::add_mkmodel_command(app);
  args.insert(args.begin(), {"bareflow", "mkmodel"});
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());
  app.parse(static_cast<int>(argv.size()), argv.data());
}

TEST_F(MkModelTest, CommandWritesEachFormat) {
  run_cli({"-o", path("a.gguf"), "--preset", "stories260K", "--type", "q4_0", "--seed", "3"});
  EXPECT_EQ(parse_gguf(read_all(path("a.gguf"))).kv.at("general.name").s, "stories260K");
  run_cli({"-o", path("b.bin"), "--preset", "stories260K"});
  EXPECT_EQ(fs::file_size(path("b.bin")), 1056540u);  // v0 by default
  run_cli({"-o", path("c.bin"), "--preset", "stories260K", "--type", "int8"});
  EXPECT_EQ(read_header(read_all(path("c.bin")), 2).group, 4);  // 172 = 4 * 43
  run_cli({"-o", path("d.model"), "--format", "gguf", "--dim", "64", "--hidden-dim", "64", "--layers", "1",
           "--heads", "2", "--vocab-size", "50", "--untied"});
  const GgufFile g = parse_gguf(read_all(path("d.model")));
  EXPECT_EQ(g.kv.at("llama.attention.head_count_kv").u, 2u);
  EXPECT_EQ(g.kv.at("llama.context_length").u, 256u);
  EXPECT_EQ(g.tensors.count("output.weight"), 1u);
  run_cli({"-o", path("e.bin"), "--preset", "stories260K", "--llama2c-version", "2"});
  EXPECT_EQ(read_header(read_all(path("e.bin")), 2).group, 4);
}

// The whole TinyLlama file is 0.6 to 4.4 GB, so the file check shrinks every width and
// keeps what the preset decides beyond them: heads, context, its own classifier.
TEST_F(MkModelTest, CommandTinyLlamaPresetWritesItsClassifier) {
  run_cli({"-o", path("t.gguf"), "--preset", "tinyllama", "--dim", "64", "--hidden-dim", "96", "--layers", "1",
           "--vocab-size", "300", "--type", "q8_0"});
  const GgufFile g = parse_gguf(read_all(path("t.gguf")));
  EXPECT_EQ(g.kv.at("general.name").s, "tinyllama");
  EXPECT_EQ(g.kv.at("llama.attention.head_count").u, 32u);
  EXPECT_EQ(g.kv.at("llama.attention.head_count_kv").u, 4u);
  EXPECT_EQ(g.kv.at("llama.context_length").u, 2048u);
  ASSERT_EQ(g.tensors.count("output.weight"), 1u);
  EXPECT_EQ(g.tensors.at("output.weight").dims, (std::vector<uint64_t>{64, 300}));
  EXPECT_EQ(g.tensors.at("output.weight").type, 8u);  // Q8_0
  // A llama2.c v0 file records the same choice as a negative vocabulary size.
  run_cli({"-o", path("t.bin"), "--preset", "tinyllama", "--dim", "64", "--hidden-dim", "96", "--layers", "1",
           "--vocab-size", "300"});
  EXPECT_FALSE(read_header(read_all(path("t.bin")), 0).shared);
}

// --type names a llama-quantize recipe; --pure makes it one type throughout.
TEST_F(MkModelTest, CommandWritesRecipes) {
  const std::vector<std::string> shape = {"--dim", "256", "--hidden-dim", "256", "--layers", "2", "--heads", "4",
                                          "--vocab-size", "300", "--untied"};
  auto write = [&](const std::string& name, std::vector<std::string> extra) {
    std::vector<std::string> args = {"-o", path(name)};
    args.insert(args.end(), shape.begin(), shape.end());
    args.insert(args.end(), extra.begin(), extra.end());
    run_cli(args);
    return parse_gguf(read_all(path(name)));
  };
  GgufFile g = write("m.gguf", {"--type", "Q5_K_M"});
  EXPECT_EQ(g.kv.at("general.file_type").u, 17u);
  EXPECT_EQ(g.tensors.at("output.weight").type, 14u);            // Q6_K
  EXPECT_EQ(g.tensors.at("token_embd.weight").type, 13u);        // Q5_K
  EXPECT_EQ(g.tensors.at("blk.1.attn_v.weight").type, 14u);      // Q6_K
  EXPECT_EQ(g.tensors.at("blk.0.attn_v.weight").type, 13u);      // Q5_K
  g = write("p.gguf", {"--type", "q5_k_m", "--pure"});
  for (const auto& [name, t] : g.tensors) EXPECT_EQ(t.type, t.dims.size() == 1 ? 0u : 13u) << name;
  g = write("q.gguf", {"--type", "q5_1"});
  EXPECT_EQ(g.kv.at("general.file_type").u, 9u);
  EXPECT_EQ(g.tensors.at("output.weight").type, 14u);
  EXPECT_EQ(g.tensors.at("blk.0.ffn_down.weight").type, 7u);
}

TEST_F(MkModelTest, CommandRejectsBadRequests) {
  const auto fails = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"-o", path("x.bin")});
    EXPECT_THROW(run_cli(args), InputError) << args[2];
    EXPECT_FALSE(fs::exists(path("x.bin")));
  };
  fails({"--preset", "nope"});
  fails({"--dim", "64"});  // shape incomplete
  fails({"--preset", "stories260K", "--heads", "7"});
  fails({"--preset", "stories260K", "--kv-heads", "3"});
  fails({"--preset", "stories260K", "--dim", "0"});
  fails({"--preset", "stories260K", "--type", "q8_0"});  // llama2.c output
  fails({"--preset", "stories260K", "--type", "int8", "--format", "gguf"});
  fails({"--preset", "stories260K", "--type", "int8", "--llama2c-version", "1"});
  fails({"--preset", "stories260K", "--llama2c-version", "3"});
  fails({"--preset", "stories260K", "--type", "bf16"});
  fails({"--preset", "stories260K", "--type", "q4_k_m"});  // llama2.c output
  fails({"--preset", "stories260K", "--type", "q4_k"});    // a ggml type, not a recipe
  fails({"--preset", "stories260K", "--type", "q4_k_s"});
  fails({"--preset", "stories260K", "--format", "onnx"});
}

TEST_F(MkModelTest, CommandEmbedsSharedTokenizer) {
  const fs::path tok = fs::path(test::shared_path("models/stories260K/tok512.bin"));
  if (!fs::exists(tok)) GTEST_SKIP() << tok << " not found";
  run_cli({"-o", path("v.gguf"), "--preset", "stories260K", "--vocab", tok.string()});
  const GgufFile g = parse_gguf(read_all(path("v.gguf")));
  EXPECT_EQ(g.kv.at("tokenizer.ggml.tokens").strings.size(), 512u);
  EXPECT_EQ(g.kv.at("tokenizer.ggml.scores").floats.size(), 512u);
  EXPECT_THROW(run_cli({"-o", path("w.bin"), "--preset", "stories260K", "--vocab", tok.string(), "--vocab-size", "500"}),
               InputError);
}

}  // namespace
}  // namespace bf
