// The multi-token branch of run_tiles (tiles.h): a prompt chunk's GEMM over row groups
// x tokens, in tiles (tiles.h's tile) of kPromptGroups row groups x kPromptTokens
// tokens that reuse each weight k-group for every token of the tile; row groups outer,
// so that a pair's weights stay in L1/L2 over all token tiles while the activations
// stream from L2. Internal to this directory; included at the end of tiles.h.
#pragma once
#include <type_traits>

#include "kernels/int8_avx512/tiles.h"

namespace bf::int8_avx512 {

// Q4_K, Q5_K with vpdpbusd: the integer sub-block scale sc goes into the float scale
// (d * sc, one rounding) rather than into each accumulator's integer sum, which would
// cost a vpmulld per row group, token and block (the token step keeps KMinItems: one
// accumulator per block there, and its sums stay exact as the reference's).
struct KMinFloatItems {
  static constexpr int kItemBytes = KMinItems::kItemBytes, kSubScales = 0, kOffsets = 1;
  BF_AVX512 static BlockScale read(const uint8_t* item, int block) {
    BlockScale s = KMinItems::read(item, block);
    s.d = _mm512_mul_ps(s.d, _mm512_cvtepi32_ps(s.sub[0]));
    return s;
  }
};

// The scale policy a prompt tile uses for a type's policy S under dot D.
template <class S, class D>
struct PromptScales {
  using type = S;
};
template <>
struct PromptScales<KMinScales, Vnni> {
  using type = Scales<KMinFloatItems>;
};

// A prompt GEMM reuses each row group's weights over every token tile, so the first
// tile of a row group would wait on memory for all of them: while the two row-group
// pairs of one set (layout.h) run, their token tiles bring the next set's values and
// scales (contiguous areas) into L2 piece by piece.
struct SetPrefetch {
  const uint8_t* values = nullptr;
  const uint8_t* scales = nullptr;
  int64_t value_share = 0, scale_share = 0;  // bytes per token tile
  BF_AVX512 SetPrefetch(const Ctx& c, int64_t rg, int64_t rg1, int block_bytes, int item_bytes, int64_t tiles) {
    const int64_t next = (rg / kSetGroups + 1) * kSetGroups;
    if (next >= rg1) return;
    const int64_t width = set_width(c.row_groups, next);
    const int64_t value_bytes = width * c.blocks * block_bytes, scale_bytes = width * c.scale_items * item_bytes;
    const int half = rg % kSetGroups < kSetGroups / 2 ? 0 : 1;  // this pair's half of the next set
    value_share = (value_bytes / 2 + tiles - 1) / tiles;
    scale_share = (scale_bytes / 2 + tiles - 1) / tiles;
    values = c.values + next * c.blocks * block_bytes + half * (value_bytes / 2);
    scales = c.scales + next * c.scale_items * item_bytes + half * (scale_bytes / 2);
  }
  BF_AVX512 void tile(int64_t i) const {
    if (!values) return;
    for (int64_t o = 0; o < value_share; o += 64)
      _mm_prefetch(reinterpret_cast<const char*>(values + i * value_share + o), _MM_HINT_T1);
    for (int64_t o = 0; o < scale_share; o += 64)
      _mm_prefetch(reinterpret_cast<const char*>(scales + i * scale_share + o), _MM_HINT_T1);
  }
};

// Tiles of RG row groups x TB tokens, the last token tile (n < TB tokens) narrower.
template <class V, class S, class D, int RG, int TB>
BF_AVX512 void tile_n(const Ctx& c, int64_t rg, int64_t t0, int64_t n) {
  if constexpr (TB > 1)
    if (n < TB) return tile_n<V, S, D, RG, TB - 1>(c, rg, t0, n);
  tile<V, S, D, RG, TB>(c, rg, t0);
}

// The tile: 2 row groups (one half of a set, see SetPrefetch) x TB tokens. With
// vpdpbusd the types with sub-block scales or offsets (K types, Q4_1, Q5_1: more scale
// work per row group and block) take 6 tokens, 12 int32 and 12 float accumulators; the
// others 4. Measured against 2x4, 3x4, 3x5, 2x8 and 1x8..12 (Zen 5, 128 tokens,
// stories110M and TinyLlama shapes): 2x6 was best for the K types, 5-8 % above 2x4,
// while Q4_0 and Q8_0 ran ~3 % faster with 2x4; 1 x 10 or more falls off (the tile's
// loops unroll 8). The AVX-512BW dots keep 2x4: their accumulators are register pairs,
// and 2x6 spills (10-20 % slower).
inline constexpr int kPromptGroups = 2;
template <class S, class D>
inline constexpr int kPromptTokens = std::is_same_v<D, Vnni> && (S::kSubScales > 0 || S::kOffsets > 0) ? 6 : 4;

// Row groups [rg0, rg1) x tokens [t0, t1), t1 - t0 > 1.
template <class V, class S0, class D>
BF_AVX512 void run_prompt(const Ctx& c, int64_t rg0, int64_t rg1, int64_t t0, int64_t t1) {
  using S = typename PromptScales<S0, D>::type;
  constexpr int RG = kPromptGroups, TB = kPromptTokens<S0, D>;
  const int64_t token_tiles = (t1 - t0 + TB - 1) / TB;
  int64_t rg = rg0;
  for (; rg + RG <= rg1; rg += RG) {
    const SetPrefetch pf(c, rg, rg1, V::kBlockBytes, S::kItemBytes, token_tiles);
    for (int64_t t = t0, i = 0; t < t1; t += TB, ++i) {
      pf.tile(i);
      tile_n<V, S, D, RG, TB>(c, rg, t, t1 - t);
    }
  }
  for (; rg < rg1; ++rg)
    for (int64_t t = t0; t < t1; t += TB) tile_n<V, S, D, 1, TB>(c, rg, t, t1 - t);
}

}  // namespace bf::int8_avx512
