// --state DIR and --no-state, shared by run, bench and tune: where the snapshot lives.
#include "cli/commands.h"
#include "snapshot/snapshot.h"

namespace bf::cli {

void add_state_options(CLI::App& cmd, StateOptions& o) {
  CLI::Option* dir = cmd.add_option("--state", o.dir,
                                    "State directory for tuning snapshots (default: $BAREFLOW_STATE, else "
                                    "$XDG_CACHE_HOME/bareflow, else ~/.cache/bareflow)");
  cmd.add_flag("--no-state", o.disabled, "Neither load nor save a tuning snapshot")->excludes(dir);
}

std::optional<std::string> resolve_state_dir(const StateOptions& o) {
  if (o.disabled) return std::nullopt;
  return state_dir(o.dir.empty() ? std::nullopt : std::optional<std::string>(o.dir));
}

}  // namespace bf::cli
