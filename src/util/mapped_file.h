// A read-only view of a whole file: mmapped where possible, read into memory otherwise.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace bf {

class MappedFile {
 public:
  MappedFile() = default;
  // Throws InputError naming `path` if it cannot be opened or read.
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }
  bool mapped() const { return mapped_; }

 private:
  void release();
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  bool mapped_ = false;
  std::vector<uint8_t> fallback_;  // used when mmap is unavailable (e.g. size 0)
};

}  // namespace bf
