#include "graph/forward.h"

#include <algorithm>
#include <chrono>
#include <stdexcept>

#include "util/pages.h"

namespace bf {

Q8Buffer::Q8Buffer(int64_t rows, int64_t cols) {
  // Only widths that are whole blocks can be quantized; others never feed an integer matmul.
  if (cols % kQBlock != 0) return;
  qs.resize(static_cast<size_t>(rows * cols));
  d.resize(static_cast<size_t>(rows * cols / kQBlock));
  sum.resize(d.size());
}

namespace {
size_t kv_bytes(const ModelConfig& c, int context, KvType type) {
  return static_cast<size_t>(c.n_layers) * context * c.kv_dim() * kv_element_bytes(type);
}
}  // namespace

RunState::RunState(const ModelConfig& c, int context, int batch, KvType kv_type)
    : tokens(batch),
      x(static_cast<size_t>(batch) * c.dim),
      xb(x.size()),
      xb2(x.size()),
      hb(static_cast<size_t>(batch) * c.hidden_dim),
      hb2(hb.size()),
      q(x.size()),
      k(static_cast<size_t>(batch) * c.kv_dim()),
      v(k.size()),
      xq(batch, c.dim),
      hq(batch, c.hidden_dim),
      scores(static_cast<size_t>(c.n_heads) * context),
      logits(c.vocab_size),
      key_cache(kv_bytes(c, context, kv_type)),
      value_cache(key_cache.size()) {}

namespace {
// Without an explicit context, allocate at most this many positions: a file that claims
// a context of millions must not make the KV cache swallow the machine.
constexpr int kDefaultContextCap = 8192;

int context_of(const Model& m, const ForwardOptions& o) {
  return std::min(o.context > 0 ? o.context : kDefaultContextCap, m.config.seq_len);
}

// Address space for the repacked matrices: a layout may pad rows (to 16) and widen
// scales, but stays well within twice the file's weights plus some slack; a repack that
// still finds no room gets a buffer of its own. Reserved, not resident.
size_t packed_bound(const Model& m) { return 2 * m.weight_bytes() + (size_t{64} << 20); }
}  // namespace

Forward::Forward(const Model& model, const ForwardOptions& options)
    : model_(model),
      config_(model.config),
      cpu_(CpuInfo::host().capped(options.max_isa)),
      registry_(KernelRegistry::builtin()),
      context_(context_of(model, options)),
      batch_(std::clamp(options.batch, 1, context_)),
      kv_type_(options.kv_type),
      pool_(std::max(1, options.threads)),
      s_(model.config, context_, batch_, kv_type_),
      packed_weights_(packed_bound(model)) {
  embed_ = op(OpKind::Embed, "token_embd", -1, config_.dim);
  embed_.weight = &model_.token_embedding;
  embed_.args.embed = {model_.token_embedding.data, model_.token_embedding.scales, s_.tokens.data(), s_.x.data(),
                       config_.dim, 0, model_.token_embedding.group, static_cast<int32_t>(model_.token_embedding.type)};
  layers_.resize(config_.n_layers);  // built in place: ops point at each other
  for (int l = 0; l < config_.n_layers; ++l) build_layer(l);
  final_norm_ = rmsnorm("output_norm", -1, model_.final_norm, s_.x.data(), s_.x.data());
  final_norm_.last_token_only = true;
  classifier_quant_ = quantize("output_quant", -1, s_.x.data(), s_.xq, config_.dim);
  classifier_quant_.last_token_only = true;
  classifier_ = matmul("output", -1, model_.classifier, s_.x.data(), &s_.xq, s_.logits.data());
  classifier_.last_token_only = true;
  quant_consumers_.push_back({&classifier_quant_, {&classifier_}});
  collect_ops();
  install_best(options.reference);
}

OpInstance Forward::op(OpKind kind, const std::string& name, int layer, int64_t rows) {
  OpInstance o;
  o.kind = kind;
  o.name = name;
  o.layer = layer;
  o.rows = rows;
  o.pool = &pool_;
  return o;
}

OpInstance Forward::matmul(const std::string& name, int layer, const Tensor& w, const float* in, Q8Buffer* in_q8,
                           float* out) {
  OpInstance o = op(OpKind::Matmul, name, layer, w.rows);
  o.cols = w.cols;
  o.weight = &w;
  o.in_base = in;
  o.out_base = out;
  MatmulArgs& a = o.args.matmul;
  a.w = w.data;
  a.w_scales = w.scales;
  a.x = in;
  if (in_q8 && !in_q8->qs.empty()) a.xq = in_q8->rows();
  a.out = out;
  a.rows = w.rows;
  a.cols = w.cols;
  a.out_stride = w.rows;
  a.group = w.group;
  return o;
}

OpInstance Forward::quantize(const std::string& name, int layer, const float* in, Q8Buffer& out, int64_t cols) {
  OpInstance o = op(OpKind::Quantize, name, layer, cols);
  o.in_base = in;
  o.args.quantize.x = in;
  o.args.quantize.cols = cols;
  if (!out.qs.empty()) o.args.quantize.out = out.rows();
  return o;
}

OpInstance Forward::rmsnorm(const std::string& name, int layer, const Tensor& w, const float* in, float* out) {
  OpInstance o = op(OpKind::RmsNorm, name, layer, config_.dim);
  o.weight = &w;
  o.in_base = in;
  o.out_base = out;
  o.args.rmsnorm = {in, w.f32(), out, config_.dim, config_.norm_eps, 0};
  return o;
}

// x += delta
OpInstance Forward::residual(const std::string& name, int layer, const float* delta) {
  OpInstance o = op(OpKind::Add, name, layer, config_.dim);
  o.args.add = {s_.x.data(), delta, 0};
  return o;
}

void Forward::build_layer(int l) {
  const LayerWeights& w = model_.layers[l];
  const std::string p = "blk." + std::to_string(l) + ".";
  const size_t cache_offset = static_cast<size_t>(l) * context_ * config_.kv_dim() * kv_element_bytes(kv_type_);
  LayerOps& L = layers_[l];

  L.attn_norm = rmsnorm(p + "attn_norm", l, w.attn_norm, s_.x.data(), s_.xb.data());
  L.attn_quant = quantize(p + "attn_quant", l, s_.xb.data(), s_.xq, config_.dim);
  L.q = matmul(p + "attn_q", l, w.wq, s_.xb.data(), &s_.xq, s_.q.data());
  L.k = matmul(p + "attn_k", l, w.wk, s_.xb.data(), &s_.xq, s_.k.data());
  L.v = matmul(p + "attn_v", l, w.wv, s_.xb.data(), &s_.xq, s_.v.data());
  L.rope = op(OpKind::Rope, p + "rope", l, config_.dim);
  L.rope.args.rope = {s_.q.data(), s_.k.data(), 0, 0, config_.n_heads, config_.n_kv_heads, config_.head_size(),
                      config_.rope_dim, config_.rope_base};
  L.kv_store = op(OpKind::KvStore, p + "kv_store", l, config_.kv_dim());
  L.kv_store.args.kv_store = {s_.k.data(), s_.v.data(), s_.key_cache.data() + cache_offset,
                              s_.value_cache.data() + cache_offset, 0, 0, config_.kv_dim(), config_.head_size(),
                              context_, kv_type_};
  L.attention = op(OpKind::Attention, p + "attention", l, config_.dim);
  L.attention.args.attention = {s_.q.data(), s_.key_cache.data() + cache_offset, s_.value_cache.data() + cache_offset,
                                s_.scores.data(), s_.xb.data(), 0, 0, config_.n_heads, config_.n_kv_heads,
                                config_.head_size(), config_.kv_dim(), context_, kv_type_};
  L.o_quant = quantize(p + "attn_output_quant", l, s_.xb.data(), s_.xq, config_.dim);
  L.o = matmul(p + "attn_output", l, w.wo, s_.xb.data(), &s_.xq, s_.xb2.data());
  L.attn_residual = residual(p + "attn_residual", l, s_.xb2.data());

  L.ffn_norm = rmsnorm(p + "ffn_norm", l, w.ffn_norm, s_.x.data(), s_.xb.data());
  L.ffn_quant = quantize(p + "ffn_quant", l, s_.xb.data(), s_.xq, config_.dim);
  L.gate = matmul(p + "ffn_gate", l, w.w1, s_.xb.data(), &s_.xq, s_.hb.data());
  L.up = matmul(p + "ffn_up", l, w.w3, s_.xb.data(), &s_.xq, s_.hb2.data());
  L.swiglu = op(OpKind::SwiGLU, p + "swiglu", l, config_.hidden_dim);
  L.swiglu.args.swiglu = {s_.hb.data(), s_.hb2.data(), 0};
  L.down_quant = quantize(p + "ffn_down_quant", l, s_.hb.data(), s_.hq, config_.hidden_dim);
  L.down = matmul(p + "ffn_down", l, w.w2, s_.hb.data(), &s_.hq, s_.xb.data());
  L.ffn_residual = residual(p + "ffn_residual", l, s_.xb.data());

  quant_consumers_.push_back({&L.attn_quant, {&L.q, &L.k, &L.v}});
  quant_consumers_.push_back({&L.o_quant, {&L.o}});
  quant_consumers_.push_back({&L.ffn_quant, {&L.gate, &L.up}});
  quant_consumers_.push_back({&L.down_quant, {&L.down}});
}

void Forward::collect_ops() {
  ops_.push_back(&embed_);
  for (LayerOps& L : layers_)
    for (OpInstance* o : {&L.attn_norm, &L.attn_quant, &L.q, &L.k, &L.v, &L.rope, &L.kv_store, &L.attention, &L.o_quant,
                          &L.o, &L.attn_residual, &L.ffn_norm, &L.ffn_quant, &L.gate, &L.up, &L.swiglu, &L.down_quant,
                          &L.down, &L.ffn_residual})
      ops_.push_back(o);
  for (OpInstance* o : {&final_norm_, &classifier_quant_, &classifier_}) ops_.push_back(o);
}

void Forward::install(OpInstance& o, const Variant& v) {
  if (v.op != o.kind) throw std::logic_error("variant " + v.name + " installed in op " + o.name);
  o.variant = &v;
  o.split = v.split;
  if (o.kind == OpKind::Matmul) {
    MatmulArgs& a = o.args.matmul;
    o.packed = PackedWeight{};
    if (v.repack) {
      o.packed.arena = &packed_weights_;
      v.repack(*o.weight, o.packed);
      a.w = o.packed.w;
      a.w_scales = o.packed.w_scales;
      // The file's copy is no longer read by this op: give its pages back so a repacked
      // model never holds both copies (the embedding lookup faults back what it needs).
      if (model_.file.mapped()) drop_file_pages(o.weight->data, o.weight->bytes);
    } else {
      a.w = o.weight->data;
      a.w_scales = o.weight->scales;
    }
    update_quantize_ops();
  }
}

void Forward::install_best(bool reference) {
  const DType cache = kv_type_ == KvType::F16 ? DType::F16 : DType::F32;
  for (OpInstance* o : ops_) {
    const bool matmul = o->kind == OpKind::Matmul;
    const bool cache_op = o->kind == OpKind::Attention || o->kind == OpKind::KvStore;
    install(*o, registry_.best(o->kind, cpu_, matmul ? o->weight : nullptr, reference,
                               cache_op ? std::optional<DType>(cache) : std::nullopt));
  }
}

void Forward::update_quantize_ops() {
  for (auto& [quant, consumers] : quant_consumers_)
    quant->enabled = std::any_of(consumers.begin(), consumers.end(), [](const OpInstance* m) {
      return m->variant && m->variant->input == MatmulInput::Q8;
    });
}

float* Forward::step(int token, int pos) {
  const int32_t t = token;
  return prompt(&t, 1, pos);
}

int Forward::warm_up() {
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  int steps = 0;
  do {
    step(0, 0);
    ++steps;
  } while (steps < kWarmUpSteps && std::chrono::duration<double>(Clock::now() - t0).count() < kWarmUpSeconds);
  return steps;
}

float* Forward::prompt(const int32_t* tokens, int n, int pos0) {
  if (n < 1 || pos0 < 0 || pos0 + n > context_) throw std::out_of_range("forward: positions outside the context");
  float* logits = nullptr;
  for (int done = 0; done < n; done += batch_)
    logits = run_chunk(tokens + done, std::min(batch_, n - done), pos0 + done);
  return logits;
}

inline void Forward::exec(OpInstance& o) {
  if (!o.enabled) return;
  run(o);
  if (o.watched) observer_->after_op(o);
}

float* Forward::run_chunk(const int32_t* tokens, int n, int pos0) {
  std::copy(tokens, tokens + n, s_.tokens.begin());
  for (OpInstance* o : ops_) bind(*o, n, pos0);
  if (observer_) observer_->before_chunk(n);
  exec(embed_);                // x = embedding rows of the tokens
  for (LayerOps& L : layers_) {
    exec(L.attn_norm);         // xb = rmsnorm(x)
    exec(L.attn_quant);        // xq = 8-bit xb, when a consumer reads it
    exec(L.q);                 // q = wq xb
    exec(L.k);                 // k = wk xb
    exec(L.v);                 // v = wv xb
    exec(L.rope);              // rotate q, k by position
    exec(L.kv_store);          // cache k, v at pos0..pos0+n-1
    exec(L.attention);         // xb = softmax(q k^T / sqrt(d)) v over positions 0..pos (causal)
    exec(L.o_quant);           // xq = 8-bit xb
    exec(L.o);                 // xb2 = wo xb
    exec(L.attn_residual);     // x += xb2
    exec(L.ffn_norm);          // xb = rmsnorm(x)
    exec(L.ffn_quant);         // xq = 8-bit xb
    exec(L.gate);              // hb = w1 xb
    exec(L.up);                // hb2 = w3 xb
    exec(L.swiglu);            // hb = silu(hb) * hb2
    exec(L.down_quant);        // hq = 8-bit hb
    exec(L.down);              // xb = w2 hb
    exec(L.ffn_residual);      // x += xb
  }
  exec(final_norm_);           // x[n-1] = rmsnorm(x[n-1])
  exec(classifier_quant_);     // xq = 8-bit x[n-1]
  exec(classifier_);           // logits = wcls x[n-1]
  if (observer_) observer_->after_chunk(n);
  return s_.logits.data();
}

}  // namespace bf
