// Picks the next token from the logits: greedy, or temperature + top-k + top-p with a
// seeded generator, so the same seed gives the same text on every machine.
#pragma once
#include <cstdint>
#include <vector>

namespace bf {

struct SamplerOptions {
  float temperature = 0.8f;  // 0 = greedy (argmax)
  int top_k = 40;            // 0 = all tokens
  float top_p = 0.95f;       // 1 = no nucleus cut
  uint64_t seed = 42;
};

class Sampler {
 public:
  Sampler(int vocab_size, const SamplerOptions& options);

  // Chooses a token; `logits` is modified (scaled, softmaxed) when sampling.
  int sample(float* logits);

  static int argmax(const float* x, int n);

 private:
  struct Candidate {
    float prob;
    int id;
  };
  float next_uniform();  // in [0, 1)

  int vocab_size_;
  SamplerOptions opt_;
  uint64_t rng_state_;
  std::vector<Candidate> candidates_;  // sized once: sampling allocates nothing
};

}  // namespace bf
