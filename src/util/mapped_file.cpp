#include "util/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "util/error.h"

namespace bf {

namespace {

// What a path is when it is not a regular file, for the error message.
const char* kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  return "of an unknown kind";
}

[[noreturn]] void not_regular(const std::string& path, mode_t mode) {
  throw InputError(path, std::string("not a regular file (it is ") + kind_of(mode) + ")");
}

}  // namespace

MappedFile::MappedFile(const std::string& path) : path_(path) {
  // stat() first: opening a FIFO blocks until a writer appears, and a socket cannot be
  // opened at all. O_NONBLOCK covers a path swapped for a FIFO between the two calls.
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) not_regular(path, st.st_mode);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) throw InputError(path, std::string("cannot open: ") + std::strerror(errno));
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    throw InputError(path, std::string("cannot stat: ") + std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    not_regular(path, st.st_mode);
  }
  // Regular files ignore O_NONBLOCK today; clear it so no read path ever sees EAGAIN.
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  size_ = static_cast<size_t>(st.st_size);
  if (size_ > 0) {
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p != MAP_FAILED) {
      data_ = static_cast<const uint8_t*>(p);
      mapped_ = true;
    } else {
      // Some file systems cannot mmap; read the file instead.
      fallback_.resize(size_);
      size_t done = 0;
      while (done < size_) {
        ssize_t n = ::pread(fd, fallback_.data() + done, size_ - done, static_cast<off_t>(done));
        if (n <= 0) {
          ::close(fd);
          throw InputError(path, "read failed");
        }
        done += static_cast<size_t>(n);
      }
      data_ = fallback_.data();
    }
  }
  ::close(fd);
}

MappedFile::~MappedFile() { release(); }

void MappedFile::release() {
  if (mapped_ && data_) ::munmap(const_cast<uint8_t*>(data_), size_);
  data_ = nullptr;
  size_ = 0;
  mapped_ = false;
  fallback_.clear();
}

MappedFile::MappedFile(MappedFile&& other) noexcept { *this = std::move(other); }

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    release();
    path_ = std::move(other.path_);
    size_ = other.size_;
    mapped_ = other.mapped_;
    fallback_ = std::move(other.fallback_);
    data_ = mapped_ ? other.data_ : fallback_.data();
    if (size_ == 0) data_ = nullptr;
    other.data_ = nullptr;
    other.size_ = 0;
    other.mapped_ = false;
  }
  return *this;
}

}  // namespace bf
