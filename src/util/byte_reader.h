// A bounds-checked cursor over the bytes of a file format: every read checks the bytes
// left first, so a truncated or lying file fails in one place. Each format derives its
// own reader and words the shortfall its way (shortfall() must throw).
#pragma once
#include <cstdint>
#include <cstring>
#include <string>

namespace bf {

class ByteReader {
 public:
  ByteReader(const uint8_t* data, size_t begin, size_t end) : p_(data), end_(end), pos_(begin) {}
  virtual ~ByteReader() = default;

  size_t pos() const { return pos_; }
  size_t remaining() const { return end_ - pos_; }

  void need(uint64_t n, const char* what) const {
    if (n > remaining()) shortfall(n, what);
  }
  // A fixed-size little-endian field (x86-64 reads them as they are).
  template <typename T>
  T get(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, p_ + pos_, sizeof v);
    pos_ += sizeof v;
    return v;
  }
  // The next n bytes as a string.
  std::string take_string(uint64_t n, const char* what) {
    need(n, what);
    std::string s(reinterpret_cast<const char*>(p_ + pos_), n);
    pos_ += n;
    return s;
  }
  void skip(uint64_t n, const char* what) {
    need(n, what);
    pos_ += n;
  }
  const uint8_t* here() const { return p_ + pos_; }

 protected:
  [[noreturn]] virtual void shortfall(uint64_t n, const char* what) const = 0;

 private:
  const uint8_t* p_;
  size_t end_, pos_;
};

}  // namespace bf
