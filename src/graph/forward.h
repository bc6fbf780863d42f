// The forward pass of a Llama model as a graph of op instances.
//
// RunState owns every activation buffer (one row per token of a prompt chunk) and the
// KV cache, allocated once; a call allocates nothing. Forward::run_chunk() reads top to
// bottom like llama2.c's forward(): embed, per layer (norm, q/k/v, rope, cache,
// attention, output, residual, norm, gate/up, swiglu, down, residual), final norm,
// classifier. A prompt goes through it in chunks of up to `batch` tokens, so every
// weight is read once per chunk; a generated token is a chunk of one.
#pragma once
#include <memory>
#include <vector>

#include "cpu/cpu.h"
#include "graph/op.h"
#include "kernels/variant.h"
#include "model/model.h"
#include "threads/pool.h"
#include "util/stream_memory.h"

namespace bf {

// 8-bit copies of an activation buffer (see Q8Rows), for the integer matmuls.
struct Q8Buffer {
  std::vector<int8_t> qs;
  std::vector<float> d;
  std::vector<int32_t> sum;
  Q8Buffer(int64_t rows, int64_t cols);
  Q8Rows rows() { return {qs.data(), d.data(), sum.data()}; }
};

struct RunState {
  std::vector<int32_t> tokens;  // batch
  std::vector<float> x;         // residual stream, batch x dim
  std::vector<float> xb;        // normed input / attention output, batch x dim
  std::vector<float> xb2;       // projection output, batch x dim
  std::vector<float> hb;        // FFN gate, batch x hidden
  std::vector<float> hb2;       // FFN up, batch x hidden
  std::vector<float> q;         // batch x dim
  std::vector<float> k;         // batch x kv_dim
  std::vector<float> v;         // batch x kv_dim
  Q8Buffer xq;                  // 8-bit xb (dim wide)
  Q8Buffer hq;                  // 8-bit hb (hidden wide)
  std::vector<float> scores;    // n_heads x context
  std::vector<float> logits;    // vocab, of the chunk's last token
  std::vector<uint8_t> key_cache;    // layers x context x kv_dim of kv_type
  std::vector<uint8_t> value_cache;

  RunState(const ModelConfig& c, int context, int batch, KvType kv_type);
};

struct LayerOps {
  OpInstance attn_norm, attn_quant, q, k, v, rope, kv_store, attention, o_quant, o, attn_residual;
  OpInstance ffn_norm, ffn_quant, gate, up, swiglu, down_quant, down, ffn_residual;
};

// Told about every chunk and, after each call, about ops marked `watched` (the tuner).
class ChunkObserver {
 public:
  virtual ~ChunkObserver() = default;
  virtual void before_chunk(int n_tokens) = 0;
  virtual void after_op(OpInstance& op) = 0;
  virtual void after_chunk(int n_tokens) = 0;
};

struct ForwardOptions {
  int threads = 1;
  int context = 0;  // positions to allocate (capped at the model's); 0 = the model's, at most 8192
  IsaLevel max_isa = IsaLevel::Avx512Vnni;  // no kernel above this level (--max-isa)
  bool reference = false;                   // the reference variant in every op (--reference)
  int batch = 512;                          // prompt tokens per chunk (-b)
  KvType kv_type = KvType::F16;             // KV cache element type (--kv-type)
};

class Forward {
 public:
  Forward(const Model& model, const ForwardOptions& options);

  // Runs token `token` at position `pos` (0 <= pos < context()); returns the logits.
  float* step(int token, int pos);
  // Runs n tokens at positions pos0.. in chunks of batch(); returns the last one's logits.
  float* prompt(const int32_t* tokens, int n, int pos0);
  // Token steps at position 0 whose results nothing reads (the first real step writes
  // position 0 again): page faults, cold caches and the pool's first wake-up are paid at
  // load, so the first real token costs what the others do. One step is not enough:
  // the caches settle over several passes (on a Zen 5 VM a 17 MB model's steps fell
  // from 1.6x to 1.0x of the steady time over about six). Steps until kWarmUpSteps or,
  // for big models whose steps stream from DRAM anyway, until kWarmUpSeconds passed.
  // Returns the steps made.
  int warm_up();
  static constexpr int kWarmUpSteps = 8;
  static constexpr double kWarmUpSeconds = 0.1;

  int context() const { return context_; }
  int batch() const { return batch_; }
  const Model& model() const { return model_; }
  ThreadPool& pool() { return pool_; }
  const CpuInfo& cpu() const { return cpu_; }
  const KernelRegistry& registry() const { return registry_; }
  // Every op instance in execution order, for the profiler and the tuner.
  const std::vector<OpInstance*>& ops() { return ops_; }

  // Installs `variant` in `op` (repacking its weight when the layout asks) and enables
  // the 8-bit input its matmul consumers need.
  void install(OpInstance& op, const Variant& variant);

  // At most one observer; null detaches it.
  void set_observer(ChunkObserver* observer) { observer_ = observer; }

 private:
  float* run_chunk(const int32_t* tokens, int n, int pos0);
  void exec(OpInstance& o);
  OpInstance op(OpKind kind, const std::string& name, int layer, int64_t rows);
  OpInstance matmul(const std::string& name, int layer, const Tensor& w, const float* in, Q8Buffer* in_q8, float* out);
  OpInstance quantize(const std::string& name, int layer, const float* in, Q8Buffer& out, int64_t cols);
  OpInstance rmsnorm(const std::string& name, int layer, const Tensor& w, const float* in, float* out);
  OpInstance residual(const std::string& name, int layer, const float* delta);
  void build_layer(int l);
  void collect_ops();
  void install_best(bool reference);
  void update_quantize_ops();

  const Model& model_;
  const ModelConfig& config_;
  const CpuInfo cpu_;
  KernelRegistry registry_;
  int context_;
  int batch_;
  KvType kv_type_;
  ThreadPool pool_;
  RunState s_;
  // The repacked matrices, one after another in install order (the forward order), so a
  // token step reads one long stream on huge pages. Declared before the ops that point
  // into it.
  StreamArena packed_weights_;
  OpInstance embed_;
  std::vector<LayerOps> layers_;
  OpInstance final_norm_, classifier_quant_, classifier_;
  std::vector<OpInstance*> ops_;
  // Each Quantize op and the matmuls that read its output.
  std::vector<std::pair<OpInstance*, std::vector<OpInstance*>>> quant_consumers_;
  ChunkObserver* observer_ = nullptr;
};

}  // namespace bf
