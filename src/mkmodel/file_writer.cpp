#include "mkmodel/file_writer.h"

#include <cerrno>
#include <cstring>

#include "util/error.h"

namespace bf {

namespace {
constexpr size_t kBufferBytes = 1 << 20;  // big sequential writes: models are GBs
}

FileWriter::FileWriter(std::string path) : path_(std::move(path)) {
  f_ = std::fopen(path_.c_str(), "wb");
  if (!f_) throw InputError(path_, std::string("cannot create: ") + std::strerror(errno));
  std::setvbuf(f_, nullptr, _IOFBF, kBufferBytes);
}

FileWriter::~FileWriter() {
  if (!f_) return;
  std::fclose(f_);
  std::remove(path_.c_str());
}

void FileWriter::bytes(const void* p, size_t n) {
  if (n == 0) return;
  if (std::fwrite(p, 1, n, f_) != n) throw InputError(path_, std::string("write failed: ") + std::strerror(errno));
  pos_ += n;
}

void FileWriter::zeros(size_t n) {
  static constexpr uint8_t kZeros[256] = {};
  while (n > 0) {
    size_t k = n < sizeof kZeros ? n : sizeof kZeros;
    bytes(kZeros, k);
    n -= k;
  }
}

void FileWriter::pad_to(uint64_t alignment) { zeros((alignment - pos_ % alignment) % alignment); }

uint64_t FileWriter::commit() {
  std::FILE* f = f_;
  f_ = nullptr;
  if (std::fclose(f) != 0) {
    std::remove(path_.c_str());
    throw InputError(path_, std::string("write failed: ") + std::strerror(errno));
  }
  return pos_;
}

}  // namespace bf
