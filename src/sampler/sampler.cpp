#include "sampler/sampler.h"

#include <algorithm>
#include <cmath>

#include "kernels/reference.h"

namespace bf {

Sampler::Sampler(int vocab_size, const SamplerOptions& options)
    : vocab_size_(vocab_size), opt_(options), rng_state_(options.seed ? options.seed : 0x9e3779b97f4a7c15ull),
      candidates_(vocab_size) {}

int Sampler::argmax(const float* x, int n) {
  int best = 0;
  for (int i = 1; i < n; ++i)
    if (x[i] > x[best]) best = i;
  return best;
}

// xorshift64*: tiny, fast and identical everywhere.
float Sampler::next_uniform() {
  rng_state_ ^= rng_state_ >> 12;
  rng_state_ ^= rng_state_ << 25;
  rng_state_ ^= rng_state_ >> 27;
  uint32_t r = static_cast<uint32_t>((rng_state_ * 0x2545F4914F6CDD1Dull) >> 32);
  return static_cast<float>(r >> 8) / 16777216.0f;
}

int Sampler::sample(float* logits) {
  if (opt_.temperature <= 0.0f) return argmax(logits, vocab_size_);
  for (int i = 0; i < vocab_size_; ++i) logits[i] /= opt_.temperature;
  ref::softmax(logits, vocab_size_);
  for (int i = 0; i < vocab_size_; ++i) candidates_[i] = {logits[i], i};

  // Keep the k most likely, then the smallest prefix whose mass reaches top_p.
  auto by_prob = [](const Candidate& a, const Candidate& b) { return a.prob > b.prob || (a.prob == b.prob && a.id < b.id); };
  int n = vocab_size_;
  if (opt_.top_k > 0 && opt_.top_k < n) {
    std::partial_sort(candidates_.begin(), candidates_.begin() + opt_.top_k, candidates_.end(), by_prob);
    n = opt_.top_k;
  } else {
    std::sort(candidates_.begin(), candidates_.end(), by_prob);
  }
  float mass = 0;
  for (int i = 0; i < n; ++i) mass += candidates_[i].prob;
  if (opt_.top_p > 0.0f && opt_.top_p < 1.0f) {
    float cumulative = 0;
    for (int i = 0; i < n; ++i) {
      cumulative += candidates_[i].prob;
      if (cumulative >= opt_.top_p * mass) {
        n = i + 1;
        mass = cumulative;
        break;
      }
    }
  }
  float coin = next_uniform() * mass;
  float cumulative = 0;
  for (int i = 0; i < n; ++i) {
    cumulative += candidates_[i].prob;
    if (coin < cumulative) return candidates_[i].id;
  }
  return candidates_[n - 1].id;  // rounding left the coin past the last cumulative sum
}

}  // namespace bf
