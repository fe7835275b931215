// Process-wide protections for a process that holds secrets.
#pragma once

#include "common/error.hpp"

namespace trousseau {

/// Disables core dumps (RLIMIT_CORE 0) and marks the process non-dumpable
/// (PR_SET_DUMPABLE 0: no core file, and no ptrace attach or
/// /proc/<pid>/mem for processes without CAP_SYS_PTRACE). Call it first in
/// main, before any thread or secret exists.
Error harden_process();

}  // namespace trousseau
