// Reference kernels: the semantic spec every other variant is tested against.
// Portable C++, one function per op kind (per weight type for Matmul), each meeting
// the kernel contract (kernels/contract.h): units are independent, so the runner may
// split them over threads without changing the arithmetic of any output element.
#pragma once
#include <cstdint>

#include "kernels/contract.h"
#include "kernels/tensor_view.h"

namespace bf::ref {

// Matmul with f32 input, native layout: one per weight type.
void matmul_f32(const void* args, int64_t begin, int64_t end);
void matmul_f16(const void* args, int64_t begin, int64_t end);
void matmul_q8_0(const void* args, int64_t begin, int64_t end);
void matmul_q4_0(const void* args, int64_t begin, int64_t end);
void matmul_i8g(const void* args, int64_t begin, int64_t end);
void matmul_bf16(const void* args, int64_t begin, int64_t end);
void matmul_q4_1(const void* args, int64_t begin, int64_t end);
void matmul_q5_0(const void* args, int64_t begin, int64_t end);
void matmul_q5_1(const void* args, int64_t begin, int64_t end);
void matmul_q4_k(const void* args, int64_t begin, int64_t end);
void matmul_q5_k(const void* args, int64_t begin, int64_t end);
void matmul_q6_k(const void* args, int64_t begin, int64_t end);

// Matmul with 8-bit input (Q8Rows), native layout: the integer semantics every
// integer variant computes (exact block sums times float scales).
void matmul_q8_0_q8(const void* args, int64_t begin, int64_t end);
void matmul_q4_0_q8(const void* args, int64_t begin, int64_t end);
void matmul_i8g_q8(const void* args, int64_t begin, int64_t end);  // group % 32 == 0
// The newer block types, all through kernels/int_block.h.
void matmul_q4_1_q8(const void* args, int64_t begin, int64_t end);
void matmul_q5_0_q8(const void* args, int64_t begin, int64_t end);
void matmul_q5_1_q8(const void* args, int64_t begin, int64_t end);
void matmul_q4_k_q8(const void* args, int64_t begin, int64_t end);
void matmul_q5_k_q8(const void* args, int64_t begin, int64_t end);
void matmul_q6_k_q8(const void* args, int64_t begin, int64_t end);

void quantize(const void* args, int64_t begin, int64_t end);
void embed(const void* args, int64_t begin, int64_t end);
void rmsnorm(const void* args, int64_t begin, int64_t end);
void rope(const void* args, int64_t begin, int64_t end);
void kv_store(const void* args, int64_t begin, int64_t end);
void attention(const void* args, int64_t begin, int64_t end);
void swiglu(const void* args, int64_t begin, int64_t end);
void add(const void* args, int64_t begin, int64_t end);

// One block of 32 floats to 8 bits, the rule QuantizeArgs states; returns the sum of q.
int32_t quantize_block(const float* x, int8_t* q, float* d);

// x = softmax(x), in place.
void softmax(float* x, int n);

// Matmul arguments for one weight tensor in its native layout (f32 input `x` and/or
// 8-bit input `xq`), n_tokens rows of input, outputs `out_stride` apart.
MatmulArgs matmul_args(const TensorView& w, const float* x, Q8Rows xq, float* out, int n_tokens, int64_t out_stride);

}  // namespace bf::ref
