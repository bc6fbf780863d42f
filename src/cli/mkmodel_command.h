// The `bareflow mkmodel` subcommand: writes a deterministic random-weight model.
#pragma once

namespace CLI {
class App;
}

namespace bf::cli {

// Adds `mkmodel` to `app`. Its callback writes the file and prints one summary line to
// stderr; bad arguments or shapes throw InputError("mkmodel", problem), which the
// caller prints and turns into exit status kExitBadInput.
void add_mkmodel_command(CLI::App& app);

}  // namespace bf::cli
