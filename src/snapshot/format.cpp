// The snapshot file format (described in snapshot.h): encoder and bounds-checked decoder.
#include <bit>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "snapshot/snapshot.h"
#include "util/byte_reader.h"
#include "util/error.h"
#include "util/hash.h"

namespace bf {
namespace {

static_assert(std::endian::native == std::endian::little, "the snapshot is stored little-endian, as x86-64 is");

constexpr char kMagic[8] = {'B', 'F', 'S', 'N', 'A', 'P', '\r', '\n'};
constexpr size_t kHeaderBytes = 24, kChecksumBytes = 8;
constexpr int32_t kMaxThreads = 4096;
// The fewest bytes one entry can take: four empty strings, grain, threads, ns, code length.
constexpr size_t kMinEntryBytes = 4 * 4 + 8 + 4 + 8 + 4;

// The rules every string field follows, for the encoder and the decoder alike; nullptr if it does.
const char* string_problem(const std::string& s) {
  if (s.size() > kMaxSnapshotString) return "is longer than 4096 bytes";
  for (unsigned char c : s)
    if (c < 0x20 || c > 0x7e) return "is not printable ASCII";
  return nullptr;
}

// The rules for an entry's numbers, for the encoder and the decoder alike; "" if it follows them.
std::string entry_problem(const SnapshotEntry& e) {
  if (e.grain < 0) return "negative grain " + std::to_string(e.grain);
  if (e.threads < 0 || e.threads > kMaxThreads) return "thread count " + std::to_string(e.threads) + " out of range";
  if (!std::isfinite(e.ns_per_call) || e.ns_per_call < 0) return "ns_per_call is not a finite non-negative number";
  if (e.code.size() > kMaxSnapshotCode) return "code length " + std::to_string(e.code.size()) + " exceeds 16 MiB";
  return "";
}

// ---- encoding

class Writer {
 public:
  template <typename T>
  void put(T v) {
    uint8_t b[sizeof v];
    std::memcpy(b, &v, sizeof v);
    out_.insert(out_.end(), b, b + sizeof v);
  }
  void bytes(const void* p, size_t n) { out_.insert(out_.end(), static_cast<const uint8_t*>(p), static_cast<const uint8_t*>(p) + n); }
  void str(const std::string& s, const char* field) {
    if (const char* problem = string_problem(s)) throw std::invalid_argument(std::string("snapshot ") + field + " " + problem);
    put(static_cast<uint32_t>(s.size()));
    bytes(s.data(), s.size());
  }
  std::vector<uint8_t>& out() { return out_; }

 private:
  std::vector<uint8_t> out_;
};

// ---- decoding

// A problem found in the bytes; decode_snapshot turns it into InputError(path, problem).
struct Bad {
  std::string problem;
};

// Reads fields in order from bytes [begin, end) (util/byte_reader.h).
class Reader : public ByteReader {
 public:
  Reader(std::span<const uint8_t> bytes, size_t begin, size_t end) : ByteReader(bytes.data(), begin, end) {}
  size_t left() const { return remaining(); }

  std::string str(const char* what) {
    const size_t at = pos();
    const uint32_t n = get<uint32_t>(what);
    if (n > kMaxSnapshotString)
      throw Bad{std::string(what) + " length " + std::to_string(n) + " at byte " + std::to_string(at) + " exceeds 4096"};
    std::string s = take_string(n, what);
    if (const char* problem = string_problem(s)) throw Bad{std::string(what) + " at byte " + std::to_string(at) + " " + problem};
    return s;
  }
  std::vector<uint8_t> blob(uint32_t n, const char* what) {
    need(n, what);
    std::vector<uint8_t> v(here(), here() + n);
    skip(n, what);
    return v;
  }

 private:
  [[noreturn]] void shortfall(uint64_t n, const char* what) const override {
    throw Bad{std::string(what) + " at byte " + std::to_string(pos()) + " needs " + std::to_string(n) + " bytes, " +
              std::to_string(remaining()) + " left"};
  }
};

SnapshotEntry read_entry(Reader& r) {
  SnapshotEntry e;
  e.shape_class = r.str("shape class");
  e.variant = r.str("variant");
  e.generator = r.str("generator");
  e.layout = r.str("layout");
  e.grain = r.get<int64_t>("grain");
  e.threads = r.get<int32_t>("threads");
  e.ns_per_call = r.get<double>("ns_per_call");
  const uint32_t code = r.get<uint32_t>("code length");
  if (code > kMaxSnapshotCode)  // before anything is allocated for it
    throw Bad{"entry '" + e.shape_class + "': code length " + std::to_string(code) + " exceeds 16 MiB"};
  e.code = r.blob(code, "code");
  if (std::string problem = entry_problem(e); !problem.empty()) throw Bad{"entry '" + e.shape_class + "': " + problem};
  return e;
}

// Checks the frame (magic, version, size, checksum), then parses the body.
Snapshot decode(std::span<const uint8_t> b) {
  if (b.size() < kHeaderBytes + kChecksumBytes)
    throw Bad{"truncated at byte " + std::to_string(b.size()) + " (a snapshot has at least 32)"};
  if (std::memcmp(b.data(), kMagic, sizeof kMagic) != 0) throw Bad{"not a snapshot (bad magic)"};
  Reader head(b, sizeof kMagic, kHeaderBytes);
  const uint32_t format = head.get<uint32_t>("format version");
  if (format != kSnapshotFormat)
    throw Bad{"snapshot format " + std::to_string(format) + " (this engine reads " + std::to_string(kSnapshotFormat) + ")"};
  if (head.get<uint32_t>("reserved") != 0) throw Bad{"reserved header field is not 0"};
  const uint64_t size = head.get<uint64_t>("file size");
  if (size < b.size()) throw Bad{"file is " + std::to_string(b.size()) + " bytes, the header says " + std::to_string(size)};
  if (size > b.size()) throw Bad{"truncated at byte " + std::to_string(b.size()) + " (the header says " + std::to_string(size) + ")"};
  const size_t body_end = b.size() - kChecksumBytes;
  uint64_t stored;
  std::memcpy(&stored, b.data() + body_end, sizeof stored);
  if (fnv1a(b.data(), body_end) != stored) throw Bad{"checksum mismatch"};

  Reader r(b, kHeaderBytes, body_end);
  Snapshot s;
  s.key.engine_version = r.str("engine version");
  s.key.cpu_signature = r.str("CPU signature");
  s.key.model_fingerprint = r.str("model fingerprint");
  s.key.op_signature = r.str("op signature");
  const uint32_t count = r.get<uint32_t>("entry count");
  if (count > r.left() / kMinEntryBytes)
    throw Bad{"entry count " + std::to_string(count) + " does not fit in the " + std::to_string(r.left()) + " bytes left"};
  s.entries.reserve(count);
  for (uint32_t i = 0; i < count; ++i) s.entries.push_back(read_entry(r));
  if (r.left() != 0) throw Bad{std::to_string(r.left()) + " unexpected bytes after the last entry at byte " + std::to_string(r.pos())};
  return s;
}

}  // namespace

std::vector<uint8_t> encode_snapshot(const Snapshot& s) {
  Writer w;
  w.bytes(kMagic, sizeof kMagic);
  w.put<uint32_t>(kSnapshotFormat);
  w.put<uint32_t>(0);
  w.put<uint64_t>(0);  // file size, patched below
  w.str(s.key.engine_version, "engine version");
  w.str(s.key.cpu_signature, "CPU signature");
  w.str(s.key.model_fingerprint, "model fingerprint");
  w.str(s.key.op_signature, "op signature");
  w.put<uint32_t>(static_cast<uint32_t>(s.entries.size()));
  for (const SnapshotEntry& e : s.entries) {
    if (std::string problem = entry_problem(e); !problem.empty())
      throw std::invalid_argument("snapshot entry '" + e.shape_class + "': " + problem);
    w.str(e.shape_class, "shape class");
    w.str(e.variant, "variant");
    w.str(e.generator, "generator");
    w.str(e.layout, "layout");
    w.put<int64_t>(e.grain);
    w.put<int32_t>(e.threads);
    w.put<double>(e.ns_per_call);
    w.put<uint32_t>(static_cast<uint32_t>(e.code.size()));
    w.bytes(e.code.data(), e.code.size());
  }
  std::vector<uint8_t>& out = w.out();
  const uint64_t size = out.size() + kChecksumBytes;
  if (size > kMaxSnapshotFile) throw std::invalid_argument("snapshot larger than 256 MiB");
  std::memcpy(out.data() + 16, &size, sizeof size);
  w.put<uint64_t>(fnv1a(out.data(), out.size()));
  return std::move(out);
}

Snapshot decode_snapshot(std::span<const uint8_t> bytes, const std::string& path) {
  try {
    return decode(bytes);
  } catch (const Bad& bad) {
    throw InputError(path, bad.problem);
  }
}

}  // namespace bf
