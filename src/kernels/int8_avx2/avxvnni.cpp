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

// Nibble types: the nibbles are unsigned already; value = nibble + kOffset (Q4_0: -8),
// so the start is kOffset sum(x). The high nibbles are used in place (byte & 0xf0 =
// 16 * nibble, no shift) into a second chain, scaled back by an exact shift once per block.
template <int kOffset>
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
        lo_acc[i][t] = _mm256_set1_epi32(kOffset * sum[t]);
        hi_acc[i][t] = _mm256_setzero_si256();
      }
#pragma GCC unroll 4
    for (int k = 0; k < 4; ++k) {
      __m256i lo[RV], hi[RV];
      for (int i = 0; i < RV; ++i) {
        const __m256i raw = load32(w[i] + 32 * k);
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

// 5-bit types: the values made whole (nibble | bit 4), then one chain per half; Q5_0
// starts at kOffset sum(x) = -16 sum(x).
template <int kOffset>
struct Q5Dot {
  static constexpr int kBlockBytes = kQ5BlockBytes;
  // 4 row groups per token step spill (the bit planes take registers): 30 % slower (measured).
  static constexpr int kGemvRows = 2, kGemmRows = 2, kGemmTokens = 2;

  template <int RV, int NT>
  [[gnu::always_inline]] BF_R8_TARGET static inline void block(const uint8_t* const (&w)[RV],
                                                                 const int8_t* const (&x)[NT],
                                                                 const int32_t (&sum)[NT], __m256i (&acc)[RV][NT]) {
    __m256i lo_acc[RV][NT], hi_acc[RV][NT], plane[RV];
    for (int i = 0; i < RV; ++i) {
      plane[i] = load32(w[i] + kQ4BlockBytes);
      for (int t = 0; t < NT; ++t) {
        lo_acc[i][t] = _mm256_set1_epi32(kOffset * sum[t]);
        hi_acc[i][t] = _mm256_setzero_si256();
      }
    }
#pragma GCC unroll 4
    for (int k = 0; k < 4; ++k) {
      __m256i lo[RV], hi[RV];
      for (int i = 0; i < RV; ++i) {
        nibbles(load32(w[i] + 32 * k), lo[i], hi[i]);
        add_bit4(plane[i], k, lo[i], hi[i]);
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
      for (int i = 0; i < RV; ++i) acc[i][t] = _mm256_add_epi32(lo_acc[i][t], hi_acc[i][t]);
  }
};

// Q6_K: value = sc_h (u - 32), sc_h the int8 scale of half h. Each half's chain starts
// at -sum(32 x) of its elements (made once per token), so it ends at sum((u - 32) x);
// then times the half's scale (vpmulld) per row.
struct Q6Dot {
  static constexpr int kBlockBytes = kQ6BlockBytes;
  static constexpr int kGemvRows = 2, kGemmRows = 2, kGemmTokens = 2;

  template <int RV, int NT>
  [[gnu::always_inline]] BF_R8_TARGET static inline void block(const uint8_t* const (&w)[RV],
                                                                 const int8_t* const (&x)[NT],
                                                                 const int32_t (&)[NT], __m256i (&acc)[RV][NT]) {
    const __m256i bias = _mm256_set1_epi8(32);
    __m256i lo_acc[RV][NT], hi_acc[RV][NT], c_lo[NT], c_hi[NT], plane[RV][2];
    for (int t = 0; t < NT; ++t) {
      c_lo[t] = c_hi[t] = _mm256_setzero_si256();
      for (int i = 0; i < RV; ++i) lo_acc[i][t] = hi_acc[i][t] = _mm256_setzero_si256();
    }
    for (int i = 0; i < RV; ++i)
      for (int p = 0; p < 2; ++p) plane[i][p] = load32(w[i] + kQ4BlockBytes + 32 * p);
#pragma GCC unroll 4
    for (int k = 0; k < 4; ++k) {
      __m256i lo[RV], hi[RV];
      for (int i = 0; i < RV; ++i) {
        nibbles(load32(w[i] + 32 * k), lo[i], hi[i]);
        add_bits45(plane[i][k / 2], k, lo[i], hi[i]);
      }
      for (int t = 0; t < NT; ++t) {
        const __m256i xl = broadcast4(x[t] + 4 * k), xh = broadcast4(x[t] + 16 + 4 * k);
        c_lo[t] = _mm256_dpbusd_avx_epi32(c_lo[t], bias, xl);
        c_hi[t] = _mm256_dpbusd_avx_epi32(c_hi[t], bias, xh);
        for (int i = 0; i < RV; ++i) {
          lo_acc[i][t] = _mm256_dpbusd_avx_epi32(lo_acc[i][t], lo[i], xl);
          hi_acc[i][t] = _mm256_dpbusd_avx_epi32(hi_acc[i][t], hi[i], xh);
        }
      }
    }
    for (int i = 0; i < RV; ++i) {
      const __m256i sc_lo = q6_half_scales(w[i], 0), sc_hi = q6_half_scales(w[i], 1);
      for (int t = 0; t < NT; ++t)
        acc[i][t] = _mm256_add_epi32(_mm256_mullo_epi32(_mm256_sub_epi32(lo_acc[i][t], c_lo[t]), sc_lo),
                                     _mm256_mullo_epi32(_mm256_sub_epi32(hi_acc[i][t], c_hi[t]), sc_hi));
    }
  }
};

}  // namespace

void matmul_q8_0_avxvnni(const void* a, int64_t begin, int64_t end) { matmul_r8<Q8Dot, F16BlockScales>(a, begin, end); }
void matmul_q4_0_avxvnni(const void* a, int64_t begin, int64_t end) { matmul_r8<Q4Dot<-8>, F16BlockScales>(a, begin, end); }
void matmul_i8g_avxvnni(const void* a, int64_t begin, int64_t end) { matmul_r8<Q8Dot, F32GroupScales>(a, begin, end); }
void matmul_q4_1_avxvnni(const void* a, int64_t begin, int64_t end) { matmul_r8<Q4Dot<0>, F16BlockMinScales>(a, begin, end); }
void matmul_q5_0_avxvnni(const void* a, int64_t begin, int64_t end) { matmul_r8<Q5Dot<-16>, F16BlockScales>(a, begin, end); }
void matmul_q5_1_avxvnni(const void* a, int64_t begin, int64_t end) { matmul_r8<Q5Dot<0>, F16BlockMinScales>(a, begin, end); }
void matmul_q4_k_avxvnni(const void* a, int64_t begin, int64_t end) { matmul_r8<Q4Dot<0>, SuperBlockScales<true>>(a, begin, end); }
void matmul_q5_k_avxvnni(const void* a, int64_t begin, int64_t end) { matmul_r8<Q5Dot<0>, SuperBlockScales<true>>(a, begin, end); }
void matmul_q6_k_avxvnni(const void* a, int64_t begin, int64_t end) { matmul_r8<Q6Dot, SuperBlockScales<false>>(a, begin, end); }

}  // namespace bf::int8_avx2
