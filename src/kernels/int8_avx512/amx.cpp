// AMX-INT8 variants: full chunks of 16 tokens go through the tile unit, one row group
// and one 32-column block per tdpbsud; leftover tokens (and token steps) take the VNNI
// tiles. This CPU path cannot run on every machine the tests see, so it stays small:
//   A tile (tmm1): 16 tokens x 32 activation bytes (signed), read in place from xq.qs
//                  with the row stride `cols`;
//   B tile (tmm2): the block's 8 k-groups x (16 rows x 4 bytes), unsigned: exactly an
//                  r16 block (Q4_0 nibbles are first spread to one byte each);
//   C tile (tmm0): C[token][row] = sum_k x[token][k] * u[row][k], stored to memory and
//                  then offset-corrected and scaled like the VNNI path.
#include <immintrin.h>

#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "kernels/int8_avx512/kernels.h"
#include "kernels/int8_avx512/tiles.h"

#define BF_AMX __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,amx-tile,amx-int8")))

namespace bf::int8_avx512 {
namespace {

constexpr int kTileTokens = 16;

// ldtilecfg's 64-byte operand (palette 1). A constant object, so that all of its bytes
// are in memory: the ldtilecfg intrinsic tells the compiler it reads only 8 of them.
struct alignas(64) TileConfig {
  uint8_t palette;
  uint8_t start_row;
  uint8_t reserved[14];
  uint16_t colsb[16];
  uint8_t rows[16];
};
constexpr TileConfig kConfig = {
    1, 0, {}, {64, 32, 64}, {kTileTokens, kTileTokens, kKGroups}};  // tmm0 C, tmm1 A, tmm2 B

// Linux hands out the AMX tile state only on request (per process, kernel >= 5.16).
bool request_tile_data() {
#if defined(__linux__)
  constexpr long kArchReqXcompPerm = 0x1023;
  constexpr long kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
#else
  return false;
#endif
}

// 16 tokens from t0 x row group rg, all blocks.
template <class V, class S>
BF_AMX void amx_tile(const Ctx& c, int64_t rg, int64_t t0) {
  alignas(64) int32_t isum[kTileTokens][kGroupRows];
  alignas(64) uint8_t spread[kKGroups * 64];
  const int64_t nb = c.blocks;
  ValueCursor w(c, rg, V::kBlockBytes);
  const int8_t* x = c.xqs + t0 * c.cols;
  const float* xd = c.xd + t0 * nb;
  const int32_t* xs = c.xsum + t0 * nb;
  S sc(c, rg);
  __m512 facc[kTileTokens];
  for (auto& f : facc) f = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b, w.p += w.step) {
    const uint8_t* wb = w.p;
    if constexpr (V::kBlockBytes != kKGroups * 64) {
      for (int j = 0; j < kKGroups; ++j) _mm512_store_si512(spread + 64 * j, V::kgroup(wb, j));
      wb = spread;
    }
    // tileloadd's asm does not tell the compiler it reads memory: flush `spread` first.
    __asm__ volatile("" ::: "memory");
    _tile_zero(0);
    _tile_loadd(1, x + b * 32, c.cols);
    _tile_loadd(2, wb, 64);
    _tile_dpbsud(0, 1, 2);
    _tile_stored(0, isum, kGroupRows * 4);
    const __m512 dw = sc.next().d;
    for (int t = 0; t < kTileTokens; ++t) {
      const __m512i corr = _mm512_set1_epi32(-V::kOffset * xs[t * nb + b]);
      const __m512i s = _mm512_add_epi32(_mm512_load_si512(isum[t]), corr);
      facc[t] = accumulate(facc[t], s, dw, xd[t * nb + b]);
    }
  }
  for (int t = 0; t < kTileTokens; ++t) store_rows(c, rg, t0 + t, facc[t]);
}

template <DType kType, class V, class S>
BF_AMX void matmul_amx(const void* args, int64_t begin, int64_t end) {
  const auto& a = *static_cast<const MatmulArgs*>(args);
  if (begin >= end) return;
  const Ctx c = make_ctx(a, begin, end, kType);
  const int64_t rg0 = begin / kGroupRows, rg1 = (end + kGroupRows - 1) / kGroupRows;
  const int64_t full = a.n_tokens / kTileTokens * kTileTokens;
  if (full > 0) {
    _tile_loadconfig(&kConfig);  // per call: the tile configuration belongs to the thread
    for (int64_t rg = rg0; rg < rg1; ++rg)
      for (int64_t t0 = 0; t0 < full; t0 += kTileTokens) amx_tile<V, S>(c, rg, t0);
    _tile_release();
  }
  if (full < a.n_tokens) run_tiles<V, S, Vnni>(c, rg0, rg1, full, a.n_tokens);
}

}  // namespace

bool amx_usable(const CpuInfo& cpu) {
  if (!cpu.amx_int8) return false;
  static const bool granted = request_tile_data();  // once per process, thread-safe
  return granted;
}

void q8_0_amx(const void* a, int64_t b, int64_t e) { matmul_amx<DType::Q8_0, Int8Values, F16Scales>(a, b, e); }
void q4_0_amx(const void* a, int64_t b, int64_t e) { matmul_amx<DType::Q4_0, NibbleValues, F16Scales>(a, b, e); }
void i8g_amx(const void* a, int64_t b, int64_t e) { matmul_amx<DType::I8G, Int8Values, GroupScales>(a, b, e); }

}  // namespace bf::int8_avx512
