// Eight horizontal sums at once: lane i of the result is the sum of v[i]'s lanes.
// Folds 128-bit halves, then two rounds of hadd; about 2 instructions per vector
// instead of 7 for one hsum each. Included by the isa headers inside their namespace.
#pragma once

// [a's 4 half-sums | b's 4 half-sums]
BF_SIMD inline __m256 fold(__m256 a, __m256 b) {
  return _mm256_add_ps(_mm256_permute2f128_ps(a, b, 0x20), _mm256_permute2f128_ps(a, b, 0x31));
}

BF_SIMD inline __m256 sum8(const __m256* v) {
  const __m256 h0 = _mm256_hadd_ps(fold(v[0], v[4]), fold(v[1], v[5]));  // [v0 v0 v1 v1 | v4 v4 v5 v5]
  const __m256 h1 = _mm256_hadd_ps(fold(v[2], v[6]), fold(v[3], v[7]));  // [v2 v2 v3 v3 | v6 v6 v7 v7]
  return _mm256_hadd_ps(h0, h1);                                           // [v0 v1 v2 v3 | v4 v5 v6 v7]
}
