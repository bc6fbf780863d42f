// The AVX2 (+FMA, F16C) vector vocabulary of the float kernels: 8 floats per vector.
// Included by avx2.cpp inside its own namespace, after it defines BF_SIMD; the generic
// kernels (matmul.inc, ops.inc) are written against `S` alone.
#pragma once
#include "kernels/float_simd/sum8.h"

struct S {
  using V = __m256;
  static constexpr int W = 8;
  // Matmul tile: kRows * kTokens accumulators plus kRows weight vectors and one input
  // vector fit the 16 ymm registers.
  static constexpr int kRows1 = 8;  // rows per tile for a single token
  static constexpr int kAccRegs = 8;  // attention accumulators kept in registers
  static constexpr int kRows = 4, kTokens = 2;

  BF_SIMD static __m256i first_lanes(int n) {  // lanes [0, n) all ones
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  BF_SIMD static V zero() { return _mm256_setzero_ps(); }
  BF_SIMD static V set1(float a) { return _mm256_set1_ps(a); }
  BF_SIMD static V load(const float* p) { return _mm256_loadu_ps(p); }
  BF_SIMD static V load_n(const float* p, int n) { return _mm256_maskload_ps(p, first_lanes(n)); }
  BF_SIMD static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  BF_SIMD static void store_n(float* p, V v, int n) { _mm256_maskstore_ps(p, first_lanes(n), v); }

  BF_SIMD static float f16_to_f32(uint16_t h) { return _cvtsh_ss(h); }
  BF_SIMD static V load_f16(const uint16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  // The first n < W 16-bit elements at p, the rest zero (AVX2 has no 16-bit masked load).
  BF_SIMD static __m128i load_u16_n(const uint16_t* p, int n) {
    uint16_t b[W] = {};
    std::memcpy(b, p, sizeof(uint16_t) * static_cast<size_t>(n));
    return _mm_loadu_si128(reinterpret_cast<const __m128i*>(b));
  }
  BF_SIMD static V load_f16_n(const uint16_t* p, int n) { return _mm256_cvtph_ps(load_u16_n(p, n)); }
  // bf16 is the upper half of a binary32: widening is exact, a shift into the top bits.
  BF_SIMD static V widen_bf16(__m128i h) { return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16)); }
  BF_SIMD static V load_bf16(const uint16_t* p) { return widen_bf16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
  BF_SIMD static V load_bf16_n(const uint16_t* p, int n) { return widen_bf16(load_u16_n(p, n)); }
  BF_SIMD static void store_f16(uint16_t* p, V v) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
  }
  BF_SIMD static void store_f16_n(uint16_t* p, V v, int n) {
    uint16_t b[W];
    store_f16(b, v);
    std::memcpy(p, b, sizeof(uint16_t) * static_cast<size_t>(n));
  }
  BF_SIMD static V widen_i8(__m128i v) { return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(v)); }
  BF_SIMD static V load_i8(const int8_t* p) { return widen_i8(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))); }
  BF_SIMD static V load_i8_n(const int8_t* p, int n) {
    int64_t b = 0;
    std::memcpy(&b, p, static_cast<size_t>(n));
    return widen_i8(_mm_cvtsi64_si128(b));
  }
  // W Q4_0 values from the nibbles of qs[0..W): the low ones, or the high ones when `high`.
  BF_SIMD static V load_q4(const uint8_t* qs, bool high) {
    __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(qs));
    if (high) b = _mm_srli_epi16(b, 4);
    b = _mm_sub_epi8(_mm_and_si128(b, _mm_set1_epi8(0x0f)), _mm_set1_epi8(8));
    return widen_i8(b);
  }

  BF_SIMD static V add(V a, V b) { return _mm256_add_ps(a, b); }
  BF_SIMD static V sub(V a, V b) { return _mm256_sub_ps(a, b); }
  BF_SIMD static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  BF_SIMD static V div(V a, V b) { return _mm256_div_ps(a, b); }
  BF_SIMD static V max(V a, V b) { return _mm256_max_ps(a, b); }
  BF_SIMD static V min(V a, V b) { return _mm256_min_ps(a, b); }
  BF_SIMD static V fmadd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }    // a*b + c
  BF_SIMD static V fnmadd(V a, V b, V c) { return _mm256_fnmadd_ps(a, b, c); }  // c - a*b
  BF_SIMD static V abs(V a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a); }
  BF_SIMD static V round(V a) { return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  BF_SIMD static V keep_first(V a, int n) { return _mm256_and_ps(a, _mm256_castsi256_ps(first_lanes(n))); }
  // Lanes [0, first) from a, the rest from b.
  BF_SIMD static V blend_from(V a, V b, int first) {
    return _mm256_blendv_ps(b, a, _mm256_castsi256_ps(first_lanes(first)));
  }
  BF_SIMD static V swap_pairs(V a) { return _mm256_permute_ps(a, 0xb1); }

  // 2^k for integral k in [-126, 127].
  BF_SIMD static V pow2(__m256i k) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k, _mm256_set1_epi32(127)), 23));
  }
  // p * 2^n for integral n in [-150, 128], in two steps so that each power stays a normal float.
  BF_SIMD static V scale_pow2(V p, V n) {
    __m256i e = _mm256_cvtps_epi32(n);
    __m256i e1 = _mm256_srai_epi32(e, 1);
    return _mm256_mul_ps(_mm256_mul_ps(p, pow2(e1)), pow2(_mm256_sub_epi32(e, e1)));
  }

  // The same order of additions as store_sums8 (sum8.h), so that a sum does not depend
  // on which of the two computed it.
  BF_SIMD static float hsum(V v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_hadd_ps(s, s);
    return _mm_cvtss_f32(_mm_hadd_ps(s, s));
  }
  // out[i] = hsum(v[i]) * scale for i < 8.
  BF_SIMD static void store_sums8(const V* v, float scale, float* out) {
    _mm256_storeu_ps(out, _mm256_mul_ps(sum8(v), _mm256_set1_ps(scale)));
  }
  BF_SIMD static float hmax(V v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }

  // One Q8 block: q[i] = round-half-even(x[i] * id) as int8; returns the sum of the q.
  BF_SIMD static int32_t quantize32(const float* x, float id, int8_t* q) {
    const __m256 s = _mm256_set1_ps(id);
    __m256i i0 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x), s));
    __m256i i1 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 8), s));
    __m256i i2 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 16), s));
    __m256i i3 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 24), s));
    __m256i sum = _mm256_add_epi32(_mm256_add_epi32(i0, i1), _mm256_add_epi32(i2, i3));
    // The packs work per 128-bit lane; the permute puts the 4-byte groups back in order.
    __m256i packed = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
    packed = _mm256_permutevar8x32_epi32(packed, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q), packed);
    __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4e));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xb1));
    return _mm_cvtsi128_si32(s4);
  }
};
