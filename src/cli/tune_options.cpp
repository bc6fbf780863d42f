// The tuning flags shared by run, bench and tune: --tiers, -v, --no-tune and the state.
#include "cli/commands.h"
#include "cli/tune_options.h"
#include "util/error.h"

namespace bf::cli {

void add_tune_options(CLI::App& cmd, TuneCliOptions& o) {
  cmd.add_option("--tiers", o.tiers,
                 "Calls of a shape class before its first generated kernel, tuning and settling")
      ->capture_default_str();
  cmd.add_flag("-v,--verbose", o.verbose, "Log every tier change: variant, knobs and measured speed (stderr)");
  cmd.add_flag("--no-tune", o.no_tune, "Keep the best fixed variants: no generated kernels, no tuning, no snapshot");
  add_state_options(cmd, o.state);
}

SessionOptions session_options(const TuneCliOptions& o) {
  SessionOptions s;
  std::optional<TierThresholds> tiers = parse_tiers(o.tiers);
  if (!tiers) throw InputError("--tiers", "'" + o.tiers + "' is not three increasing positive counts such as 100,1000,10000");
  s.tuner.tiers = *tiers;
  s.tuner.log = o.verbose ? stderr : nullptr;
  s.tune = !o.no_tune;
  s.state_dir = resolve_state_dir(o.state);
  return s;
}

}  // namespace bf::cli
