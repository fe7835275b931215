// Steady client load for the reliability tests: round trips (v2 Encrypt of
// a random seed, then Decrypt of the answer) from several threads until
// stopped, every outcome counted and every plaintext checked; and what the
// tests measure around it.
#pragma once

#include <grpcpp/support/status.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace trousseau::testkit {

/// Descriptors open in this process (/proc/self/fd).
std::size_t open_fds();
/// This process's resident set (VmRSS), in KiB.
std::size_t rss_kib();
/// "UNAVAILABLE 3, INVALID_ARGUMENT 1", or "none": the codes other than OK.
std::string describe(const std::map<grpc::StatusCode, std::uint64_t>& codes);
/// The codes a client may see from a KMS outage: OK, UNAVAILABLE,
/// DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED.
bool outage_code(grpc::StatusCode code);

class Load {
 public:
  /// Starts `threads` clients on the plugin's `socket`, each with
  /// `deadline` per call.
  Load(const std::string& socket, int threads,
       std::chrono::milliseconds deadline = std::chrono::milliseconds(1500));
  ~Load();  ///< stop()
  Load(const Load&) = delete;
  Load& operator=(const Load&) = delete;

  void stop();  ///< joins the clients; idempotent
  std::uint64_t answered() const { return answered_.load(); }
  std::uint64_t ok() const { return ok_.load(); }
  /// Decrypts that answered OK with another plaintext than the one sealed.
  std::uint64_t wrong() const { return wrong_.load(); }
  std::map<grpc::StatusCode, std::uint64_t> codes() const;
  /// Waits until `n` more round trips have been answered.
  bool answer(std::uint64_t n);
  /// Waits until `n` round trips in a row succeeded.
  bool succeed(std::uint64_t n);
  /// Waits until every client's current round trip began after `t`: none
  /// of the round trips in flight at `t` is left.
  bool all_began_after(std::chrono::steady_clock::time_point t);

 private:
  void count(grpc::StatusCode code);
  void run(const std::string& socket, int index, std::chrono::milliseconds deadline);

  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> answered_{0}, ok_{0}, wrong_{0}, streak_{0};
  mutable std::mutex mutex_;
  std::map<grpc::StatusCode, std::uint64_t> codes_;
  /// Per client: when its current round trip began (steady clock, ns).
  std::deque<std::atomic<std::int64_t>> began_;
  std::vector<std::thread> threads_;
};

}  // namespace trousseau::testkit
