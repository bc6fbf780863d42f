// The forward pass of a Llama model as a graph of op instances.
//
// RunState owns every activation buffer and the KV cache, allocated once; a
// token step allocates nothing. Forward::step() reads top to bottom like
// llama2.c's forward(): embed, per layer (norm, q/k/v, rope, attention, output,
// residual, norm, gate/up, swiglu, down, residual), final norm, classifier.
#pragma once
#include <memory>
#include <vector>

#include "graph/kernels.h"
#include "graph/op.h"
#include "model/model.h"
#include "threads/pool.h"

namespace bf {

struct RunState {
  std::vector<float> x;       // residual stream, dim
  std::vector<float> xb;      // normed input / attention output, dim
  std::vector<float> xb2;     // projection output, dim
  std::vector<float> hb;      // FFN gate, hidden
  std::vector<float> hb2;     // FFN up, hidden
  std::vector<float> q;       // dim
  std::vector<float> k;       // kv_dim
  std::vector<float> v;       // kv_dim
  std::vector<float> scores;  // n_heads * context
  std::vector<float> logits;  // vocab
  std::vector<float> key_cache;    // layers * context * kv_dim
  std::vector<float> value_cache;

  RunState(const ModelConfig& c, int context);
};

struct LayerOps {
  OpInstance attn_norm, q, k, v, rope, attention, o, attn_residual;
  OpInstance ffn_norm, gate, up, swiglu, down, ffn_residual;
};

struct ForwardOptions {
  int threads = 1;
  int context = 0;  // positions to allocate (capped at the model's); 0 = the model's, at most 8192
  Tier tier = Tier::Parallel;
};

class Forward {
 public:
  Forward(const Model& model, const ForwardOptions& options);

  // Runs token `token` at position `pos` (0 <= pos < context()) and returns the logits.
  float* step(int token, int pos);

  int context() const { return context_; }
  const Model& model() const { return model_; }
  ThreadPool& pool() { return pool_; }
  // Every op instance in execution order, for the profiler and the tuner.
  const std::vector<OpInstance*>& ops() { return ops_; }
  // Installs the portable kernels of `tier` in every slot.
  void install(Tier tier);

 private:
  OpInstance matvec(const std::string& name, int layer, const Tensor& w, const float* in, float* out);
  OpInstance vector_op(OpKind kind, const std::string& name, int layer, int64_t n);
  OpInstance rmsnorm(const std::string& name, int layer, const Tensor& w, const float* in, float* out);
  OpInstance residual(const std::string& name, int layer, const float* delta);
  void build_layer(int l);
  void collect_ops();

  const Model& model_;
  const ModelConfig& config_;
  int context_;
  ThreadPool pool_;
  RunState s_;
  OpInstance embed_;
  std::vector<LayerOps> layers_;
  OpInstance final_norm_;
  OpInstance classifier_;
  std::vector<OpInstance*> ops_;
};

}  // namespace bf
