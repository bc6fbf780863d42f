// Register-blocked micro-kernels over the r16 layout (layout.h), shared by the AVX-512BW,
// AVX-512-VNNI and AMX variants. Internal to this directory.
//
// A tile is RG row groups x TB tokens, all blocks of the row: per block, RG*TB int32
// accumulators (16 rows each) take the exact integer sums, which are then scaled by
// d_w (16 lanes) * d_x (broadcast) into RG*TB float accumulators. Weights are loaded
// once per tile and reused for TB tokens; the 4 activation bytes of a k-group are a
// broadcast memory operand.
//
// Target: every function here carries the VNNI target, also when instantiated for the
// AVX-512BW variants, because GCC cannot make a function's target a template
// parameter. The BW instantiations stay free of VNNI instructions: vpdpbusd comes only
// from the _mm512_dpbusd_epi32 intrinsic, used only by the Vnni dot below, and this code
// has no scalar byte dot-product loop the vectorizer could turn into one.
#pragma once
#include <immintrin.h>

// GCC 12's own _mm512_undefined_* (self-initialized) trips this warning at every
// inlined conversion intrinsic; it is not about this code.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <cstdint>
#include <cstring>

#include "kernels/contract.h"
#include "kernels/int8_avx512/layout.h"

#define BF_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")))

namespace bf::int8_avx512 {

// One call's operands, resolved from MatmulArgs.
struct Ctx {
  const uint8_t* values;
  const uint16_t* d16;     // Q8_0/Q4_0 scales
  const float* d32;        // I8G scales
  int64_t blocks;          // per row
  int64_t row_groups;
  int64_t scales_per_row;  // I8G groups per row
  int blocks_per_scale;    // I8G group / 32
  const int8_t* xqs;
  const float* xd;
  const int32_t* xsum;
  int64_t cols;
  float* out;
  int64_t out_stride;
  int64_t begin, end;  // output rows this call owns
};

BF_AVX512 inline int32_t load4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// ---- value formats: k-group j (0..7) of one row-group block, as 64 unsigned bytes.
struct Int8Values {
  static constexpr int kBlockBytes = 512;
  static constexpr int32_t kOffset = 128;
  BF_AVX512 static __m512i kgroup(const uint8_t* blk, int j) { return _mm512_load_si512(blk + 64 * j); }
};

struct NibbleValues {
  static constexpr int kBlockBytes = 256;
  static constexpr int32_t kOffset = 8;
  BF_AVX512 static __m512i kgroup(const uint8_t* blk, int j) {
    __m512i v = _mm512_load_si512(blk + 64 * (j & 3));
    if (j >= 4) v = _mm512_srli_epi16(v, 4);
    return _mm512_and_si512(v, _mm512_set1_epi8(0x0f));
  }
};

// ---- scales: a cursor over one row group's d_w, 16 lanes per block.
struct F16Scales {
  const uint16_t* p = nullptr;
  int64_t step = 0;
  F16Scales() = default;
  BF_AVX512 F16Scales(const Ctx& c, int64_t rg)
      : p(c.d16 + item_index(c.row_groups, rg, 0, c.blocks) * kGroupRows),
        step(set_width(c.row_groups, rg) * kGroupRows) {}
  BF_AVX512 __m512 next() {
    __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    p += step;
    return d;
  }
};

struct GroupScales {
  const float* p = nullptr;
  int64_t step = 0;
  int left = 0, per = 0;
  GroupScales() = default;
  BF_AVX512 GroupScales(const Ctx& c, int64_t rg)
      : p(c.d32 + item_index(c.row_groups, rg, 0, c.scales_per_row) * kGroupRows),
        step(set_width(c.row_groups, rg) * kGroupRows),
        left(c.blocks_per_scale),
        per(c.blocks_per_scale) {}
  BF_AVX512 __m512 next() {
    __m512 d = _mm512_loadu_ps(p);
    if (--left == 0) {
      left = per;
      p += step;
    }
    return d;
  }
};

// The values of one row group, block after block.
struct ValueCursor {
  const uint8_t* p = nullptr;
  int64_t step = 0;
  ValueCursor() = default;
  ValueCursor(const Ctx& c, int64_t rg, int block_bytes)
      : p(c.values + item_index(c.row_groups, rg, 0, c.blocks) * block_bytes),
        step(set_width(c.row_groups, rg) * block_bytes) {}
};

// ---- dot products of one unsigned k-group with 4 broadcast signed activation bytes.
// Acc init(corr) starts a block with the offset correction; finish gives the int32 sums.
struct Vnni {
  using Prep = __m512i;
  using Acc = __m512i;
  BF_AVX512 static Prep prep(__m512i u) { return u; }
  BF_AVX512 static Acc init(int32_t corr) { return _mm512_set1_epi32(corr); }
  BF_AVX512 static Acc step(Acc a, Prep w, const int8_t* x) {
    return _mm512_dpbusd_epi32(a, w, _mm512_set1_epi32(load4(x)));
  }
  BF_AVX512 static __m512i finish(Acc a) { return a; }
};

// AVX-512BW, signed weights (offset int8): vpmaddubsw needs an unsigned operand and
// saturates pairs at 16 bits, so it takes |w| and x with w's sign: a pair is at most
// 2*128*127 = 32512 (activations are in [-127, 127]), then vpmaddwd widens.
struct BwSigned {
  struct Prep {
    __m512i abs;
    __mmask64 neg;
  };
  using Acc = __m512i;
  BF_AVX512 static Prep prep(__m512i u) {
    __m512i w = _mm512_xor_si512(u, _mm512_set1_epi8(static_cast<char>(0x80)));
    return {_mm512_abs_epi8(w), _mm512_movepi8_mask(w)};
  }
  // Works on the signed values themselves: no offset to correct.
  BF_AVX512 static Acc init(int32_t) { return _mm512_setzero_si512(); }
  BF_AVX512 static Acc step(Acc a, const Prep& w, const int8_t* x) {
    __m512i xb = _mm512_set1_epi32(load4(x));
    __m512i xs = _mm512_mask_sub_epi8(xb, w.neg, _mm512_setzero_si512(), xb);
    __m512i p = _mm512_maddubs_epi16(w.abs, xs);
    return _mm512_add_epi32(a, _mm512_madd_epi16(p, _mm512_set1_epi16(1)));
  }
  BF_AVX512 static __m512i finish(Acc a) { return a; }
};

// AVX-512BW, nibbles: a vpmaddubsw pair is at most 2*15*128 = 3840, so the 8 k-groups
// of a block add up in 16 bits (<= 30720) before one vpmaddwd.
struct BwNibble {
  using Prep = __m512i;
  struct Acc {
    __m512i s16, base;
  };
  BF_AVX512 static Prep prep(__m512i u) { return u; }
  BF_AVX512 static Acc init(int32_t corr) { return {_mm512_setzero_si512(), _mm512_set1_epi32(corr)}; }
  BF_AVX512 static Acc step(Acc a, Prep w, const int8_t* x) {
    a.s16 = _mm512_add_epi16(a.s16, _mm512_maddubs_epi16(w, _mm512_set1_epi32(load4(x))));
    return a;
  }
  BF_AVX512 static __m512i finish(Acc a) {
    return _mm512_add_epi32(a.base, _mm512_madd_epi16(a.s16, _mm512_set1_epi16(1)));
  }
};

// Lanes of row group rg that belong to [c.begin, c.end).
BF_AVX512 inline __mmask16 row_mask(const Ctx& c, int64_t rg) {
  const int64_t first = rg * kGroupRows;
  const int64_t lo = c.begin > first ? c.begin - first : 0;
  const int64_t hi = c.end - first < kGroupRows ? c.end - first : kGroupRows;
  return static_cast<__mmask16>(((1u << hi) - 1) & ~((1u << lo) - 1));
}

// Scales one block's integer sums into the float accumulator of (row group, token).
BF_AVX512 inline __m512 accumulate(__m512 acc, __m512i isum, __m512 dw, float dx) {
  return _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(dw, _mm512_set1_ps(dx)), acc);
}

BF_AVX512 inline void store_rows(const Ctx& c, int64_t rg, int64_t t, __m512 v) {
  _mm512_mask_storeu_ps(c.out + t * c.out_stride + rg * kGroupRows, row_mask(c, rg), v);
}

// A token step (a full set, one token) reads each weight byte once: it prefetches this
// far ahead in the set's stream (measured on Zen 5: q8_0 from ~78 % to ~86 % of the
// streaming-read bandwidth from DRAM, q4_0 from ~57 % to ~70 %). Prefetches past the
// end of the weights are harmless.
inline constexpr int kPrefetchBytes = 8192;

// Row groups rg0..rg0+RG-1 x tokens t0..t0+TB-1.
template <class V, class S, class D, int RG, int TB, int C = (RG * TB < 8 ? 2 : 1)>
BF_AVX512 void tile(const Ctx& c, int64_t rg0, int64_t t0) {
  const int64_t nb = c.blocks;
  constexpr bool kStreaming = RG == kSetGroups && TB == 1;
  __m512 facc[RG][TB];
  ValueCursor w[RG];
  S sc[RG];
#pragma GCC unroll 8
  for (int g = 0; g < RG; ++g) {
    w[g] = ValueCursor(c, rg0 + g, V::kBlockBytes);
    sc[g] = S(c, rg0 + g);
#pragma GCC unroll 8
    for (int t = 0; t < TB; ++t) facc[g][t] = _mm512_setzero_ps();
  }
  const int8_t* x = c.xqs + t0 * c.cols;
  const float* xd = c.xd + t0 * nb;
  const int32_t* xs = c.xsum + t0 * nb;
  for (int64_t b = 0; b < nb; ++b) {
    // C chains per accumulator (k-groups alternate), so that small tiles still have
    // enough independent vpdpbusd chains to cover its latency.
    typename D::Acc acc[RG][TB][C];
#pragma GCC unroll 8
    for (int t = 0; t < TB; ++t) {
      const int32_t corr = -V::kOffset * xs[t * nb + b];
#pragma GCC unroll 8
      for (int g = 0; g < RG; ++g)
#pragma GCC unroll 2
        for (int k = 0; k < C; ++k) acc[g][t][k] = D::init(k == 0 ? corr : 0);
    }
#pragma GCC unroll 8
    for (int j = 0; j < kKGroups; ++j) {
#pragma GCC unroll 8
      for (int g = 0; g < RG; ++g) {
        if constexpr (kStreaming)
          if (j * 64 < V::kBlockBytes)
            _mm_prefetch(reinterpret_cast<const char*>(w[g].p + kPrefetchBytes + 64 * j), _MM_HINT_T0);
        const typename D::Prep p = D::prep(V::kgroup(w[g].p, j));
#pragma GCC unroll 8
        for (int t = 0; t < TB; ++t)
          acc[g][t][j % C] = D::step(acc[g][t][j % C], p, x + t * c.cols + b * 32 + 4 * j);
      }
    }
#pragma GCC unroll 8
    for (int g = 0; g < RG; ++g) {
      w[g].p += w[g].step;
      const __m512 dw = sc[g].next();
#pragma GCC unroll 8
      for (int t = 0; t < TB; ++t) {
        __m512i isum = D::finish(acc[g][t][0]);
        if constexpr (C == 2) isum = _mm512_add_epi32(isum, D::finish(acc[g][t][1]));
        facc[g][t] = accumulate(facc[g][t], isum, dw, xd[t * nb + b]);
      }
    }
  }
#pragma GCC unroll 8
  for (int g = 0; g < RG; ++g)
#pragma GCC unroll 8
    for (int t = 0; t < TB; ++t) store_rows(c, rg0 + g, t0 + t, facc[g][t]);
}

template <class V, class S, class D, int RG>
BF_AVX512 void tile_n(const Ctx& c, int64_t rg, int64_t t0, int64_t n) {
  switch (n) {
    case 1: return tile<V, S, D, RG, 1>(c, rg, t0);
    case 2: return tile<V, S, D, RG, 2>(c, rg, t0);
    case 3: return tile<V, S, D, RG, 3>(c, rg, t0);
    default: return tile<V, S, D, RG, 4>(c, rg, t0);
  }
}

// Row groups [rg0, rg1) x tokens [t0, t1).
template <class V, class S, class D>
BF_AVX512 void run_tiles(const Ctx& c, int64_t rg0, int64_t rg1, int64_t t0, int64_t t1) {
  int64_t rg = rg0;
  if (t1 - t0 == 1) {  // a token step: more row groups per tile for independent chains
    for (; rg + 4 <= rg1; rg += 4) tile<V, S, D, 4, 1>(c, rg, t0);
    for (; rg < rg1; ++rg) tile<V, S, D, 1, 1>(c, rg, t0);
    return;
  }
  for (; rg + 2 <= rg1; rg += 2)
    for (int64_t t = t0; t < t1; t += 4) tile_n<V, S, D, 2>(c, rg, t, t1 - t < 4 ? t1 - t : 4);
  for (; rg < rg1; ++rg)
    for (int64_t t = t0; t < t1; t += 4) tile_n<V, S, D, 1>(c, rg, t, t1 - t < 4 ? t1 - t : 4);
}

Ctx make_ctx(const MatmulArgs& a, int64_t begin, int64_t end, int block_bytes);

}  // namespace bf::int8_avx512
