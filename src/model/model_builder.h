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

// Stable 64-bit FNV-1a.
uint64_t fnv1a(const void* data, size_t n, uint64_t h = 1469598103934665603ull);

// Fills model.fingerprint from the config, the tensor table and sampled file bytes.
void compute_fingerprint(Model& model);

}  // namespace bf::model_detail
