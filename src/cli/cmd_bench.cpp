// bareflow bench: prompt and generation speed, and how close generation comes to
// the memory-bandwidth bound measured in the same run.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <vector>

#include "cli/commands.h"
#include "generate/generate.h"
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
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Best-of-N read bandwidth over a buffer far larger than any cache, with the same
// threads the forward pass uses.
double read_bandwidth_gbs(ThreadPool& pool) {
  const size_t bytes = size_t{256} << 20;
  std::vector<uint64_t> buf(bytes / 8);
  for (size_t i = 0; i < buf.size(); ++i) buf[i] = i;  // fault every page in before timing
  std::vector<uint64_t> sums(pool.size() * 8);
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    double t0 = now_seconds();
    pool.parallel_for(static_cast<int64_t>(buf.size()), 4096, [&](int64_t b, int64_t e) {
      uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
      for (int64_t i = b; i + 4 <= e; i += 4) {
        a0 += buf[i];
        a1 += buf[i + 1];
        a2 += buf[i + 2];
        a3 += buf[i + 3];
      }
      sums[(b / 4096) % sums.size()] += a0 + a1 + a2 + a3;  // keep the loads alive
    });
    double dt = now_seconds() - t0;
    best = std::max(best, bytes / dt / 1e9);
  }
  return best;
}

void bench_command(const BenchOptions& o) {
  auto model = load_model(o.model);
  ForwardOptions fo;
  fo.threads = o.threads > 0 ? o.threads : ThreadPool::available_threads();
  fo.context = std::min(model->config.seq_len, o.prompt_tokens + o.gen_tokens);
  fo.max_isa = parse_max_isa(o.max_isa);
  fo.batch = o.batch;
  fo.kv_type = parse_kv_type(o.kv_type);
  if (o.prompt_tokens + o.gen_tokens > model->config.seq_len)
    throw InputError(o.model, "bench needs " + std::to_string(o.prompt_tokens + o.gen_tokens) +
                                  " positions, the model's context is " + std::to_string(model->config.seq_len));
  Forward forward(*model, fo);
  const int vocab = model->config.vocab_size;

  std::vector<double> pp, tg;
  for (int rep = 0; rep < o.repeats; ++rep) {
    int token = 1, pos = o.prompt_tokens;
    std::vector<int32_t> prompt(o.prompt_tokens);
    for (int i = 0; i < o.prompt_tokens; ++i) prompt[i] = (token + i * 7919) % vocab;
    double t0 = now_seconds();
    if (o.prompt_tokens > 0) forward.prompt(prompt.data(), o.prompt_tokens, 0);
    double t1 = now_seconds();
    for (int i = 0; i < o.gen_tokens; ++i, ++pos) token = Sampler::argmax(forward.step(token, pos), vocab);
    double t2 = now_seconds();
    if (o.prompt_tokens > 0) pp.push_back(o.prompt_tokens / (t1 - t0));
    if (o.gen_tokens > 0) tg.push_back(o.gen_tokens / (t2 - t1));
  }
  double bw = read_bandwidth_gbs(forward.pool());
  double bytes = static_cast<double>(model->bytes_read_per_token());
  double bound = bw * 1e9 / bytes;

  std::printf("model:       %s (%s, %s, %.1f MiB read per token)\n", o.model.c_str(), model->format_name().c_str(),
              std::string(dtype_name(model->layers[0].wq.type)).c_str(), bytes / 1048576.0);
  std::printf("threads:     %d (%s kernels)\n", forward.pool().size(),
              std::string(isa_level_name(forward.cpu().level)).c_str());
  if (!pp.empty()) std::printf("prompt:      %10.2f tok/s (median of %d, %d tokens)\n", median(pp), o.repeats, o.prompt_tokens);
  if (!tg.empty()) std::printf("generation:  %10.2f tok/s (median of %d, %d tokens)\n", median(tg), o.repeats, o.gen_tokens);
  std::printf("bandwidth:   %10.2f GB/s read (measured now, %d threads)\n", bw, forward.pool().size());
  std::printf("bound:       %10.2f tok/s (bytes per token / bandwidth)\n", bound);
  if (!tg.empty()) std::printf("achieved:    %10.1f %% of the bound\n", 100.0 * median(tg) / bound);
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App* cmd = app.add_subcommand("bench", "Measure prompt and generation speed against the bandwidth bound");
  cmd->add_option("-m,--model", o->model, "Model file")->required();
  cmd->add_option("-t,--threads", o->threads, "Threads (default: all available)")->check(CLI::Range(0, 1024));
  cmd->add_option("-p,--n-prompt", o->prompt_tokens, "Prompt tokens per repeat")->check(CLI::Range(0, 1 << 20))->capture_default_str();
  cmd->add_option("-n,--n-gen", o->gen_tokens, "Generated tokens per repeat")->check(CLI::Range(0, 1 << 20))->capture_default_str();
  cmd->add_option("-r,--repeats", o->repeats, "Repeats (the median is reported)")->check(CLI::Range(1, 1000))->capture_default_str();
  add_kernel_options(*cmd, o->max_isa, o->batch, o->kv_type);
  cmd->callback([o] { bench_command(*o); });
}

}  // namespace bf::cli
