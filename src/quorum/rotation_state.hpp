// The small piece of state that must survive restarts: the key_id
// generation, bumped after a degraded write once every provider is back, so
// that kube-apiserver draws a new DEK that every slot wraps.
#pragma once

#include <cstdint>
#include <set>
#include <string>

#include "common/error.hpp"

namespace trousseau::quorum {

struct RotationState {
  std::uint64_t generation = 0;
  bool degraded = false;              ///< the newest DEK misses some providers
  std::set<std::string> missing;      ///< which ones (for operators)
};

/// Reads `path`; a missing file is a fresh state, a corrupt one an error.
Result<RotationState> load_rotation_state(const std::string& path);
/// Writes atomically: temp file, fsync, rename, fsync of the directory.
Error save_rotation_state(const std::string& path, const RotationState& state);

}  // namespace trousseau::quorum
