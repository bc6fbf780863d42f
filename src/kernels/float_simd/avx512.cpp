#define BF_SIMD __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")))
#define BF_LEVEL avx512
#define BF_ISA_HEADER "kernels/float_simd/isa_avx512.h"
// GCC 12's AVX-512 intrinsics pass _mm512_undefined_*() as the unused merge source and
// then warn about it (GCC bug 105593); nothing here reads an undefined value.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include "kernels/float_simd/level.inc"
#pragma GCC diagnostic pop

namespace bf::float_simd {
const KernelSet avx512_kernels = avx512::kernels;
}  // namespace bf::float_simd
