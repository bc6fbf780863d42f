#include "graph/op.h"

#include <algorithm>

#include "threads/pool.h"

namespace bf {

int64_t OpInstance::units() const {
  switch (kind) {
    case OpKind::Embed: return args.embed.n_tokens;
    case OpKind::RmsNorm: return args.rmsnorm.n_tokens;
    case OpKind::Quantize: return args.quantize.n_tokens;
    case OpKind::Matmul: return args.matmul.rows;
    case OpKind::Rope: return args.rope.n_tokens;
    case OpKind::KvStore: return args.kv_store.n_tokens;
    case OpKind::Attention: return args.attention.n_heads;
    case OpKind::SwiGLU: return args.swiglu.n;
    case OpKind::Add: return args.add.n;
  }
  return 0;
}

namespace {
int tokens_of(const OpInstance& op);
}

int OpInstance::tokens() const { return tokens_of(*this); }

namespace {
int tokens_of(const OpInstance& op) {
  switch (op.kind) {
    case OpKind::Embed: return op.args.embed.n_tokens;
    case OpKind::RmsNorm: return op.args.rmsnorm.n_tokens;
    case OpKind::Quantize: return op.args.quantize.n_tokens;
    case OpKind::Matmul: return op.args.matmul.n_tokens;
    case OpKind::Rope: return op.args.rope.n_tokens;
    case OpKind::KvStore: return op.args.kv_store.n_tokens;
    case OpKind::Attention: return op.args.attention.n_tokens;
    case OpKind::SwiGLU: return static_cast<int>(op.args.swiglu.n / std::max<int64_t>(op.rows, 1));
    case OpKind::Add: return static_cast<int>(op.args.add.n / std::max<int64_t>(op.rows, 1));
  }
  return 1;
}
}  // namespace

uint64_t OpInstance::bytes_per_call() const {
  const uint64_t n = static_cast<uint64_t>(tokens_of(*this));
  switch (kind) {
    case OpKind::Matmul: return (packed.bytes ? packed.bytes : weight->bytes) + 4 * n * static_cast<uint64_t>(cols + rows);
    case OpKind::Embed: return n * (weight->bytes / static_cast<uint64_t>(weight->rows) + 4 * static_cast<uint64_t>(rows));
    case OpKind::Attention: {
      const AttentionArgs& a = args.attention;
      const uint64_t positions = n * static_cast<uint64_t>(a.pos0) + n * (n + 1) / 2;
      return 2ull * kv_element_bytes(a.kv_type) * positions * static_cast<uint64_t>(a.kv_dim);
    }
    default: return 4ull * 3 * n * static_cast<uint64_t>(rows);
  }
}

uint64_t OpInstance::macs_per_call() const {
  if (kind != OpKind::Matmul) return 0;
  return static_cast<uint64_t>(args.matmul.n_tokens) * static_cast<uint64_t>(rows) * static_cast<uint64_t>(cols);
}

void bind(OpInstance& op, int n, int pos0) {
  if (op.last_token_only) {
    // The last row of the chunk's buffers becomes row 0 of a one-token call.
    const int64_t in_row = op.kind == OpKind::Matmul ? op.cols : op.rows;
    const int64_t last = n - 1;
    switch (op.kind) {
      case OpKind::RmsNorm:
        op.args.rmsnorm.x = op.in_base + last * in_row;
        op.args.rmsnorm.out = op.out_base + last * in_row;
        break;
      case OpKind::Quantize:
        op.args.quantize.x = op.in_base + last * in_row;
        break;
      case OpKind::Matmul:
        op.args.matmul.x = op.in_base + last * in_row;
        break;
      default: break;
    }
    n = 1;
  }
  switch (op.kind) {
    case OpKind::Embed: op.args.embed.n_tokens = n; break;
    case OpKind::RmsNorm: op.args.rmsnorm.n_tokens = n; break;
    case OpKind::Quantize: op.args.quantize.n_tokens = n; break;
    case OpKind::Matmul: op.args.matmul.n_tokens = n; break;
    case OpKind::Rope:
      op.args.rope.n_tokens = n;
      op.args.rope.pos0 = pos0;
      break;
    case OpKind::KvStore:
      op.args.kv_store.n_tokens = n;
      op.args.kv_store.pos0 = pos0;
      break;
    case OpKind::Attention:
      op.args.attention.n_tokens = n;
      op.args.attention.pos0 = pos0;
      break;
    case OpKind::SwiGLU: op.args.swiglu.n = n * op.rows; break;
    case OpKind::Add: op.args.add.n = n * op.rows; break;
  }
}

namespace {
// A hand-off to another thread costs about a microsecond: give each chunk at least
// this much work (multiply-adds or element operations) so small ops stay on one thread.
constexpr int64_t kMinChunkWork = 1 << 15;

int64_t work_per_unit(const OpInstance& op) {
  switch (op.kind) {
    case OpKind::Matmul: return std::max<int64_t>(1, op.cols * op.args.matmul.n_tokens);
    case OpKind::Attention: {
      const AttentionArgs& a = op.args.attention;
      return std::max<int64_t>(1, 2ll * a.head_size * a.n_tokens * (a.pos0 + a.n_tokens));
    }
    case OpKind::SwiGLU:
    case OpKind::Add: return 4;
    default: return std::max<int64_t>(1, op.rows * 4);
  }
}

// Chunks of at least the split's grain (the variant's row interleave), enough work each,
// and boundaries on multiples of that grain.
int64_t grain_of(const OpInstance& op, const Split& split) {
  const int64_t align = std::max<int64_t>(1, split.grain);
  int64_t g = std::max<int64_t>(align, kMinChunkWork / work_per_unit(op));
  return (g + align - 1) / align * align;
}
}  // namespace

void run(OpInstance& op) {
  const int tokens = tokens_of(op);
  const bool timed = op.timed[tokens == 1 ? 0 : 1];
  const uint64_t t0 = timed ? read_tsc() : 0;
  const bool in_step_slot = op.step.variant && tokens == 1;
  const Variant& v = in_step_slot ? *op.step.variant : *op.variant;
  const Split& split = in_step_slot ? op.step.split : op.split;
  const KernelFn fn = v.fn;
  const void* args = &op.args;
  const int64_t units = op.units();
  if (split.threads == 1)
    fn(args, 0, units);
  else
    op.pool->parallel_for(units, grain_of(op, split), [fn, args](int64_t b, int64_t e) { fn(args, b, e); });
  ++op.calls;
  op.tokens_run += static_cast<uint64_t>(tokens);
  if (in_step_slot) ++op.step.calls;
  ++v.calls;
  if (!timed) return;
  const uint64_t dt = read_tsc() - t0;
  op.cycles += dt;
  op.last_cycles = dt;
  if (in_step_slot) op.step.cycles += dt;
  v.cycles += dt;
}

}  // namespace bf
