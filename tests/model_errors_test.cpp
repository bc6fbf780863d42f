// Bad model files never crash, hang or allocate absurdly: every truncation at a header
// boundary, every header field out of range, and thousands of seeded random byte flips
// either load or throw bf::InputError whose message starts with the file's path.
//
// GGUF corruption is done field by field through a small test-only GGUF (de)serialiser,
// so a mutation names the field it breaks; llama2.c corruption patches the 7-int header.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <typeinfo>
#include <vector>

#include "kernels/dtype.h"
#include "mkmodel/mkmodel.h"
#include "model/ggml_types.h"
#include "model/model.h"
#include "util/error.h"
#include "test_support.h"

namespace bf {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

// ---------------------------------------------------------------- files

std::string shared_file(const std::string& rel) { return test::shared_path(rel); }

Bytes slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void spit(const std::string& path, const uint8_t* data, size_t n) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(n));
  if (!out) throw std::runtime_error("cannot write " + path);
}
void spit(const std::string& path, const Bytes& b) { spit(path, b.data(), b.size()); }

template <typename T>
void poke(Bytes& b, size_t off, T v) {
  ASSERT_LE(off + sizeof v, b.size());
  std::memcpy(b.data() + off, &v, sizeof v);
}

template <typename T>
T peek(const Bytes& b, size_t off) {
  T v{};
  if (off + sizeof v <= b.size()) std::memcpy(&v, b.data() + off, sizeof v);
  return v;
}

// ---------------------------------------------------------------- outcomes

// Every tensor view of a loaded model lies inside the mapped file or a buffer the model owns.
void expect_in_bounds(const Model& m, const std::string& context) {
  const uint8_t* lo = m.file.data();
  const uint8_t* hi = lo + m.file.size();
  auto inside = [&](const void* p, size_t n) {
    auto b = static_cast<const uint8_t*>(p);
    if (b >= lo && b <= hi && n <= static_cast<size_t>(hi - b)) return true;
    for (auto& o : m.owned) {
      auto ob = reinterpret_cast<const uint8_t*>(o.data());
      if (b >= ob && n <= o.size() * sizeof(float) - static_cast<size_t>(b - ob) && b <= ob + o.size() * sizeof(float))
        return true;
    }
    return false;
  };
  auto check = [&](const Tensor& t) {
    size_t values = row_bytes(t.type, t.cols) * static_cast<size_t>(t.rows);
    EXPECT_TRUE(t.rows > 0 && t.cols > 0 && values > 0) << context << ": tensor " << t.name << " is empty";
    EXPECT_TRUE(inside(t.data, values)) << context << ": tensor " << t.name << " points outside the file";
    if (t.type == DType::I8G) {
      ASSERT_GT(t.group, 0) << context;
      EXPECT_TRUE(inside(t.scales, static_cast<size_t>(t.rows * t.cols / t.group) * 4))
          << context << ": scales of " << t.name << " point outside the file";
    }
  };
  const ModelConfig& c = m.config;
  EXPECT_EQ(static_cast<int>(m.layers.size()), c.n_layers) << context;
  EXPECT_EQ(m.token_embedding.rows, c.vocab_size) << context;
  EXPECT_EQ(m.token_embedding.cols, c.dim) << context;
  check(m.token_embedding);
  for (auto& l : m.layers)
    for (const Tensor* t : {&l.attn_norm, &l.wq, &l.wk, &l.wv, &l.wo, &l.ffn_norm, &l.w1, &l.w2, &l.w3}) check(*t);
  check(m.final_norm);
  check(m.classifier);
}

enum class Outcome { Loaded, Rejected };

// Loads `path`. Anything but success or an InputError naming the file is a test failure.
Outcome load_outcome(const std::string& path, const std::string& context) {
  try {
    auto m = load_model(path);
    expect_in_bounds(*m, context);
    return Outcome::Loaded;
  } catch (const InputError& e) {
    std::string what = e.what();
    EXPECT_EQ(what.rfind(path + ": ", 0), 0u) << context << ": message does not start with the path: " << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << context << ": message is not one line: " << what;
    EXPECT_GT(what.size(), path.size() + 3) << context << ": empty problem";
    return Outcome::Rejected;
  } catch (const std::exception& e) {
    ADD_FAILURE() << context << ": threw " << typeid(e).name() << " instead of InputError: " << e.what();
    return Outcome::Rejected;
  }
}

void expect_rejected(const std::string& path, const std::string& context) {
  if (load_outcome(path, context) == Outcome::Loaded) ADD_FAILURE() << context << ": corrupt file was accepted";
}

void expect_loads(const std::string& path, const std::string& context) {
  EXPECT_EQ(load_outcome(path, context), Outcome::Loaded) << context << ": valid file was rejected";
}

// ---------------------------------------------------------------- a test-only GGUF

constexpr uint32_t kU8 = 0, kI8 = 1, kU16 = 2, kI16 = 3, kU32 = 4, kI32 = 5, kF32 = 6, kBool = 7, kString = 8,
                   kArray = 9, kU64 = 10, kI64 = 11, kF64 = 12;

size_t scalar_bytes(uint32_t t) {
  switch (t) {
    case kU8: case kI8: case kBool: return 1;
    case kU16: case kI16: return 2;
    case kU32: case kI32: case kF32: return 4;
    case kU64: case kI64: case kF64: return 8;
    default: return 0;
  }
}

// Bytes of one tensor of ggml type `type` and shape `dims` (ne0 first), from the table the loader uses.
uint64_t ggml_bytes(uint32_t type, const std::vector<uint64_t>& dims) {
  const GgmlTypeInfo* t = ggml_type(type);
  if (!t || !t->supported) throw std::runtime_error("test gguf: unknown tensor type");
  uint64_t rows = 1;
  for (size_t i = 1; i < dims.size(); ++i) rows *= dims[i];
  const uint64_t n = dims.empty() ? 0 : dims[0];
  return rows * (n / t->block_elems * t->block_bytes);
}

struct GKv {
  std::string key;
  uint32_t type = kU32;
  Bytes value;  // serialised value, without the type
};

struct GTensor {
  std::string name;
  std::vector<uint64_t> dims;
  uint32_t type = 0;
  uint64_t offset = 0;  // used as is unless the file is re-laid out
  Bytes data;
};

// A byte range of the serialised file and what it holds.
struct Mark {
  size_t begin = 0, end = 0;
  std::string what;
};

struct Marks {
  std::vector<Mark> all;
  const Mark& at(const std::string& what) const {
    for (auto& m : all)
      if (m.what == what) return m;
    throw std::runtime_error("no mark " + what);
  }
};

Bytes u32_value(uint32_t v) {
  Bytes b(4);
  std::memcpy(b.data(), &v, 4);
  return b;
}
Bytes f32_value(float v) {
  Bytes b(4);
  std::memcpy(b.data(), &v, 4);
  return b;
}
Bytes string_value(const std::string& s) {
  Bytes b(8 + s.size());
  uint64_t n = s.size();
  std::memcpy(b.data(), &n, 8);
  std::memcpy(b.data() + 8, s.data(), s.size());
  return b;
}

struct TestGguf {
  char magic[4] = {'G', 'G', 'U', 'F'};
  uint32_t version = 3;
  std::optional<uint64_t> n_tensors, n_kv;  // overrides of the true counts
  std::vector<GKv> kvs;
  std::vector<GTensor> tensors;
  bool relayout = true;           // recompute offsets: tensors in order, each aligned
  std::optional<uint64_t> align;  // layout alignment; default: general.alignment or 32

  GKv* kv(const std::string& key) {
    for (auto& k : kvs)
      if (k.key == key) return &k;
    return nullptr;
  }
  GTensor* tensor(const std::string& name) {
    for (auto& t : tensors)
      if (t.name == name) return &t;
    return nullptr;
  }
  void set(const std::string& key, uint32_t type, Bytes value) {
    if (GKv* k = kv(key)) {
      k->type = type;
      k->value = std::move(value);
    } else {
      kvs.push_back({key, type, std::move(value)});
    }
  }
  void erase_kv(const std::string& key) {
    std::erase_if(kvs, [&](const GKv& k) { return k.key == key; });
  }
  void erase_tensor(const std::string& name) {
    std::erase_if(tensors, [&](const GTensor& t) { return t.name == name; });
  }
  uint64_t alignment() {
    if (align) return *align;
    if (GKv* a = kv("general.alignment"); a && a->type == kU32) return peek<uint32_t>(a->value, 0);
    return 32;
  }

  // Serialises the file, recording each field's byte range in `marks`.
  Bytes serialize(Marks* marks = nullptr) {
    Bytes b;
    auto mark = [&](size_t begin, const std::string& what) {
      if (marks) marks->all.push_back({begin, b.size(), what});
    };
    auto raw = [&](const void* p, size_t n, const std::string& what) {
      size_t begin = b.size();
      auto c = static_cast<const uint8_t*>(p);
      b.insert(b.end(), c, c + n);
      mark(begin, what);
    };
    auto u32 = [&](uint32_t v, const std::string& what) { raw(&v, 4, what); };
    auto u64 = [&](uint64_t v, const std::string& what) { raw(&v, 8, what); };
    auto str = [&](const std::string& s, const std::string& what) {
      u64(s.size(), what + " length");
      raw(s.data(), s.size(), what);
    };

    raw(magic, 4, "magic");
    u32(version, "version");
    u64(n_tensors.value_or(tensors.size()), "tensor count");
    u64(n_kv.value_or(kvs.size()), "kv count");
    for (size_t i = 0; i < kvs.size(); ++i) {
      const GKv& k = kvs[i];
      std::string p = "kv[" + k.key + "]";
      str(k.key, p + " key");
      u32(k.type, p + " type");
      size_t begin = b.size();
      if (k.type == kArray && k.value.size() >= 12) {
        // Marks inside the array: element type, count, the first elements and the last.
        raw(k.value.data(), 4, p + " element type");
        raw(k.value.data() + 4, 8, p + " array length");
        uint32_t et = peek<uint32_t>(k.value, 0);
        uint64_t count = peek<uint64_t>(k.value, 4);
        size_t pos = 12;
        for (uint64_t e = 0; e < count && pos < k.value.size(); ++e) {
          size_t n = et == kString ? 8 + peek<uint64_t>(k.value, pos) : scalar_bytes(et);
          if (n == 0 || pos + n > k.value.size()) break;
          b.insert(b.end(), k.value.begin() + static_cast<long>(pos), k.value.begin() + static_cast<long>(pos + n));
          if (e < 3 || e + 1 == count) mark(b.size() - n, p + " element " + std::to_string(e));
          pos += n;
        }
        b.insert(b.end(), k.value.begin() + static_cast<long>(pos), k.value.end());
        mark(begin, p + " value");
      } else {
        raw(k.value.data(), k.value.size(), p + " value");
      }
    }
    const uint64_t a = alignment();
    auto pad = [&](const std::string& what) {
      size_t begin = b.size();
      b.resize((b.size() + a - 1) / a * a, 0);
      mark(begin, what);
    };
    if (relayout) {
      uint64_t off = 0;
      for (auto& t : tensors) {
        t.offset = off;
        off = (off + t.data.size() + a - 1) / a * a;
      }
    }
    for (const GTensor& t : tensors) {
      std::string p = "tensor[" + t.name + "]";
      str(t.name, p + " name");
      u32(static_cast<uint32_t>(t.dims.size()), p + " n_dims");
      for (size_t d = 0; d < t.dims.size(); ++d) u64(t.dims[d], p + " dim " + std::to_string(d));
      u32(t.type, p + " type");
      u64(t.offset, p + " offset");
    }
    pad("padding");
    const size_t data_start = b.size();
    for (const GTensor& t : tensors) {
      if (t.offset > (1u << 30)) continue;  // a lying offset: nothing to place
      size_t begin = data_start + t.offset;
      if (b.size() < begin + t.data.size()) b.resize(begin + t.data.size(), 0);
      std::memcpy(b.data() + begin, t.data.data(), t.data.size());
      if (marks) {
        marks->all.push_back({begin, begin + t.data.size() / 2, "tensor[" + t.name + "] data first half"});
        marks->all.push_back({begin, begin + t.data.size(), "tensor[" + t.name + "] data"});
      }
    }
    if (!tensors.empty()) b.resize((b.size() + a - 1) / a * a, 0);
    return b;
  }
};

// Size of the serialised value of type `t` at `pos`.
size_t value_size(const Bytes& b, size_t pos, uint32_t t) {
  if (t == kString) return 8 + peek<uint64_t>(b, pos);
  if (t == kArray) {
    uint32_t et = peek<uint32_t>(b, pos);
    uint64_t n = peek<uint64_t>(b, pos + 4);
    size_t p = pos + 12;
    for (uint64_t i = 0; i < n; ++i) {
      p += value_size(b, p, et);
      if (p > b.size()) throw std::runtime_error("test gguf: array past the end");
    }
    return p - pos;
  }
  size_t n = scalar_bytes(t);
  if (n == 0) throw std::runtime_error("test gguf: bad value type");
  return n;
}

// Decomposes a well-formed GGUF (the fixtures) into a TestGguf.
TestGguf parse_test_gguf(const Bytes& b) {
  TestGguf g;
  size_t pos = 0;
  auto u32 = [&] { auto v = peek<uint32_t>(b, pos); pos += 4; return v; };
  auto u64 = [&] { auto v = peek<uint64_t>(b, pos); pos += 8; return v; };
  auto str = [&] {
    uint64_t n = u64();
    if (pos + n > b.size()) throw std::runtime_error("test gguf: string past the end");
    std::string s(reinterpret_cast<const char*>(b.data() + pos), n);
    pos += n;
    return s;
  };
  std::memcpy(g.magic, b.data(), 4);
  pos = 4;
  g.version = u32();
  uint64_t nt = u64(), nk = u64();
  for (uint64_t i = 0; i < nk; ++i) {
    GKv k;
    k.key = str();
    k.type = u32();
    size_t n = value_size(b, pos, k.type);
    k.value.assign(b.begin() + static_cast<long>(pos), b.begin() + static_cast<long>(pos + n));
    pos += n;
    g.kvs.push_back(std::move(k));
  }
  for (uint64_t i = 0; i < nt; ++i) {
    GTensor t;
    t.name = str();
    uint32_t nd = u32();
    for (uint32_t d = 0; d < nd; ++d) t.dims.push_back(u64());
    t.type = u32();
    t.offset = u64();
    g.tensors.push_back(std::move(t));
  }
  uint64_t a = g.alignment();
  size_t data_start = (pos + a - 1) / a * a;
  for (auto& t : g.tensors) {
    size_t n = ggml_bytes(t.type, t.dims);
    size_t begin = data_start + t.offset;
    if (begin + n > b.size()) throw std::runtime_error("test gguf: tensor past the end");
    t.data.assign(b.begin() + static_cast<long>(begin), b.begin() + static_cast<long>(begin + n));
  }
  return g;
}

// ---------------------------------------------------------------- llama2.c layout

struct Section {
  size_t end = 0;
  std::string what;
};

// The end offset of every array of a llama2.c file, in file order, from its header.
std::vector<Section> llama2c_sections(const Bytes& b) {
  std::vector<Section> out;
  bool v12 = peek<uint32_t>(b, 0) == 0x616b3432;
  int version = v12 ? peek<int32_t>(b, 4) : 0;
  size_t base = v12 ? 8 : 0;
  int64_t p[7];
  for (int i = 0; i < 7; ++i) p[i] = peek<int32_t>(b, base + 4 * i);
  int64_t dim = p[0], hidden = p[1], layers = p[2], heads = p[3], kvh = p[4], vocab = std::llabs(p[5]), seq = p[6];
  bool shared = v12 ? b[36] == 1 : p[5] > 0;
  int64_t group = version == 2 ? peek<int32_t>(b, 37) : 0;
  int64_t kv = dim / heads * kvh, hs = dim / heads;
  size_t pos = v12 ? 256 : 28;
  auto add = [&](int64_t n, const std::string& what, int64_t count = 1) {
    for (int64_t i = 0; i < count; ++i) {
      pos += static_cast<size_t>(n);
      out.push_back({pos, what + (count > 1 ? "[" + std::to_string(i) + "]" : "")});
    }
  };
  auto f32 = [&](int64_t rows, int64_t cols, const std::string& what, int64_t count = 1) { add(rows * cols * 4, what, count); };
  auto i8 = [&](int64_t rows, int64_t cols, const std::string& what, int64_t count = 1) {
    for (int64_t i = 0; i < count; ++i) {
      add(rows * cols, what + " values" + (count > 1 ? "[" + std::to_string(i) + "]" : ""));
      add(rows * cols / group * 4, what + " scales" + (count > 1 ? "[" + std::to_string(i) + "]" : ""));
    }
  };
  if (version == 0) {
    f32(vocab, dim, "token_embd");
    f32(1, dim, "attn_norm", layers);
    f32(dim, dim, "wq", layers);
    f32(kv, dim, "wk", layers);
    f32(kv, dim, "wv", layers);
    f32(dim, dim, "wo", layers);
    f32(1, dim, "ffn_norm", layers);
    f32(hidden, dim, "w1", layers);
    f32(dim, hidden, "w2", layers);
    f32(hidden, dim, "w3", layers);
    f32(1, dim, "output_norm");
    f32(seq, hs / 2, "freq_cis_real");
    f32(seq, hs / 2, "freq_cis_imag");
    if (!shared) f32(vocab, dim, "output");
    return out;
  }
  f32(1, dim, "attn_norm", layers);
  f32(1, dim, "ffn_norm", layers);
  f32(1, dim, "output_norm");
  auto mat = version == 1 ? std::function(f32) : std::function(i8);
  mat(vocab, dim, "token_embd", 1);
  mat(dim, dim, "wq", layers);
  mat(kv, dim, "wk", layers);
  mat(kv, dim, "wv", layers);
  mat(dim, dim, "wo", layers);
  mat(hidden, dim, "w1", layers);
  mat(dim, hidden, "w2", layers);
  mat(hidden, dim, "w3", layers);
  if (!shared) mat(vocab, dim, "output", 1);
  return out;
}

// ---------------------------------------------------------------- fixture

MkModelSpec small_spec() { return test::small_model_spec(7, "errors"); }

// Rows of whole 256-value super-blocks, so the K types are stored as themselves.
MkModelSpec super_block_spec() {
  MkModelSpec s = small_spec();
  s.dim = 256;
  s.hidden_dim = 256;
  return s;
}

// The weight types and recipes added with the K quants, each in files of its own.
constexpr DType kBlock32Types[] = {DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::BF16};
constexpr DType kSuperBlockTypes[] = {DType::Q4_K, DType::Q5_K, DType::Q6_K};

class ModelErrorsTest : public ::testing::Test {
 public:
  std::string path(const std::string& name) const { return dir_.file(name); }

 protected:

  // Every matrix of `type`; the K types on rows of 256, the rest on small_spec's.
  std::string make_gguf(DType type, bool tied = true) {
    const bool super_blocks = block_elems(type) == kQK;
    MkModelSpec s = super_blocks ? super_block_spec() : small_spec();
    s.type = type;
    s.tied_classifier = tied;
    std::string p = path(std::string(super_blocks ? "wide_" : "small_") + std::string(dtype_name(type)) +
                         (tied ? "" : "_untied") + ".gguf");
    write_gguf_model(p, s, nullptr);
    return p;
  }
  // A llama-quantize recipe on rows of 256: Q4_K and Q6_K (or Q5_K and Q6_K) in one file.
  std::string make_gguf_recipe(const std::string& recipe) {
    const MkRecipe* r = find_mkmodel_recipe(recipe);
    MkModelSpec s = super_block_spec();
    s.type = r->type;
    s.mix = r->mix;
    std::string p = path("wide_" + recipe + ".gguf");
    write_gguf_model(p, s, nullptr);
    return p;
  }
  std::string make_llama2c(int version, bool tied = true) {
    MkModelSpec s = small_spec();
    s.tied_classifier = tied;
    std::string p = path("small_v" + std::to_string(version) + (tied ? "" : "_untied") + ".bin");
    write_llama2c_model(p, s, version);
    return p;
  }
  // Every GGUF file the tests corrupt: real ones and mkmodel's in every type.
  std::vector<std::string> gguf_files() {
    return {shared_file("models/stories260K/stories260K.gguf"), shared_file("models/tiny-random/llama-2-tiny-random.gguf"),
            make_gguf(DType::F32),  make_gguf(DType::F16), make_gguf(DType::Q8_0), make_gguf(DType::Q4_0),
            make_gguf(DType::F32, false), make_gguf(DType::Q4_1), make_gguf(DType::Q5_0), make_gguf(DType::Q5_1),
            make_gguf(DType::BF16), make_gguf(DType::Q6_K), make_gguf_recipe("q4_k_m"), make_gguf_recipe("q5_k_m")};
  }
  std::vector<std::string> llama2c_files() {
    return {shared_file("models/stories260K/stories260K.bin"), make_llama2c(0), make_llama2c(1), make_llama2c(2),
            make_llama2c(0, false), make_llama2c(1, false), make_llama2c(2, false)};
  }

  // Writes `b` under a fresh name and expects it rejected.
  void reject_bytes(const Bytes& b, const std::string& context) {
    std::string p = path("corrupt_" + std::to_string(counter_++) + ".bin");
    spit(p, b);
    expect_rejected(p, context);
    fs::remove(p);
  }
  void reject_gguf(TestGguf g, const std::function<void(TestGguf&)>& mutate, const std::string& context) {
    mutate(g);
    reject_bytes(g.serialize(), context);
  }
  // Rejected with a one-line message naming the file that says `problem`.
  void reject_saying(const Bytes& b, const std::string& problem, const std::string& context) {
    std::string p = path("corrupt_" + std::to_string(counter_++) + ".gguf");
    spit(p, b);
    expect_rejected(p, context);
    try {
      load_model(p);
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(problem), std::string::npos) << context << ": " << e.what();
    }
    fs::remove(p);
  }
  void load_bytes(const Bytes& b, const std::string& context) {
    std::string p = path("valid_" + std::to_string(counter_++) + ".bin");
    spit(p, b);
    expect_loads(p, context);
    fs::remove(p);
  }

  test::TempDir dir_;
  int counter_ = 0;
};

// ---------------------------------------------------------------- baseline

TEST_F(ModelErrorsTest, FixturesLoadAndTestSerialiserRoundTrips) {
  for (const std::string& f : gguf_files()) {
    SCOPED_TRACE(f);
    expect_loads(f, f);
    Bytes orig = slurp(f);
    TestGguf g = parse_test_gguf(orig);
    Bytes again = g.serialize();
    if (f.find(dir_.path()) == 0) {
      EXPECT_TRUE(again == orig) << "mkmodel file does not round-trip";
    }
    load_bytes(again, f + " re-serialised");
  }
  for (const std::string& f : llama2c_files()) {
    expect_loads(f, f);
    auto sections = llama2c_sections(slurp(f));
    ASSERT_FALSE(sections.empty());
    EXPECT_EQ(sections.back().end, fs::file_size(f)) << f << ": test layout disagrees with the file";
  }
}

TEST_F(ModelErrorsTest, TinyAndMissingFiles) {
  expect_rejected(path("does_not_exist.gguf"), "missing file");
  expect_rejected(dir_.path(), "a directory");
  for (const char* content : {"", "G", "GG", "GGU", "GGUF", "ak42", "\x42\x34\x6b\x61"}) {
    Bytes b(content, content + std::strlen(content));
    reject_bytes(b, "tiny file '" + std::string(content) + "'");
  }
  reject_bytes(Bytes(28, 0), "28 zero bytes");
  reject_bytes(Bytes(4096, 0xff), "4096 0xff bytes");
}

// ---------------------------------------------------------------- (a) truncation

TEST_F(ModelErrorsTest, GgufTruncatedAtEveryBoundary) {
  std::mt19937_64 rng(1234);
  int cases = 0;
  for (const std::string& f : gguf_files()) {
    TestGguf g = parse_test_gguf(slurp(f));
    Marks marks;
    Bytes b = g.serialize(&marks);
    // The data of the last tensor ends before the final padding: shorter files must fail.
    size_t data_end = 0;
    for (auto& m : marks.all) data_end = std::max(data_end, m.end);
    std::vector<std::pair<size_t, std::string>> cuts;
    for (auto& m : marks.all) {
      if (m.end < data_end) cuts.push_back({m.end, "after " + m.what});
      if (m.end > m.begin + 1) cuts.push_back({m.end - 1, "inside " + m.what});
    }
    for (int i = 0; i < 40; ++i) {
      size_t off = rng() % data_end;
      cuts.push_back({off, "random offset"});
    }
    std::string p = path("truncated.gguf");
    for (auto& [len, what] : cuts) {
      spit(p, b.data(), len);
      expect_rejected(p, f + " truncated to " + std::to_string(len) + " bytes (" + what + ")");
      ++cases;
    }
  }
  std::printf("[ truncated GGUF files: %d ]\n", cases);
  EXPECT_GT(cases, 500);
}

TEST_F(ModelErrorsTest, Llama2cTruncatedAtEveryBoundary) {
  std::mt19937_64 rng(99);
  int cases = 0;
  for (const std::string& f : llama2c_files()) {
    Bytes b = slurp(f);
    std::vector<std::pair<size_t, std::string>> cuts;
    size_t header = peek<uint32_t>(b, 0) == 0x616b3432 ? 256 : 28;
    for (size_t i = 0; i <= header; ++i) cuts.push_back({i, "inside the header"});
    for (auto& s : llama2c_sections(b)) {
      if (s.end < b.size()) cuts.push_back({s.end, "after " + s.what});
      cuts.push_back({s.end - 1, "inside " + s.what});
    }
    for (int i = 0; i < 30; ++i) cuts.push_back({rng() % b.size(), "random offset"});
    std::string p = path("truncated.bin");
    for (auto& [len, what] : cuts) {
      spit(p, b.data(), len);
      expect_rejected(p, f + " truncated to " + std::to_string(len) + " bytes (" + what + ")");
      ++cases;
    }
  }
  std::printf("[ truncated llama2.c files: %d ]\n", cases);
  EXPECT_GT(cases, 500);
}

// ---------------------------------------------------------------- (b) GGUF fields

TEST_F(ModelErrorsTest, GgufHeaderFieldsOutOfRange) {
  TestGguf base = parse_test_gguf(slurp(make_gguf(DType::Q8_0)));
  load_bytes(TestGguf(base).serialize(), "unchanged");
  int cases = 0;
  auto reject = [&](const std::function<void(TestGguf&)>& mutate, const std::string& what) {
    reject_gguf(base, mutate, what);
    ++cases;
  };
  // Positive controls: version 2 and another alignment are legal.
  {
    TestGguf g = base;
    g.version = 2;
    load_bytes(g.serialize(), "GGUF v2");
    g.set("general.alignment", kU32, u32_value(64));
    load_bytes(g.serialize(), "alignment 64");
    g.set("general.alignment", kU32, u32_value(8));
    load_bytes(g.serialize(), "alignment 8");
    g.erase_kv("general.alignment");
    g.align = 32;
    load_bytes(g.serialize(), "default alignment");
  }

  reject([](TestGguf& g) { std::memcpy(g.magic, "GGUG", 4); }, "bad magic");
  for (uint32_t v : {0u, 1u, 4u, 0x7fffffffu, 0xffffffffu})
    reject([v](TestGguf& g) { g.version = v; }, "version " + std::to_string(v));

  const uint64_t nt = base.tensors.size(), nk = base.kvs.size();
  for (uint64_t n : {nt + 1, nt + 1000, uint64_t{1} << 40, uint64_t{1} << 62, UINT64_MAX})
    reject([n](TestGguf& g) { g.n_tensors = n; }, "tensor count " + std::to_string(n));
  for (uint64_t n : {nk + 1, nk + 1000, uint64_t{1} << 40, uint64_t{1} << 62, UINT64_MAX, uint64_t{0}})
    reject([n](TestGguf& g) { g.n_kv = n; }, "kv count " + std::to_string(n));
  reject([nt](TestGguf& g) { g.n_tensors = nt - 1; }, "tensor count one short");

  // Unknown value types, at the top level and as array elements.
  for (uint32_t t : {13u, 100u, 0xffffffffu}) {
    reject([t](TestGguf& g) { g.kv("general.name")->type = t; }, "value type " + std::to_string(t));
    reject([t](TestGguf& g) { std::memcpy(g.kv("tokenizer.ggml.scores")->value.data(), &t, 4); },
           "array element type " + std::to_string(t));
  }
  reject([](TestGguf& g) { g.set("general.flag", kBool, Bytes{2}); }, "bool value 2");
  reject([](TestGguf& g) { g.kvs.push_back(g.kvs[0]); }, "duplicate key");
  // Nested arrays deeper than any real file.
  reject(
      [](TestGguf& g) {
        Bytes v = {kU8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};  // empty array of u8
        for (int depth = 0; depth < 8; ++depth) {
          Bytes outer(12, 0);
          outer[0] = kArray;
          outer[4] = 1;
          outer.insert(outer.end(), v.begin(), v.end());
          v = outer;
        }
        g.set("general.nested", kArray, v);
      },
      "arrays nested 9 deep");

  // Required keys, each missing and each with a wrong type.
  const char* required[] = {"general.architecture",       "llama.embedding_length", "llama.feed_forward_length",
                            "llama.block_count",          "llama.attention.head_count",
                            "llama.context_length"};
  for (const char* k : required) {
    reject([k](TestGguf& g) { g.erase_kv(k); }, std::string("missing ") + k);
    reject([k](TestGguf& g) { g.set(k, kF32, f32_value(64)); }, std::string(k) + " as f32");
    reject([k](TestGguf& g) { g.set(k, kBool, Bytes{1}); }, std::string(k) + " as bool");
    if (std::string(k) != "general.architecture")
      reject([k](TestGguf& g) { g.set(k, kString, string_value("64")); }, std::string(k) + " as string");
    else
      reject([k](TestGguf& g) { g.set(k, kU32, u32_value(1)); }, std::string(k) + " as u32");
  }
  for (const char* arch : {"gpt2", "", "llama ", "LLAMA", "falcon"})
    reject([arch](TestGguf& g) { g.set("general.architecture", kString, string_value(arch)); },
           std::string("architecture '") + arch + "'");

  // Config values out of range or inconsistent.
  auto set_u32 = [&](const std::string& k, uint32_t v) {
    reject([k, v](TestGguf& g) { g.set(k, kU32, u32_value(v)); }, k + " = " + std::to_string(v));
  };
  auto set_i32 = [&](const std::string& k, int32_t v) {
    reject([k, v](TestGguf& g) { g.set(k, kI32, u32_value(static_cast<uint32_t>(v))); }, k + " = " + std::to_string(v));
  };
  for (const char* k : {"llama.embedding_length", "llama.feed_forward_length", "llama.block_count",
                        "llama.attention.head_count", "llama.attention.head_count_kv", "llama.context_length"}) {
    set_u32(k, 0);
    set_u32(k, 0xffffffffu);
    set_u32(k, 0x80000000u);
    set_i32(k, -1);
    set_i32(k, INT32_MIN);
  }
  set_u32("llama.embedding_length", 65);        // not the tensors' shape, not a multiple of heads
  set_u32("llama.embedding_length", 128);       // shapes disagree
  set_u32("llama.feed_forward_length", 97);
  set_u32("llama.block_count", 3);              // more layers than tensors
  set_u32("llama.attention.head_count", 3);     // does not divide dim 64
  set_u32("llama.attention.head_count", 64);    // head size 1: odd
  set_u32("llama.attention.head_count_kv", 3);  // does not divide 4 heads
  set_u32("llama.attention.head_count_kv", 8);  // more kv heads than heads
  set_u32("llama.attention.head_count_kv", 4);  // legal, but k/v shapes disagree
  set_u32("llama.context_length", 1u << 30);
  set_u32("llama.rope.dimension_count", 0);
  set_u32("llama.rope.dimension_count", 15);
  set_u32("llama.rope.dimension_count", 17);
  set_u32("llama.rope.dimension_count", 1000);
  for (float v : {0.0f, -1.0f, NAN, INFINITY, 2.0f})
    reject([v](TestGguf& g) { g.set("llama.attention.layer_norm_rms_epsilon", kF32, f32_value(v)); },
           "norm epsilon " + std::to_string(v));
  for (float v : {0.0f, -1.0f, NAN, INFINITY})
    reject([v](TestGguf& g) { g.set("llama.rope.freq_base", kF32, f32_value(v)); }, "rope base " + std::to_string(v));
  reject([](TestGguf& g) { g.set("llama.rope.freq_base", kString, string_value("1e4")); }, "rope base as string");

  // Alignment.
  for (uint32_t a : {0u, 1u, 2u, 3u, 4u, 48u, 100u, 0x80000000u}) {  // GGUF: a multiple of 8
    reject(
        [a](TestGguf& g) {
          g.set("general.alignment", kU32, u32_value(a));
          g.align = 32;
        },
        "alignment " + std::to_string(a));
  }
  reject([](TestGguf& g) { g.set("general.alignment", kString, string_value("32")); }, "alignment as string");
  reject(
      [](TestGguf& g) {
        g.set("general.alignment", kU32, u32_value(1024));
        g.align = 32;  // data laid out for 32 while the header claims 1024
      },
      "alignment 1024, data aligned to 32");

  // Tokenizer metadata.
  reject([](TestGguf& g) { g.set("tokenizer.ggml.model", kString, string_value("gpt2")); }, "tokenizer model gpt2");
  reject([](TestGguf& g) { g.set("tokenizer.ggml.bos_token_id", kU32, u32_value(300)); }, "bos id out of range");
  reject([](TestGguf& g) { g.set("tokenizer.ggml.eos_token_id", kI32, u32_value(0xffffffffu)); }, "eos id -1");
  reject([](TestGguf& g) { g.set("tokenizer.ggml.tokens", kString, string_value("a")); }, "tokens not an array");
  for (float x : {NAN, -1.0f, 7.0f, 1.5f, 1e30f}) {
    reject(
        [x](TestGguf& g) {
          Bytes v(12);
          poke<uint32_t>(v, 0, kF32);
          poke<uint64_t>(v, 4, 300);
          for (int i = 0; i < 300; ++i) {
            Bytes e = f32_value(i == 5 ? x : 1.0f);
            v.insert(v.end(), e.begin(), e.end());
          }
          g.set("tokenizer.ggml.token_type", kArray, v);
        },
        "token type " + std::to_string(x));
  }

  reject([](TestGguf& g) { g.kv("tokenizer.ggml.scores")->value.resize(12 + 299 * 4); poke<uint64_t>(g.kv("tokenizer.ggml.scores")->value, 4, 299); },
         "299 scores for 300 tokens");
  reject(
      [](TestGguf& g) {
        Bytes v = {kString, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 'a'};
        g.set("tokenizer.ggml.tokens", kArray, v);
      },
      "1 token for a 300-row embedding");

  // String and array lengths that lie, patched into the serialised bytes.
  Marks marks;
  Bytes bytes = TestGguf(base).serialize(&marks);
  auto patch64 = [&](const std::string& field, uint64_t v) {
    Bytes b = bytes;
    poke<uint64_t>(b, marks.at(field).begin, v);
    reject_bytes(b, field + " = " + std::to_string(v));
    ++cases;
  };
  uint64_t remaining_guess = bytes.size();
  for (uint64_t n : {UINT64_MAX, uint64_t{1} << 63, uint64_t{1} << 40, uint64_t{1} << 30, remaining_guess}) {
    patch64("kv[general.architecture] key length", n);
    patch64("kv[general.architecture] value", n);
    patch64("kv[general.name] value", n);
    patch64("kv[tokenizer.ggml.tokens] array length", n);
    patch64("kv[tokenizer.ggml.scores] array length", n);
    patch64("kv[tokenizer.ggml.tokens] element 0", n);
    patch64("tensor[token_embd.weight] name length", n);
    patch64("tensor[blk.1.ffn_up.weight] name length", n);
  }

  // Tensor infos.
  const std::vector<std::string> names = [&] {
    std::vector<std::string> v;
    for (auto& t : base.tensors) v.push_back(t.name);
    return v;
  }();
  for (const std::string& n : names) {
    reject([n](TestGguf& g) { g.erase_tensor(n); }, "missing tensor " + n);
    reject(
        [n](TestGguf& g) {
          GTensor* t = g.tensor(n);
          t->dims.push_back(1);  // a trailing unit dimension is still the wrong shape
        },
        n + " with an extra dimension");
    reject(
        [n](TestGguf& g) {
          GTensor* t = g.tensor(n);
          t->dims[0] += 32;
          t->data.resize(ggml_bytes(t->type, t->dims));
        },
        n + " with a longer row");
    reject(
        [n](TestGguf& g) {
          GTensor* t = g.tensor(n);
          // Same element count, other shape.
          if (t->dims.size() == 2) t->dims = {t->dims[0] * 2, t->dims[1] / 2};
          else t->dims = {t->dims[0] / 2, 2};
        },
        n + " reshaped");
    reject([n](TestGguf& g) { g.tensor(n)->name += "x"; }, n + " renamed");
  }
  for (uint32_t nd : {0u, 5u, 100u})
    reject([nd](TestGguf& g) { g.tensors[1].dims.assign(nd, 1); }, "n_dims " + std::to_string(nd));
  {
    // n_dims patched directly (a count with no dims behind it).
    for (uint32_t nd : {0u, 5u, 0xffffffffu}) {
      Bytes b = bytes;
      poke<uint32_t>(b, marks.at("tensor[token_embd.weight] n_dims").begin, nd);
      reject_bytes(b, "token_embd n_dims patched to " + std::to_string(nd));
      ++cases;
    }
  }
  for (uint64_t d : {uint64_t{0}, uint64_t{1} << 32, uint64_t{1} << 41, UINT64_MAX, uint64_t{3}}) {
    Bytes b = bytes;
    poke<uint64_t>(b, marks.at("tensor[blk.0.attn_q.weight] dim 0").begin, d);
    reject_bytes(b, "attn_q dim 0 = " + std::to_string(d));
    b = bytes;
    poke<uint64_t>(b, marks.at("tensor[token_embd.weight] dim 1").begin, d);
    reject_bytes(b, "token_embd dim 1 = " + std::to_string(d));
    cases += 2;
  }
  // All four dims huge: the element count overflows 64 bits.
  reject([](TestGguf& g) { g.tensors[0].dims = {1ull << 40, 1ull << 40, 1ull << 40, 1ull << 40}; }, "dims overflow");
  // Types ggml assigned but BareFlow does not read (retired, Q8_1, Q2_K, Q3_K, Q8_K, IQ*, integers), and ids
  // ggml never assigned.
  for (uint32_t t : {4u, 5u, 9u, 10u, 11u, 15u, 16u, 23u, 24u, 31u, 1000u, 0xffffffffu})
    reject([t](TestGguf& g) { g.tensor("blk.0.attn_k.weight")->type = t; }, "tensor type " + std::to_string(t));
  // Super-block types hold 256 values per block: a row of another length is not whole blocks.
  for (uint32_t t : {12u, 13u, 14u})
    reject([t](TestGguf& g) { g.tensor("blk.0.attn_k.weight")->type = t; }, "K type " + std::to_string(t) + " on a short row");
  reject([](TestGguf& g) { g.tensor("blk.0.attn_norm.weight")->type = 8; g.tensor("blk.0.attn_norm.weight")->data.resize(68); },
         "Q8_0 norm");
  reject([](TestGguf& g) { g.tensor("blk.0.attn_k.weight")->type = 0; }, "F32 type with Q8_0 data size");
  reject(
      [](TestGguf& g) {
        auto* t = g.tensor("blk.1.ffn_down.weight");
        t->dims[0] = 80;  // Q8_0 rows must be whole blocks
        t->data.resize(t->dims[1] * 80 * 34 / 32 + 64);
      },
      "Q8_0 row length 80");
  reject([](TestGguf& g) { g.tensors[3].name = g.tensors[2].name; }, "duplicate tensor name");
  reject([](TestGguf& g) { g.tensors.push_back(g.tensors[0]); }, "duplicate tensor");

  // Offsets: unaligned, overlapping, past the end.
  auto offsets = [&](const std::function<void(std::vector<GTensor>&)>& f, const std::string& what) {
    reject(
        [f](TestGguf& g) {
          g.serialize();  // computes the offsets
          g.relayout = false;
          f(g.tensors);
        },
        what);
  };
  offsets([](auto& ts) { ts[1].offset += 1; }, "offset unaligned by 1");
  offsets([](auto& ts) { ts[1].offset += 16; }, "offset unaligned by 16");
  offsets([](auto& ts) { ts[2].offset = ts[1].offset; }, "two tensors at one offset");
  offsets([](auto& ts) { ts[2].offset = ts[1].offset + 32; }, "overlapping tensors");
  offsets([](auto& ts) { ts[0].offset = ts.back().offset; }, "embedding overlapping the last tensor");
  offsets([](auto& ts) { ts.back().offset += 1ull << 40; }, "offset far past the end");
  offsets([](auto& ts) { ts.back().offset = UINT64_MAX - 31; }, "offset near 2^64");
  {
    // The last tensor's offset patched past the end of the file, and by one block.
    const std::string last = "tensor[" + base.tensors.back().name + "] offset";
    for (uint64_t o : {uint64_t{bytes.size()}, peek<uint64_t>(bytes, marks.at(last).begin) + 32, uint64_t{1} << 63}) {
      Bytes b = bytes;
      poke<uint64_t>(b, marks.at(last).begin, o);
      reject_bytes(b, "last tensor offset " + std::to_string(o));
      ++cases;
    }
  }
  std::printf("[ GGUF field corruptions: %d ]\n", cases);
}

// Each type added with the K quants, crafted bad: rows that are not whole blocks, a row
// one block too long, data cut short, misaligned data offsets, a byte size past 2^64.
TEST_F(ModelErrorsTest, GgufNewTypesShortRowsTruncationMisalignment) {
  std::vector<DType> types(std::begin(kBlock32Types), std::end(kBlock32Types));
  types.insert(types.end(), std::begin(kSuperBlockTypes), std::end(kSuperBlockTypes));
  const std::string attn_k = "blk.0.attn_k.weight";
  for (DType type : types) {
    const GgmlTypeInfo& info = *ggml_type_of(type);
    const std::string name(info.name);
    // Untied: the classifier, of `type`, is the file's last tensor.
    TestGguf base = parse_test_gguf(slurp(make_gguf(type, false)));
    ASSERT_EQ(base.tensors.back().name, "output.weight");
    ASSERT_EQ(base.tensors.back().type, info.id);
    ASSERT_EQ(base.tensor(attn_k)->type, info.id);
    Marks marks;
    const Bytes good = base.serialize(&marks);  // lays out the offsets
    base.relayout = false;
    load_bytes(good, name + " unchanged");
    const uint64_t row = base.tensor(attn_k)->dims[0], block = info.block_elems;

    if (block > 1) {
      // 288 values for the K types (the stories15M width), 68 for the 32-value ones; and half a block.
      for (uint64_t bad : {row + block / 8, block / 2}) {
        TestGguf g = base;
        g.tensor(attn_k)->dims[0] = bad;
        reject_saying(g.serialize(),
                      "tensor '" + attn_k + "': row of " + std::to_string(bad) + " " + name +
                          " values is not a whole number of " + std::to_string(block) + "-value blocks",
                      name + " row of " + std::to_string(bad));
      }
    }
    {
      TestGguf g = base;
      g.relayout = true;
      GTensor* t = g.tensor(attn_k);
      t->dims[0] = row + block;
      t->data.resize(ggml_bytes(t->type, t->dims));
      reject_saying(g.serialize(), "tensor '" + attn_k + "' has shape", name + " row one block too long");
    }
    // The classifier's data cut one byte and one block short.
    const Mark& data = marks.at("tensor[output.weight] data");
    for (uint64_t cut : {uint64_t{1}, uint64_t{info.block_bytes}}) {
      reject_saying(Bytes(good.begin(), good.begin() + static_cast<long>(data.end - cut)),
                    "tensor 'output.weight': data (offset " + std::to_string(base.tensors.back().offset),
                    name + " data " + std::to_string(cut) + " bytes short");
    }
    // Offsets off the 32-byte alignment by a byte, an element of 16 bits, half a block.
    for (uint64_t shift : {uint64_t{1}, uint64_t{2}, uint64_t{info.block_bytes / 2}}) {
      TestGguf g = base;
      const uint64_t offset = g.tensor(attn_k)->offset + shift;
      g.tensor(attn_k)->offset = offset;
      reject_saying(g.serialize(),
                    "tensor '" + attn_k + "': data offset " + std::to_string(offset) +
                        " is not a multiple of the alignment 32",
                    name + " offset misaligned by " + std::to_string(shift));
    }
    {
      TestGguf g = base;
      g.tensor(attn_k)->dims = {row, 1ull << 40, 1ull << 40, 1ull << 40};
      reject_saying(g.serialize(), "values take more than 2^64 bytes", name + " byte size overflows");
    }
  }
  // Norms may be 16-bit floats (a converter's choice); anything else is refused by name.
  TestGguf g = parse_test_gguf(slurp(make_gguf(DType::F32)));
  GTensor* norm = g.tensor("blk.0.attn_norm.weight");
  norm->type = ggml_type_of(DType::BF16)->id;
  norm->data.assign(norm->dims[0] * 2, 0x3f);
  load_bytes(g.serialize(), "BF16 norm");
  norm->type = ggml_type_of(DType::Q5_0)->id;
  norm->data.resize(ggml_bytes(norm->type, norm->dims));
  reject_saying(g.serialize(), "tensor 'blk.0.attn_norm.weight' is Q5_0; a norm must be F32, F16 or BF16", "Q5_0 norm");
}

// ---------------------------------------------------------------- (b) llama2.c fields

TEST_F(ModelErrorsTest, Llama2cHeaderFieldsOutOfRange) {
  int cases = 0;
  auto reject = [&](const Bytes& b, const std::string& what) {
    reject_bytes(b, what);
    ++cases;
  };
  const char* param_names[] = {"dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"};
  for (int version : {0, 1, 2}) {
    for (bool tied : {true, false}) {
      const std::string f = make_llama2c(version, tied);
      const Bytes b = slurp(f);
      const std::string tag = "v" + std::to_string(version) + (tied ? "" : " untied") + " ";
      const size_t base = version == 0 ? 0 : 8;
      for (int i = 0; i < 7; ++i) {
        const int32_t orig = peek<int32_t>(b, base + 4 * i);
        std::vector<int32_t> values = {0, -1, INT32_MIN, INT32_MAX, 1 << 25, -(1 << 25)};
        // Any other value of a field that sizes the file makes the size wrong. seq_len
        // only sizes v0 files (the RoPE tables), and a negated vocab in v0 only flips the
        // classifier flag, which also changes the size.
        if (i != 6 || version == 0) {
          values.push_back(orig + 1);
          values.push_back(orig * 2);
          values.push_back(orig - 1);
          values.push_back(-orig);
        }
        for (int32_t v : values) {
          Bytes c = b;
          poke<int32_t>(c, base + 4 * i, v);
          reject(c, tag + param_names[i] + " = " + std::to_string(v) + " (was " + std::to_string(orig) + ")");
        }
      }
      // Inconsistent heads: 64 dims, 4 heads, 2 kv heads.
      for (auto [h, kv] : std::vector<std::pair<int32_t, int32_t>>{{3, 1}, {4, 3}, {4, 8}, {2, 4}, {128, 2}, {64, 2}, {4, 0}}) {
        Bytes c = b;
        poke<int32_t>(c, base + 12, h);
        poke<int32_t>(c, base + 16, kv);
        reject(c, tag + "heads " + std::to_string(h) + " kv heads " + std::to_string(kv));
      }
      // File size.
      for (int delta : {1, 4, 64}) {
        Bytes c = b;
        c.resize(c.size() + static_cast<size_t>(delta), 0);
        reject(c, tag + std::to_string(delta) + " trailing bytes");
        c = b;
        c.resize(c.size() - static_cast<size_t>(delta));
        reject(c, tag + std::to_string(delta) + " bytes short");
      }
      if (version == 0) {
        // The classifier flag is the vocab sign: flipping it changes the file size.
        Bytes c = b;
        poke<int32_t>(c, 20, -peek<int32_t>(b, 20));
        reject(c, tag + "classifier flag flipped");
        continue;
      }
      for (int32_t v : {0, 3, -1, 0x7fffffff, INT32_MIN}) {
        Bytes c = b;
        poke<int32_t>(c, 4, v);
        reject(c, tag + "version " + std::to_string(v));
      }
      for (uint8_t s : {uint8_t{2}, uint8_t{255}, static_cast<uint8_t>(tied ? 0 : 1)}) {
        Bytes c = b;
        c[36] = s;
        reject(c, tag + "shared flag " + std::to_string(s));
      }
      if (version == 2) {
        // Group 32 (64 dims, 96 hidden): other sizes either do not divide or change the size.
        for (int32_t g : {0, -1, -32, 3, 7, 48, 64, 16, 1 << 21, INT32_MAX, INT32_MIN}) {
          Bytes c = b;
          poke<int32_t>(c, 37, g);
          reject(c, tag + "group " + std::to_string(g));
        }
      }
    }
  }
  // The real stories260K.bin: each field of its legacy header.
  const Bytes real = slurp(shared_file("models/stories260K/stories260K.bin"));
  for (int i = 0; i < 7; ++i)
    for (int32_t v : {0, -1, INT32_MIN, INT32_MAX, 1 << 25, peek<int32_t>(real, 4 * i) + 1}) {
      Bytes c = real;
      poke<int32_t>(c, 4 * i, v);
      reject(c, std::string("stories260K.bin ") + param_names[i] + " = " + std::to_string(v));
    }
  std::printf("[ llama2.c field corruptions: %d ]\n", cases);
  EXPECT_GT(cases, 300);
}

// ---------------------------------------------------------------- (c) random byte flips

// The slowest single load of the flip tests: a hang or a quadratic path shows here
// whatever the machine's load (the totals depend on it).
double g_slowest_load = 0;

Outcome timed_load(const std::string& path, const std::string& context) {
  auto start = std::chrono::steady_clock::now();
  Outcome o = load_outcome(path, context);
  g_slowest_load = std::max(g_slowest_load, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return o;
}

// `iterations` seeded mutations of bytes in [0, header) of `f`, each loaded from disk.
// Only the mutated bytes are rewritten, so a large file costs little per iteration.
void random_flips(const std::string& f, const std::string& scratch, size_t header, int iterations, uint64_t seed,
                  int& loaded, int& rejected) {
  const Bytes orig = slurp(f);
  spit(scratch, orig);
  int fd = ::open(scratch.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  std::mt19937_64 rng(seed);
  header = std::min(header, orig.size());
  for (int it = 0; it < iterations; ++it) {
    int n = 1 + static_cast<int>(rng() % 4);
    std::vector<size_t> where;
    for (int k = 0; k < n; ++k) {
      size_t off = rng() % header;
      uint8_t v;
      switch (rng() % 5) {
        case 0: v = static_cast<uint8_t>(orig[off] ^ (1u << (rng() % 8))); break;
        case 1: v = 0xff; break;
        case 2: v = 0; break;
        case 3: v = static_cast<uint8_t>(orig[off] + 1); break;
        default: v = static_cast<uint8_t>(rng()); break;
      }
      ASSERT_EQ(::pwrite(fd, &v, 1, static_cast<off_t>(off)), 1);
      where.push_back(off);
    }
    std::string context = f + " flip #" + std::to_string(it) + " (seed " + std::to_string(seed) + ")";
    (timed_load(scratch, context) == Outcome::Loaded ? loaded : rejected)++;
    for (size_t off : where) ASSERT_EQ(::pwrite(fd, &orig[off], 1, static_cast<off_t>(off)), 1);
    if (::testing::Test::HasFailure()) break;  // one report is enough
  }
  ::close(fd);
}

// Seeded flips over the header of each GGUF in `files` (split in two tests so CTest can
// run the slow 32000-token file beside the others).
void gguf_random_flips(ModelErrorsTest& t, const std::vector<std::string>& files, uint64_t seed);

TEST_F(ModelErrorsTest, GgufRandomByteFlips) {
  std::vector<std::string> files = gguf_files();
  std::erase_if(files, [](const std::string& f) { return f.find("tiny-random") != std::string::npos; });
  gguf_random_flips(*this, files, 1);
}

TEST_F(ModelErrorsTest, GgufRandomByteFlipsTinyRandom) {
  gguf_random_flips(*this, {shared_file("models/tiny-random/llama-2-tiny-random.gguf")}, 1000);
}

void gguf_random_flips(ModelErrorsTest& t, const std::vector<std::string>& files, uint64_t seed) {
  constexpr int kIterations = 2000;
  auto path = [&](const std::string& name) { return t.path(name); };
  for (const std::string& f : files) {
    auto start = std::chrono::steady_clock::now();
    int loaded = 0, rejected = 0;
    TestGguf g = parse_test_gguf(slurp(f));
    Marks marks;
    g.serialize(&marks);
    // Half the flips hit the first 4 KiB (counts, scalar metadata, the start of the
    // arrays), half the whole header including the tensor infos at its end.
    size_t header = marks.at("padding").end;
    random_flips(f, path("flipped.gguf"), std::min<size_t>(header, 4096), kIterations / 2, seed++, loaded, rejected);
    const Mark& infos = marks.at("tensor[" + g.tensors.front().name + "] name length");
    random_flips(f, path("flipped.gguf"), header, kIterations / 4, seed++, loaded, rejected);
    // The last quarter: only the tensor-info block (offsets within it).
    {
      const Bytes orig = slurp(f);
      std::string scratch = path("flipped.gguf");
      spit(scratch, orig);
      int fd = ::open(scratch.c_str(), O_WRONLY);
      ASSERT_GE(fd, 0);
      std::mt19937_64 rng(seed++);
      for (int it = 0; it < kIterations / 4; ++it) {
        size_t off = infos.begin + rng() % (header - infos.begin);
        uint8_t v = static_cast<uint8_t>(rng() % 3 == 0 ? 0xff : orig[off] ^ (1u << (rng() % 8)));
        ASSERT_EQ(::pwrite(fd, &v, 1, static_cast<off_t>(off)), 1);
        (timed_load(scratch, f + " tensor-info flip #" + std::to_string(it)) == Outcome::Loaded ? loaded : rejected)++;
        ASSERT_EQ(::pwrite(fd, &orig[off], 1, static_cast<off_t>(off)), 1);
        if (::testing::Test::HasFailure()) break;
      }
      ::close(fd);
    }
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("[ %s: %d flips, %d loaded, %d rejected, %.2f s, slowest load %.3f s ]\n",
                fs::path(f).filename().c_str(), kIterations, loaded, rejected, s, g_slowest_load);
    EXPECT_GT(rejected, 0) << f;
    EXPECT_LT(g_slowest_load, 2.0) << f << ": one corrupt file took " << g_slowest_load << " s to load";
    g_slowest_load = 0;
  }
}

TEST_F(ModelErrorsTest, Llama2cRandomByteFlips) {
  constexpr int kIterations = 2000;
  uint64_t seed = 100;
  for (const std::string& f : llama2c_files()) {
    auto start = std::chrono::steady_clock::now();
    int loaded = 0, rejected = 0;
    const Bytes b = slurp(f);
    // The meaningful header: 7 ints (v0), or magic, version, 7 ints, flag and group (v1/v2).
    size_t header = peek<uint32_t>(b, 0) == 0x616b3432 ? 41 : 28;
    random_flips(f, path("flipped.bin"), header, kIterations, seed++, loaded, rejected);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("[ %s: %d flips, %d loaded, %d rejected, %.2f s, slowest load %.3f s ]\n",
                fs::path(f).filename().c_str(), kIterations, loaded, rejected, s, g_slowest_load);
    EXPECT_GT(rejected, kIterations / 2) << f;
    EXPECT_LT(g_slowest_load, 2.0) << f << ": one corrupt file took " << g_slowest_load << " s to load";
    g_slowest_load = 0;
  }
}

}  // namespace
}  // namespace bf
