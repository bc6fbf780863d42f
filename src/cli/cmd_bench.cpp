// bareflow bench: prompt (batched) and generation speed, each against the bound that
// limits it, both measured in the same run with the same threads:
//   generation  bytes read per token (the weights, and the KV cache up to the token's
//               position, averaged over the generated positions) / read bandwidth
//   prompt      multiply-adds per token / peak 8-bit multiply-accumulate rate of the
//               ISA level in use
// --json prints the same figures as one JSON object and nothing else on stdout.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cli/commands.h"
#include "tune/session.h"
#include "generate/generate.h"
#include "perf/bounds.h"
#include "threads/pool.h"
#include "util/error.h"

namespace bf::cli {
namespace {

struct BenchOptions {
  std::string model;
  int threads = 0;
  int prompt_tokens = 32;
  int gen_tokens = 32;
  int repeats = 3;
  std::string max_isa;
  int batch = 512;
  std::string kv_type = "f16";
  bool json = false;
  StateOptions state;  // the snapshot whose tuned plan bench measures
};

// Everything bench reports; NAN where a figure does not apply (no prompt, no tokens).
struct BenchReport {
  std::string model, format, weight_type;
  const CpuInfo* host = nullptr;
  IsaLevel level = IsaLevel::Sse2;
  int threads = 0, batch = 0, repeats = 0, prompt_tokens = 0, gen_tokens = 0;
  std::string kv_type;
  std::vector<std::pair<std::string, int>> variants;  // name, op instances, in first-use order
  std::string plan;  // "tuned (snapshot FILE)" or "fixed" 
  uint64_t bytes_per_token = 0;     // weights + KV cache
  uint64_t kv_bytes_per_token = 0;  // of which the KV cache
  uint64_t macs_per_token = 0;  // every matmul once: a generated token
  uint64_t prompt_macs = 0;     // what one prompt of prompt_tokens did
  double prompt_tok_s = NAN, gen_tok_s = NAN;
  Bandwidth bandwidth;
  double peak_gops = NAN;
  std::string peak_kernel;

  double prompt_gops() const { return prompt_tok_s * static_cast<double>(prompt_macs) * 2 / prompt_tokens / 1e9; }
  double bound_tok_s() const { return bandwidth.gbs * 1e9 / static_cast<double>(bytes_per_token); }
  double gen_pct() const { return 100 * gen_tok_s / bound_tok_s(); }
  double prompt_pct() const { return 100 * prompt_gops() / peak_gops; }
};

double median(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// The variant of every op that runs, counted per name, in execution order of first use.
std::vector<std::pair<std::string, int>> variants_in_use(const std::vector<OpInstance*>& ops) {
  std::vector<std::pair<std::string, int>> out;
  for (const OpInstance* op : ops) {
    if (!op->enabled || !op->variant) continue;
    std::vector<std::string> names{op->variant->name};
    if (op->step.variant && op->step.variant != op->variant) names.push_back(op->step.variant->name + " (token steps)");
    for (const std::string& name : names) {
      auto it = std::find_if(out.begin(), out.end(), [&](const auto& v) { return v.first == name; });
      if (it == out.end()) out.emplace_back(name, 1);
      else ++it->second;
    }
  }
  return out;
}

// What attention reads per generated token, averaged over the n tokens generated from
// position p0: the keys and values of positions 0..p in every layer at position p.
uint64_t kv_bytes_read_per_token(const ModelConfig& c, KvType type, int p0, int n) {
  if (n <= 0) return 0;
  const uint64_t per_position = 2ull * static_cast<uint64_t>(c.n_layers) * static_cast<uint64_t>(c.kv_dim()) *
                                static_cast<uint64_t>(kv_element_bytes(type));
  const uint64_t positions = static_cast<uint64_t>(n) * static_cast<uint64_t>(p0) +
                             static_cast<uint64_t>(n) * static_cast<uint64_t>(n + 1) / 2;  // sum of p + 1
  return per_position * positions / static_cast<uint64_t>(n);
}

// Multiply-adds of the matmuls: per generated token, and for a prompt of n tokens in
// chunks of `batch` (the classifier runs for each chunk's last token only).
void count_macs(const std::vector<OpInstance*>& ops, int n, int batch, BenchReport& r) {
  const uint64_t chunks = (static_cast<uint64_t>(n) + batch - 1) / batch;
  for (const OpInstance* op : ops) {
    if (op->kind != OpKind::Matmul) continue;
    const auto macs = static_cast<uint64_t>(op->rows) * static_cast<uint64_t>(op->cols);
    r.macs_per_token += macs;
    r.prompt_macs += macs * (op->last_token_only ? chunks : static_cast<uint64_t>(n));
  }
}

// ---- JSON ----

// Appends s as a JSON string: quotes, backslashes and control characters escaped,
// and any byte that is not part of valid UTF-8 (a file name may hold any) as U+FFFD.
void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
      ++i;
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
      ++i;
    } else if (c < 0x80) {
      out += static_cast<char>(c);
      ++i;
    } else {
      // Length from the lead byte; continuation bytes 10xxxxxx; no overlong forms,
      // surrogates or code points above U+10FFFF.
      const int len = c >= 0xf8 ? 0 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
      uint32_t cp = len == 4 ? c & 0x07 : len == 3 ? c & 0x0f : c & 0x1f;
      bool ok = len > 0 && i + len <= s.size();
      for (int k = 1; ok && k < len; ++k) {
        const auto b = static_cast<unsigned char>(s[i + k]);
        ok = (b & 0xc0) == 0x80;
        cp = cp << 6 | (b & 0x3f);
      }
      static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
      ok = ok && cp >= kMin[len] && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff);
      if (ok) {
        out.append(s.substr(i, len));
        i += len;
      } else {
        out += "\\ufffd";
        ++i;
      }
    }
  }
  out += '"';
}

// A JSON text built front to back; commas and nesting are tracked here, so callers
// only say key, value, open and close.
class JsonWriter {
 public:
  JsonWriter& open(char bracket) {
    comma();
    out_ += bracket;
    first_.push_back(true);
    return *this;
  }
  JsonWriter& close(char bracket) {
    out_ += bracket;
    first_.pop_back();
    return *this;
  }
  JsonWriter& key(std::string_view k) {
    comma();
    append_json_string(out_, k);
    out_ += ':';
    after_key_ = true;
    return *this;
  }
  JsonWriter& value(std::string_view s) {
    comma();
    append_json_string(out_, s);
    return *this;
  }
  JsonWriter& value(const char* s) { return value(std::string_view(s)); }
  JsonWriter& value(int64_t v) {
    comma();
    out_ += std::to_string(v);
    return *this;
  }
  JsonWriter& value(uint64_t v) {
    comma();
    out_ += std::to_string(v);
    return *this;
  }
  JsonWriter& value(int v) { return value(static_cast<int64_t>(v)); }
  // JSON has no NaN or infinity: a figure that does not apply is null.
  JsonWriter& value(double v) {
    comma();
    if (!std::isfinite(v)) {
      out_ += "null";
      return *this;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    out_ += buf;
    return *this;
  }
  template <typename T>
  JsonWriter& field(std::string_view k, const T& v) {
    return key(k).value(v);
  }
  const std::string& text() const { return out_; }

 private:
  void comma() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (first_.empty()) return;
    if (!first_.back()) out_ += ',';
    first_.back() = false;
  }

  std::string out_;
  std::vector<bool> first_;  // per open bracket: nothing written in it yet
  bool after_key_ = false;
};

std::string to_json(const BenchReport& r) {
  JsonWriter j;
  j.open('{').field("model", r.model).field("format", r.format).field("weight_type", r.weight_type);
  j.key("cpu").open('{');
  j.field("brand", r.host->brand).field("vendor", r.host->vendor);
  j.field("level", isa_level_name(r.host->level)).field("features", r.host->feature_list());
  j.close('}');
  j.field("isa", isa_level_name(r.level)).field("threads", r.threads).field("batch", r.batch);
  j.field("kv_type", r.kv_type).field("repeats", r.repeats);
  j.field("plan", r.plan);
  j.key("variants").open('[');
  for (const auto& [name, ops] : r.variants) j.open('{').field("name", name).field("ops", ops).close('}');
  j.close(']');
  j.field("bytes_per_token", r.bytes_per_token).field("kv_bytes_per_token", r.kv_bytes_per_token);
  j.field("macs_per_token", r.macs_per_token);
  j.key("prompt").open('{').field("tokens", r.prompt_tokens).field("tok_s", r.prompt_tok_s);
  j.field("macs", r.prompt_macs).field("gop_s", r.prompt_gops()).field("pct_of_bound", r.prompt_pct()).close('}');
  j.key("generation").open('{').field("tokens", r.gen_tokens).field("tok_s", r.gen_tok_s);
  j.field("pct_of_bound", r.gen_pct()).close('}');
  j.key("bandwidth").open('{').field("gb_s", r.bandwidth.gbs).field("buffer_bytes", r.bandwidth.buffer_bytes);
  j.field("passes", r.bandwidth.passes).field("bound_tok_s", r.bound_tok_s()).close('}');
  j.key("int8_peak").open('{').field("gop_s", r.peak_gops).field("kernel", r.peak_kernel).close('}');
  j.close('}');
  return j.text();
}

// ---- text ----

void print_text(const BenchReport& r) {
  std::printf("model:       %s (%s, %s)\n", r.model.c_str(), r.format.c_str(), r.weight_type.c_str());
  std::printf("cpu:         %s (%s)\n", r.host->brand.empty() ? r.host->vendor.c_str() : r.host->brand.c_str(),
              std::string(isa_level_name(r.host->level)).c_str());
  std::printf("isa:         %s\n", std::string(isa_level_name(r.level)).c_str());
  std::printf("threads:     %d (batch %d, KV cache %s)\n", r.threads, r.batch, r.kv_type.c_str());
  std::printf("plan:        %s\n", r.plan.c_str());
  std::printf("variants:\n");
  for (const auto& [name, ops] : r.variants) std::printf("  %-40s %4d ops\n", name.c_str(), ops);
  std::printf("per token:   %.2f MiB read (KV cache %.2f MiB of it), %.2f M multiply-adds\n",
              r.bytes_per_token / 1048576.0, r.kv_bytes_per_token / 1048576.0, r.macs_per_token / 1e6);
  if (r.prompt_tokens > 0)
    std::printf("prompt:      %10.2f tok/s (median of %d, %d tokens), %.1f GOP/s = %.1f %% of the compute bound\n",
                r.prompt_tok_s, r.repeats, r.prompt_tokens, r.prompt_gops(), r.prompt_pct());
  if (r.gen_tokens > 0)
    std::printf("generation:  %10.2f tok/s (median of %d, %d tokens) = %.1f %% of the bandwidth bound\n", r.gen_tok_s,
                r.repeats, r.gen_tokens, r.gen_pct());
  const char* plural = r.threads == 1 ? "" : "s";
  std::printf("bandwidth:   %10.2f GB/s read (%.2f GiB buffer, best of %d passes, %d thread%s)\n", r.bandwidth.gbs,
              r.bandwidth.buffer_bytes / 1073741824.0, r.bandwidth.passes, r.threads, plural);
  std::printf("bound:       %10.2f tok/s (bytes per token / bandwidth)\n", r.bound_tok_s());
  std::printf("int8 peak:   %10.1f GOP/s (%s, %d thread%s)\n", r.peak_gops, r.peak_kernel.c_str(), r.threads, plural);
}

// ---- the run ----

void bench_command(const BenchOptions& o) {
  auto model = load_model(o.model);
  const int positions = o.prompt_tokens + o.gen_tokens;
  if (positions > model->config.seq_len)
    throw InputError(o.model, "bench needs " + std::to_string(positions) + " positions, the model's context is " +
                                  std::to_string(model->config.seq_len));
  ForwardOptions fo;
  fo.threads = o.threads > 0 ? o.threads : ThreadPool::available_threads();
  fo.context = std::max(positions, 1);
  fo.max_isa = parse_max_isa(o.max_isa);
  fo.batch = o.batch;
  fo.kv_type = parse_kv_type(o.kv_type);
  Forward forward(*model, fo);
  // The plan a tuned run starts with: the snapshot's, frozen (bench tunes nothing, so
  // every repeat measures the same kernels); the fixed variants without one.
  SessionOptions so;
  so.tuner.frozen = true;
  so.state_dir = resolve_state_dir(o.state);
  TuningSession session(forward, so);
  const int vocab = model->config.vocab_size;

  std::vector<int32_t> prompt(o.prompt_tokens);
  for (int i = 0; i < o.prompt_tokens; ++i) prompt[i] = i == 0 ? model->bos_id : (1 + i * 7919) % vocab;
  std::vector<double> pp, tg;
  for (int rep = 0; rep < o.repeats; ++rep) {
    double t0 = now_seconds();
    if (o.prompt_tokens > 0) forward.prompt(prompt.data(), o.prompt_tokens, 0);
    double t1 = now_seconds();
    int token = model->bos_id;
    for (int i = 0, pos = o.prompt_tokens; i < o.gen_tokens; ++i, ++pos)
      token = Sampler::argmax(forward.step(token, pos), vocab);
    double t2 = now_seconds();
    if (o.prompt_tokens > 0) pp.push_back(o.prompt_tokens / (t1 - t0));
    if (o.gen_tokens > 0) tg.push_back(o.gen_tokens / (t2 - t1));
  }

  BenchReport r;
  r.model = o.model;
  r.format = model->format_name();
  r.weight_type = std::string(dtype_name(model->layers[0].wq.type));
  r.host = &CpuInfo::host();
  r.level = forward.cpu().level;
  r.threads = forward.pool().size();
  r.batch = forward.batch();
  r.repeats = o.repeats;
  r.prompt_tokens = o.prompt_tokens;
  r.gen_tokens = o.gen_tokens;
  r.kv_type = o.kv_type;
  r.variants = variants_in_use(forward.ops());
  r.plan = session.loaded() ? "tuned (snapshot " + session.snapshot_file() + ")" : "fixed (no snapshot)";
  r.kv_bytes_per_token = kv_bytes_read_per_token(model->config, fo.kv_type, o.prompt_tokens, o.gen_tokens);
  r.bytes_per_token = model->bytes_read_per_token() + r.kv_bytes_per_token;
  count_macs(forward.ops(), o.prompt_tokens, forward.batch(), r);
  r.prompt_tok_s = median(pp);
  r.gen_tok_s = median(tg);
  // The machine's bandwidth (widest loads it has), but the peak of the level in use.
  r.bandwidth = measure_read_bandwidth(forward.pool(), *r.host);
  r.peak_gops = measure_int8_peak(forward.pool(), r.level, forward.cpu());
  r.peak_kernel = std::string(int8_peak_kernel(r.level, forward.cpu()));

  if (o.json)
    std::printf("%s\n", to_json(r).c_str());
  else
    print_text(r);
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App* cmd = app.add_subcommand(
      "bench", "Measure prompt and generation speed against the compute and bandwidth bounds of this machine");
  cmd->add_option("-m,--model", o->model, "Model file")->required();
  cmd->add_option("-t,--threads", o->threads, "Threads (default: all available)")->check(CLI::Range(0, 1024));
  cmd->add_option("-p,--n-prompt", o->prompt_tokens, "Prompt tokens per repeat")->check(CLI::Range(0, 1 << 20))->capture_default_str();
  cmd->add_option("-n,--n-gen", o->gen_tokens, "Generated tokens per repeat")->check(CLI::Range(0, 1 << 20))->capture_default_str();
  cmd->add_option("-r,--repeats", o->repeats, "Repeats (the median is reported)")->check(CLI::Range(1, 1000))->capture_default_str();
  add_kernel_options(*cmd, o->max_isa, o->batch, o->kv_type);
  add_state_options(*cmd, o->state);
  cmd->add_flag("--json", o->json, "Print the figures as one JSON object (and nothing else on stdout)");
  cmd->callback([o] { bench_command(*o); });
}

}  // namespace bf::cli
