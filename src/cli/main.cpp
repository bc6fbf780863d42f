// bareflow: command-line entry. Bad input of any kind ends in one line on stderr
// naming the file and the problem, and exit status 2.
#include <cstdio>
#include <exception>

#include "cli/commands.h"
#include "cli/mkmodel_command.h"
#include "util/error.h"

int main(int argc, char** argv) {
  CLI::App app{"BareFlow: self-optimizing Llama inference", "bareflow"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("bareflow ") + BAREFLOW_VERSION);
  bf::cli::add_run_command(app);
  bf::cli::add_info_command(app);
  bf::cli::add_bench_command(app);
  bf::cli::add_tune_command(app);
  bf::cli::add_snapshot_command(app);
  bf::cli::add_mkmodel_command(app);
  try {
    if (argc > 1 && argv[1][0] != '-') {
      try {
        app.get_subcommand(argv[1]);
      } catch (const CLI::OptionNotFound&) {
        throw CLI::ParseError("unknown command '" + std::string(argv[1]) + "'", CLI::ExitCodes::ExtrasError);
      }
    }
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "bareflow: error: %s (see --help)\n", e.what());
    return bf::kExitBadInput;
  } catch (const bf::InputError& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "bareflow: error: %s\n", e.what());
    return bf::kExitBadInput;
  } catch (const std::bad_alloc&) {
    std::fflush(stdout);
    std::fprintf(stderr, "bareflow: error: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "bareflow: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
