// Where snapshots live and how they are read, compared, written and removed. Plain POSIX
// calls only (open/read/write/fsync/rename), which the unikernel serves from FAT16.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "cpu/cpu.h"
#include "model/model.h"
#include "snapshot/snapshot.h"
#include "util/error.h"
#include "util/hash.h"
#include "util/version.h"

namespace bf {
namespace {

namespace fs = std::filesystem;

constexpr const char* kTempSuffix = ".tmp";

[[noreturn]] void io_fail(const std::string& path, const std::string& what, int err) {
  throw std::runtime_error(path + ": " + what + ": " + std::strerror(err));
}

// Closes on every path out of a function.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  // Closes now, reporting the error (a delayed write error can surface here).
  int close() {
    const int r = ::close(fd_);
    fd_ = -1;
    return r;
  }

 private:
  int fd_;
};

// The whole file, or errno (ENOENT for a missing file) with `bytes` untouched.
// Throws InputError for a file that is not regular or larger than any snapshot may be.
int read_file(const std::string& path, std::vector<uint8_t>& bytes) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return errno;
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return errno;
  if (!S_ISREG(st.st_mode)) throw InputError(path, "not a regular file");
  if (static_cast<uint64_t>(st.st_size) > kMaxSnapshotFile)
    throw InputError(path, "file is " + std::to_string(st.st_size) + " bytes, more than any snapshot (256 MiB)");
  std::vector<uint8_t> data(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::read(fd.get(), data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    if (n == 0) break;  // shrank while we read: decode reports the truncation
    done += static_cast<size_t>(n);
  }
  data.resize(done);
  bytes = std::move(data);
  return 0;
}

void write_all(int fd, const std::vector<uint8_t>& bytes, const std::string& path) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) io_fail(path, "write failed", n < 0 ? errno : EIO);
    done += static_cast<size_t>(n);
  }
}

// Makes the rename itself durable. Some file systems cannot sync a directory (EINVAL);
// there the rename is as durable as that file system makes it.
void sync_directory(const std::string& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) io_fail(dir, "cannot open the directory to sync it", errno);
  if (::fsync(fd.get()) != 0 && errno != EINVAL) io_fail(dir, "fsync of the directory failed", errno);
}

std::string parent_of(const std::string& path) {
  const std::string parent = fs::path(path).parent_path().string();
  return parent.empty() ? "." : parent;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The paths of the entries in `dir`, sorted; none if it does not exist.
std::vector<std::string> files_in(const std::string& dir) {
  std::vector<std::string> files;
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) files.push_back(it->path().string());
  if (ec && ec != std::errc::no_such_file_or_directory) io_fail(dir, "cannot list the state directory", ec.value());
  std::sort(files.begin(), files.end());
  return files;
}

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

}  // namespace

std::string engine_version_string() { return std::to_string(kEngineVersion); }

std::string model_fingerprint(const Model& model) { return hex64(model.fingerprint); }

SnapshotKey snapshot_key(const Model& model, const CpuInfo& cpu, std::string op_signature) {
  return {engine_version_string(), cpu.signature(), model_fingerprint(model), std::move(op_signature)};
}

std::string snapshot_key_mismatch(const SnapshotKey& found, const SnapshotKey& expected) {
  if (found.engine_version != expected.engine_version)
    return "stale engine version " + found.engine_version + " (this is " + expected.engine_version + ")";
  if (found.cpu_signature != expected.cpu_signature)
    return "foreign CPU '" + found.cpu_signature + "' (this is '" + expected.cpu_signature + "')";
  if (found.model_fingerprint != expected.model_fingerprint)
    return "other model (fingerprint " + found.model_fingerprint + ", this is " + expected.model_fingerprint + ")";
  if (found.op_signature != expected.op_signature)
    return "other op signature (" + found.op_signature + ", this is " + expected.op_signature + ")";
  return "";
}

Snapshot read_snapshot(const std::string& path) {
  std::vector<uint8_t> bytes;
  if (const int err = read_file(path, bytes)) throw InputError(path, std::string("cannot read: ") + std::strerror(err));
  return decode_snapshot(bytes, path);
}

std::optional<Snapshot> load_snapshot(const std::string& path, const SnapshotKey& expected, std::string* why) {
  auto reject = [&](std::string reason) -> std::optional<Snapshot> {
    if (why) *why = std::move(reason);
    return std::nullopt;
  };
  std::vector<uint8_t> bytes;
  try {
    if (const int err = read_file(path, bytes))
      return reject(err == ENOENT ? "no snapshot" : std::string("cannot read: ") + std::strerror(err));
    Snapshot s = decode_snapshot(bytes, path);
    if (std::string reason = snapshot_key_mismatch(s.key, expected); !reason.empty()) return reject(reason);
    return s;
  } catch (const InputError& e) {
    // InputError reads "path: problem"; the caller adds the path itself.
    const std::string what = e.what();
    return reject(what.compare(0, path.size() + 2, path + ": ") == 0 ? what.substr(path.size() + 2) : what);
  }
}

void save_snapshot_atomic(const std::string& path, const Snapshot& snapshot) {
  const std::vector<uint8_t> bytes = encode_snapshot(snapshot);
  const std::string dir = parent_of(path), temp = path + kTempSuffix;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) io_fail(dir, "cannot create the state directory", ec.value());
  {
    Fd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (fd.get() < 0) io_fail(temp, "cannot create", errno);
    try {
      write_all(fd.get(), bytes, temp);
      if (::fsync(fd.get()) != 0) io_fail(temp, "fsync failed", errno);
      if (fd.close() != 0) io_fail(temp, "close failed", errno);
    } catch (...) {
      ::unlink(temp.c_str());
      throw;
    }
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(temp.c_str());
    io_fail(path, "rename from " + temp + " failed", err);
  }
  sync_directory(dir);
}

std::string state_dir(const std::optional<std::string>& override_dir) {
  if (override_dir && !override_dir->empty()) return *override_dir;
  if (std::string s = env("BAREFLOW_STATE"); !s.empty()) return s;
  if (std::string xdg = env("XDG_CACHE_HOME"); !xdg.empty() && xdg[0] == '/') return xdg + "/bareflow";
  if (std::string home = env("HOME"); !home.empty()) return home + "/.cache/bareflow";
  return "/state";
}

std::string snapshot_path(const std::string& dir, const SnapshotKey& key) {
  return (fs::path(dir) / (key.model_fingerprint + kSnapshotExtension)).string();
}

std::vector<std::string> list_snapshots(const std::string& dir) {
  std::vector<std::string> files;
  for (const std::string& f : files_in(dir))
    if (ends_with(f, kSnapshotExtension)) files.push_back(f);
  return files;
}

int clear_snapshots(const std::string& dir) {
  int removed = 0;
  for (const std::string& f : files_in(dir)) {
    if (!ends_with(f, kSnapshotExtension) && !ends_with(f, std::string(kSnapshotExtension) + kTempSuffix)) continue;
    if (::unlink(f.c_str()) != 0) io_fail(f, "cannot remove", errno);
    ++removed;
  }
  if (removed > 0) sync_directory(dir);
  return removed;
}

}  // namespace bf
