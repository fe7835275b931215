// Keeps a fixed number of calls outstanding and measures each.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "call_slot.hpp"
#include "histogram.hpp"
#include "outcome.hpp"

namespace trousseau::bench {

struct PhaseOptions {
  std::size_t concurrency = 1;  // calls outstanding at all times
  std::size_t threads = 1;      // completion queues, one polling thread each
  /// Calls in the phase; when 0, calls start until `duration` has passed.
  std::uint64_t count = 0;
  std::chrono::nanoseconds duration{};
  std::chrono::milliseconds deadline{3000};  // per call
  /// Call i carries the uid uid_prefix + (first_seq + i).
  std::string uid_prefix;
  std::uint64_t first_seq = 0;
  bool keep_records = false;  // one CallRecord per call
  /// A slot waits this long after an answer before its next call (a
  /// grpc::Alarm on its queue), so that every call meets a server that sat
  /// idle that long: the floor of a request that follows a KMS's delay.
  std::chrono::microseconds think{};
};

struct CallRecord {
  std::uint64_t index;  // in the phase
  std::uint64_t latency_ns;
  int code;  // grpc::StatusCode
};

/// Outcome (outcome.hpp), plus what only the load generator records.
struct PhaseResult : Outcome {
  std::uint64_t ciphertext_bytes = 0;  // returned by successful encrypts
  std::vector<CallRecord> records;     // by index, with keep_records
};

/// Runs one phase of `plan` over `channels` (call slot l uses channel
/// l % size). Each slot starts its next call from the completion of its
/// previous one (after `think`, when set), so exactly `concurrency` calls
/// are outstanding until the count or the duration runs out; nothing else
/// waits on a timer. A failed call
/// is counted by its status and the phase goes on. Returns once every call
/// has completed; `plan` is only read.
PhaseResult run_phase(const PhaseOptions& options, const CallPlan& plan,
                      const std::vector<std::shared_ptr<grpc::Channel>>& channels);

}  // namespace trousseau::bench
