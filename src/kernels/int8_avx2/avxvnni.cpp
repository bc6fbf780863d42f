// r8 matmul with VEX vpdpbusd (AVX-VNNI, 256-bit): unsigned weight bytes times signed
// activations, four products per lane summed into int32 without saturation.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/contract.h"
#include "kernels/int8_avx2/kernels.h"
#include "kernels/int8_avx2/r8_layout.h"

namespace bf::int8_avx2 {
namespace {

#define BF_R8_TARGET __attribute__((target("avx2,fma,f16c,avxvnni")))
#include "kernels/int8_avx2/r8_driver.inc"

// Q8_0 and I8G: the weights are offset binary (w + 128), so the dot is
// sum((w + 128) x) = sum(w x) + 128 sum(x); starting the accumulator at -128 sum(x)
// leaves the exact signed dot.
struct Q8Dot {
  static constexpr int kBlockBytes = kQ8BlockBytes;
  // A token step shares each activation broadcast over 32 rows; a prompt tile of
  // 2 groups x 3 tokens keeps its 6 integer and 6 float accumulators in registers.
  static constexpr int kGemvRows = 4, kGemmRows = 2, kGemmTokens = 3;

  template <int RV, int NT>
  [[gnu::always_inline]] BF_R8_TARGET static inline void block(const uint8_t* const (&w)[RV],
                                                                 const int8_t* const (&x)[NT],
                                                                 const int32_t (&sum)[NT], __m256i (&acc)[RV][NT]) {
    // Few tiles in flight (a token step): two chains per block halve the wait on
    // vpdpbusd's latency.
    constexpr int kChains = RV * NT < 4 ? 2 : 1;
    __m256i part[kChains][RV][NT];
    for (int t = 0; t < NT; ++t)
      for (int i = 0; i < RV; ++i) {
        part[0][i][t] = _mm256_set1_epi32(-128 * sum[t]);
        if constexpr (kChains == 2) part[1][i][t] = _mm256_setzero_si256();
      }
#pragma GCC unroll 8
    for (int c = 0; c < kQBlock / 4; ++c) {
      __m256i wv[RV];
      for (int i = 0; i < RV; ++i) wv[i] = _mm256_load_si256(reinterpret_cast<const __m256i*>(w[i] + 32 * c));
      for (int t = 0; t < NT; ++t) {
        const __m256i xv = broadcast4(x[t] + 4 * c);
        for (int i = 0; i < RV; ++i)
          part[c % kChains][i][t] = _mm256_dpbusd_avx_epi32(part[c % kChains][i][t], wv[i], xv);
      }
    }
    for (int i = 0; i < RV; ++i)
      for (int t = 0; t < NT; ++t)
        acc[i][t] = kChains == 2 ? _mm256_add_epi32(part[0][i][t], part[kChains - 1][i][t]) : part[0][i][t];
  }
};

// Q4_0: the nibbles are unsigned already; value = nibble - 8, so the start is -8 sum(x).
// The high nibbles are used in place (byte & 0xf0 = 16 * nibble, no shift) into a
// second chain, scaled back by an exact shift once per block.
struct Q4Dot {
  static constexpr int kBlockBytes = kQ4BlockBytes;
  static constexpr int kGemvRows = 4, kGemmRows = 2, kGemmTokens = 2;  // 2 x 3 spills here (measured)

  template <int RV, int NT>
  [[gnu::always_inline]] BF_R8_TARGET static inline void block(const uint8_t* const (&w)[RV],
                                                                 const int8_t* const (&x)[NT],
                                                                 const int32_t (&sum)[NT], __m256i (&acc)[RV][NT]) {
    const __m256i low4 = _mm256_set1_epi8(0x0f), high4 = _mm256_set1_epi8(static_cast<char>(0xf0));
    __m256i lo_acc[RV][NT], hi_acc[RV][NT];
    for (int t = 0; t < NT; ++t)
      for (int i = 0; i < RV; ++i) {
        lo_acc[i][t] = _mm256_set1_epi32(-8 * sum[t]);
        hi_acc[i][t] = _mm256_setzero_si256();
      }
#pragma GCC unroll 4
    for (int k = 0; k < 4; ++k) {
      __m256i lo[RV], hi[RV];
      for (int i = 0; i < RV; ++i) {
        const __m256i raw = _mm256_load_si256(reinterpret_cast<const __m256i*>(w[i] + 32 * k));
        lo[i] = _mm256_and_si256(raw, low4);
        hi[i] = _mm256_and_si256(raw, high4);
      }
      for (int t = 0; t < NT; ++t) {
        const __m256i xl = broadcast4(x[t] + 4 * k), xh = broadcast4(x[t] + 16 + 4 * k);
        for (int i = 0; i < RV; ++i) {
          lo_acc[i][t] = _mm256_dpbusd_avx_epi32(lo_acc[i][t], lo[i], xl);
          hi_acc[i][t] = _mm256_dpbusd_avx_epi32(hi_acc[i][t], hi[i], xh);
        }
      }
    }
    for (int t = 0; t < NT; ++t)
      for (int i = 0; i < RV; ++i) acc[i][t] = _mm256_add_epi32(lo_acc[i][t], _mm256_srai_epi32(hi_acc[i][t], 4));
  }
};

}  // namespace

void matmul_q8_0_avxvnni(const void* a, int64_t begin, int64_t end) { matmul_r8<Q8Dot, F16BlockScales>(a, begin, end); }
void matmul_q4_0_avxvnni(const void* a, int64_t begin, int64_t end) { matmul_r8<Q4Dot, F16BlockScales>(a, begin, end); }
void matmul_i8g_avxvnni(const void* a, int64_t begin, int64_t end) { matmul_r8<Q8Dot, F32GroupScales>(a, begin, end); }

}  // namespace bf::int8_avx2
