// Buffered little-endian binary output for the mkmodel writers (internal).
//
// Model files are little-endian; BareFlow only targets x86-64, so values are written
// in host order. A failed write throws InputError naming the file, and a writer that
// is destroyed before commit() removes its partial file, so an error never leaves a
// truncated model behind that a later run could mistake for a good one.
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace bf {

class FileWriter {
 public:
  explicit FileWriter(std::string path);
  ~FileWriter();
  FileWriter(const FileWriter&) = delete;
  FileWriter& operator=(const FileWriter&) = delete;

  void bytes(const void* p, size_t n);
  template <typename T>
  void value(T v) {
    bytes(&v, sizeof v);
  }
  void zeros(size_t n);
  void pad_to(uint64_t alignment);  // zero bytes up to the next multiple of alignment
  uint64_t position() const { return pos_; }

  // Flushes and closes; throws on failure. Returns the file size.
  uint64_t commit();

 private:
  std::string path_;
  std::FILE* f_ = nullptr;
  uint64_t pos_ = 0;
};

}  // namespace bf
