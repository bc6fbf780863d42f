#include "generate/generate.h"

#include <chrono>

#include "util/error.h"

namespace bf {

double now_seconds() {
  using clock = std::chrono::steady_clock;
  return std::chrono::duration<double>(clock::now().time_since_epoch()).count();
}

namespace {
bool ends_sequence(const Model& m, int token) {
  // llama2.c models delimit stories with BOS (as run.c does); GGUF models end with EOS.
  if (m.stop_at_bos) return token == m.bos_id;
  return token == m.eos_id || token == m.bos_id;
}
}  // namespace

GenerateResult generate(Forward& forward, const Tokenizer& tokenizer, const GenerateOptions& options,
                        const std::function<void(const std::string&)>& on_text) {
  const Model& model = forward.model();
  std::vector<int> prompt = tokenizer.encode(options.prompt, true, false);
  GenerateResult r;
  r.prompt_tokens = static_cast<int>(prompt.size());
  if (r.prompt_tokens > forward.context())
    throw InputError("prompt", std::to_string(r.prompt_tokens) + " tokens do not fit the context of " +
                                   std::to_string(forward.context()));
  Sampler sampler(model.config.vocab_size, options.sampler);
  r.tokens.reserve(static_cast<size_t>(forward.context()));  // no growth inside the token loop
  // The prompt runs as batched chunks; its last position's logits give the first sample.
  double start = now_seconds();
  float* logits = forward.prompt(prompt.data(), r.prompt_tokens, 0);
  for (int i = 1; i < r.prompt_tokens; ++i) {
    on_text(tokenizer.decode(prompt[i - 1], prompt[i]));
    r.tokens.push_back(prompt[i]);
  }
  double prompt_done = now_seconds();
  int token = prompt.back();
  for (int pos = r.prompt_tokens;; ++pos) {
    if (options.max_new_tokens >= 0 && r.generated >= options.max_new_tokens) break;
    int next = sampler.sample(logits);
    if (ends_sequence(model, next)) {
      r.stopped_at_end = true;
      r.end_token = next;
      break;
    }
    ++r.generated;
    on_text(tokenizer.decode(token, next));
    r.tokens.push_back(next);
    token = next;
    if (options.max_new_tokens >= 0 && r.generated >= options.max_new_tokens) break;  // no wasted step
    if (pos >= forward.context()) {
      r.stopped_at_context = true;
      break;
    }
    logits = forward.step(token, pos);
  }
  double end = now_seconds();
  r.prompt_seconds = prompt_done - start;
  r.generation_seconds = end - prompt_done;
  return r;
}

}  // namespace bf
