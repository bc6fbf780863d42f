#include "util/stream_memory.h"

#include <cstdlib>
#include <cstring>
#include <new>
#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace bf {
namespace {

constexpr size_t kHugePage = size_t{2} << 20;
constexpr size_t kLine = 64;

size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

// A hint, given before the first touch (the fault then takes a huge page); a system
// without it (the unikernel, THP off) keeps 4 KiB pages.
void advise_huge(void* p, size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  (void)madvise(p, bytes, MADV_HUGEPAGE);
#else
  (void)p;
  (void)bytes;
#endif
}

}  // namespace

StreamArena::StreamArena(size_t bytes) {
#if defined(__linux__)
  if (bytes == 0) return;
  // One huge page more than asked, to start on a huge-page boundary inside the mapping.
  const size_t mapped = round_up(bytes, kHugePage) + kHugePage;
  void* p = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return;
  const size_t lead = round_up(reinterpret_cast<uintptr_t>(p), kHugePage) - reinterpret_cast<uintptr_t>(p);
  base_ = static_cast<uint8_t*>(p) + lead;
  reserved_ = bytes;
  advise_huge(base_, round_up(bytes, kHugePage));
  mapping_ = p;
  mapped_ = mapped;
#else
  (void)bytes;
#endif
}

StreamArena::~StreamArena() {
#if defined(__linux__)
  if (mapping_) munmap(mapping_, mapped_);
#endif
}

uint8_t* StreamArena::take(size_t bytes) {
  const size_t size = round_up(bytes, kLine);
  if (!base_ || size > reserved_ - used_) return nullptr;
  uint8_t* p = base_ + used_;  // untouched anonymous memory: already zero
  used_ += size;
  return p;
}

StreamBuffer allocate_stream_buffer(size_t bytes, StreamArena* arena) {
  if (arena)
    if (uint8_t* p = arena->take(bytes)) return StreamBuffer(p, [](uint8_t*) {});
  const size_t size = round_up(bytes, kLine);
  const bool huge = size >= 2 * kHugePage;
  // posix_memalign, not aligned_alloc: the latter wants the size to be a multiple of the
  // alignment, which a huge-page-aligned buffer's unrounded size is not.
  void* mem = nullptr;
  if (posix_memalign(&mem, huge ? kHugePage : kLine, size) != 0) throw std::bad_alloc();
  auto* p = static_cast<uint8_t*>(mem);
  if (huge) advise_huge(p, size);
  std::memset(p, 0, size);
  return StreamBuffer(p, [](uint8_t* q) { std::free(q); });
}

}  // namespace bf
