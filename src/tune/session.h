// A tuning session: the tuner of one Forward plus its snapshot in the state directory.
// At start it loads the snapshot for this model, CPU and engine (one line on stderr says
// why one is not used, and tuning starts over); it saves when the last shape class
// settles (written by a thread of its own: the fsyncs must not hold up a token) and
// again at exit when something settled since.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "tune/tuner.h"

namespace bf {

struct SessionOptions {
  TunerOptions tuner;
  bool tune = true;                      // false: fixed variants only, no snapshot
  std::optional<std::string> state_dir;  // the resolved state directory; nullopt: no state
};

class TuningSession {
 public:
  TuningSession(Forward& forward, const SessionOptions& options);
  ~TuningSession();  // saves what settled since the last save (never throws)

  Tuner* tuner() { return tuner_.get(); }
  const std::string& snapshot_file() const { return path_; }  // "" without state
  bool loaded() const { return loaded_; }     // the run started from a snapshot
  // Writes the settled classes' choices now; false (and one line on stderr) on I/O error.
  bool save();
  // The same, on a thread of its own; a later save or the destructor waits for it.
  void save_in_background();

 private:
  Forward& forward_;
  std::unique_ptr<Tuner> tuner_;
  SnapshotKey key_;
  std::string path_;
  bool loaded_ = false;
  size_t saved_settled_ = 0;  // settled classes in the last file written or read
  std::thread writer_;
};

}  // namespace bf
