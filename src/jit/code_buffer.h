// Executable memory for generated kernels, W^X: the bytes are copied into a private
// read+write mapping, which is then made read+execute. No page of it is ever writable
// and executable at once, and it is never written again after that.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

namespace bf::jit {

class CodeBuffer {
 public:
  // Maps `code` read+execute at a fresh address. Throws std::bad_alloc when the
  // mapping fails and std::runtime_error when the protection cannot be changed.
  explicit CodeBuffer(std::span<const uint8_t> code);
  ~CodeBuffer();
  CodeBuffer(const CodeBuffer&) = delete;
  CodeBuffer& operator=(const CodeBuffer&) = delete;

  const void* entry() const { return base_; }
  std::span<const uint8_t> code() const { return {static_cast<const uint8_t*>(base_), size_}; }

 private:
  void* base_ = nullptr;
  size_t size_ = 0;     // bytes of code
  size_t mapped_ = 0;   // whole pages
};

// Saved machine code (position independent) mapped W^X at a fresh address: the callable
// is entry(). Throws as the constructor does.
inline std::unique_ptr<CodeBuffer> load_code(std::span<const uint8_t> bytes) {
  return std::make_unique<CodeBuffer>(bytes);
}

}  // namespace bf::jit
