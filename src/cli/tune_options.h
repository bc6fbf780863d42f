// The tuning flags of run, bench and tune (tune_options.cpp).
#pragma once
#include <CLI/CLI.hpp>
#include <string>

#include "cli/commands.h"
#include "tune/session.h"

namespace bf::cli {

struct TuneCliOptions {
  std::string tiers = "100,1000,10000";
  bool verbose = false;
  bool no_tune = false;
  StateOptions state;
};

void add_tune_options(CLI::App& cmd, TuneCliOptions& o);
// Throws InputError for a malformed --tiers.
SessionOptions session_options(const TuneCliOptions& o);

}  // namespace bf::cli
