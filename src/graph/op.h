// Op instances: one node of the forward pass with its shapes, weights and buffers
// fixed at graph build time, the kernel variant installed in it, and the arguments
// that variant is called with. Swapping an implementation is installing another
// variant; running an op is one call of the runner below.
#pragma once
#include <cstdint>
#include <string>

#include "kernels/variant.h"
#include "model/model.h"

namespace bf {

class ThreadPool;

// The argument struct of the op's kind (kernels/contract.h), passed to the kernel by address.
union OpArgs {
  EmbedArgs embed;
  RmsNormArgs rmsnorm;
  QuantizeArgs quantize;
  MatmulArgs matmul;
  RopeArgs rope;
  KvStoreArgs kv_store;
  AttentionArgs attention;
  SwiGLUArgs swiglu;
  AddArgs add;
};

struct OpInstance {
  OpKind kind = OpKind::Add;
  std::string name;  // e.g. "blk.3.attn_q"
  int layer = -1;    // -1 outside the layer stack

  const TensorView* weight = nullptr;  // Matmul, Embed: the matrix in the file's layout
  int64_t rows = 0;   // Matmul: output length; per-token ops: row length; SwiGLU/Add: elements per token
  int64_t cols = 0;   // Matmul: input length
  // Only the chunk's last token goes through this op (the final norm and the classifier:
  // a prompt needs the logits of its last position only).
  bool last_token_only = false;
  // A Quantize op runs only when one of its consumers' variants reads 8-bit input.
  bool enabled = true;

  OpArgs args{};
  // Where a last-token-only op finds row 0 of its buffers (args are moved to row n-1).
  const float* in_base = nullptr;
  float* out_base = nullptr;

  const Variant* variant = nullptr;  // installed implementation
  PackedWeight packed;               // the weight in variant->layout, when that is not "native"
  Split split;                       // this instance's split (from the variant, then tuned)
  ThreadPool* pool = nullptr;

  // Profiler counters of this instance (every call, whichever slot ran it). Calls are
  // always counted; cycles only while `timed` for the call's regime ([0] one-token
  // calls, [1] prompt chunks), which a tuner clears once the instance's class of that
  // regime settled and nobody asked for a profile: then nothing reads them.
  bool timed[2] = {true, true};
  uint64_t calls = 0;
  uint64_t cycles = 0;       // TSC cycles in the runner, summed over timed calls
  uint64_t last_cycles = 0;  // of the latest call
  uint64_t tokens_run = 0;   // tokens over all calls (a prompt chunk's call counts its tokens)

  // One-token calls (token steps) may run a variant of their own, e.g. a matvec
  // generated for exactly this shape. Invariant: step.variant, when set, reads the same
  // weight layout and input as `variant`, so switching between them moves no data.
  struct StepSlot {
    const Variant* variant = nullptr;
    Split split;
    uint64_t calls = 0, cycles = 0;  // the calls this slot ran
  } step;

  // The forward pass calls its watcher (the tuner) after every call of a watched op:
  // set only while the tuner times or verifies this instance, never once it settled.
  bool watched = false;

  // Tokens of the bound call (1 for a last-token-only op).
  int tokens() const;

  // Work units of one call for the current chunk, after bind().
  int64_t units() const;
  // Bytes of weights and activations one call streams (profiler bandwidth figures).
  uint64_t bytes_per_call() const;
  // Multiply-adds of one call (Matmul; 0 otherwise).
  uint64_t macs_per_call() const;
};

// Reads the time-stamp counter: the profiler's clock (no system call on the hot path).
inline uint64_t read_tsc() {
#if defined(__x86_64__)
  return __builtin_ia32_rdtsc();
#else
  return 0;
#endif
}

// Sets the per-chunk fields of op's arguments: n_tokens tokens at positions pos0.. .
void bind(OpInstance& op, int n_tokens, int pos0);

// Runs one op over the pool with its split and charges the call to the instance and
// to its variant.
void run(OpInstance& op);

}  // namespace bf
