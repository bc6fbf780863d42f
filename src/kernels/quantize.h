// Reference quantizers and dequantizers for every weight format BareFlow reads.
//
// These are bit-exact with the tools that produce real model files (ggml's
// quantize_row_*_ref and llama2.c's export.py version 2), so a model written by
// mkmodel is indistinguishable from one converted by those tools, and the
// dequantizers are the semantic spec every optimized kernel is tested against.
#pragma once
#include <cstdint>

#include "kernels/dtype.h"

namespace bf {

// ggml Q8_0: per block of 32, d = max|x| / 127, q = roundf(x / d), d stored as f16.
// n must be a multiple of kQBlock.
void quantize_row_q8_0(const float* x, BlockQ8_0* out, int64_t n);

// ggml Q4_0: per block, the signed value of largest magnitude `max` gives d = max / -8
// and q = min(15, (int8)(x / d + 8.5)); value = (q - 8) * d. n must be a multiple of kQBlock.
void quantize_row_q4_0(const float* x, BlockQ4_0* out, int64_t n);

// ggml Q4_1 / Q5_1: per block, d = (max - min) / 15 (31) and m = min;
// q = (uint8)((x - min) / d + 0.5), clamped to the nibble (5-bit) range.
void quantize_row_q4_1(const float* x, BlockQ4_1* out, int64_t n);
void quantize_row_q5_1(const float* x, BlockQ5_1* out, int64_t n);

// ggml Q5_0: as Q4_0 with d = max / -16 and q = min(31, (int8)(x / d + 16.5)).
void quantize_row_q5_0(const float* x, BlockQ5_0* out, int64_t n);

// K quants (kernels/quantize_k.cpp). n must be a multiple of kQK. Sub-block scales and
// mins are chosen to minimise the squared error of the block; the output is a valid
// ggml block, though not bit-identical to llama-quantize's search.
void quantize_row_q4_k(const float* x, BlockQ4_K* out, int64_t n);
void quantize_row_q5_k(const float* x, BlockQ5_K* out, int64_t n);
void quantize_row_q6_k(const float* x, BlockQ6_K* out, int64_t n);

// IEEE binary16, round to nearest even.
void quantize_row_f16(const float* x, uint16_t* out, int64_t n);

// bfloat16, round to nearest even; a NaN stays a (quiet) NaN.
void quantize_row_bf16(const float* x, uint16_t* out, int64_t n);

// One row of `n` floats to type `t` (any type but I8G), `out` holding row_bytes(t, n).
// Throws std::invalid_argument on an illegal n or on I8G.
void quantize_row(DType t, const float* x, void* out, int64_t n);

// llama2.c export.py v2: per group of `group` elements, scale = max|x| / 127 and
// q = round-half-even(x / scale) (0 for an all-zero group). n must be a multiple of
// group; `scales` receives n / group values.
void quantize_i8g(const float* x, int8_t* q, float* scales, int64_t n, int group);

void dequantize_row_q8_0(const BlockQ8_0* x, float* out, int64_t n);
void dequantize_row_q4_0(const BlockQ4_0* x, float* out, int64_t n);
void dequantize_row_q4_1(const BlockQ4_1* x, float* out, int64_t n);
void dequantize_row_q5_0(const BlockQ5_0* x, float* out, int64_t n);
void dequantize_row_q5_1(const BlockQ5_1* x, float* out, int64_t n);
void dequantize_row_q4_k(const BlockQ4_K* x, float* out, int64_t n);
void dequantize_row_q5_k(const BlockQ5_K* x, float* out, int64_t n);
void dequantize_row_q6_k(const BlockQ6_K* x, float* out, int64_t n);
void dequantize_row_f16(const uint16_t* x, float* out, int64_t n);
void dequantize_row_bf16(const uint16_t* x, float* out, int64_t n);
void dequantize_i8g(const int8_t* q, const float* scales, float* out, int64_t n, int group);

// One row of `n` elements of type `t` to f32. For I8G, `row` points at the int8 values,
// `scales` at this row's scales and `group` is the group size (it must divide n, and
// must be given: I8G rows cannot be decoded without it). `scales` and `group` are
// ignored for the other types. Throws std::invalid_argument on an illegal n or group; the quantizers too.
void dequantize_row(DType t, const void* row, const float* scales, float* out, int64_t n, int group = 0);

}  // namespace bf
