#include "kernels/avx2.h"

#include <immintrin.h>

#include "kernels/reference.h"
#include "kernels/row_dots.h"

namespace bf::avx2 {
namespace {

#define BF_AVX2 __attribute__((target("avx2,fma")))
#define BF_AVX2_F16C __attribute__((target("avx2,fma,f16c")))

BF_AVX2 inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Eight int8 at p, sign-extended to floats.
BF_AVX2 inline __m256 load8_i8(const int8_t* p) {
  return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
}


// The low eight int8 lanes of v, sign-extended to floats.
BF_AVX2 inline __m256 widen(__m128i v) { return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(v)); }

BF_AVX2 float dot_f32(const float* w, const float* x, int64_t n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
  int64_t j = 0;
  for (; j + 32 <= n; j += 32) {
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + j), _mm256_loadu_ps(x + j), a0);
    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w + j + 8), _mm256_loadu_ps(x + j + 8), a1);
    a2 = _mm256_fmadd_ps(_mm256_loadu_ps(w + j + 16), _mm256_loadu_ps(x + j + 16), a2);
    a3 = _mm256_fmadd_ps(_mm256_loadu_ps(w + j + 24), _mm256_loadu_ps(x + j + 24), a3);
  }
  for (; j + 8 <= n; j += 8) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + j), _mm256_loadu_ps(x + j), a0);
  float s = hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
  for (; j < n; ++j) s += w[j] * x[j];
  return s;
}

BF_AVX2_F16C float dot_f16(const uint16_t* w, const float* x, int64_t n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) {
    __m256 w0 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + j)));
    __m256 w1 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + j + 8)));
    a0 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x + j), a0);
    a1 = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x + j + 8), a1);
  }
  float s = hsum(_mm256_add_ps(a0, a1));
  for (; j < n; ++j) s += _cvtsh_ss(w[j]) * x[j];
  return s;
}

BF_AVX2_F16C float dot_q8_0(const BlockQ8_0* w, const float* x, int64_t n) {
  __m256 total = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / kQBlock; ++b, x += kQBlock) {
    __m256 acc = _mm256_mul_ps(load8_i8(w[b].qs), _mm256_loadu_ps(x));
    acc = _mm256_fmadd_ps(load8_i8(w[b].qs + 8), _mm256_loadu_ps(x + 8), acc);
    acc = _mm256_fmadd_ps(load8_i8(w[b].qs + 16), _mm256_loadu_ps(x + 16), acc);
    acc = _mm256_fmadd_ps(load8_i8(w[b].qs + 24), _mm256_loadu_ps(x + 24), acc);
    total = _mm256_fmadd_ps(acc, _mm256_set1_ps(_cvtsh_ss(w[b].d)), total);
  }
  return hsum(total);
}

BF_AVX2_F16C float dot_q4_0(const BlockQ4_0* w, const float* x, int64_t n) {
  const __m128i low_mask = _mm_set1_epi8(0x0f), eight = _mm_set1_epi8(8);
  __m256 total = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / kQBlock; ++b, x += kQBlock) {
    __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w[b].qs));
    __m128i lo = _mm_sub_epi8(_mm_and_si128(q, low_mask), eight);                      // elements 0..15
    __m128i hi = _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(q, 4), low_mask), eight);   // elements 16..31
    __m256 acc = _mm256_mul_ps(widen(lo), _mm256_loadu_ps(x));
    acc = _mm256_fmadd_ps(widen(_mm_srli_si128(lo, 8)), _mm256_loadu_ps(x + 8), acc);
    acc = _mm256_fmadd_ps(widen(hi), _mm256_loadu_ps(x + 16), acc);
    acc = _mm256_fmadd_ps(widen(_mm_srli_si128(hi, 8)), _mm256_loadu_ps(x + 24), acc);
    total = _mm256_fmadd_ps(acc, _mm256_set1_ps(_cvtsh_ss(w[b].d)), total);
  }
  return hsum(total);
}

BF_AVX2 float dot_i8g(const int8_t* w, const float* scales, int group, const float* x, int64_t n) {
  float s = 0;
  for (int64_t g = 0; g < n / group; ++g, w += group, x += group) {
    __m256 acc = _mm256_setzero_ps();
    int j = 0;
    for (; j + 8 <= group; j += 8) acc = _mm256_fmadd_ps(load8_i8(w + j), _mm256_loadu_ps(x + j), acc);
    float part = hsum(acc);
    for (; j < group; ++j) part += static_cast<float>(w[j]) * x[j];
    s += scales[g] * part;
  }
  return s;
}

}  // namespace

bool supported() {
  __builtin_cpu_init();
  // libgcc's checks include the OS half: AVX counts only when XCR0 enables YMM state.
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

void matvec(const Tensor& w, const float* x, float* out, int64_t row_begin, int64_t row_end) {
  static const bool f16c = (__builtin_cpu_init(), __builtin_cpu_supports("f16c"));
  if (!f16c && w.type != DType::F32 && w.type != DType::I8G) {
    ref::matvec(w, x, out, row_begin, row_end);  // these rows need F16C for their scales or values
    return;
  }
  static constexpr RowDots dots{dot_f32, dot_f16, dot_q8_0, dot_q4_0, dot_i8g};
  matvec_rows(dots, w, x, out, row_begin, row_end);
}

}  // namespace bf::avx2
