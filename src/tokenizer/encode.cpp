// SentencePiece BPE encoding. The text is split into code points, then adjacent symbols are merged,
// best-scoring pair first, through a priority queue of candidate pairs (as SentencePiece does), so a
// long prompt costs O(n log n) rather than llama2.c's O(n^2) rescans. The result is the same: among
// the live pairs the queue always yields the highest score, leftmost on ties.
#include <climits>
#include <queue>
#include <stdexcept>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace bf {
namespace {

// A run of text in a doubly linked list; merging grows the left symbol and empties the right one.
struct Symbol {
  size_t start;
  size_t len;
  int prev;
  int next;
};

// A candidate merge of two neighbours. `len` is their combined length when it was queued: lengths
// only grow, so a pair whose current lengths no longer add up to it is stale.
struct Pair {
  float score;
  int left;
  int right;
  size_t len;
};

struct LowerPriority {
  bool operator()(const Pair& a, const Pair& b) const {
    if (a.score != b.score) return a.score < b.score;
    return a.left > b.left;  // symbols are numbered left to right: leftmost wins ties
  }
};

using PairQueue = std::priority_queue<Pair, std::vector<Pair>, LowerPriority>;

// Length of the code point at s[i]; a byte that does not start a complete, well-formed sequence
// stands alone (it can only become a byte token).
size_t code_point_len(std::string_view s, size_t i) {
  auto c = static_cast<unsigned char>(s[i]);
  size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 1;
  if (n > s.size() - i) return 1;
  for (size_t k = 1; k < n; k++) {
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 1;
  }
  return n;
}

std::vector<Symbol> split_code_points(std::string_view s) {
  std::vector<Symbol> symbols;
  for (size_t i = 0; i < s.size();) {
    size_t n = code_point_len(s, i);
    int index = static_cast<int>(symbols.size());
    symbols.push_back({i, n, index - 1, index + 1});
    i += n;
  }
  if (!symbols.empty()) symbols.back().next = -1;
  return symbols;
}

// The merge loop lives in a class so its state is not passed around by hand.
// Find maps a piece to its id, or -1 when text cannot encode to it.
template <typename Find>
class Merger {
 public:
  Merger(std::string_view text, const Find& find, const std::vector<float>& scores)
      : text_(text), find_(find), scores_(scores), symbols_(split_code_points(text)) {}

  const std::vector<Symbol>& run() {
    for (size_t i = 1; i < symbols_.size(); i++) queue_pair(static_cast<int>(i) - 1, static_cast<int>(i));
    while (!queue_.empty()) {
      Pair p = queue_.top();
      queue_.pop();
      if (!live(p)) continue;
      merge(p);
    }
    return symbols_;
  }

 private:
  bool live(const Pair& p) const {
    const Symbol& l = symbols_[p.left];
    const Symbol& r = symbols_[p.right];
    return l.len > 0 && r.len > 0 && l.len + r.len == p.len;
  }

  void queue_pair(int left, int right) {
    if (left < 0 || right < 0) return;
    size_t len = symbols_[left].len + symbols_[right].len;
    int id = find_(text_.substr(symbols_[left].start, len));
    if (id >= 0) queue_.push({scores_[id], left, right, len});
  }

  void merge(const Pair& p) {
    Symbol& l = symbols_[p.left];
    Symbol& r = symbols_[p.right];
    l.len += r.len;
    r.len = 0;
    l.next = r.next;
    if (r.next >= 0) symbols_[r.next].prev = p.left;
    queue_pair(l.prev, p.left);
    queue_pair(p.left, l.next);
  }

  std::string_view text_;
  const Find& find_;
  const std::vector<float>& scores_;
  std::vector<Symbol> symbols_;
  PairQueue queue_;
};

}  // namespace

void Tokenizer::append_bytes(std::string_view symbol, std::vector<int>& out) const {
  for (char c : symbol) {
    int id = byte_ids_[static_cast<unsigned char>(c)];
    out.push_back(id >= 0 ? id : vocab_.unk_id);
  }
}

std::vector<int> Tokenizer::encode(std::string_view text, bool add_bos, bool add_eos) const {
  std::vector<int> out;
  if (add_bos) out.push_back(vocab_.bos_id);
  // Spaces are the word marker; a U+2581 in the text means the same to SentencePiece.
  std::string norm = plain_spaces(text);
  if (vocab_.add_space_prefix && !text.empty()) norm.insert(norm.begin(), ' ');
  // Symbols are numbered with int; no real prompt comes near this.
  if (norm.size() >= static_cast<size_t>(INT_MAX)) throw std::length_error("text too long to tokenize");
  auto find = [this](std::string_view p) { return this->find(p); };
  Merger merger(norm, find, vocab_.scores);
  const std::vector<Symbol>& symbols = merger.run();
  for (int i = symbols.empty() ? -1 : 0; i >= 0; i = symbols[i].next) {
    std::string_view s = std::string_view(norm).substr(symbols[i].start, symbols[i].len);
    int id = find(s);
    if (id >= 0) {
      out.push_back(id);
    } else {
      append_bytes(s, out);
    }
  }
  if (add_eos) out.push_back(vocab_.eos_id);
  return out;
}

}  // namespace bf
