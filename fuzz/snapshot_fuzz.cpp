// libFuzzer target for the snapshot parser (src/snapshot/format.cpp).
// Build and run: scripts/fuzz.sh snapshot (seeds: small snapshots written by make_seeds).
// Every input is decoded twice: as it is, and with its size field and checksum made
// right, since a random mutation almost never passes the checksum and would otherwise
// stop there. Whatever decodes must re-encode to the very same bytes (the format is
// canonical), and the encoder must accept it: what this engine reads, it can write.
// fuzz-sources: src/snapshot/format.cpp
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "snapshot/snapshot.h"
#include "util/error.h"
#include "util/hash.h"

namespace {

void decode_and_reencode(std::span<const uint8_t> bytes) {
  bf::Snapshot s;
  try {
    s = bf::decode_snapshot(bytes, "fuzz.bfsnap");
  } catch (const bf::InputError&) {
    return;
  }
  const std::vector<uint8_t> again = bf::encode_snapshot(s);
  if (again.size() != bytes.size() || std::memcmp(again.data(), bytes.data(), bytes.size()) != 0) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  decode_and_reencode({data, size});
  if (size >= 32) {
    std::vector<uint8_t> b(data, data + size);
    const uint64_t n = size;
    std::memcpy(b.data() + 16, &n, 8);
    const uint64_t sum = bf::fnv1a(b.data(), b.size() - 8);
    std::memcpy(b.data() + b.size() - 8, &sum, 8);
    decode_and_reencode(b);
  }
  return 0;
}
