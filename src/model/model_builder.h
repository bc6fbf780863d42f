// Shared helpers for the loaders: checked arithmetic and config validation.
// Internal to src/model.
#pragma once
#include <cstdint>
#include <string>

#include "model/model.h"

namespace bf::model_detail {

// a * b, or fail through InputError(file, what) on overflow.
uint64_t mul_checked(uint64_t a, uint64_t b, const std::string& file, const char* what);
uint64_t add_checked(uint64_t a, uint64_t b, const std::string& file, const char* what);

// Rejects shapes the forward pass cannot run, with a message naming the field.
void validate_config(const ModelConfig& c, const std::string& file);

// A dense weight view. `bytes` is computed from the type and shape.
Tensor make_tensor(std::string name, DType type, int64_t rows, int64_t cols, const uint8_t* data);

// Fills model.fingerprint from the config, the file's header (its first `header_bytes`
// bytes: GGUF metadata and tensor infos, or llama2.c's header), the tensor table (names,
// types, shapes, offsets in the file) and sampled weight bytes. Call after the tensors are set.
void compute_fingerprint(Model& model, size_t header_bytes);

}  // namespace bf::model_detail
