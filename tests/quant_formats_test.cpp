// The weight formats Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K and BF16 against their public
// definitions, independently of kernels/int_block.h:
//  - a decoder per type written here from the published ggml block definitions (byte
//    offsets, element order, nibble and high-bit placement, the K-quant scale packing),
//    in the published loop structure, reading raw bytes rather than dtype.h's structs;
//    it must equal dequantize_row() exactly on random bit patterns, and both must give
//    the values worked out by hand for one built block per type;
//  - the 6-bit scale packing of Q4_K/Q5_K for every (scale, min) at every position;
//  - the 8-bit-input reference matmuls against the dot of the decoded weights.
// Their quantizers are tested in quant_round_trip_test.cpp.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/dtype.h"
#include "kernels/quantize.h"
#include "kernels/reference.h"
#include "kernels/variant.h"
#include "test_weights.h"
#include "util/f16.h"

namespace bf {
namespace {

// ---- The formats as published ----------------------------------------------------

float half_at(const uint8_t* p) { return f16_to_f32(static_cast<uint16_t>(p[0] | p[1] << 8)); }

// Each decoder turns one block into `y`, and into `off` the part of each value that
// does not scale with the quant (the block or sub-block min; 0 for the symmetric types),
// which the 8-bit-input test needs for its rounding bound.

// block_q4_1 { half d; half m; uint8 qs[16]; }: y[j] = (qs[j] & 15) d + m, y[j + 16] = (qs[j] >> 4) d + m.
void spec_q4_1(const uint8_t* b, float* y, float* off) {
  const float d = half_at(b), m = half_at(b + 2);
  const uint8_t* qs = b + 4;
  for (int j = 0; j < 16; ++j) {
    y[j] = static_cast<float>(qs[j] & 0x0F) * d + m;
    y[j + 16] = static_cast<float>(qs[j] >> 4) * d + m;
    off[j] = off[j + 16] = m;
  }
}

// The fifth bit of elements j and j + 16 from the 32-bit little-endian qh.
int high_bit_lo(uint32_t qh, int j) { return static_cast<int>((qh >> j) << 4) & 0x10; }
int high_bit_hi(uint32_t qh, int j) { return static_cast<int>(qh >> (j + 12)) & 0x10; }
uint32_t u32_at(const uint8_t* p) { return p[0] | p[1] << 8 | p[2] << 16 | static_cast<uint32_t>(p[3]) << 24; }

// block_q5_0 { half d; uint8 qh[4]; uint8 qs[16]; }: y = (q - 16) d.
void spec_q5_0(const uint8_t* b, float* y, float* off) {
  const float d = half_at(b);
  const uint32_t qh = u32_at(b + 2);
  const uint8_t* qs = b + 6;
  for (int j = 0; j < 16; ++j) {
    y[j] = static_cast<float>(((qs[j] & 0x0F) | high_bit_lo(qh, j)) - 16) * d;
    y[j + 16] = static_cast<float>(((qs[j] >> 4) | high_bit_hi(qh, j)) - 16) * d;
    off[j] = off[j + 16] = 0;
  }
}

// block_q5_1 { half d; half m; uint8 qh[4]; uint8 qs[16]; }: y = q d + m.
void spec_q5_1(const uint8_t* b, float* y, float* off) {
  const float d = half_at(b), m = half_at(b + 2);
  const uint32_t qh = u32_at(b + 4);
  const uint8_t* qs = b + 8;
  for (int j = 0; j < 16; ++j) {
    y[j] = static_cast<float>((qs[j] & 0x0F) | high_bit_lo(qh, j)) * d + m;
    y[j + 16] = static_cast<float>((qs[j] >> 4) | high_bit_hi(qh, j)) * d + m;
    off[j] = off[j + 16] = m;
  }
}

// get_scale_min_k4: the 12 scale bytes hold eight 6-bit scales and mins. j < 4: the low
// six bits of bytes j (scale) and j + 4 (min). j >= 4: the low (scale) and high (min)
// nibble of byte j + 4, topped by the two high bits of bytes j - 4 (scale) and j (min).
void scale_min_k4(int j, const uint8_t* q, int* sc, int* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    *m = (q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4);
  }
}

// block_q4_K { half d; half dmin; uint8 scales[12]; uint8 qs[128]; } and block_q5_K
// (qh[32] between scales and qs): per 64 elements, two sub-blocks from one 32-byte run of
// qs (low nibbles, then high nibbles), y = d sc q - dmin m; Q5_K's fifth bits come from
// qh[l], bit pairs (u1, u2) moving up by two per 64 elements.
void spec_k_min(const uint8_t* b, float* y, float* off, bool five_bits) {
  const float d = half_at(b), dmin = half_at(b + 2);
  const uint8_t* scales = b + 4;
  const uint8_t* qh = b + 16;
  const uint8_t* q = five_bits ? b + 48 : b + 16;
  int is = 0;
  uint8_t u1 = 1, u2 = 2;
  for (int j = 0; j < kQK; j += 64) {
    int sc, m;
    scale_min_k4(is + 0, scales, &sc, &m);
    const float d1 = d * static_cast<float>(sc), m1 = dmin * static_cast<float>(m);
    scale_min_k4(is + 1, scales, &sc, &m);
    const float d2 = d * static_cast<float>(sc), m2 = dmin * static_cast<float>(m);
    for (int l = 0; l < 32; ++l) {
      const int high = five_bits && (qh[l] & u1) ? 16 : 0;
      *off++ = -m1;
      *y++ = d1 * static_cast<float>((q[l] & 0xF) + high) - m1;
    }
    for (int l = 0; l < 32; ++l) {
      const int high = five_bits && (qh[l] & u2) ? 16 : 0;
      *off++ = -m2;
      *y++ = d2 * static_cast<float>((q[l] >> 4) + high) - m2;
    }
    q += 32;
    is += 2;
    u1 = static_cast<uint8_t>(u1 << 2);
    u2 = static_cast<uint8_t>(u2 << 2);
  }
}
void spec_q4_k(const uint8_t* b, float* y, float* off) { spec_k_min(b, y, off, false); }
void spec_q5_k(const uint8_t* b, float* y, float* off) { spec_k_min(b, y, off, true); }

// block_q6_K { uint8 ql[128]; uint8 qh[64]; int8 scales[16]; half d; }: per 128
// elements, 32 steps l each give four values from ql[l], ql[l + 32] (low nibbles, then
// high nibbles) and the four bit pairs of qh[l]; y = d * scale * (q - 32).
void spec_q6_k(const uint8_t* b, float* y, float* off) {
  const float d = half_at(b + 208);
  const uint8_t* ql = b;
  const uint8_t* qh = b + 128;
  const auto* sc = reinterpret_cast<const int8_t*>(b + 192);
  for (int n = 0; n < kQK; n += 128) {
    for (int l = 0; l < 32; ++l) {
      const int is = l / 16;
      const int q1 = ((ql[l + 0] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
      const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
      const int q3 = ((ql[l + 0] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
      const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
      y[l + 0] = d * sc[is + 0] * static_cast<float>(q1);
      y[l + 32] = d * sc[is + 2] * static_cast<float>(q2);
      y[l + 64] = d * sc[is + 4] * static_cast<float>(q3);
      y[l + 96] = d * sc[is + 6] * static_cast<float>(q4);
    }
    y += 128;
    ql += 64;
    qh += 32;
    sc += 8;
  }
  std::fill(off, off + kQK, 0.0f);
}

// bf16: the 16 bits are the top half of a binary32.
void spec_bf16(const uint8_t* b, float* y, float* off) {
  *y = std::bit_cast<float>(static_cast<uint32_t>(b[0] | b[1] << 8) << 16);
  *off = 0;
}

struct Format {
  DType type;
  int bytes, elems;              // one block, as ggml defines it
  std::vector<int> f16_fields;  // byte offsets of its f16 scales and mins
  void (*decode)(const uint8_t* block, float* y, float* off);
};

const std::vector<Format>& formats() {
  static const std::vector<Format> f = {
      {DType::Q4_1, 20, 32, {0, 2}, spec_q4_1},      {DType::Q5_0, 22, 32, {0}, spec_q5_0},
      {DType::Q5_1, 24, 32, {0, 2}, spec_q5_1},      {DType::Q4_K, 144, 256, {0, 2}, spec_q4_k},
      {DType::Q5_K, 176, 256, {0, 2}, spec_q5_k},    {DType::Q6_K, 210, 256, {208}, spec_q6_k},
      {DType::BF16, 2, 1, {}, spec_bf16},
  };
  return f;
}

// A row decoded by the published definition: values and their offset parts.
struct SpecRow {
  std::vector<float> y, off;
};

SpecRow spec_decode(const Format& f, const std::vector<uint8_t>& row) {
  const size_t blocks = row.size() / static_cast<size_t>(f.bytes), n = blocks * static_cast<size_t>(f.elems);
  SpecRow r{std::vector<float>(n), std::vector<float>(n)};
  for (size_t b = 0; b < blocks; ++b) f.decode(row.data() + b * f.bytes, r.y.data() + b * f.elems, r.off.data() + b * f.elems);
  return r;
}

std::vector<float> dequantized(DType t, const std::vector<uint8_t>& row, int64_t n) {
  std::vector<float> out(static_cast<size_t>(n));
  dequantize_row(t, row.data(), nullptr, out.data(), n);
  return out;
}

uint16_t random_finite_f16(std::mt19937& rng) {
  for (;;) {
    const auto h = static_cast<uint16_t>(rng());
    if ((h & 0x7c00) != 0x7c00) return h;  // exponent all ones: inf or NaN
  }
}

// `blocks` blocks of random bytes whose f16 fields hold `f16()`.
template <class F16Source>
std::vector<uint8_t> random_blocks(const Format& f, int blocks, std::mt19937& rng, F16Source f16) {
  std::vector<uint8_t> row(static_cast<size_t>(blocks * f.bytes));
  for (auto& byte : row) byte = static_cast<uint8_t>(rng());
  for (int b = 0; b < blocks; ++b)
    for (int at : f.f16_fields) {
      const uint16_t h = f16();
      row[static_cast<size_t>(b * f.bytes + at)] = static_cast<uint8_t>(h);
      row[static_cast<size_t>(b * f.bytes + at + 1)] = static_cast<uint8_t>(h >> 8);
    }
  return row;
}

std::string name_of(const ::testing::TestParamInfo<Format>& i) { return std::string(dtype_name(i.param.type)); }

// gtest prints a test's parameter by this (found by argument-dependent lookup).
void PrintTo(const Format& f, std::ostream* os) { *os << dtype_name(f.type); }

class FormatTest : public ::testing::TestWithParam<Format> {};

TEST_P(FormatTest, BlockSizeIsThePublishedOne) {
  const Format& f = GetParam();
  EXPECT_EQ(block_bytes(f.type), static_cast<size_t>(f.bytes));
  EXPECT_EQ(block_elems(f.type), f.elems);
}

// Every bit pattern (f16 fields finite, any value: subnormal, negative, huge) decodes
// exactly as the published definition says. Both sides compute each value from exact
// products (an f16 times integers below 2^13 fits f32's 24 bits) with one final
// rounding, so they agree to the bit, up to the sign of a zero.
TEST_P(FormatTest, DequantizerEqualsThePublishedDecoderOnRandomBits) {
  const Format& f = GetParam();
  for (uint32_t seed = 1; seed <= 100; ++seed) {
    std::mt19937 rng(seed);
    const int blocks = f.elems == 1 ? 4096 : 8192 / f.elems;
    const std::vector<uint8_t> row = random_blocks(f, blocks, rng, [&] { return random_finite_f16(rng); });
    const SpecRow want = spec_decode(f, row);
    const std::vector<float> got = dequantized(f.type, row, static_cast<int64_t>(want.y.size()));
    for (size_t i = 0; i < got.size(); ++i) {
      if (f.type == DType::BF16)  // NaNs and infinities included: compare the bits
        ASSERT_EQ(std::bit_cast<uint32_t>(got[i]), std::bit_cast<uint32_t>(want.y[i])) << "seed " << seed << " element " << i;
      else
        ASSERT_EQ(got[i], want.y[i]) << "seed " << seed << " block " << i / f.elems << " element " << i % f.elems;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Formats, FormatTest, ::testing::ValuesIn(formats()), name_of);

const Format& format_of(DType t) {
  for (const Format& f : formats())
    if (f.type == t) return f;
  throw std::logic_error("no format");
}

// ---- Worked examples -------------------------------------------------------------

// One block: zero bytes but for `set` (offset, byte), and each element's value as
// worked out by hand from the layout.
struct Worked {
  DType type;
  std::vector<std::pair<int, uint8_t>> set;
  float (*value)(int element);
};

// f16 constants: 0x3400 = 0.25, 0x3800 = 0.5, 0x3C00 = 1, 0x4000 = 2, 0xBC00 = -1.
const Worked kWorked[] = {
    // Q4_1: d 0.5, m -1. qs[0] = 0x3A: element 0 is 10 (low), element 16 is 3 (high);
    // qs[15] = 0xF0: element 31 is 15. Everything else is q = 0, the min.
    {DType::Q4_1, {{0, 0x00}, {1, 0x38}, {2, 0x00}, {3, 0xBC}, {4, 0x3A}, {19, 0xF0}},
     [](int i) { return i == 0 ? 4.0f : i == 16 ? 0.5f : i == 31 ? 6.5f : -1.0f; }},
    // Q5_0: d 0.25; qh bits 1 and 20 (bytes 0x02 and, at qh[2], 0x10). qs[1] = 0x5C:
    // element 1 is 12 + 16 = 28, element 17 is 5; qs[4] = 0x70: element 20 is 7 + 16.
    // y = (q - 16) / 4; q = 0 gives -4.
    {DType::Q5_0, {{1, 0x34}, {2, 0x02}, {4, 0x10}, {7, 0x5C}, {10, 0x70}},
     [](int i) { return i == 1 ? 3.0f : i == 17 ? -2.75f : i == 20 ? 1.75f : -4.0f; }},
    // Q5_1: d 2, m 0.5; qh bit 31 (qh[3] = 0x80); qs[15] = 0xF7: element 15 is 7,
    // element 31 is 15 + 16.
    {DType::Q5_1, {{1, 0x40}, {3, 0x38}, {7, 0x80}, {23, 0xF7}},
     [](int i) { return i == 15 ? 14.5f : i == 31 ? 62.5f : 0.5f; }},
    // Q4_K: d 1, dmin 0.5. Sub-block 1: scale 10, min 3 (scales[1], scales[5]).
    // Sub-block 5: scale 37 = 0b10'0101, min 50 = 0b11'0010: low nibbles 5 and 2 in
    // scales[9] = 0x25, top bits 2 and 3 in bits 6-7 of scales[1] and scales[5]:
    // scales[1] = 0x8A, scales[5] = 0xC3. Element 36 (sub-block 1, high nibble of
    // qs[4]) is 9: 10 * 9 - 1.5; element 163 (sub-block 5: high nibbles of qs[64..95])
    // is 7: 37 * 7 - 25. The other sub-blocks have scale and min 0.
    {DType::Q4_K, {{1, 0x3C}, {3, 0x38}, {4 + 1, 0x8A}, {4 + 5, 0xC3}, {4 + 9, 0x25}, {16 + 4, 0x90}, {16 + 67, 0x70}},
     [](int i) { return i == 36 ? 88.5f : i == 163 ? 234.0f : i / 32 == 1 ? -1.5f : i / 32 == 5 ? -25.0f : 0.0f; }},
    // Q5_K: the same scales, qs at 48, and fifth bits: qh[4] bit 1 (sub-block 1) makes
    // element 36 9 + 16; qh[3] bit 5 (sub-block 5) makes element 163 7 + 16; qh[3]
    // bit 4 lifts element 131 of sub-block 4, whose scale is 0.
    {DType::Q5_K, {{1, 0x3C}, {3, 0x38}, {4 + 1, 0x8A}, {4 + 5, 0xC3}, {4 + 9, 0x25}, {16 + 4, 0x02}, {16 + 3, 0x30},
                   {48 + 4, 0x90}, {48 + 67, 0x70}},
     [](int i) { return i == 36 ? 248.5f : i == 163 ? 826.0f : i / 32 == 1 ? -1.5f : i / 32 == 5 ? -25.0f : 0.0f; }},
    // Q6_K: d 0.25 (at 208); scales[1] = 5, scales[12] = -3 (at 192). Element 17: low
    // nibble of ql[17] = 4, bits 0-1 of qh[17] = 3: q = 52, (52 - 32) * 5 / 4. Element
    // 200 (second half, position 72 = 64 + 8: high nibble of ql[64 + 8] = 11, bits 4-5 of
    // qh[32 + 8] = 2): q = 43, (43 - 32) * -3 / 4. q = 0 elsewhere: -32 * scale / 4.
    {DType::Q6_K, {{17, 0x04}, {128 + 17, 0x03}, {72, 0xB0}, {128 + 40, 0x20}, {192 + 1, 5}, {192 + 12, 0xFD}, {209, 0x34}},
     [](int i) { return i == 17 ? 25.0f : i == 200 ? -8.25f : i / 16 == 1 ? -40.0f : i / 16 == 12 ? 24.0f : 0.0f; }},
};

TEST(WorkedExample, HandBuiltBlocksDecodeToTheirValues) {
  for (const Worked& w : kWorked) {
    SCOPED_TRACE(dtype_name(w.type));
    const Format& f = format_of(w.type);
    std::vector<uint8_t> block(static_cast<size_t>(f.bytes), 0);
    for (auto [at, byte] : w.set) block[static_cast<size_t>(at)] = byte;
    const std::vector<float> got = dequantized(w.type, block, f.elems);
    const SpecRow spec = spec_decode(f, block);
    for (int i = 0; i < f.elems; ++i) {
      EXPECT_EQ(got[static_cast<size_t>(i)], w.value(i)) << "dequantize_row, element " << i;
      EXPECT_EQ(spec.y[static_cast<size_t>(i)], w.value(i)) << "published decoder, element " << i;
    }
  }
}

// bf16 bits -> value: 0x3FC0 = 1.5; 0xC2F7: 2^6 * (1 + 119/128); 0x4049: 2 * (1 + 73/128);
// 0x0001 the smallest subnormal 2^-133; signed zeros and infinities; a NaN stays a NaN.
TEST(WorkedExample, Bf16Values) {
  const std::vector<uint16_t> bits = {0x3FC0, 0xC2F7, 0x4049, 0x0001, 0x8000, 0x7F80, 0xFF80, 0x7FC1, 0xFF81};
  std::vector<float> got(bits.size());
  dequantize_row(DType::BF16, bits.data(), nullptr, got.data(), static_cast<int64_t>(bits.size()));
  EXPECT_EQ(got[0], 1.5f);
  EXPECT_EQ(got[1], -123.5f);
  EXPECT_EQ(got[2], 3.140625f);
  EXPECT_EQ(got[3], std::ldexp(1.0f, -133));
  EXPECT_EQ(std::bit_cast<uint32_t>(got[4]), 0x80000000u);
  EXPECT_EQ(got[5], INFINITY);
  EXPECT_EQ(got[6], -INFINITY);
  EXPECT_TRUE(std::isnan(got[7]) && !std::signbit(got[7]));
  EXPECT_TRUE(std::isnan(got[8]) && std::signbit(got[8]));
}

// ---- The Q4_K/Q5_K scale packing -----------------------------------------------------

// Every (scale, min) pair at every sub-block position, among random neighbours, packs
// and unpacks to itself, read back both by unpack_k_scale and by the published decoder.
TEST(KScales, EveryScaleAndMinAtEveryPositionRoundTrips) {
  std::mt19937 rng(13);
  for (int s = 0; s < 8; ++s)
    for (int sc = 0; sc < 64; ++sc)
      for (int m = 0; m < 64; ++m) {
        uint8_t scs[8], ms[8], packed[12];
        for (int k = 0; k < 8; ++k) {
          scs[k] = static_cast<uint8_t>(rng() & 63);
          ms[k] = static_cast<uint8_t>(rng() & 63);
        }
        scs[s] = static_cast<uint8_t>(sc);
        ms[s] = static_cast<uint8_t>(m);
        std::memset(packed, 0xA5, sizeof packed);  // every byte must be written
        pack_k_scales(scs, ms, packed);
        for (int k = 0; k < 8; ++k) {
          int got_sc, got_m, spec_sc, spec_m;
          unpack_k_scale(packed, k, got_sc, got_m);
          scale_min_k4(k, packed, &spec_sc, &spec_m);
          ASSERT_EQ(got_sc, scs[k]) << "position " << s << " (" << sc << ", " << m << "), read at " << k;
          ASSERT_EQ(got_m, ms[k]) << "position " << s << " (" << sc << ", " << m << "), read at " << k;
          ASSERT_EQ(spec_sc, scs[k]) << "published decoder, position " << s << ", read at " << k;
          ASSERT_EQ(spec_m, ms[k]) << "published decoder, position " << s << ", read at " << k;
        }
      }
}

// The 12 bytes hold exactly 16 six-bit fields: any bytes unpack and repack to themselves.
TEST(KScales, AnyPackedBytesRepackToThemselves) {
  std::mt19937 rng(14);
  for (int rep = 0; rep < 10000; ++rep) {
    uint8_t packed[12], repacked[12], scs[8], ms[8];
    for (uint8_t& b : packed) b = static_cast<uint8_t>(rng());
    for (int k = 0; k < 8; ++k) {
      int sc, m;
      unpack_k_scale(packed, k, sc, m);
      scs[k] = static_cast<uint8_t>(sc);
      ms[k] = static_cast<uint8_t>(m);
    }
    pack_k_scales(scs, ms, repacked);
    ASSERT_EQ(std::memcmp(packed, repacked, sizeof packed), 0) << "repetition " << rep;
  }
}

// ---- 8-bit input ---------------------------------------------------------------------

// "matmul.<type>.ref-q8" on weights of random bits (f16 scales of either sign in
// [1/4, 4), so every block weighs alike and one mis-decoded element moves a result far
// beyond the tolerance) equals the double-precision dot of the published decoding and
// the dequantized activations. Tolerance: each block term carries a few roundings of
// its parts (scale * sum(q xq) and offset * sum(xq), each at most the sum of |parts|),
// and the running sum over B blocks adds B more: (B + 8) * 2^-24 * sum |parts|.
class Q8InputTest : public ::testing::TestWithParam<Format> {};

TEST_P(Q8InputTest, RefQ8EqualsDotOfDecodedWeightsAndActivations) {
  const Format& f = GetParam();
  static const KernelRegistry registry = KernelRegistry::builtin();
  const Variant* v = registry.find("matmul." + std::string(dtype_key(f.type)) + ".ref-q8");
  ASSERT_NE(v, nullptr);
  const int64_t rows = 6, cols = 1024;
  const int n_tokens = 3;
  std::mt19937 rng(static_cast<uint32_t>(f.type) + 100);
  auto moderate_f16 = [&] {
    return static_cast<uint16_t>((rng() & 1) << 15 | (13 + rng() % 4) << 10 | (rng() & 0x3ff));
  };
  const size_t row_size = row_bytes(f.type, cols);
  std::vector<uint8_t> w;
  std::vector<SpecRow> spec;
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<uint8_t> row = random_blocks(f, static_cast<int>(cols / f.elems), rng, moderate_f16);
    spec.push_back(spec_decode(f, row));
    w.insert(w.end(), row.begin(), row.end());
  }
  TensorView view;
  view.type = f.type;
  view.rows = rows;
  view.cols = cols;
  view.data = w.data();
  view.bytes = w.size();
  ASSERT_EQ(w.size(), row_size * rows);
  test::Activations x = test::random_activations(cols, n_tokens, rng);
  std::vector<float> out(static_cast<size_t>(rows * n_tokens));
  MatmulArgs a = ref::matmul_args(view, x.x.data(), x.q8(), out.data(), n_tokens, rows);
  v->fn(&a, 0, rows);
  const double ulps = static_cast<double>(cols / kQBlock + 8) * 0x1p-24;
  for (int64_t r = 0; r < rows; ++r)
    for (int t = 0; t < n_tokens; ++t) {
      const SpecRow& s = spec[static_cast<size_t>(r)];
      double exact = 0, parts = 0;
      for (int64_t i = 0; i < cols; ++i) {
        const size_t k = static_cast<size_t>(i);
        const double xi = x.dequantized(t, i);
        exact += s.y[k] * xi;
        parts += (std::fabs(s.y[k] - s.off[k]) + std::fabs(s.off[k])) * std::fabs(xi);
      }
      EXPECT_NEAR(out[static_cast<size_t>(t * rows + r)], exact, ulps * parts) << "row " << r << " token " << t;
    }
}

std::vector<Format> q8_formats() {
  std::vector<Format> out;
  for (const Format& f : formats())
    if (f.type != DType::BF16) out.push_back(f);  // a float type: no 8-bit-input form
  return out;
}

INSTANTIATE_TEST_SUITE_P(Formats, Q8InputTest, ::testing::ValuesIn(q8_formats()), name_of);

}  // namespace
}  // namespace bf
