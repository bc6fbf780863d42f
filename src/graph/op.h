// Op instances: one node of the forward pass with its shapes, weights and buffers
// fixed at graph build time, and one dispatch slot holding the implementation that
// currently runs it. Swapping an implementation is writing one slot.
#pragma once
#include <cstdint>
#include <string>

#include "model/model.h"

namespace bf {

class ThreadPool;

enum class OpKind : uint8_t { Embed, RmsNorm, Matvec, Rope, Attention, SwiGLU, Add };
const char* op_kind_name(OpKind k);

// What changes from one call to the next: everything else is in the instance.
struct StepArgs {
  int token;
  int pos;
};

struct OpInstance;
using KernelFn = void (*)(const OpInstance& op, const StepArgs& step);

struct DispatchSlot {
  KernelFn fn = nullptr;
  const char* variant = "";  // name of the implementation now installed
  uint64_t calls = 0;
  uint64_t cycles = 0;       // TSC cycles spent in fn, summed over calls
};

struct OpInstance {
  OpKind kind = OpKind::Add;
  std::string name;  // e.g. "blk.3.attn_q"
  int layer = -1;    // -1 outside the layer stack

  const Tensor* weight = nullptr;  // Matvec, Embed: the matrix; RmsNorm: the norm vector
  float* out = nullptr;
  const float* in = nullptr;
  const float* in2 = nullptr;  // SwiGLU: up; Attention: value source

  int64_t rows = 0;  // Matvec/Embed: output length; RmsNorm/SwiGLU/Add: vector length
  int64_t cols = 0;  // Matvec: input length

  // Attention and RoPE.
  const ModelConfig* config = nullptr;
  float* q = nullptr;  // RoPE: rotated in place together with k
  float* k = nullptr;
  float* key_cache = nullptr;    // this layer's [seq][kv_dim]
  float* value_cache = nullptr;
  float* scores = nullptr;       // n_heads * seq scratch

  ThreadPool* pool = nullptr;
  DispatchSlot slot;

  // Bytes of weights and activations one call streams (for the profiler's bandwidth figures).
  uint64_t bytes_per_call(const StepArgs& step) const;
};

// Reads the time-stamp counter: the profiler's clock (no system call on the hot path).
inline uint64_t read_tsc() {
#if defined(__x86_64__)
  return __builtin_ia32_rdtsc();
#else
  return 0;
#endif
}

// Runs one op through its slot and charges the call to it.
inline void run(OpInstance& op, const StepArgs& step) {
  uint64_t t0 = read_tsc();
  op.slot.fn(op, step);
  op.slot.cycles += read_tsc() - t0;
  ++op.slot.calls;
}

}  // namespace bf
