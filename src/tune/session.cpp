#include "tune/session.h"

#include <algorithm>
#include <cstdio>
#include <stdexcept>
#include <system_error>

namespace bf {

namespace {
size_t settled_classes(const Tuner& t) {
  return static_cast<size_t>(std::count_if(t.classes().begin(), t.classes().end(),
                                           [](const auto& c) { return c->tier == Tier::Settled; }));
}
}  // namespace

TuningSession::TuningSession(Forward& forward, const SessionOptions& options) : forward_(forward) {
  if (!options.tune) return;
  tuner_ = std::make_unique<Tuner>(forward, options.tuner);
  if (!options.state_dir) return;
  key_ = snapshot_key(forward.model(), forward.cpu(), tuner_->op_signature());
  path_ = snapshot_path(*options.state_dir, key_);
  std::string why;
  if (std::optional<Snapshot> s = load_snapshot(path_, key_, &why)) {
    if (tuner_->apply(s->entries, &why)) {
      loaded_ = true;
      saved_settled_ = settled_classes(*tuner_);
    }
  }
  if (!loaded_ && why != "no snapshot")
    std::fprintf(stderr, "bareflow: snapshot %s not used: %s; tuning again\n", path_.c_str(), why.c_str());
  tuner_->set_on_converged([this] { save_in_background(); });
}

TuningSession::~TuningSession() {
  if (writer_.joinable()) writer_.join();
  if (tuner_ && !path_.empty() && settled_classes(*tuner_) > saved_settled_) save();
}

namespace {
bool write_snapshot(const std::string& path, const Snapshot& s) {
  try {
    save_snapshot_atomic(path, s);
    return true;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bareflow: snapshot not saved: %s\n", e.what());
    return false;
  }
}
}  // namespace

bool TuningSession::save() {
  if (!tuner_ || path_.empty()) return false;
  if (writer_.joinable()) writer_.join();
  Snapshot s{key_, tuner_->export_entries()};
  if (!write_snapshot(path_, s)) return false;
  saved_settled_ = settled_classes(*tuner_);
  return true;
}

void TuningSession::save_in_background() {
  if (!tuner_ || path_.empty()) return;
  if (writer_.joinable()) writer_.join();
  saved_settled_ = settled_classes(*tuner_);
  Snapshot s{key_, tuner_->export_entries()};
  try {
    writer_ = std::thread([path = path_, s] { write_snapshot(path, s); });
  } catch (const std::system_error&) {
    write_snapshot(path_, s);  // no thread to be had (the unikernel: one per CPU): write it now
  }
}

}  // namespace bf
