// One registration function per family of kernels; KernelRegistry::builtin() calls
// each. A family adds its variants here and nowhere else.
#pragma once

namespace bf {

class KernelRegistry;

void add_reference_variants(KernelRegistry& r);   // kernels/reference.cpp: the semantic spec, every op and type
void add_float_simd_variants(KernelRegistry& r);  // kernels/float_simd/: F32/F16/BF16 matmul, norms, rope, attention... (AVX2, AVX-512)
void add_int8_avx2_variants(KernelRegistry& r);   // kernels/int8_avx2/: Q8_0/Q4_0/Q4_1/Q5_0/Q5_1/Q4_K/Q5_K/Q6_K/I8G integer matmul (AVX2, AVX-VNNI)
void add_int8_avx512_variants(KernelRegistry& r); // kernels/int8_avx512/: Q8_0/Q4_0/I8G and Q4_1/Q5_0/Q5_1/Q4_K/Q5_K/Q6_K integer matmul (AVX-512BW, AVX-512-VNNI; AMX for the first three)

}  // namespace bf
