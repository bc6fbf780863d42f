// The AVX-512 (F, BW, VL, DQ) vector vocabulary of the float kernels: 16 floats per
// vector, tails through opmasks. Included by avx512.cpp inside its own namespace; see
// isa_avx2.h for the contract of each member.
#pragma once
#include "kernels/float_simd/sum8.h"

struct S {
  using V = __m512;
  static constexpr int W = 16;
  // Matmul tile: 16 accumulators, 4 weight vectors and an input vector of the 32 zmm.
  static constexpr int kRows1 = 8;  // rows per tile for a single token
  static constexpr int kAccRegs = 16;  // attention accumulators kept in registers
  static constexpr int kRows = 4, kTokens = 4;

  BF_SIMD static __mmask16 first_lanes(int n) { return static_cast<__mmask16>((1u << n) - 1); }
  BF_SIMD static V zero() { return _mm512_setzero_ps(); }
  BF_SIMD static V set1(float a) { return _mm512_set1_ps(a); }
  BF_SIMD static V load(const float* p) { return _mm512_loadu_ps(p); }
  BF_SIMD static V load_n(const float* p, int n) { return _mm512_maskz_loadu_ps(first_lanes(n), p); }
  BF_SIMD static void store(float* p, V v) { _mm512_storeu_ps(p, v); }
  BF_SIMD static void store_n(float* p, V v, int n) { _mm512_mask_storeu_ps(p, first_lanes(n), v); }

  BF_SIMD static float f16_to_f32(uint16_t h) { return _cvtsh_ss(h); }
  BF_SIMD static V load_f16(const uint16_t* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  BF_SIMD static V load_f16_n(const uint16_t* p, int n) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(first_lanes(n), p));
  }
  BF_SIMD static V widen_bf16(__m256i h) { return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)); }
  BF_SIMD static V load_bf16(const uint16_t* p) { return widen_bf16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
  BF_SIMD static V load_bf16_n(const uint16_t* p, int n) { return widen_bf16(_mm256_maskz_loadu_epi16(first_lanes(n), p)); }
  BF_SIMD static void store_f16(uint16_t* p, V v) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
  BF_SIMD static void store_f16_n(uint16_t* p, V v, int n) {
    _mm256_mask_storeu_epi16(p, first_lanes(n), _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
  BF_SIMD static V widen_i8(__m128i v) { return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(v)); }
  BF_SIMD static V load_i8(const int8_t* p) { return widen_i8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
  BF_SIMD static V load_i8_n(const int8_t* p, int n) { return widen_i8(_mm_maskz_loadu_epi8(first_lanes(n), p)); }
  BF_SIMD static V load_q4(const uint8_t* qs, bool high) {
    __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
    if (high) b = _mm_srli_epi16(b, 4);
    b = _mm_sub_epi8(_mm_and_si128(b, _mm_set1_epi8(0x0f)), _mm_set1_epi8(8));
    return widen_i8(b);
  }

  BF_SIMD static V add(V a, V b) { return _mm512_add_ps(a, b); }
  BF_SIMD static V sub(V a, V b) { return _mm512_sub_ps(a, b); }
  BF_SIMD static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  BF_SIMD static V div(V a, V b) { return _mm512_div_ps(a, b); }
  BF_SIMD static V max(V a, V b) { return _mm512_max_ps(a, b); }
  BF_SIMD static V min(V a, V b) { return _mm512_min_ps(a, b); }
  BF_SIMD static V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  BF_SIMD static V fnmadd(V a, V b, V c) { return _mm512_fnmadd_ps(a, b, c); }
  BF_SIMD static V abs(V a) { return _mm512_abs_ps(a); }
  BF_SIMD static V round(V a) { return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  BF_SIMD static V keep_first(V a, int n) { return _mm512_maskz_mov_ps(first_lanes(n), a); }
  BF_SIMD static V blend_from(V a, V b, int first) {
    return _mm512_mask_blend_ps(static_cast<__mmask16>(~first_lanes(first)), a, b);
  }
  BF_SIMD static V swap_pairs(V a) { return _mm512_permute_ps(a, 0xb1); }
  BF_SIMD static V scale_pow2(V p, V n) { return _mm512_scalef_ps(p, n); }

  // The same order of additions as store_sums8, so that a sum does not depend on
  // which of the two computed it.
  BF_SIMD static float hsum(V v) {
    __m256 s8 = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
    s = _mm_hadd_ps(s, s);
    return _mm_cvtss_f32(_mm_hadd_ps(s, s));
  }
  BF_SIMD static void store_sums8(const V* v, float scale, float* out) {
    __m256 half[8];
    for (int i = 0; i < 8; ++i) half[i] = _mm256_add_ps(_mm512_castps512_ps256(v[i]), _mm512_extractf32x8_ps(v[i], 1));
    _mm256_storeu_ps(out, _mm256_mul_ps(sum8(half), _mm256_set1_ps(scale)));
  }
  BF_SIMD static float hmax(V v) { return _mm512_reduce_max_ps(v); }

  BF_SIMD static int32_t quantize32(const float* x, float id, int8_t* q) {
    const __m512 s = _mm512_set1_ps(id);
    __m512i i0 = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x), s));
    __m512i i1 = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + 16), s));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q), _mm512_cvtsepi32_epi8(i0));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + 16), _mm512_cvtsepi32_epi8(i1));
    return _mm512_reduce_add_epi32(_mm512_add_epi32(i0, i1));
  }
};
