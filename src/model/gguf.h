// GGUF v2/v3 container: metadata key/values and tensor infos, fully validated
// against the file before anything is returned. Knows nothing about llama.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "model/ggml_types.h"

namespace bf {

enum class GgufType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, Bool = 7,
  String = 8, Array = 9, U64 = 10, I64 = 11, F64 = 12,
};

struct GgufValue {
  GgufType type = GgufType::U8;
  GgufType elem_type = GgufType::U8;  // arrays only
  uint64_t count = 0;                 // arrays only
  // Scalars: numbers widen into `number` (and `integer` for integer types).
  double number = 0;
  int64_t integer = 0;
  bool is_integer = false;
  std::string str;
  // Arrays of scalars or strings keep their elements; nested arrays are validated and skipped.
  std::vector<double> numbers;
  std::vector<std::string> strings;
};

struct GgufTensorInfo {
  std::string name;
  std::vector<uint64_t> dims;  // ne0 first: dims[0] is the contiguous row length
  uint32_t type = 0;            // ggml type id (model/ggml_types.h); parse_gguf accepts supported ones only
  uint64_t offset = 0;         // relative to the data section
  uint64_t bytes = 0;
  const uint8_t* data = nullptr;
};

struct GgufFile {
  uint32_t version = 0;
  uint64_t alignment = 32;
  uint64_t data_offset = 0;
  std::map<std::string, GgufValue> kv;
  std::vector<GgufTensorInfo> tensors;

  const GgufValue* find(const std::string& key) const;
  const GgufTensorInfo* tensor(const std::string& name) const;
};

// Parses and validates a whole GGUF image; `name` prefixes every error. Throws InputError.
GgufFile parse_gguf(const uint8_t* data, size_t size, const std::string& name);

bool is_gguf(const uint8_t* data, size_t size);

}  // namespace bf
