// The `injected` provider's configuration keys:
//
//   delay: {distribution: lognormal, median: 10ms, p99: 40ms}
//          # or {distribution: constant, value: 2ms}; optional with hang
//   outliers: {rate: 0.01, delay: 1s}  # optional
//   hang: false     # true: answer only when cancelled or at the deadline
//   hang_unwrap: false  # true: only unwraps hang; wraps answer after the
//                       # delay (data written while it worked, then it hangs)
//   seed: 1         # optional: the same delays, draw for draw
//   record: /abs/calls.tsv  # optional: one line per call, see call_log.hpp
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "bench/providers/injected/delay.hpp"
#include "providers/registry.hpp"
#include "settings/node.hpp"

namespace trousseau::bench::injected {

struct Settings final : providers::ProviderSettings {
  DelaySpec delay;
  bool hang = false;
  bool hang_unwrap = false;
  std::optional<std::uint64_t> seed;  ///< none: a random one per instance
  std::string record;                 ///< absolute path; empty: no record
};

/// Reads and validates those keys of `node` (a provider mapping, or a
/// member of a `sequential` one); problems go to the node's diagnostics
/// with their field paths. Reads no other key and touches no file.
std::unique_ptr<Settings> parse_settings(settings::Node& node);

}  // namespace trousseau::bench::injected
