// The token loop: feed the prompt, sample, stream text, stop at end of sequence,
// at the requested count or at the context length.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "graph/forward.h"
#include "sampler/sampler.h"
#include "tokenizer/tokenizer.h"

namespace bf {

struct GenerateOptions {
  std::string prompt;
  int max_new_tokens = 256;  // -n: generated tokens, prompt excluded; < 0 = until the context is full
  SamplerOptions sampler;
};

struct GenerateResult {
  std::vector<int> tokens;  // every token after BOS: the prompt's, then the generated ones
  int prompt_tokens = 0;    // including BOS
  int generated = 0;
  double prompt_seconds = 0;      // time to process the prompt (its last step included)
  double generation_seconds = 0;  // time for the remaining generated tokens
  bool stopped_at_end = false;    // the model ended the sequence with `end_token`
  int end_token = -1;
  bool stopped_at_context = false;
};

// Streams each piece of text to `on_text` as soon as its token is known.
GenerateResult generate(Forward& forward, const Tokenizer& tokenizer, const GenerateOptions& options,
                        const std::function<void(const std::string&)>& on_text);

// Seconds from a monotonic clock (only a few calls per run, never per op).
double now_seconds();

}  // namespace bf
