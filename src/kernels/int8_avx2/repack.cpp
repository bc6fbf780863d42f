// Native weights to the r8 layout (r8_layout.h). Portable code: it runs once at load.
#include <cstring>

#include "kernels/int8_avx2/r8_layout.h"
#include "kernels/int_block.h"
#include "util/stream_memory.h"

namespace bf::int8_avx2 {
namespace {

// One allocation for values and scales, each 64-byte aligned, so that the forward can
// drop the native tensor: peak memory is one extra copy.
void allocate(PackedWeight& out, size_t value_bytes, size_t scale_bytes) {
  auto round64 = [](size_t n) { return (n + 63) / 64 * 64; };
  out.storage = allocate_stream_buffer(round64(value_bytes) + round64(scale_bytes), out.arena);
  uint8_t* p = out.storage.get();
  out.w = p;
  out.w_scales = reinterpret_cast<const float*>(p + round64(value_bytes));
  out.bytes = value_bytes + scale_bytes;
}

uint8_t* values(PackedWeight& out) { return static_cast<uint8_t*>(const_cast<void*>(out.w)); }
template <class T>
T* scales(PackedWeight& out) {
  return reinterpret_cast<T*>(const_cast<float*>(out.w_scales));
}

// Places the 32 int8 values of one row's block into its lane of a Q8 group block.
void place_q8(uint8_t* group_block, int lane, const int8_t* q) {
  for (int c = 0; c < kQBlock / 4; ++c)
    for (int i = 0; i < 4; ++i)
      group_block[(c * kRows + lane) * 4 + i] = static_cast<uint8_t>(q[4 * c + i] + 128);
}

// Padded lanes get value 0 (offset binary 128); their scale stays 0.
void pad_q8(uint8_t* values_begin, size_t bytes) { std::memset(values_begin, 128, bytes); }

// ---- the unsigned-value types (every type but Q8_0 and I8G) ----

void place_nibbles(uint8_t* group_block, int lane, const int (&u)[kQBlock]) {
  for (int k = 0; k < 4; ++k)
    for (int i = 0; i < 4; ++i)
      group_block[(k * kRows + lane) * 4 + i] = static_cast<uint8_t>((u[4 * k + i] & 0x0f) | u[16 + 4 * k + i] << 4);
}

void place_bit4(uint8_t* plane, int lane, const int (&u)[kQBlock]) {
  for (int k = 0; k < 4; ++k)
    for (int i = 0; i < 4; ++i)
      plane[lane * 4 + i] |= static_cast<uint8_t>((u[4 * k + i] >> 4 & 1) << (4 + k) | (u[16 + 4 * k + i] >> 4 & 1) << k);
}

void place_bits45(uint8_t* planes, int lane, const int (&u)[kQBlock]) {
  for (int k = 0; k < 4; ++k)
    for (int i = 0; i < 4; ++i) {
      const int at = k % 2 ? 0 : 4;  // bit position of the low half's pair; the high half's is 2 above
      planes[(k / 2) * 32 + lane * 4 + i] |=
          static_cast<uint8_t>((u[4 * k + i] >> 4) << at | (u[16 + 4 * k + i] >> 4) << (at + 2));
    }
}

inline void put_u16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }

// Repacks a type whose blocks are unsigned values (int_block.h's unsigned_block):
// `put_scales(row, b, value_block, scale_group, lane)` writes the scales of row block b
// (into the group's scales, or into the value block for Q6_K).
template <class PutScales>
void repack_unsigned(const TensorView& w, PackedWeight& out, int block_bytes, size_t scale_bytes_per_group,
                     PutScales put_scales) {
  const int64_t nb = w.cols / kQBlock, groups = row_groups(w.rows);
  allocate(out, groups * nb * block_bytes, groups * scale_bytes_per_group);
  const size_t stride = row_bytes(w.type, w.cols);
  for (int64_t r = 0; r < w.rows; ++r) {
    const int64_t g = r / kRows;
    const int lane = static_cast<int>(r % kRows);
    const uint8_t* row = static_cast<const uint8_t*>(w.data) + r * stride;
    for (int64_t b = 0; b < nb; ++b) {
      uint8_t* dst = values(out) + (g * nb + b) * block_bytes;
      put_scales(row, b, dst, scales<uint8_t>(out) + g * scale_bytes_per_group, lane);
      const UnsignedBlock ub = unsigned_block(w.type, row, b);
      place_nibbles(dst, lane, ub.u);
      if (block_bytes == kQ5BlockBytes) place_bit4(dst + kQ4BlockBytes, lane, ub.u);
      if (block_bytes == kQ6BlockBytes) place_bits45(dst + kQ4BlockBytes, lane, ub.u);
    }
  }
}

// Q4_1, Q5_1: f16 d and m per block.
template <class Block>
void scale_and_min(const uint8_t* row, int64_t b, uint8_t*, uint8_t* scale_group, int lane) {
  const Block& blk = reinterpret_cast<const Block*>(row)[b];
  put_u16(scale_group + (b * 2 * kRows + lane) * 2, blk.d);
  put_u16(scale_group + (b * 2 * kRows + kRows + lane) * 2, blk.m);
}

// Q4_K, Q5_K: f16 d and -dmin per super-block, the 6-bit sc and m per block.
template <class Block>
void k_scale_and_min(const uint8_t* row, int64_t b, uint8_t*, uint8_t* scale_group, int lane) {
  const Block& blk = reinterpret_cast<const Block*>(row)[b / kBlocksPerSuper];
  const int s = static_cast<int>(b % kBlocksPerSuper);
  uint8_t* super = scale_group + (b / kBlocksPerSuper) * (kKScaleHeadBytes + kBlocksPerSuper * kKScaleBlockBytes);
  put_u16(super + lane * 2, blk.d);
  put_u16(super + (kRows + lane) * 2, static_cast<uint16_t>(blk.dmin ^ 0x8000));  // exact negation
  int sc, m;
  unpack_k_scale(blk.scales, s, sc, m);
  uint8_t* block = super + kKScaleHeadBytes + s * kKScaleBlockBytes;
  block[lane] = static_cast<uint8_t>(sc);
  block[kRows + lane] = static_cast<uint8_t>(m);
}

size_t k_scale_bytes(const TensorView& w) {
  return w.cols / kQK * (kKScaleHeadBytes + kBlocksPerSuper * kKScaleBlockBytes);
}

}  // namespace

void repack_q4_1(const TensorView& w, PackedWeight& out) {
  repack_unsigned(w, out, kQ4BlockBytes, w.cols / kQBlock * 2 * kRows * 2, scale_and_min<BlockQ4_1>);
}

void repack_q5_1(const TensorView& w, PackedWeight& out) {
  repack_unsigned(w, out, kQ5BlockBytes, w.cols / kQBlock * 2 * kRows * 2, scale_and_min<BlockQ5_1>);
}

void repack_q5_0(const TensorView& w, PackedWeight& out) {
  repack_unsigned(w, out, kQ5BlockBytes, w.cols / kQBlock * kRows * 2,
                  [](const uint8_t* row, int64_t b, uint8_t*, uint8_t* scale_group, int lane) {
                    put_u16(scale_group + (b * kRows + lane) * 2, reinterpret_cast<const BlockQ5_0*>(row)[b].d);
                  });
}

void repack_q4_k(const TensorView& w, PackedWeight& out) {
  repack_unsigned(w, out, kQ4BlockBytes, k_scale_bytes(w), k_scale_and_min<BlockQ4_K>);
}

void repack_q5_k(const TensorView& w, PackedWeight& out) {
  repack_unsigned(w, out, kQ5BlockBytes, k_scale_bytes(w), k_scale_and_min<BlockQ5_K>);
}

// Q6_K: f16 d per super-block apart; the int8 scales of each half block at the end of
// the value block, where the kernel applies them in integer.
void repack_q6_k(const TensorView& w, PackedWeight& out) {
  repack_unsigned(w, out, kQ6BlockBytes, w.cols / kQK * kRows * 2,
                  [](const uint8_t* row, int64_t b, uint8_t* value_block, uint8_t* scale_group, int lane) {
                    const BlockQ6_K& blk = reinterpret_cast<const BlockQ6_K*>(row)[b / kBlocksPerSuper];
                    const int s = static_cast<int>(b % kBlocksPerSuper);
                    put_u16(scale_group + ((b / kBlocksPerSuper) * kRows + lane) * 2, blk.d);
                    int8_t* sub = reinterpret_cast<int8_t*>(value_block + kQ6BlockBytes - 2 * kRows);
                    sub[lane] = blk.scales[2 * s];
                    sub[kRows + lane] = blk.scales[2 * s + 1];
                  });
}

void repack_q8_0(const TensorView& w, PackedWeight& out) {
  const int64_t nb = w.cols / kQBlock, groups = row_groups(w.rows);
  allocate(out, groups * nb * kQ8BlockBytes, groups * nb * kRows * sizeof(uint16_t));
  pad_q8(values(out), groups * nb * kQ8BlockBytes);
  auto* src = reinterpret_cast<const BlockQ8_0*>(w.data);
  for (int64_t r = 0; r < w.rows; ++r) {
    const int64_t g = r / kRows;
    const int lane = static_cast<int>(r % kRows);
    for (int64_t b = 0; b < nb; ++b) {
      const BlockQ8_0& blk = src[r * nb + b];
      place_q8(values(out) + (g * nb + b) * kQ8BlockBytes, lane, blk.qs);
      scales<uint16_t>(out)[(g * nb + b) * kRows + lane] = blk.d;
    }
  }
}

void repack_q4_0(const TensorView& w, PackedWeight& out) {
  const int64_t nb = w.cols / kQBlock, groups = row_groups(w.rows);
  allocate(out, groups * nb * kQ4BlockBytes, groups * nb * kRows * sizeof(uint16_t));
  std::memset(values(out), 0x88, groups * nb * kQ4BlockBytes);  // padded lanes: nibbles 8, value 0
  auto* src = reinterpret_cast<const BlockQ4_0*>(w.data);
  for (int64_t r = 0; r < w.rows; ++r) {
    const int64_t g = r / kRows;
    const int lane = static_cast<int>(r % kRows);
    for (int64_t b = 0; b < nb; ++b) {
      const BlockQ4_0& blk = src[r * nb + b];
      uint8_t* dst = values(out) + (g * nb + b) * kQ4BlockBytes;
      for (int k = 0; k < 4; ++k) std::memcpy(dst + (k * kRows + lane) * 4, blk.qs + 4 * k, 4);
      scales<uint16_t>(out)[(g * nb + b) * kRows + lane] = blk.d;
    }
  }
}

void repack_i8g(const TensorView& w, PackedWeight& out) {
  const int64_t nb = w.cols / kQBlock, groups = row_groups(w.rows), per_row = w.cols / w.group;
  allocate(out, groups * nb * kQ8BlockBytes, groups * per_row * kRows * sizeof(float));
  pad_q8(values(out), groups * nb * kQ8BlockBytes);
  auto* src = reinterpret_cast<const int8_t*>(w.data);
  for (int64_t r = 0; r < w.rows; ++r) {
    const int64_t g = r / kRows;
    const int lane = static_cast<int>(r % kRows);
    for (int64_t b = 0; b < nb; ++b)
      place_q8(values(out) + (g * nb + b) * kQ8BlockBytes, lane, src + r * w.cols + b * kQBlock);
    for (int64_t s = 0; s < per_row; ++s)
      scales<float>(out)[(g * per_row + s) * kRows + lane] = w.scales[r * per_row + s];
  }
}

}  // namespace bf::int8_avx2
