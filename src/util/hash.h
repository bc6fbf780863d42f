// The project's one general-purpose hash: 64-bit FNV-1a. Used for the model fingerprint,
// the snapshot's checksum and mkmodel's per-tensor seeds.
//
// Why FNV-1a for a checksum: each step (xor a byte, multiply by an odd constant) is a
// bijection of the 64-bit state, so changing any single byte always changes the result;
// several changed bytes collide with probability about 2^-64. It is not cryptographic.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace bf {

inline constexpr uint64_t kFnv1aBasis = 0xcbf29ce484222325ull;

inline uint64_t fnv1a(const void* data, size_t n, uint64_t h = kFnv1aBasis) {
  auto p = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

inline uint64_t fnv1a(std::string_view s, uint64_t h = kFnv1aBasis) { return fnv1a(s.data(), s.size(), h); }

// 16 lower-case hex digits, most significant first.
inline std::string hex64(uint64_t v) {
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) s[i] = "0123456789abcdef"[v & 15];
  return s;
}

}  // namespace bf
