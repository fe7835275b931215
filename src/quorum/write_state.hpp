// What a node's recent writes lacked: the providers that missed a degraded
// write and have not been seen healthy since. It is part of key_id (see
// Engine::key_id), so an envelope written without them carries a key_id
// that no complete write ever reports, and every node of a control plane
// sees it as stale once the providers are back. Kept in
// <state_dir>/state.json so a restarted plugin reports what it was writing.
#pragma once

#include <set>
#include <string>

#include "common/error.hpp"

namespace trousseau::quorum {

struct WriteState {
  std::set<std::string> missing;  ///< provider names; empty: writes are complete
  bool degraded() const { return !missing.empty(); }
  std::string names() const;  ///< "a,b": the missing names, for logs
};

/// Reads `path`; a missing file is a fresh state, a corrupt one an error.
/// Also reads the earlier format ({"generation":N,"degraded":…,"missing":[…]}):
/// its generation no longer counts, and its names count only when degraded.
Result<WriteState> load_write_state(const std::string& path);
/// Writes atomically: temp file, fsync, rename, fsync of the directory.
Error save_write_state(const std::string& path, const WriteState& state);

}  // namespace trousseau::quorum
