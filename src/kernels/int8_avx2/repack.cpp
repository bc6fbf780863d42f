// Native weights to the r8 layout (r8_layout.h). Portable code: it runs once at load.
#include <cstdlib>
#include <cstring>
#include <new>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "kernels/int8_avx2/r8_layout.h"

namespace bf::int8_avx2 {
namespace {

// Large matrices are streamed once per token: on 2 MiB pages the stream needs no TLB
// walk every 4 KiB.
constexpr size_t kHugePage = size_t{2} << 20;

// One allocation for values and scales, each 64-byte aligned, so that the forward can
// drop the native tensor: peak memory is one extra copy.
void allocate(PackedWeight& out, size_t value_bytes, size_t scale_bytes) {
  auto round64 = [](size_t n) { return (n + 63) / 64 * 64; };
  size_t total = round64(value_bytes) + round64(scale_bytes);
  // Aligned to a huge page so that all but the tail can be one; the size is not
  // rounded up (that would cost up to 2 MiB of resident memory per matrix).
  const bool huge = total >= 2 * kHugePage;
  auto* p = static_cast<uint8_t*>(std::aligned_alloc(huge ? kHugePage : 64, total));
  if (!p) throw std::bad_alloc();
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (huge) madvise(p, total, MADV_HUGEPAGE);  // a hint: without it the pages are 4 KiB
#endif
  std::memset(p, 0, total);
  out.storage = {p, [](uint8_t* q) { std::free(q); }};
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

}  // namespace

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
