// The snapshot: BareFlow's persistent tuning state (FFTW's wisdom, with invalidation).
//
// One file per model in the state directory holds, per op shape class, the variant the
// tuner installed, its generator conf, weight layout, work grain and threads, its measured
// speed and optionally its machine code. The tuner (src/tune/) fills and consumes it;
// this library only encodes, checks, stores and finds it. A snapshot is used only when
// its whole key equals this run's; anything else is reported in one line and re-tuned.
//
// ---- The file format (format version kSnapshotFormat = 1) -------------------------------
// Binary, little-endian, no padding. "str" is a u32 byte count then that many bytes of
// printable ASCII (0x20..0x7e: `snapshot show` prints them as they are, one line each).
//
//   offset  size  field
//   0       8     magic "BFSNAP\r\n" (42 46 53 4e 41 50 0d 0a: a text-mode copy breaks it)
//   8       4     u32 format version (kSnapshotFormat)
//   12      4     u32 reserved, 0
//   16      8     u64 file size in bytes, checksum included
//   24      ...   key: str engine_version, str cpu_signature, str model_fingerprint, str op_signature
//           4     u32 entry count
//           ...   entries, each: str shape_class, str variant, str generator, str layout,
//                 i64 grain, i32 threads, f64 ns_per_call (IEEE-754 bits),
//                 u32 code bytes, then the code
//   size-8  8     u64 checksum: 64-bit FNV-1a (util/hash.h) of bytes [0, size-8)
//
// Bounds, checked before anything is allocated or read: strings <= kMaxSnapshotString
// bytes, code <= kMaxSnapshotCode bytes per entry, files <= kMaxSnapshotFile bytes, and
// every count and length <= the bytes left, so a file cannot make the parser allocate
// more than its own size. grain >= 0, 0 <= threads <= 4096, ns_per_call finite and >= 0.
// The encoding is canonical: reserved 0, no bytes after the last entry, so
// encode(decode(f)) == f byte for byte for every file decode accepts.
//
// Writes are atomic (save_snapshot_atomic): the bytes go to "<name>.tmp" in the same
// directory, fsync, rename over the file, fsync the directory. A crash at any moment
// leaves the old file or the new one (plus at most one .tmp, overwritten by the next
// save). Two processes saving the same model's snapshot at once may lose one save or,
// racing on the .tmp, produce a file the checksum rejects; never a wrong snapshot.
//
// File names are "<model_fingerprint>.bfsnap" (16 hex digits): a VFAT long name, which
// the unikernel's FAT16 library reads and writes (kernel/fat16/fat16.h).
//
// Bump kSnapshotFormat when the layout above changes; bump kEngineVersion
// (util/version.h) when what the fields mean changes.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace bf {

struct Model;
struct CpuInfo;

inline constexpr uint32_t kSnapshotFormat = 1;
inline constexpr uint32_t kMaxSnapshotString = 4096;
inline constexpr uint32_t kMaxSnapshotCode = 16u << 20;
inline constexpr uint64_t kMaxSnapshotFile = 256ull << 20;
inline constexpr const char* kSnapshotExtension = ".bfsnap";

// All four must equal this run's for a snapshot to be used.
struct SnapshotKey {
  std::string engine_version;     // std::to_string(kEngineVersion) (util/version.h)
  std::string cpu_signature;      // CpuInfo::signature() of the CPU kernels are chosen for
  std::string model_fingerprint;  // model_fingerprint(model)
  std::string op_signature;       // hex hash of the op shape classes (computed by the tuner)

  bool operator==(const SnapshotKey&) const = default;
};

// One op shape class's choice.
struct SnapshotEntry {
  std::string shape_class;  // e.g. "matmul q4_0 2048x5632 n1" (opaque here)
  std::string variant;      // installed variant name
  std::string generator;    // "" for fixed variants, else the generator's conf string
  std::string layout;       // weight layout the variant expects
  int64_t grain = 0;        // work units per claim
  int32_t threads = 0;
  double ns_per_call = 0;   // measured
  std::vector<uint8_t> code;  // machine code; empty when regenerating is as fast

  bool operator==(const SnapshotEntry&) const = default;
};

struct Snapshot {
  SnapshotKey key;
  std::vector<SnapshotEntry> entries;

  bool operator==(const Snapshot&) const = default;
};

// The key fields this engine fills itself.
std::string engine_version_string();              // kEngineVersion as decimal
std::string model_fingerprint(const Model& model);  // hex64(model.fingerprint) (model/model.h says what it covers)
SnapshotKey snapshot_key(const Model& model, const CpuInfo& cpu, std::string op_signature);

// The file bytes (format above). Throws std::invalid_argument if a field breaks a bound
// (a string too long or not printable ASCII, code too large, threads out of range, ...):
// a snapshot this engine writes must be one it can read back.
std::vector<uint8_t> encode_snapshot(const Snapshot& snapshot);

// Parses and checks a whole file. Throws InputError(path, problem) with one line, e.g.
// "truncated at byte 57 (the header says 120)", "checksum mismatch", "bad magic".
Snapshot decode_snapshot(std::span<const uint8_t> bytes, const std::string& path);

// Reads `path` and compares its key with `expected`. Returns nullopt and sets *why (if
// not null) to one line without the path when it must not be used: "no snapshot",
// "stale engine version 3 (this is 4)", "foreign CPU '...' (this is '...')",
// "other model (fingerprint ..., this is ...)", "other op signature (..., this is ...)",
// or a decode problem ("truncated at byte N ...", "checksum mismatch", ...).
std::optional<Snapshot> load_snapshot(const std::string& path, const SnapshotKey& expected, std::string* why);

// The first field of `found` that differs from `expected`, as load_snapshot words it
// ("stale engine version 3 (this is 4)", ...); "" when the keys are equal.
std::string snapshot_key_mismatch(const SnapshotKey& found, const SnapshotKey& expected);

// Reads and decodes `path` without comparing keys (for `bareflow snapshot show|verify`).
// Throws InputError with one line.
Snapshot read_snapshot(const std::string& path);

// Writes atomically (see above), creating the directory (mkdir -p) if needed. Throws
// std::runtime_error with one line "path: what failed: reason" on an I/O error.
void save_snapshot_atomic(const std::string& path, const Snapshot& snapshot);

// The state directory: `override_dir` (--state DIR), else $BAREFLOW_STATE, else
// $XDG_CACHE_HOME/bareflow (when absolute, as the XDG spec asks), else $HOME/.cache/bareflow,
// else "/state" (the unikernel passes no HOME; its FAT16 disk has /state, and its boot.cfg
// may also say "env BAREFLOW_STATE=/state"). Nothing is created here; saving creates it.
std::string state_dir(const std::optional<std::string>& override_dir);

// "<dir>/<model_fingerprint>.bfsnap": one snapshot per model, replaced when the CPU,
// engine or ops change.
std::string snapshot_path(const std::string& dir, const SnapshotKey& key);

// The snapshot files in `dir` (names ending in .bfsnap), sorted; empty if `dir` is missing.
// Throws std::runtime_error with one line if it cannot be listed.
std::vector<std::string> list_snapshots(const std::string& dir);

// Removes every snapshot in `dir` and leftover temporary files ("*.bfsnap.tmp"); returns
// how many files were removed. Throws std::runtime_error with one line on failure.
int clear_snapshots(const std::string& dir);

}  // namespace bf
