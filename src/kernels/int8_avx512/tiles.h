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

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/contract.h"
#include "kernels/int8_avx512/layout.h"

#define BF_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")))

namespace bf::int8_avx512 {

// One call's operands, resolved from MatmulArgs.
struct Ctx {
  const uint8_t* values;
  const uint8_t* scales;   // the scale area (layout.h)
  int64_t blocks;          // per row
  int64_t row_groups;
  int64_t scale_items;     // per row group
  int blocks_per_scale;    // blocks sharing one scale item
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

// ---- value formats: k-group j (0..7) of one row-group block, as 64 unsigned bytes u,
// and the constant kOffset with weight = scale * (u - kOffset) (+ the scales' offsets).
// kRun: k-groups whose vpmaddubsw pairs (at most 2 * max(u) * 127) add up in int16.
struct Int8Values {
  static constexpr int kBlockBytes = 512;
  static constexpr int32_t kOffset = 128;
  static constexpr int kRun = kKGroups;  // taken signed, widened per k-group (BwSigned)
  BF_AVX512 static __m512i kgroup(const uint8_t* blk, int j) { return _mm512_load_si512(blk + 64 * j); }
};

// Low nibbles, then kHigh bits per value from the planes (layout.h).
template <int kHigh, int32_t kOff>
struct Nibbles {
  static constexpr int kBlockBytes = 256 + 64 * kHigh;
  static constexpr int32_t kOffset = kOff;
  static constexpr int kRun = std::min(kKGroups, 32767 / (2 * ((16 << kHigh) - 1) * 127));
  BF_AVX512 static __m512i kgroup(const uint8_t* blk, int j) {
    __m512i v = _mm512_load_si512(blk + 64 * (j & 3));
    if (j >= 4) v = _mm512_srli_epi16(v, 4);
    v = _mm512_and_si512(v, _mm512_set1_epi8(0x0f));
    if constexpr (kHigh == 0) {
      return v;
    } else {
      // k-group j's bits sit at bit `at` of each plane byte; 16-bit shifts move them to
      // bit 4 without crossing bytes (at + kHigh <= 8), the mask drops the rest.
      const int at = kHigh * j % 8;
      __m512i h = _mm512_load_si512(blk + 256 + 64 * (kHigh * j / 8));
      if (at < 4) h = _mm512_slli_epi16(h, 4 - at);
      if (at > 4) h = _mm512_srli_epi16(h, at - 4);
      // v | (h & mask)
      return _mm512_ternarylogic_epi32(v, h, _mm512_set1_epi8(static_cast<char>(((1 << kHigh) - 1) << 4)), 0xf8);
    }
  }
};

using NibbleValues = Nibbles<0, 8>;  // Q4_0

// ---- scales: per block and row group, what turns the integer sums into floats:
//   out += dx * (d * isum + off * xsum)   (off: kOffsets == 1)
// with isum = sum over halves h of sub[h] * (integer dot of half h, offset-corrected)
// when the type has integer sub-block scales (kSubScales halves), else the block's
// offset-corrected integer dot.
struct BlockScale {
  __m512 d;
  __m512i sub[2];
  __m512 off;
};

// A cursor over one row group's scale items; blocks_per_scale blocks share an item.
struct ScaleCursor {
  const uint8_t* p = nullptr;
  int64_t step = 0;
  int left = 0, per = 0;
  ScaleCursor() = default;
  ScaleCursor(const Ctx& c, int64_t rg, int item_bytes)
      : p(c.scales + item_index(c.row_groups, rg, 0, c.scale_items) * item_bytes),
        step(set_width(c.row_groups, rg) * item_bytes),
        left(c.blocks_per_scale),
        per(c.blocks_per_scale) {}
  int block() const { return per - left; }  // of the current block within its item
  void advance() {
    if (--left == 0) {
      left = per;
      p += step;
    }
  }
};

BF_AVX512 inline __m512 load_f16(const uint8_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
BF_AVX512 inline __m128i load16(const uint8_t* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }

// Scale policies: one block's BlockScale read from its scale item (layout.h) and the
// block's index within the item; Scales<> walks a row group's items with it.
// Q8_0, Q4_0, Q5_0: f16 d (kScaleBytes 2); I8G: f32 group scales (4).
template <int kScaleBytes>
struct DItems {
  static constexpr int kItemBytes = kGroupRows * kScaleBytes, kSubScales = 0, kOffsets = 0;
  BF_AVX512 static BlockScale read(const uint8_t* item, int) {
    BlockScale s;
    s.d = kScaleBytes == 2 ? load_f16(item) : _mm512_loadu_ps(item);
    return s;
  }
};

// Q4_1, Q5_1: f16 d and m.
struct F16MinItems {
  static constexpr int kItemBytes = kGroupRows * 4, kSubScales = 0, kOffsets = 1;
  BF_AVX512 static BlockScale read(const uint8_t* item, int) {
    BlockScale s;
    s.d = load_f16(item);
    s.off = load_f16(item + kGroupRows * 2);
    return s;
  }
};

// Q4_K, Q5_K: per super-block f16 d and dmin, per block integer sc and m.
struct KMinItems {
  static constexpr int kItemBytes = kGroupRows * 4 + 2 * kSuperBlocks * kGroupRows, kSubScales = 1, kOffsets = 1;
  BF_AVX512 static BlockScale read(const uint8_t* item, int block) {
    const uint8_t* sc = item + kGroupRows * 4 + block * kGroupRows;
    const __m512 m = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(load16(sc + kSuperBlocks * kGroupRows)));
    BlockScale s;
    s.d = load_f16(item);
    s.sub[0] = _mm512_cvtepu8_epi32(load16(sc));
    s.off = _mm512_mul_ps(m, _mm512_sub_ps(_mm512_setzero_ps(), load_f16(item + kGroupRows * 2)));
    return s;
  }
};

// Q6_K: per super-block f16 d, per 16-column half an int8 sc (u - 32: Nibbles<2, 32>).
struct Q6Items {
  static constexpr int kItemBytes = kGroupRows * 2 + 2 * kSuperBlocks * kGroupRows, kSubScales = 2, kOffsets = 0;
  BF_AVX512 static BlockScale read(const uint8_t* item, int block) {
    const uint8_t* sc = item + kGroupRows * 2 + block * 2 * kGroupRows;
    BlockScale s;
    s.d = load_f16(item);
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) s.sub[h] = _mm512_cvtepi8_epi32(load16(sc + h * kGroupRows));
    return s;
  }
};

template <class Items>
struct Scales {
  static constexpr int kItemBytes = Items::kItemBytes, kSubScales = Items::kSubScales, kOffsets = Items::kOffsets;
  ScaleCursor cur;
  Scales() = default;
  Scales(const Ctx& c, int64_t rg) : cur(c, rg, kItemBytes) {}
  BF_AVX512 BlockScale next() {
    const BlockScale s = Items::read(cur.p, cur.block());
    cur.advance();
    return s;
  }
};

using F16Scales = Scales<DItems<2>>;
using GroupScales = Scales<DItems<4>>;
using F16ScaleMin = Scales<F16MinItems>;
using KMinScales = Scales<KMinItems>;
using Q6Scales = Scales<Q6Items>;

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
// Acc init<kScaled>(corr) starts a run of k-groups (corr: the offset correction of its
// block or half, in its first run only); finish<kScaled, kCorr>(chains, sub) gives the
// run's int32 sums (with the correction when kCorr), times the per-row integer
// sub-block scales when kScaled (sub made once per row group by prep_sub). run<V>:
// k-groups one run may take.
struct Vnni {
  using Prep = __m512i;
  using Acc = __m512i;
  using Sub = __m512i;
  template <class V>
  static constexpr int run() { return kKGroups; }
  BF_AVX512 static Prep prep(__m512i u) { return u; }
  BF_AVX512 static Sub prep_sub(__m512i s) { return s; }
  template <bool kScaled>
  BF_AVX512 static Acc init(int32_t corr) { return _mm512_set1_epi32(corr); }
  BF_AVX512 static Acc step(Acc a, Prep w, const int8_t* x) {
    return _mm512_dpbusd_epi32(a, w, _mm512_set1_epi32(load4(x)));
  }
  template <bool kScaled, bool kCorr, int C>
  BF_AVX512 static __m512i finish(const Acc (&a)[C], Sub s) {
    __m512i sum = a[0];
    if constexpr (C == 2) sum = _mm512_add_epi32(sum, a[1]);
    if constexpr (kScaled) sum = _mm512_mullo_epi32(sum, s);
    return sum;
  }
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
  using Sub = __m512i;
  template <class V>
  static constexpr int run() { return kKGroups; }
  BF_AVX512 static Prep prep(__m512i u) {
    __m512i w = _mm512_xor_si512(u, _mm512_set1_epi8(static_cast<char>(0x80)));
    return {_mm512_abs_epi8(w), _mm512_movepi8_mask(w)};
  }
  BF_AVX512 static Sub prep_sub(__m512i s) { return s; }
  // Works on the signed values themselves: no offset to correct.
  template <bool kScaled>
  BF_AVX512 static Acc init(int32_t) { return _mm512_setzero_si512(); }
  BF_AVX512 static Acc step(Acc a, const Prep& w, const int8_t* x) {
    __m512i xb = _mm512_set1_epi32(load4(x));
    __m512i xs = _mm512_mask_sub_epi8(xb, w.neg, _mm512_setzero_si512(), xb);
    __m512i p = _mm512_maddubs_epi16(w.abs, xs);
    return _mm512_add_epi32(a, _mm512_madd_epi16(p, _mm512_set1_epi16(1)));
  }
  template <bool kScaled, bool kCorr, int C>
  BF_AVX512 static __m512i finish(const Acc (&a)[C], Sub) {
    static_assert(!kScaled, "int8 types have no sub-block scales");
    return C == 2 ? _mm512_add_epi32(a[0], a[1]) : a[0];
  }
};

// AVX-512BW, small unsigned values: the vpmaddubsw pairs of a run (V::kRun k-groups)
// add up in 16 bits before one vpmaddwd, whose other operand is the run's sub-block
// scale in both halves of each dword (or 1), so it scales as it widens. With scales the
// correction rides in the same form: corr/2 in both words (corr is even, |corr/2| <
// 2^15), so that one more vpmaddwd gives corr * scale.
struct BwUnsigned {
  using Prep = __m512i;
  struct Acc {
    __m512i s16, base;
  };
  using Sub = __m512i;
  template <class V>
  static constexpr int run() { return V::kRun; }
  BF_AVX512 static Prep prep(__m512i u) { return u; }
  // Sub-block scales fit in int16: the dword's low word, repeated in its high word.
  BF_AVX512 static Sub prep_sub(__m512i s) {
    return _mm512_or_si512(_mm512_and_si512(s, _mm512_set1_epi32(0xffff)), _mm512_slli_epi32(s, 16));
  }
  template <bool kScaled>
  BF_AVX512 static Acc init(int32_t corr) {
    return {_mm512_setzero_si512(), kScaled ? _mm512_set1_epi16(static_cast<int16_t>(corr / 2)) : _mm512_set1_epi32(corr)};
  }
  BF_AVX512 static Acc step(Acc a, Prep w, const int8_t* x) {
    a.s16 = _mm512_add_epi16(a.s16, _mm512_maddubs_epi16(w, _mm512_set1_epi32(load4(x))));
    return a;
  }
  template <bool kScaled, bool kCorr, int C>
  BF_AVX512 static __m512i finish(const Acc (&a)[C], Sub s) {
    __m512i s16 = a[0].s16;
    if constexpr (C == 2) s16 = _mm512_add_epi16(s16, a[1].s16);  // the chains share one run
    const __m512i sum = _mm512_madd_epi16(s16, kScaled ? s : _mm512_set1_epi16(1));
    if constexpr (!kCorr) return sum;  // chain 0 of a block's (or half's) first run holds the correction
    return _mm512_add_epi32(sum, kScaled ? _mm512_madd_epi16(a[0].base, s) : a[0].base);
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

// A token step (a full set, one token) reads each weight byte once: it prefetches
// ahead in the set's stream (measured on Zen 5: q8_0 from ~78 % to ~86 % of the
// streaming-read bandwidth from DRAM, q4_0 from ~57 % to ~70 %). Prefetches past the
// end of the weights are harmless (the next matrix follows in the forward's arena).
// How far and how densely depends on the work per byte (Zen 5, huge pages, same-process
// A/B): the nibble types, with more work per byte, need every line 8 KiB ahead (Q4_K
// 27 GB/s against 23 with one line per block); int8 values do best with one line per
// row-group block (512 bytes) 16 KiB ahead, the hardware prefetcher taking the rest
// (q8_0 +4-10 % over every line at 8 KiB).
template <class V>
struct Prefetch {
  static constexpr int kAhead = V::kBlockBytes == 512 ? 16384 : 8192;
  static constexpr int kEveryLines = V::kBlockBytes == 512 ? 8 : 1;
};

// Sum of the first 16 activation bytes of a block (Q6_K's half-block corrections).
BF_AVX512 inline int32_t half_sum(const int8_t* x) {
  const __m128i u = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x)), _mm_set1_epi8(-128));
  const __m128i s = _mm_sad_epu8(u, _mm_setzero_si128());  // two sums of 8 bytes, each + 8*128
  return _mm_cvtsi128_si32(s) + _mm_extract_epi16(s, 4) - 16 * 128;
}

// Row groups rg0..rg0+RG-1 x tokens t0..t0+TB-1.
template <class V, class S, class D, int RG, int TB, int C = (RG * TB < 8 ? 2 : 1)>
BF_AVX512 void tile(const Ctx& c, int64_t rg0, int64_t t0) {
  constexpr bool kScaled = S::kSubScales > 0;
  constexpr int kHalves = S::kSubScales == 2 ? 2 : 1;  // k-groups 0-3 and 4-7 scaled apart
  constexpr int kHalfGroups = kKGroups / kHalves;
  // k-groups per run: the integer sums of a run are finished (and scaled) together.
  constexpr int kRun = std::min(kHalfGroups, D::template run<V>());
  // With sub-scales the correction of a block (half) is even and within int16 twice.
  static_assert(!kScaled || (V::kOffset % 2 == 0 && V::kOffset / 2 * kQBlock / kHalves * 127 < 32768));
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
    BlockScale bs[RG];
#pragma GCC unroll 8
    for (int g = 0; g < RG; ++g) bs[g] = sc[g].next();
    // The offset corrections of each token's block (or of its two halves).
    int32_t corr[TB][kHalves];
#pragma GCC unroll 8
    for (int t = 0; t < TB; ++t) {
      const int32_t sum = xs[t * nb + b];
      if constexpr (kHalves == 1) {
        corr[t][0] = -V::kOffset * sum;
      } else {
        const int32_t first = half_sum(x + t * c.cols + b * 32);
        corr[t][0] = -V::kOffset * first;
        corr[t][1] = -V::kOffset * (sum - first);
      }
    }
    __m512i isum[RG][TB];
#pragma GCC unroll 8
    for (int r0 = 0; r0 < kKGroups; r0 += kRun) {
      const int h = r0 / kHalfGroups;
      const bool first_run = r0 % kHalfGroups == 0;  // of its half: takes the correction
      // C chains per accumulator (k-groups alternate), so that small tiles still have
      // enough independent vpdpbusd chains to cover its latency.
      typename D::Acc acc[RG][TB][C];
#pragma GCC unroll 8
      for (int t = 0; t < TB; ++t)
#pragma GCC unroll 8
        for (int g = 0; g < RG; ++g)
#pragma GCC unroll 2
          for (int k = 0; k < C; ++k)
            acc[g][t][k] = D::template init<kScaled>(k == 0 && first_run ? corr[t][h] : 0);
#pragma GCC unroll 8
      for (int j = r0; j < r0 + kRun; ++j) {
#pragma GCC unroll 8
        for (int g = 0; g < RG; ++g) {
          if constexpr (kStreaming)
            if (j * 64 < V::kBlockBytes && j % Prefetch<V>::kEveryLines == 0)
              _mm_prefetch(reinterpret_cast<const char*>(w[g].p + Prefetch<V>::kAhead + 64 * j), _MM_HINT_T0);
          const typename D::Prep p = D::prep(V::kgroup(w[g].p, j));
#pragma GCC unroll 8
          for (int t = 0; t < TB; ++t)
            acc[g][t][j % C] = D::step(acc[g][t][j % C], p, x + t * c.cols + b * 32 + 4 * j);
        }
      }
#pragma GCC unroll 8
      for (int g = 0; g < RG; ++g) {
        typename D::Sub sub{};
        if constexpr (kScaled) sub = D::prep_sub(bs[g].sub[h]);
#pragma GCC unroll 8
        for (int t = 0; t < TB; ++t) {
          const __m512i s = first_run && V::kOffset != 0 ? D::template finish<kScaled, true>(acc[g][t], sub)
                                                         : D::template finish<kScaled, false>(acc[g][t], sub);
          isum[g][t] = r0 == 0 ? s : _mm512_add_epi32(isum[g][t], s);
        }
      }
    }
#pragma GCC unroll 8
    for (int g = 0; g < RG; ++g) {
      w[g].p += w[g].step;
#pragma GCC unroll 8
      for (int t = 0; t < TB; ++t) {
        const float dx = xd[t * nb + b];
        facc[g][t] = accumulate(facc[g][t], isum[g][t], bs[g].d, dx);
        if constexpr (S::kOffsets == 1)
          facc[g][t] = _mm512_fmadd_ps(bs[g].off, _mm512_set1_ps(dx * static_cast<float>(xs[t * nb + b])), facc[g][t]);
      }
    }
  }
#pragma GCC unroll 8
  for (int g = 0; g < RG; ++g)
#pragma GCC unroll 8
    for (int t = 0; t < TB; ++t) store_rows(c, rg0 + g, t0 + t, facc[g][t]);
}

// The multi-token case (prompt_tiles.h).
template <class V, class S, class D>
BF_AVX512 void run_prompt(const Ctx& c, int64_t rg0, int64_t rg1, int64_t t0, int64_t t1);

// Row groups [rg0, rg1) x tokens [t0, t1).
template <class V, class S, class D>
BF_AVX512 void run_tiles(const Ctx& c, int64_t rg0, int64_t rg1, int64_t t0, int64_t t1) {
  int64_t rg = rg0;
  if (t1 - t0 == 1) {  // a token step: more row groups per tile for independent chains
    for (; rg + 4 <= rg1; rg += 4) tile<V, S, D, 4, 1>(c, rg, t0);
    for (; rg < rg1; ++rg) tile<V, S, D, 1, 1>(c, rg, t0);
    return;
  }
  run_prompt<V, S, D>(c, rg0, rg1, t0, t1);
}

Ctx make_ctx(const MatmulArgs& a, int64_t begin, int64_t end, DType type);

}  // namespace bf::int8_avx512

#include "kernels/int8_avx512/prompt_tiles.h"
