#include "jit/code_buffer.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <stdexcept>

namespace bf::jit {

CodeBuffer::CodeBuffer(std::span<const uint8_t> code) : size_(code.size()) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  mapped_ = (std::max<size_t>(size_, 1) + page - 1) / page * page;
  void* p = mmap(nullptr, mapped_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  std::memcpy(p, code.data(), size_);
  // The write permission goes in the same call that grants execution: the mapping is
  // W or X at every moment. (x86 keeps the instruction cache coherent with stores.)
  if (mprotect(p, mapped_, PROT_READ | PROT_EXEC) != 0) {
    munmap(p, mapped_);
    throw std::runtime_error("jit: mprotect(PROT_READ|PROT_EXEC) failed");
  }
  base_ = p;
}

CodeBuffer::~CodeBuffer() {
  if (base_) munmap(base_, mapped_);
}

}  // namespace bf::jit
