#include "model/gguf.h"

#include <algorithm>
#include <cstring>
#include <string_view>
#include <unordered_set>

#include "util/byte_reader.h"
#include "util/error.h"

namespace bf {
namespace {

constexpr uint64_t kMaxDims = 4;
constexpr int kMaxArrayDepth = 3;
constexpr uint64_t kMaxStringBytes = 1ull << 30;

// The file's cursor (util/byte_reader.h): a truncated or lying file fails here and
// nowhere else, with one line naming the file.
class Reader : public ByteReader {
 public:
  Reader(const uint8_t* data, size_t size, const std::string& name) : ByteReader(data, 0, size), name_(name) {}

  [[noreturn]] void fail(const std::string& problem) const { throw InputError(name_, problem); }
  std::string string(const char* what) {
    auto n = get<uint64_t>(what);
    if (n > kMaxStringBytes) fail(std::string(what) + " has absurd length " + std::to_string(n));
    return take_string(n, what);
  }

 private:
  [[noreturn]] void shortfall(uint64_t, const char* what) const override {
    fail(std::string("truncated while reading ") + what + " at offset " + std::to_string(pos()));
  }
  const std::string& name_;
};

size_t scalar_size(GgufType t) {
  switch (t) {
    case GgufType::U8: case GgufType::I8: case GgufType::Bool: return 1;
    case GgufType::U16: case GgufType::I16: return 2;
    case GgufType::U32: case GgufType::I32: case GgufType::F32: return 4;
    case GgufType::U64: case GgufType::I64: case GgufType::F64: return 8;
    default: return 0;
  }
}

bool valid_type(uint32_t t) { return t <= static_cast<uint32_t>(GgufType::F64); }

void read_scalar(Reader& r, GgufType t, GgufValue& v) {
  v.is_integer = true;
  switch (t) {
    case GgufType::U8: v.integer = r.get<uint8_t>("u8"); break;
    case GgufType::I8: v.integer = r.get<int8_t>("i8"); break;
    case GgufType::U16: v.integer = r.get<uint16_t>("u16"); break;
    case GgufType::I16: v.integer = r.get<int16_t>("i16"); break;
    case GgufType::U32: v.integer = r.get<uint32_t>("u32"); break;
    case GgufType::I32: v.integer = r.get<int32_t>("i32"); break;
    case GgufType::U64: {
      auto u = r.get<uint64_t>("u64");
      v.integer = u > INT64_MAX ? INT64_MAX : static_cast<int64_t>(u);
      break;
    }
    case GgufType::I64: v.integer = r.get<int64_t>("i64"); break;
    case GgufType::Bool: {
      auto b = r.get<uint8_t>("bool");
      if (b > 1) r.fail("bool value " + std::to_string(b) + " is neither 0 nor 1");
      v.integer = b;
      break;
    }
    case GgufType::F32: v.number = r.get<float>("f32"); v.is_integer = false; break;
    case GgufType::F64: v.number = r.get<double>("f64"); v.is_integer = false; break;
    default: r.fail("internal: not a scalar type");
  }
  if (v.is_integer) v.number = static_cast<double>(v.integer);
}

void read_value(Reader& r, GgufType t, GgufValue& v, int depth);

void read_array(Reader& r, GgufValue& v, int depth) {
  auto et = r.get<uint32_t>("array element type");
  if (!valid_type(et)) r.fail("array has unknown element type " + std::to_string(et));
  v.elem_type = static_cast<GgufType>(et);
  v.count = r.get<uint64_t>("array length");
  // Every element takes at least one byte (strings eight), so a count larger than
  // what is left in the file is a lie: reject it before reserving anything.
  uint64_t min_size = v.elem_type == GgufType::String ? 8 : v.elem_type == GgufType::Array ? 12 : scalar_size(v.elem_type);
  if (v.count > r.remaining() / min_size) r.fail("array length " + std::to_string(v.count) + " exceeds the file");
  if (v.elem_type == GgufType::String) {
    v.strings.reserve(v.count);
    for (uint64_t i = 0; i < v.count; ++i) v.strings.push_back(r.string("array string"));
  } else if (v.elem_type == GgufType::Array) {
    if (depth >= kMaxArrayDepth) r.fail("arrays nested too deeply");
    for (uint64_t i = 0; i < v.count; ++i) {
      GgufValue inner;
      read_value(r, GgufType::Array, inner, depth + 1);
    }
  } else {
    v.numbers.reserve(v.count);
    for (uint64_t i = 0; i < v.count; ++i) {
      GgufValue e;
      read_scalar(r, v.elem_type, e);
      v.numbers.push_back(e.number);
    }
  }
}

void read_value(Reader& r, GgufType t, GgufValue& v, int depth) {
  v.type = t;
  if (t == GgufType::String)
    v.str = r.string("string value");
  else if (t == GgufType::Array)
    read_array(r, v, depth);
  else
    read_scalar(r, t, v);
}

std::string shape_string(const std::vector<uint64_t>& dims) {
  std::string s;
  for (uint64_t d : dims) s += (s.empty() ? "" : " x ") + std::to_string(d);
  return s;
}

// Bytes of tensor `t` (dims are 1..2^40, read_tensor_info checked them), or the problem
// with its type or shape. The row is whole blocks of its type; the product is checked
// against 64-bit overflow before it is formed.
uint64_t tensor_bytes(const GgufTensorInfo& t, const Reader& r) {
  const std::string tensor = "tensor '" + t.name + "'";
  const GgmlTypeInfo* type = ggml_type(t.type);
  if (!type || !type->supported)
    r.fail(tensor + " has unsupported type " + std::string(ggml_type_name(t.type)) + " (" + std::to_string(t.type) + ")");
  const std::string type_name(type->name);
  if (t.dims[0] % type->block_elems != 0)
    r.fail(tensor + ": row of " + std::to_string(t.dims[0]) + " " + type_name + " values is not a whole number of " +
           std::to_string(type->block_elems) + "-value blocks");
  uint64_t bytes = t.dims[0] / type->block_elems * type->block_bytes;  // < 2^40 * block bytes
  for (size_t i = 1; i < t.dims.size(); ++i) {
    if (bytes > UINT64_MAX / t.dims[i])
      r.fail(tensor + ": " + shape_string(t.dims) + " " + type_name + " values take more than 2^64 bytes");
    bytes *= t.dims[i];
  }
  return bytes;
}

void read_tensor_info(Reader& r, GgufTensorInfo& t) {
  t.name = r.string("tensor name");
  auto n_dims = r.get<uint32_t>("tensor dimension count");
  if (n_dims == 0 || n_dims > kMaxDims)
    r.fail("tensor '" + t.name + "' has " + std::to_string(n_dims) + " dimensions (1.." + std::to_string(kMaxDims) + " allowed)");
  for (uint32_t i = 0; i < n_dims; ++i) {
    auto d = r.get<uint64_t>("tensor dimension");
    if (d == 0 || d > (1ull << 40)) r.fail("tensor '" + t.name + "' has dimension " + std::to_string(d));
    t.dims.push_back(d);
  }
  t.type = r.get<uint32_t>("tensor type");
  t.offset = r.get<uint64_t>("tensor offset");
}

void check_tensor_layout(GgufFile& f, const uint8_t* data, size_t size, const Reader& r) {
  for (auto& t : f.tensors) {
    t.bytes = tensor_bytes(t, r);
    const std::string tensor = "tensor '" + t.name + "'";
    if (t.offset % f.alignment)
      r.fail(tensor + ": data offset " + std::to_string(t.offset) + " is not a multiple of the alignment " +
             std::to_string(f.alignment));
    if (t.offset > size - f.data_offset || t.bytes > size - f.data_offset - t.offset)
      r.fail(tensor + ": data (offset " + std::to_string(t.offset) + ", " + std::to_string(t.bytes) +
             " bytes) extends past the end of the file");
    t.data = data + f.data_offset + t.offset;
  }
  std::vector<const GgufTensorInfo*> by_offset;
  for (auto& t : f.tensors) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(), [](auto a, auto b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    auto prev = by_offset[i - 1];
    if (prev->offset + prev->bytes > by_offset[i]->offset)
      r.fail("tensors '" + prev->name + "' and '" + by_offset[i]->name + "' overlap");
  }
}

}  // namespace

bool is_gguf(const uint8_t* data, size_t size) { return size >= 4 && std::memcmp(data, "GGUF", 4) == 0; }

const GgufValue* GgufFile::find(const std::string& key) const {
  auto it = kv.find(key);
  return it == kv.end() ? nullptr : &it->second;
}

const GgufTensorInfo* GgufFile::tensor(const std::string& name) const {
  for (auto& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

GgufFile parse_gguf(const uint8_t* data, size_t size, const std::string& name) {
  Reader r(data, size, name);
  GgufFile f;
  r.need(4, "magic");
  if (!is_gguf(data, size)) r.fail("not a GGUF file (bad magic)");
  r.skip(4, "magic");
  f.version = r.get<uint32_t>("version");
  if (f.version != 2 && f.version != 3) r.fail("unsupported GGUF version " + std::to_string(f.version));
  auto n_tensors = r.get<uint64_t>("tensor count");
  auto n_kv = r.get<uint64_t>("metadata count");
  // A key/value pair takes at least 13 bytes and a tensor info at least 32.
  if (n_kv > r.remaining() / 13) r.fail("metadata count " + std::to_string(n_kv) + " exceeds the file");
  if (n_tensors > r.remaining() / 32) r.fail("tensor count " + std::to_string(n_tensors) + " exceeds the file");

  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key = r.string("metadata key");
    auto t = r.get<uint32_t>("metadata value type");
    if (!valid_type(t)) r.fail("metadata '" + key + "' has unknown value type " + std::to_string(t));
    GgufValue v;
    read_value(r, static_cast<GgufType>(t), v, 0);
    if (!f.kv.emplace(key, std::move(v)).second) r.fail("duplicate metadata key '" + key + "'");
  }
  // The GGUF specification asks for a multiple of 8 (llama.cpp also takes 1, 2 and 4).
  if (auto a = f.find("general.alignment")) {
    if (!a->is_integer || a->integer < 8 || a->integer > (1 << 20) || (a->integer & (a->integer - 1)))
      r.fail("general.alignment must be a power of two from 8, got " + std::to_string(a->integer));
    f.alignment = static_cast<uint64_t>(a->integer);
  }
  f.tensors.resize(n_tensors);
  for (auto& t : f.tensors) read_tensor_info(r, t);
  std::unordered_set<std::string_view> names;
  for (auto& t : f.tensors)
    if (!names.insert(t.name).second) r.fail("duplicate tensor '" + t.name + "'");

  uint64_t pad = (f.alignment - r.pos() % f.alignment) % f.alignment;
  f.data_offset = r.pos() + pad;
  if (!f.tensors.empty() && f.data_offset > size) r.fail("truncated before the tensor data");
  check_tensor_layout(f, data, size, r);
  return f;
}

}  // namespace bf
