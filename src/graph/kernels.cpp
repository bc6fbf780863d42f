#include "graph/kernels.h"

#include <algorithm>

#include "kernels/avx2.h"
#include "kernels/reference.h"
#include "util/error.h"
#include "threads/pool.h"

namespace bf {
namespace {

// A hand-off to another thread costs about a microsecond: give each chunk at least
// this many multiply-adds so small matrices stay on one thread.
constexpr int64_t kMinChunkWork = 1 << 15;

int64_t row_grain(const OpInstance& op) { return std::max<int64_t>(4, kMinChunkWork / std::max<int64_t>(op.cols, 1)); }

void embed(const OpInstance& op, const StepArgs& s) { ref::embed(*op.weight, s.token, op.out); }

void rmsnorm(const OpInstance& op, const StepArgs&) {
  ref::rmsnorm(op.in, op.weight->f32(), op.out, static_cast<int>(op.rows), op.config->norm_eps);
}

void rope(const OpInstance& op, const StepArgs& s) {
  const ModelConfig& c = *op.config;
  ref::rope(op.q, op.k, s.pos, c.n_heads, c.n_kv_heads, c.head_size(), c.rope_dim, c.rope_base);
}

void add(const OpInstance& op, const StepArgs&) { ref::add(op.out, op.in, static_cast<int>(op.rows)); }

ref::AttentionShape attention_shape(const ModelConfig& c) { return {c.n_heads, c.n_kv_heads, c.head_size(), c.kv_dim()}; }

// The new key and value enter the cache at `pos` before the heads attend to 0..pos.
void store_kv(const OpInstance& op, const StepArgs& s) {
  const int kv_dim = op.config->kv_dim();
  std::copy(op.k, op.k + kv_dim, op.key_cache + static_cast<int64_t>(s.pos) * kv_dim);
  std::copy(op.in2, op.in2 + kv_dim, op.value_cache + static_cast<int64_t>(s.pos) * kv_dim);
}

void matvec_ref(const OpInstance& op, const StepArgs&) { ref::matvec(*op.weight, op.in, op.out, 0, op.rows); }

void matvec_mt(const OpInstance& op, const StepArgs&) {
  op.pool->parallel_for(op.rows, row_grain(op), [&](int64_t b, int64_t e) { ref::matvec(*op.weight, op.in, op.out, b, e); });
}

void matvec_avx2(const OpInstance& op, const StepArgs&) {
  op.pool->parallel_for(op.rows, row_grain(op), [&](int64_t b, int64_t e) { avx2::matvec(*op.weight, op.in, op.out, b, e); });
}

void attention_ref(const OpInstance& op, const StepArgs& s) {
  store_kv(op, s);
  ref::attention(attention_shape(*op.config), op.q, op.key_cache, op.value_cache, s.pos, op.scores, op.out, 0,
                 op.config->n_heads);
}

void attention_mt(const OpInstance& op, const StepArgs& s) {
  store_kv(op, s);
  auto shape = attention_shape(*op.config);
  int64_t per_head = 2ll * (s.pos + 1) * shape.head_size;
  op.pool->parallel_for(op.config->n_heads, std::max<int64_t>(1, kMinChunkWork / per_head), [&](int64_t b, int64_t e) {
    ref::attention(shape, op.q, op.key_cache, op.value_cache, s.pos, op.scores, op.out, static_cast<int>(b),
                   static_cast<int>(e));
  });
}

void swiglu_ref(const OpInstance& op, const StepArgs&) { ref::swiglu(op.out, op.in2, 0, op.rows); }

void swiglu_mt(const OpInstance& op, const StepArgs&) {
  op.pool->parallel_for(op.rows, 4096, [&](int64_t b, int64_t e) { ref::swiglu(op.out, op.in2, b, e); });
}

}  // namespace

const char* tier_name(Tier tier) {
  switch (tier) {
    case Tier::Reference: return "ref";
    case Tier::Parallel: return "ref-mt";
    case Tier::Avx2: return "avx2-mt";
  }
  return "?";
}

Tier best_tier(const std::string& max_isa) {
  if (max_isa != "" && max_isa != "sse2" && max_isa != "avx2")
    throw InputError("--max-isa", "unknown ISA '" + max_isa + "' (sse2 or avx2)");
  if (max_isa != "sse2" && avx2::supported()) return Tier::Avx2;
  return Tier::Parallel;
}

KernelFn portable_kernel(OpKind kind, Tier tier) {
  bool mt = tier != Tier::Reference;
  switch (kind) {
    case OpKind::Embed: return embed;
    case OpKind::RmsNorm: return rmsnorm;
    case OpKind::Matvec: return tier == Tier::Avx2 ? matvec_avx2 : mt ? matvec_mt : matvec_ref;
    case OpKind::Rope: return rope;
    case OpKind::Attention: return mt ? attention_mt : attention_ref;
    case OpKind::SwiGLU: return mt ? swiglu_mt : swiglu_ref;
    case OpKind::Add: return add;
  }
  return nullptr;
}

}  // namespace bf
