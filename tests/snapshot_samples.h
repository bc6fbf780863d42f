// Two fixed snapshots, A and B, shared by snapshot_test.cpp and the snapshot_writer helper
// it kills mid-write (same model, other op signature). They differ in every entry and in
// size, and carry enough code bytes that a save spans many write() calls.
#pragma once
#include <cstdint>
#include <string>

#include "snapshot/snapshot.h"

namespace bf::test {

inline Snapshot sample_snapshot(char which, size_t code_bytes = 256 * 1024) {
  const bool a = which == 'A';
  Snapshot s;
  s.key = {"1", "GenuineIntel 6.143.8 avx512vnni+amxint8 xcr0=0x602e7", a ? "00112233aabbccdd" : "00112233aabbccdd",
           a ? "op-signature-a" : "op-signature-b"};
  const char* classes[] = {"matmul q4_0 2048x5632 n1", "matmul q8_0 5632x2048 n1", "attention f16 h32 kv4 d64"};
  for (int i = 0; i < 3; ++i) {
    SnapshotEntry e;
    e.shape_class = classes[i];
    e.variant = std::string(a ? "matmul.q4_0.avx2.r8" : "jit.matvec.avx512") + "." + std::to_string(i);
    e.generator = a ? "" : "rows=16 unroll=4 kblock=256 prefetch=512";
    e.layout = a ? "r8" : "r16";
    e.grain = a ? 8 + i : 16 * (i + 1);
    e.threads = a ? 2 : 1 + i;
    e.ns_per_call = a ? 1234.5 + i : 987.25 * (i + 1);
    e.code.resize(i == 1 ? code_bytes + (a ? 0 : 4099) : 100 + i);
    for (size_t k = 0; k < e.code.size(); ++k) e.code[k] = static_cast<uint8_t>((k * 131 + i + (a ? 7 : 91)) >> 1);
    s.entries.push_back(std::move(e));
  }
  return s;
}

}  // namespace bf::test
