#include "graph/forward.h"

#include <algorithm>

namespace bf {

RunState::RunState(const ModelConfig& c, int context)
    : x(c.dim),
      xb(c.dim),
      xb2(c.dim),
      hb(c.hidden_dim),
      hb2(c.hidden_dim),
      q(c.dim),
      k(c.kv_dim()),
      v(c.kv_dim()),
      scores(static_cast<size_t>(c.n_heads) * context),
      logits(c.vocab_size),
      key_cache(static_cast<size_t>(c.n_layers) * context * c.kv_dim()),
      value_cache(static_cast<size_t>(c.n_layers) * context * c.kv_dim()) {}

namespace {
// Without an explicit context, allocate at most this many positions: a file that claims
// a context of millions must not make the KV cache swallow the machine.
constexpr int kDefaultContextCap = 8192;

int context_of(const Model& m, const ForwardOptions& o) {
  return std::min(o.context > 0 ? o.context : kDefaultContextCap, m.config.seq_len);
}
}  // namespace

Forward::Forward(const Model& model, const ForwardOptions& options)
    : model_(model),
      config_(model.config),
      context_(context_of(model, options)),
      pool_(std::max(1, options.threads)),
      s_(model.config, context_) {
  embed_ = vector_op(OpKind::Embed, "token_embd", -1, config_.dim);
  embed_.weight = &model_.token_embedding;
  embed_.out = s_.x.data();
  for (int l = 0; l < config_.n_layers; ++l) build_layer(l);
  final_norm_ = rmsnorm("output_norm", -1, model_.final_norm, s_.x.data(), s_.x.data());
  classifier_ = matvec("output", -1, model_.classifier, s_.x.data(), s_.logits.data());
  collect_ops();
  install(options.tier);
}

OpInstance Forward::vector_op(OpKind kind, const std::string& name, int layer, int64_t n) {
  OpInstance op;
  op.kind = kind;
  op.name = name;
  op.layer = layer;
  op.rows = n;
  op.config = &config_;
  op.pool = &pool_;
  return op;
}

OpInstance Forward::matvec(const std::string& name, int layer, const Tensor& w, const float* in, float* out) {
  OpInstance op = vector_op(OpKind::Matvec, name, layer, w.rows);
  op.cols = w.cols;
  op.weight = &w;
  op.in = in;
  op.out = out;
  return op;
}

OpInstance Forward::rmsnorm(const std::string& name, int layer, const Tensor& w, const float* in, float* out) {
  OpInstance op = vector_op(OpKind::RmsNorm, name, layer, config_.dim);
  op.weight = &w;
  op.in = in;
  op.out = out;
  return op;
}

// x += delta
OpInstance Forward::residual(const std::string& name, int layer, const float* delta) {
  OpInstance op = vector_op(OpKind::Add, name, layer, config_.dim);
  op.out = s_.x.data();
  op.in = delta;
  return op;
}

void Forward::build_layer(int l) {
  const LayerWeights& w = model_.layers[l];
  const std::string p = "blk." + std::to_string(l) + ".";
  const size_t cache_offset = static_cast<size_t>(l) * context_ * config_.kv_dim();
  LayerOps L;

  L.attn_norm = rmsnorm(p + "attn_norm", l, w.attn_norm, s_.x.data(), s_.xb.data());
  L.q = matvec(p + "attn_q", l, w.wq, s_.xb.data(), s_.q.data());
  L.k = matvec(p + "attn_k", l, w.wk, s_.xb.data(), s_.k.data());
  L.v = matvec(p + "attn_v", l, w.wv, s_.xb.data(), s_.v.data());
  L.rope = vector_op(OpKind::Rope, p + "rope", l, config_.dim);
  L.rope.q = s_.q.data();
  L.rope.k = s_.k.data();
  L.attention = vector_op(OpKind::Attention, p + "attention", l, config_.dim);
  L.attention.q = s_.q.data();
  L.attention.k = s_.k.data();
  L.attention.in2 = s_.v.data();
  L.attention.key_cache = s_.key_cache.data() + cache_offset;
  L.attention.value_cache = s_.value_cache.data() + cache_offset;
  L.attention.scores = s_.scores.data();
  L.attention.out = s_.xb.data();
  L.o = matvec(p + "attn_output", l, w.wo, s_.xb.data(), s_.xb2.data());
  L.attn_residual = residual(p + "attn_residual", l, s_.xb2.data());

  L.ffn_norm = rmsnorm(p + "ffn_norm", l, w.ffn_norm, s_.x.data(), s_.xb.data());
  L.gate = matvec(p + "ffn_gate", l, w.w1, s_.xb.data(), s_.hb.data());
  L.up = matvec(p + "ffn_up", l, w.w3, s_.xb.data(), s_.hb2.data());
  L.swiglu = vector_op(OpKind::SwiGLU, p + "swiglu", l, config_.hidden_dim);
  L.swiglu.out = s_.hb.data();
  L.swiglu.in2 = s_.hb2.data();
  L.down = matvec(p + "ffn_down", l, w.w2, s_.hb.data(), s_.xb.data());
  L.ffn_residual = residual(p + "ffn_residual", l, s_.xb.data());
  layers_.push_back(std::move(L));
}

void Forward::collect_ops() {
  ops_.push_back(&embed_);
  for (LayerOps& L : layers_)
    for (OpInstance* op : {&L.attn_norm, &L.q, &L.k, &L.v, &L.rope, &L.attention, &L.o, &L.attn_residual,
                           &L.ffn_norm, &L.gate, &L.up, &L.swiglu, &L.down, &L.ffn_residual})
      ops_.push_back(op);
  ops_.push_back(&final_norm_);
  ops_.push_back(&classifier_);
}

void Forward::install(Tier tier) {
  for (OpInstance* op : ops_) {
    op->slot.fn = portable_kernel(op->kind, tier);
    op->slot.variant = tier_name(tier);
  }
}

float* Forward::step(int token, int pos) {
  const StepArgs s{token, pos};
  run(embed_, s);
  for (LayerOps& L : layers_) {
    run(L.attn_norm, s);      // xb = rmsnorm(x)
    run(L.q, s);              // q = wq xb
    run(L.k, s);              // k = wk xb
    run(L.v, s);              // v = wv xb
    run(L.rope, s);           // rotate q, k by position
    run(L.attention, s);      // cache k, v at pos; xb = softmax(q k^T / sqrt(d)) v
    run(L.o, s);              // xb2 = wo xb
    run(L.attn_residual, s);  // x += xb2
    run(L.ffn_norm, s);       // xb = rmsnorm(x)
    run(L.gate, s);           // hb = w1 xb
    run(L.up, s);             // hb2 = w3 xb
    run(L.swiglu, s);         // hb = silu(hb) * hb2
    run(L.down, s);           // xb = w2 hb
    run(L.ffn_residual, s);   // x += xb
  }
  run(final_norm_, s);        // x = rmsnorm(x)
  run(classifier_, s);        // logits = wcls x
  return s_.logits.data();
}

}  // namespace bf
