// r8 matmul with AVX2 vpmaddubsw (unsigned x signed bytes to saturating int16 pairs)
// and vpmaddwd (int16 pairs to int32).
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/contract.h"
#include "kernels/int8_avx2/kernels.h"
#include "kernels/int8_avx2/r8_layout.h"

namespace bf::int8_avx2 {
namespace {

#define BF_R8_TARGET __attribute__((target("avx2,fma,f16c")))
#include "kernels/int8_avx2/r8_driver.inc"

// Q8_0 and I8G: both operands are signed, so the sign of w moves onto x and |w| is the
// unsigned operand: |w| * sign(x, w) = w x. A pair of such products is at most
// 2 * 128 * 127 < 2^15, so vpmaddubsw never saturates; each chunk is widened to int32 at once.
struct Q8Dot {
  static constexpr int kBlockBytes = kQ8BlockBytes;
  static constexpr int kGemvRows = 2, kGemmRows = 1, kGemmTokens = 4;  // sign and |w| take registers too

  template <int RV, int NT>
  [[gnu::always_inline]] BF_R8_TARGET static inline void block(const uint8_t* const (&w)[RV],
                                                                 const int8_t* const (&x)[NT],
                                                                 const int32_t (&)[NT], __m256i (&acc)[RV][NT]) {
    const __m256i bias = _mm256_set1_epi8(-128), ones = _mm256_set1_epi16(1);
    for (int t = 0; t < NT; ++t)
      for (int i = 0; i < RV; ++i) acc[i][t] = _mm256_setzero_si256();
#pragma GCC unroll 8
    for (int c = 0; c < kQBlock / 4; ++c) {
      __m256i sw[RV], aw[RV];
      for (int i = 0; i < RV; ++i) {
        sw[i] = _mm256_xor_si256(_mm256_load_si256(reinterpret_cast<const __m256i*>(w[i] + 32 * c)), bias);
        aw[i] = _mm256_abs_epi8(sw[i]);
      }
      for (int t = 0; t < NT; ++t) {
        const __m256i xv = broadcast4(x[t] + 4 * c);
        for (int i = 0; i < RV; ++i) {
          const __m256i p = _mm256_maddubs_epi16(aw[i], _mm256_sign_epi8(xv, sw[i]));
          acc[i][t] = _mm256_add_epi32(acc[i][t], _mm256_madd_epi16(p, ones));
        }
      }
    }
  }
};

// Q4_0: nibbles (0..15) are the unsigned operand. A product pair is at most
// 2 * 15 * 128 = 3840, so all eight chunks of a block sum in int16 (30720 < 2^15)
// before one vpmaddwd; value = nibble - 8 subtracts 8 sum(x).
struct Q4Dot {
  static constexpr int kBlockBytes = kQ4BlockBytes;
  static constexpr int kGemvRows = 2, kGemmRows = 2, kGemmTokens = 2;  // 4 row groups per token step: slower (measured)

  template <int RV, int NT>
  [[gnu::always_inline]] BF_R8_TARGET static inline void block(const uint8_t* const (&w)[RV],
                                                                 const int8_t* const (&x)[NT],
                                                                 const int32_t (&sum)[NT], __m256i (&acc)[RV][NT]) {
    const __m256i low4 = _mm256_set1_epi8(0x0f), ones = _mm256_set1_epi16(1);
    __m256i s16[RV][NT];
    for (int t = 0; t < NT; ++t)
      for (int i = 0; i < RV; ++i) s16[i][t] = _mm256_setzero_si256();
#pragma GCC unroll 4
    for (int k = 0; k < 4; ++k) {
      __m256i lo[RV], hi[RV];
      for (int i = 0; i < RV; ++i) {
        const __m256i raw = _mm256_load_si256(reinterpret_cast<const __m256i*>(w[i] + 32 * k));
        lo[i] = _mm256_and_si256(raw, low4);
        hi[i] = _mm256_and_si256(_mm256_srli_epi16(raw, 4), low4);
      }
      for (int t = 0; t < NT; ++t) {
        const __m256i xl = broadcast4(x[t] + 4 * k), xh = broadcast4(x[t] + 16 + 4 * k);
        for (int i = 0; i < RV; ++i)
          s16[i][t] = _mm256_add_epi16(s16[i][t], _mm256_add_epi16(_mm256_maddubs_epi16(lo[i], xl),
                                                                    _mm256_maddubs_epi16(hi[i], xh)));
      }
    }
    for (int t = 0; t < NT; ++t)
      for (int i = 0; i < RV; ++i)
        acc[i][t] = _mm256_add_epi32(_mm256_madd_epi16(s16[i][t], ones), _mm256_set1_epi32(-8 * sum[t]));
  }
};

}  // namespace

void matmul_q8_0_avx2(const void* a, int64_t begin, int64_t end) { matmul_r8<Q8Dot, F16BlockScales>(a, begin, end); }
void matmul_q4_0_avx2(const void* a, int64_t begin, int64_t end) { matmul_r8<Q4Dot, F16BlockScales>(a, begin, end); }
void matmul_i8g_avx2(const void* a, int64_t begin, int64_t end) { matmul_r8<Q8Dot, F32GroupScales>(a, begin, end); }

}  // namespace bf::int8_avx2
