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

// Nibble types: the nibbles (0..15) are the unsigned operand. A product pair is at most
// 2 * 15 * 128 = 3840, so all eight chunks of a block sum in int16 (30720 < 2^15)
// before one vpmaddwd; value = nibble + kOffset (Q4_0: -8) adds kOffset sum(x).
template <int kOffset>
struct Q4Dot {
  static constexpr int kBlockBytes = kQ4BlockBytes;
  static constexpr int kGemvRows = 2, kGemmRows = 2, kGemmTokens = 2;  // 4 row groups per token step: slower (measured)

  template <int RV, int NT>
  [[gnu::always_inline]] BF_R8_TARGET static inline void block(const uint8_t* const (&w)[RV],
                                                                 const int8_t* const (&x)[NT],
                                                                 const int32_t (&sum)[NT], __m256i (&acc)[RV][NT]) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i s16[RV][NT];
    for (int t = 0; t < NT; ++t)
      for (int i = 0; i < RV; ++i) s16[i][t] = _mm256_setzero_si256();
#pragma GCC unroll 4
    for (int k = 0; k < 4; ++k) {
      __m256i lo[RV], hi[RV];
      for (int i = 0; i < RV; ++i) nibbles(load32(w[i] + 32 * k), lo[i], hi[i]);
      for (int t = 0; t < NT; ++t) {
        const __m256i xl = broadcast4(x[t] + 4 * k), xh = broadcast4(x[t] + 16 + 4 * k);
        for (int i = 0; i < RV; ++i)
          s16[i][t] = _mm256_add_epi16(s16[i][t], _mm256_add_epi16(_mm256_maddubs_epi16(lo[i], xl),
                                                                    _mm256_maddubs_epi16(hi[i], xh)));
      }
    }
    for (int t = 0; t < NT; ++t)
      for (int i = 0; i < RV; ++i)
        acc[i][t] = _mm256_add_epi32(_mm256_madd_epi16(s16[i][t], ones), _mm256_set1_epi32(kOffset * sum[t]));
  }
};

// 5-bit types: a product pair is at most 2 * 31 * 128 = 7936, so the four chunks of each
// half block sum in int16 (31744 < 2^15): one vpmaddwd per half. Q5_0: kOffset = -16.
template <int kOffset>
struct Q5Dot {
  static constexpr int kBlockBytes = kQ5BlockBytes;
  static constexpr int kGemvRows = 2, kGemmRows = 2, kGemmTokens = 2;

  template <int RV, int NT>
  [[gnu::always_inline]] BF_R8_TARGET static inline void block(const uint8_t* const (&w)[RV],
                                                                 const int8_t* const (&x)[NT],
                                                                 const int32_t (&sum)[NT], __m256i (&acc)[RV][NT]) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i s_lo[RV][NT], s_hi[RV][NT], plane[RV];
    for (int i = 0; i < RV; ++i) {
      plane[i] = load32(w[i] + kQ4BlockBytes);
      for (int t = 0; t < NT; ++t) s_lo[i][t] = s_hi[i][t] = _mm256_setzero_si256();
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
          s_lo[i][t] = _mm256_add_epi16(s_lo[i][t], _mm256_maddubs_epi16(lo[i], xl));
          s_hi[i][t] = _mm256_add_epi16(s_hi[i][t], _mm256_maddubs_epi16(hi[i], xh));
        }
      }
    }
    for (int t = 0; t < NT; ++t)
      for (int i = 0; i < RV; ++i)
        acc[i][t] = _mm256_add_epi32(_mm256_add_epi32(_mm256_madd_epi16(s_lo[i][t], ones),
                                                      _mm256_madd_epi16(s_hi[i][t], ones)),
                                     _mm256_set1_epi32(kOffset * sum[t]));
  }
};

// Q6_K: value = sc_h (u - 32), u 6 bits, sc_h the int8 scale of half h. Per pair of
// loads, sum(u x) (at most 2 * 2 * 63 * 128 = 32256) minus sum(32 x), made once per token,
// is sum((u - 32) x), at most 2 * 2 * 32 * 127 = 16256 in magnitude (|x| <= 127,
// contract.h; int16 wraps back to it exactly); both pairs then sum in int16 (32512)
// before one vpmaddwd against the half's scale in both int16 halves of each row's lane.
struct Q6Dot {
  static constexpr int kBlockBytes = kQ6BlockBytes;
  static constexpr int kGemvRows = 2, kGemmRows = 2, kGemmTokens = 2;

  template <int RV, int NT>
  [[gnu::always_inline]] BF_R8_TARGET static inline void block(const uint8_t* const (&w)[RV],
                                                                 const int8_t* const (&x)[NT],
                                                                 const int32_t (&)[NT], __m256i (&acc)[RV][NT]) {
    const __m256i bias = _mm256_set1_epi8(32);
    __m256i s_lo[RV][NT], s_hi[RV][NT];
    for (int i = 0; i < RV; ++i)
      for (int t = 0; t < NT; ++t) s_lo[i][t] = s_hi[i][t] = _mm256_setzero_si256();
#pragma GCC unroll 2
    for (int p = 0; p < 2; ++p) {
      __m256i plane[RV], p_lo[RV][NT], p_hi[RV][NT], c_lo[NT], c_hi[NT];
      for (int i = 0; i < RV; ++i) plane[i] = load32(w[i] + kQ4BlockBytes + 32 * p);
#pragma GCC unroll 2
      for (int k = 2 * p; k < 2 * p + 2; ++k) {
        __m256i lo[RV], hi[RV];
        for (int i = 0; i < RV; ++i) {
          nibbles(load32(w[i] + 32 * k), lo[i], hi[i]);
          add_bits45(plane[i], k, lo[i], hi[i]);
        }
        for (int t = 0; t < NT; ++t) {
          const __m256i xl = broadcast4(x[t] + 4 * k), xh = broadcast4(x[t] + 16 + 4 * k);
          const __m256i cl = _mm256_maddubs_epi16(bias, xl), ch = _mm256_maddubs_epi16(bias, xh);
          c_lo[t] = k % 2 ? _mm256_add_epi16(c_lo[t], cl) : cl;
          c_hi[t] = k % 2 ? _mm256_add_epi16(c_hi[t], ch) : ch;
          for (int i = 0; i < RV; ++i) {
            const __m256i ml = _mm256_maddubs_epi16(lo[i], xl), mh = _mm256_maddubs_epi16(hi[i], xh);
            p_lo[i][t] = k % 2 ? _mm256_add_epi16(p_lo[i][t], ml) : ml;
            p_hi[i][t] = k % 2 ? _mm256_add_epi16(p_hi[i][t], mh) : mh;
          }
        }
      }
      for (int t = 0; t < NT; ++t)
        for (int i = 0; i < RV; ++i) {
          s_lo[i][t] = _mm256_add_epi16(s_lo[i][t], _mm256_sub_epi16(p_lo[i][t], c_lo[t]));
          s_hi[i][t] = _mm256_add_epi16(s_hi[i][t], _mm256_sub_epi16(p_hi[i][t], c_hi[t]));
        }
    }
    for (int i = 0; i < RV; ++i) {
      const __m256i sc_lo = pair16(q6_half_scales(w[i], 0)), sc_hi = pair16(q6_half_scales(w[i], 1));
      for (int t = 0; t < NT; ++t)
        acc[i][t] = _mm256_add_epi32(_mm256_madd_epi16(s_lo[i][t], sc_lo), _mm256_madd_epi16(s_hi[i][t], sc_hi));
    }
  }

  // Each lane's int32 (a small int) in both of its int16 halves.
  BF_R8_TARGET static __m256i pair16(__m256i v) { return _mm256_blend_epi16(v, _mm256_slli_epi32(v, 16), 0xaa); }
};

}  // namespace

void matmul_q8_0_avx2(const void* a, int64_t begin, int64_t end) { matmul_r8<Q8Dot, F16BlockScales>(a, begin, end); }
void matmul_q4_0_avx2(const void* a, int64_t begin, int64_t end) { matmul_r8<Q4Dot<-8>, F16BlockScales>(a, begin, end); }
void matmul_i8g_avx2(const void* a, int64_t begin, int64_t end) { matmul_r8<Q8Dot, F32GroupScales>(a, begin, end); }
void matmul_q4_1_avx2(const void* a, int64_t begin, int64_t end) { matmul_r8<Q4Dot<0>, F16BlockMinScales>(a, begin, end); }
void matmul_q5_0_avx2(const void* a, int64_t begin, int64_t end) { matmul_r8<Q5Dot<-16>, F16BlockScales>(a, begin, end); }
void matmul_q5_1_avx2(const void* a, int64_t begin, int64_t end) { matmul_r8<Q5Dot<0>, F16BlockMinScales>(a, begin, end); }
void matmul_q4_k_avx2(const void* a, int64_t begin, int64_t end) { matmul_r8<Q4Dot<0>, SuperBlockScales<true>>(a, begin, end); }
void matmul_q5_k_avx2(const void* a, int64_t begin, int64_t end) { matmul_r8<Q5Dot<0>, SuperBlockScales<true>>(a, begin, end); }
void matmul_q6_k_avx2(const void* a, int64_t begin, int64_t end) { matmul_r8<Q6Dot, SuperBlockScales<false>>(a, begin, end); }

}  // namespace bf::int8_avx2
