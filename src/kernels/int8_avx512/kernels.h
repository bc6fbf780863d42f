// Entry points of the int8 AVX-512 / AMX matmul variants (KernelFn over output rows),
// all reading the r16 layout. Internal to this directory.
#pragma once
#include <cstdint>

#include "cpu/cpu.h"
#include "kernels/contract.h"
#include "kernels/dtype.h"

namespace bf::int8_avx512 {

// The kernels of one weight type: AVX-512BW, AVX-512-VNNI and AMX (null: none).
struct MatmulKernels {
  DType type;
  KernelFn bw, vnni, amx;
};
extern const MatmulKernels kMatmulKernels[];
extern const int kMatmulKernelCount;

void q8_0_amx(const void* args, int64_t begin, int64_t end);
void q4_0_amx(const void* args, int64_t begin, int64_t end);
void i8g_amx(const void* args, int64_t begin, int64_t end);

// AMX-INT8 reported by the CPU and tile data granted to this process by the OS.
bool amx_usable(const CpuInfo& cpu);

}  // namespace bf::int8_avx512
