// The engine version that keys every snapshot (src/snapshot/snapshot.h).
//
// Bump kEngineVersion in the same commit as any change that can make a saved snapshot's
// choices wrong or unusable: a variant renamed or removed, a kernel's semantics or its
// weight layout changed, a generator's conf fields or their meaning changed, the op shape
// classes or the op signature computed differently, or the thread split's meaning changed.
// A snapshot written by another engine version is then reported stale and re-tuned,
// never executed. (Changes to the snapshot file format itself bump kSnapshotFormat.)
#pragma once

namespace bf {

inline constexpr int kEngineVersion = 2;

}  // namespace bf
