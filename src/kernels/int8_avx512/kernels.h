// Entry points of the int8 AVX-512 / AMX matmul variants (KernelFn over output rows),
// all reading the r16 layout. Internal to this directory.
#pragma once
#include <cstdint>

#include "cpu/cpu.h"

namespace bf::int8_avx512 {

void q8_0_avx512(const void* args, int64_t begin, int64_t end);
void q4_0_avx512(const void* args, int64_t begin, int64_t end);
void i8g_avx512(const void* args, int64_t begin, int64_t end);
void q8_0_vnni(const void* args, int64_t begin, int64_t end);
void q4_0_vnni(const void* args, int64_t begin, int64_t end);
void i8g_vnni(const void* args, int64_t begin, int64_t end);
void q8_0_amx(const void* args, int64_t begin, int64_t end);
void q4_0_amx(const void* args, int64_t begin, int64_t end);
void i8g_amx(const void* args, int64_t begin, int64_t end);

// AMX-INT8 reported by the CPU and tile data granted to this process by the OS.
bool amx_usable(const CpuInfo& cpu);

}  // namespace bf::int8_avx512
