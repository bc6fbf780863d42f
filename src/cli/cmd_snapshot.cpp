// bareflow snapshot show|verify|clear: read, check and remove the tuning snapshots in the
// state directory (format and key: snapshot/snapshot.h).
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <stdexcept>

#include "cli/commands.h"
#include "cpu/cpu.h"
#include "snapshot/snapshot.h"
#include "util/error.h"

namespace bf::cli {
namespace {

struct SnapshotOptions {
  std::string state, model;
};

// What a command acts on: -m MODEL's snapshot, or every one in the state directory.
struct Target {
  std::string dir;
  std::vector<std::string> files;
  std::optional<std::string> fingerprint;  // the model's, with -m
};

Target target_of(const SnapshotOptions& o) {
  Target t;
  t.dir = state_dir(o.state.empty() ? std::nullopt : std::optional<std::string>(o.state));
  if (o.model.empty()) {
    t.files = list_snapshots(t.dir);
  } else {
    SnapshotKey key;  // the file name needs only the model
    key.model_fingerprint = model_fingerprint(*load_model(o.model));
    t.fingerprint = key.model_fingerprint;
    t.files = {snapshot_path(t.dir, key)};
  }
  if (t.files.empty()) std::printf("no snapshots in %s\n", t.dir.c_str());
  return t;
}

// One line per entry, columns as wide as their widest cell, so two machines' or two
// boots' tables compare with diff.
void print_entries(const std::vector<SnapshotEntry>& entries) {
  std::vector<std::vector<std::string>> rows = {{"shape class", "variant", "generator", "layout", "grain", "threads", "ns/call", "code"}};
  for (const SnapshotEntry& e : entries) {
    char ns[32];
    std::snprintf(ns, sizeof ns, "%.1f", e.ns_per_call);
    rows.push_back({e.shape_class, e.variant, e.generator.empty() ? "-" : e.generator, e.layout.empty() ? "-" : e.layout,
                    std::to_string(e.grain), std::to_string(e.threads), ns, std::to_string(e.code.size())});
  }
  std::vector<size_t> width(rows[0].size(), 0);
  for (auto& r : rows)
    for (size_t c = 0; c < r.size(); ++c) width[c] = std::max(width[c], r[c].size());
  for (auto& r : rows) {
    std::string line;
    for (size_t c = 0; c < r.size(); ++c) {
      line += r[c];
      if (c + 1 < r.size()) line += std::string(width[c] - r[c].size() + 2, ' ');
    }
    std::printf("%s\n", line.c_str());
  }
}

void show(const SnapshotOptions& o) {
  const Target t = target_of(o);
  for (size_t i = 0; i < t.files.size(); ++i) {
    const Snapshot s = read_snapshot(t.files[i]);
    std::printf("%sfile:    %s\nengine:  %s\ncpu:     %s\nmodel:   %s\nops:     %s\nentries: %zu\n", i ? "\n" : "",
                t.files[i].c_str(), s.key.engine_version.c_str(), s.key.cpu_signature.c_str(),
                s.key.model_fingerprint.c_str(), s.key.op_signature.c_str(), s.entries.size());
    print_entries(s.entries);
  }
}

// "FILE: OK", or "FILE: why it would not be used by this engine on this CPU". Without -m
// the file's name says which model it is for. The op signature needs the tuner's op list,
// so it is not checked here.
struct Verdict {
  bool ok = false;
  std::string line;
};

Verdict verify_one(const std::string& file, const std::optional<std::string>& fingerprint) {
  Snapshot s;
  try {
    s = read_snapshot(file);
  } catch (const InputError& e) {
    return {false, e.what()};  // "file: problem"
  }
  const CpuInfo& host = CpuInfo::host();
  SnapshotKey expected{engine_version_string(), host.signature(),
                       fingerprint.value_or(std::filesystem::path(file).stem().string()), s.key.op_signature};
  const std::string why = snapshot_key_mismatch(s.key, expected);
  if (why.empty()) return {true, file + ": OK"};
  // A run with --max-isa keys its snapshot to this CPU capped at that level.
  for (int l = static_cast<int>(host.level) - 1; l >= 0; --l) {
    const IsaLevel level = static_cast<IsaLevel>(l);
    expected.cpu_signature = host.capped(level).signature();
    if (snapshot_key_mismatch(s.key, expected).empty())
      return {true, file + ": OK (for runs with --max-isa " + std::string(isa_level_name(level)) + ")"};
  }
  return {false, file + ": " + why};
}

void verify(const SnapshotOptions& o) {
  const Target t = target_of(o);
  size_t bad = 0;
  for (const std::string& f : t.files) {
    const Verdict v = verify_one(f, t.fingerprint);
    std::printf("%s\n", v.line.c_str());
    bad += !v.ok;
  }
  std::fflush(stdout);
  if (bad > 0) throw InputError(t.dir, std::to_string(bad) + " of " + std::to_string(t.files.size()) + " snapshots would not be used");
}

void clear(const SnapshotOptions& o) {
  const Target t = target_of(o);
  int removed = 0;
  if (t.fingerprint) {
    std::error_code ec;
    removed = std::filesystem::remove(t.files.front(), ec) ? 1 : 0;
    if (ec) throw std::runtime_error(t.files.front() + ": cannot remove: " + ec.message());
  } else if (!t.files.empty()) {
    removed = clear_snapshots(t.dir);
  }
  std::printf("removed %d file%s from %s\n", removed, removed == 1 ? "" : "s", t.dir.c_str());
}

void add_action(CLI::App& parent, const char* name, const char* what, void (*action)(const SnapshotOptions&)) {
  auto o = std::make_shared<SnapshotOptions>();
  CLI::App* cmd = parent.add_subcommand(name, what);
  cmd->add_option("--state", o->state, "State directory (default: $BAREFLOW_STATE, else $XDG_CACHE_HOME/bareflow, else ~/.cache/bareflow)");
  cmd->add_option("-m,--model", o->model, "Only the snapshot of this model file");
  cmd->callback([o, action] { action(*o); });
}

}  // namespace

void add_snapshot_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("snapshot", "Show, verify or remove the tuning snapshots in the state directory");
  cmd->require_subcommand(1);
  add_action(*cmd, "show", "Print each snapshot's key and its table of tuned variants", show);
  add_action(*cmd, "verify",
             "Check each snapshot (checksum, format, engine version, this CPU, its model); one line per file, "
             "non-zero exit if any would not be used",
             verify);
  add_action(*cmd, "clear", "Remove the snapshots (and leftover temporary files)", clear);
}

}  // namespace bf::cli
