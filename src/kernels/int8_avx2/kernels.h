// The int8_avx2 family's kernels (contract.h signatures) over the r8 layout.
#pragma once
#include <cstdint>

namespace bf::int8_avx2 {

void matmul_q8_0_avx2(const void* args, int64_t begin, int64_t end);
void matmul_q4_0_avx2(const void* args, int64_t begin, int64_t end);
void matmul_i8g_avx2(const void* args, int64_t begin, int64_t end);
void matmul_q4_1_avx2(const void* args, int64_t begin, int64_t end);
void matmul_q5_0_avx2(const void* args, int64_t begin, int64_t end);
void matmul_q5_1_avx2(const void* args, int64_t begin, int64_t end);
void matmul_q4_k_avx2(const void* args, int64_t begin, int64_t end);
void matmul_q5_k_avx2(const void* args, int64_t begin, int64_t end);
void matmul_q6_k_avx2(const void* args, int64_t begin, int64_t end);

void matmul_q8_0_avxvnni(const void* args, int64_t begin, int64_t end);
void matmul_q4_0_avxvnni(const void* args, int64_t begin, int64_t end);
void matmul_i8g_avxvnni(const void* args, int64_t begin, int64_t end);
void matmul_q4_1_avxvnni(const void* args, int64_t begin, int64_t end);
void matmul_q5_0_avxvnni(const void* args, int64_t begin, int64_t end);
void matmul_q5_1_avxvnni(const void* args, int64_t begin, int64_t end);
void matmul_q4_k_avxvnni(const void* args, int64_t begin, int64_t end);
void matmul_q5_k_avxvnni(const void* args, int64_t begin, int64_t end);
void matmul_q6_k_avxvnni(const void* args, int64_t begin, int64_t end);

}  // namespace bf::int8_avx2
