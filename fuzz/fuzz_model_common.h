// Shared by the model fuzz targets: loading bytes through a real path (load_model takes
// a path), and the invariants a loaded model must hold. Test-only; not part of the engine.
#pragma once
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "kernels/dtype.h"
#include "model/model.h"
#include "util/error.h"

namespace fuzz_model {

// One memfd reused for every input; "/proc/self/fd/N" opens it as a regular file.
inline const std::string& input_path(const uint8_t* data, size_t size) {
  static int fd = memfd_create("bareflow_fuzz_model", MFD_CLOEXEC);
  static std::string path = "/proc/self/fd/" + std::to_string(fd);
  if (fd < 0 || ftruncate(fd, 0) != 0) __builtin_trap();
  size_t done = 0;
  while (done < size) {
    ssize_t n = pwrite(fd, data + done, size - done, static_cast<off_t>(done));
    if (n <= 0) __builtin_trap();
    done += static_cast<size_t>(n);
  }
  return path;
}

// True when [p, p + n) lies inside the mapped file or one of the model's own buffers.
inline bool inside(const bf::Model& m, const void* p, size_t n) {
  auto b = static_cast<const uint8_t*>(p);
  const uint8_t* lo = m.file.data();
  if (lo && b >= lo && b <= lo + m.file.size() && n <= static_cast<size_t>(lo + m.file.size() - b)) return true;
  for (auto& o : m.owned) {
    auto ob = reinterpret_cast<const uint8_t*>(o.data());
    size_t on = o.size() * sizeof(float);
    if (b >= ob && b <= ob + on && n <= static_cast<size_t>(ob + on - b)) return true;
  }
  return false;
}

inline void check_tensor(const bf::Model& m, const bf::Tensor& t) {
  if (t.rows <= 0 || t.cols <= 0) __builtin_trap();
  size_t values = bf::row_bytes(t.type, t.cols) * static_cast<size_t>(t.rows);
  if (values == 0 || !inside(m, t.data, values)) __builtin_trap();
  if (t.type == bf::DType::I8G) {
    if (t.group <= 0 || t.cols % t.group) __builtin_trap();
    if (!inside(m, t.scales, static_cast<size_t>(t.rows * (t.cols / t.group)) * 4)) __builtin_trap();
  }
  // Touch both ends, so a view past a mapping faults here rather than in a kernel later.
  volatile uint8_t sink = t.data[0];
  sink = t.data[values - 1];
  (void)sink;
}

// Every invariant the forward pass relies on.
inline void check_model(const bf::Model& m) {
  const bf::ModelConfig& c = m.config;
  if (c.dim <= 0 || c.n_heads <= 0 || c.n_kv_heads <= 0 || c.dim % c.n_heads || c.n_heads % c.n_kv_heads) __builtin_trap();
  if (static_cast<int>(m.layers.size()) != c.n_layers || c.vocab_size <= 0 || c.seq_len <= 0) __builtin_trap();
  if (c.rope_dim <= 0 || c.rope_dim > c.head_size() || c.rope_dim % 2) __builtin_trap();
  auto shape = [&](const bf::Tensor& t, int64_t rows, int64_t cols) {
    if (t.rows != rows || t.cols != cols) __builtin_trap();
    check_tensor(m, t);
  };
  shape(m.token_embedding, c.vocab_size, c.dim);
  for (auto& l : m.layers) {
    shape(l.attn_norm, 1, c.dim);
    shape(l.ffn_norm, 1, c.dim);
    shape(l.wq, c.dim, c.dim);
    shape(l.wk, c.kv_dim(), c.dim);
    shape(l.wv, c.kv_dim(), c.dim);
    shape(l.wo, c.dim, c.dim);
    shape(l.w1, c.hidden_dim, c.dim);
    shape(l.w2, c.dim, c.hidden_dim);
    shape(l.w3, c.hidden_dim, c.dim);
  }
  shape(m.final_norm, 1, c.dim);
  shape(m.classifier, c.vocab_size, c.dim);
  if (m.vocab && static_cast<int>(m.vocab->pieces.size()) != c.vocab_size) __builtin_trap();
}

// Loads the input from a path: it loads and holds every invariant, or throws an
// InputError naming the path. Any other exception escapes and libFuzzer reports it.
inline void load_and_check(const uint8_t* data, size_t size) {
  const std::string& path = input_path(data, size);
  try {
    auto m = bf::load_model(path);
    check_model(*m);
  } catch (const bf::InputError& e) {
    if (std::strncmp(e.what(), path.c_str(), path.size()) != 0 || e.what()[path.size()] != ':') __builtin_trap();
  }
}

}  // namespace fuzz_model
