#define BF_SIMD __attribute__((target("avx2,fma,f16c")))
#define BF_LEVEL avx2
#define BF_ISA_HEADER "kernels/float_simd/isa_avx2.h"
#include "kernels/float_simd/level.inc"

namespace bf::float_simd {
const KernelSet avx2_kernels = avx2::kernels;
}  // namespace bf::float_simd
