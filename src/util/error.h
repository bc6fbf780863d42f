// Errors about bad input. Every message names the file and the problem in one line,
// so the command line can print it as is and exit with status 2.
#pragma once
#include <stdexcept>
#include <string>

namespace bf {

class InputError : public std::runtime_error {
 public:
  InputError(const std::string& file, const std::string& problem)
      : std::runtime_error(file + ": " + problem) {}
};

// Exit status for bad input (corrupt model, bad tokenizer, stale snapshot, bad arguments).
inline constexpr int kExitBadInput = 2;

}  // namespace bf
