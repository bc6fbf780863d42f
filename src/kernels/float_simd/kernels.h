// The float_simd family's kernels, one set per ISA level. Each set is the same generic
// code (matmul.inc, ops.inc, attention.inc) compiled for that level's vocabulary
// (isa_avx2.h, isa_avx512.h); register.cpp turns the sets into variants.
#pragma once
#include "kernels/contract.h"

namespace bf::float_simd {

struct KernelSet {
  KernelFn matmul_f32, matmul_f16, matmul_bf16, matmul_q8_0, matmul_q4_0, matmul_i8g;  // MatmulArgs, f32 input
  KernelFn quantize, rmsnorm, rope, swiglu, add;
  KernelFn kvstore, attention;  // take either KvType
};

extern const KernelSet avx2_kernels;    // AVX2 + FMA + F16C
extern const KernelSet avx512_kernels;  // AVX-512 F/BW/VL/DQ (+ F16C)

}  // namespace bf::float_simd
