// Memory for data the token loop streams from DRAM once per token (repacked weights).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

namespace bf {

// Owns one buffer; the deleter frees it (a plain function pointer, so that owners can
// also hold buffers that need no freeing, such as parts of a StreamArena).
using StreamBuffer = std::unique_ptr<uint8_t[], void (*)(uint8_t*)>;

// One reserved range of address space that buffers are taken from one after another, so
// that data read in that order (a model's matrices in forward order) is one long stream
// and on huge pages even when each part is small. Pages become resident only when
// written, so reserving generously costs no memory. Buffers are never given back one by
// one: the arena frees everything when it is destroyed, and must outlive its buffers.
class StreamArena {
 public:
  StreamArena() = default;
  // Reserves `bytes` of address space (none when 0 or when the system refuses: then
  // every take() falls back to a buffer of its own).
  explicit StreamArena(size_t bytes);
  ~StreamArena();
  StreamArena(const StreamArena&) = delete;
  StreamArena& operator=(const StreamArena&) = delete;

  // The next `bytes`, zeroed and 64-byte aligned, or null when the reservation is used up.
  uint8_t* take(size_t bytes);
  size_t used() const { return used_; }

 private:
  void* mapping_ = nullptr;  // the whole mapping, base_ inside it
  size_t mapped_ = 0;
  uint8_t* base_ = nullptr;
  size_t reserved_ = 0, used_ = 0;
};

// `bytes` of zeroed memory, 64-byte aligned: from `arena` while it has room, else a
// buffer of its own. Either way on transparent huge pages where the system offers them
// (madvise: the default THP mode of many distributions gives none otherwise): a stream
// over 4 KiB pages walks the page tables every 4 KiB, which costs a large share of the
// read bandwidth. A buffer of its own gets them only from two huge pages (2 MiB each)
// up: it starts on a huge-page boundary, and its size is not rounded up (that would make
// up to 2 MiB per buffer resident for nothing), so its tail stays on small pages.
// Throws std::bad_alloc when the system has no memory.
StreamBuffer allocate_stream_buffer(size_t bytes, StreamArena* arena = nullptr);

}  // namespace bf
