// The quorum engine: fans each Encrypt and Decrypt out to the providers of
// the policy and answers at the quorum.
//
// Encrypt, step by step:
//  1. Draw a fresh 32-byte envelope key K and a 12-byte nonce; split K
//     k-of-n, share i going to slot i (x = i + 1).
//  2. Ask every admitted provider of every slot to wrap its slot's share, in
//     parallel, each call bounded by its provider timeout and the request
//     deadline. Providers whose breaker is open are not asked.
//  3. When every call has answered, or W slots hold a wrapped share and
//     `encrypt_grace` has passed since, cancel what is left and build the
//     envelope from the slots that hold a share.
//  4. Fewer than W slots: UNAVAILABLE naming every provider and its error.
//     W or more but not every provider: a degraded write. The providers it
//     missed join the key_id (Engine::key_id) until probes find them healthy
//     again, so the envelope carries a key_id that no complete write
//     reports, on this node or any other.
//
// Decrypt, step by step:
//  1. Parse the envelope (INVALID_ARGUMENT when malformed).
//  2. Rank each (slot, provider) pair: healthy first, then by observed
//     latency. "hedged": start the best one per slot for k slots; "all":
//     start every pair at once.
//  3. A failed call starts the next best pair. A call slower than its
//     provider's high-percentile latency starts one more (a hedge).
//  4. Whenever k shares from distinct slots are at hand, combine them and
//     open the sealed data. The first key whose GCM tag verifies wins: every
//     outstanding call is cancelled and the plaintext returned. Shares that
//     disagree with the verified polynomial are named as bad.
//  5. When no k-subset verifies, fetch one more share and retry; when every
//     pair has answered, fail: INVALID_ARGUMENT if the data is at fault,
//     UNAVAILABLE naming the providers that failed otherwise.
//  6. The request deadline or a cancellation ends the request at once,
//     cancelling every outstanding call.
//
// Threading: each request runs on its own strand of the shared io_context.
// The caller passes that strand; the completion handler runs on it, and the
// caller must emit cancellation on the handler's slot from it.
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/caller_executor.hpp"
#include "config/config.hpp"
#include "envelope/format.hpp"
#include "quorum/managed_provider.hpp"
#include "quorum/observer.hpp"
#include "quorum/write_state.hpp"

namespace trousseau::quorum {

/// A request's strand. Its executor is the io_context's, except on a thread
/// that holds a CallerQueue (common/caller_executor.hpp): kms's services
/// run each request on the gRPC thread that received it until it waits.
using Strand = CallerStrand;

struct EncryptOutcome {
  envelope::Encoded encoded;
  std::string key_id;                 ///< the key_id this envelope belongs to
  std::vector<std::string> missing;   ///< providers that did not wrap (degraded)
};

/// What the caller knows of one request besides its data.
struct RequestInfo {
  Clock::time_point deadline;  ///< the whole request's budget
  /// The caller's request id (kube-apiserver's v2 `uid`), passed to every
  /// provider call so that logs and benchmarks can join them. Untrusted and
  /// possibly empty; the services bound its length (kms/request.hpp).
  std::string id;
  /// Filled with what the request did before the handler runs (optional).
  std::shared_ptr<RequestTrace> trace{};
};

using EncryptSignature = void(Error, EncryptOutcome);
using DecryptSignature = void(Error, SecretBytes);

struct Status {
  bool healthy = false;  ///< W slots (and so k) have a healthy provider
  std::string key_id;
  std::string detail;    ///< which providers are unhealthy, for logs
};

struct Counters {
  std::uint64_t degraded_encrypts = 0;
  std::uint64_t bad_shares = 0;
  std::uint64_t hedges = 0;
  std::uint64_t forgeries_refused = 0;     ///< envelopes no accepted policy admits
  std::uint64_t earlier_policy_reads = 0;  ///< admitted only by policy.previous
  std::uint64_t legacy_reads = 0;          ///< the original Trousseau's ciphertexts opened
  std::uint64_t combinations_tried = 0;    ///< GCM passes over k-subsets of shares
};

namespace detail {
class Operation;
}

/// Owned by a shared_ptr in the plugin (a reload swaps engines while
/// requests run): each operation then keeps its engine alive until its last
/// provider call has drained. Tests may own one directly.
class Engine : public std::enable_shared_from_this<Engine> {
 public:
  /// `providers` must hold every provider the policy names. The rotation
  /// state at `state_path` (none when empty) is written on `state_writer`,
  /// one write at a time in order, never on a request strand; by default on
  /// a thread of the engine's own, which the destructor joins.
  Engine(asio::io_context& io, const config::Config& cfg,
         std::vector<std::shared_ptr<ManagedProvider>> providers,
         std::string state_path = {},
         std::optional<asio::any_io_executor> state_writer = std::nullopt);
  Engine(asio::io_context& io, const config::Config& cfg,
         std::vector<std::unique_ptr<ManagedProvider>> providers,
         std::string state_path = {},
         std::optional<asio::any_io_executor> state_writer = std::nullopt)
      : Engine(io, cfg, shared(std::move(providers)), std::move(state_path),
               std::move(state_writer)) {}
  ~Engine();

  Strand make_strand() { return make_caller_strand(io_); }

  template <typename Token>
  auto async_encrypt(Strand strand, ByteView plaintext, envelope::Limits limits,
                     RequestInfo request, Token&& token) {
    return asio::async_initiate<Token, EncryptSignature>(
        [this](auto h, Strand s, ByteView p, envelope::Limits l, RequestInfo r) {
          encrypt_impl(std::move(s), p, l, std::move(r), std::move(h));
        },
        token, std::move(strand), plaintext, limits, std::move(request));
  }

  template <typename Token>
  auto async_decrypt(Strand strand, ByteView ciphertext, const envelope::Annotations& annotations,
                     RequestInfo request, Token&& token) {
    return asio::async_initiate<Token, DecryptSignature>(
        [this](auto h, Strand s, ByteView c, const envelope::Annotations& a, RequestInfo r) {
          decrypt_impl(std::move(s), c, a, std::move(r), std::move(h));
        },
        token, std::move(strand), ciphertext, annotations, std::move(request));
  }

  /// Opens one of the original Trousseau's ciphertexts
  /// (envelope/legacy.hpp) through the provider `legacy:` maps to its
  /// origin, asking every mapped origin at once and answering with the
  /// first plaintext. Only kms's v1beta1 service calls it: the original
  /// spoke nothing else. Counted and logged, so the operator sees when
  /// nothing old is left.
  template <typename Token>
  auto async_legacy_decrypt(Strand strand, ByteView ciphertext, RequestInfo request,
                            Token&& token) {
    return asio::async_initiate<Token, DecryptSignature>(
        [this](auto h, Strand s, ByteView c, RequestInfo r) {
          legacy_decrypt_impl(std::move(s), c, std::move(r), std::move(h));
        },
        token, std::move(strand), ciphertext, std::move(request));
  }

  /// From cached health only: no provider is called.
  Status status() const;
  /// A digest of the policy, every provider's key identity and, while
  /// writes are degraded, the providers they miss. A pure function of what
  /// Encrypt writes now: nodes with the same configuration and the same
  /// KMSes report the same key_id whatever each of them lived through, and
  /// a degraded envelope's key_id differs from every complete one's. Never
  /// secret.
  std::string key_id() const;

  const config::Config& config() const { return cfg_; }
  const std::vector<std::vector<ManagedProvider*>>& slots() const { return slots_; }
  ManagedProvider* find(std::string_view name) const;
  /// The policy's slots (indices) that a writer of etcd can fill without
  /// any KMS: those with a provider whose shares anyone can wrap
  /// (Provider::anyone_can_wrap). When there are at least `threshold` of
  /// them, envelopes can be forged; the daemon warns at start and reload.
  std::vector<std::size_t> forgeable_slots() const;
  std::vector<ManagedProvider*> providers() const;
  Counters counters() const;
  WriteState write_state() const;

  /// Called by the health monitor after probes: once every provider that
  /// degraded writes missed is healthy, key_id returns to that of complete
  /// writes (kube-apiserver then draws a new DEK that every slot wraps).
  void on_health_changed();

  /// Binds the engine's metrics; only before the first request.
  void set_observer(std::shared_ptr<EngineObserver> observer) { observer_ = std::move(observer); }
  EngineObserver& observer() const { return observer_ ? *observer_ : EngineObserver::none(); }

 private:
  friend class detail::Operation;

  /// Records a degraded write; returns the key_id the envelope belongs to,
  /// read under the same lock so that a probe cannot slip in between: it
  /// always names `missing`.
  std::string note_degraded(const std::vector<std::string>& missing);
  // Relaxed atomics: counting on the request path takes no lock.
  void note_bad_share() { bad_shares_.fetch_add(1, std::memory_order_relaxed); }
  void note_hedge() { hedges_.fetch_add(1, std::memory_order_relaxed); }
  void note_forgery_refused() {
    forgeries_refused_.fetch_add(1, std::memory_order_relaxed);
    observer().forgery_refused();
  }
  void note_combination() { combinations_tried_.fetch_add(1, std::memory_order_relaxed); }
  void note_earlier_policy_read() {
    earlier_policy_reads_.fetch_add(1, std::memory_order_relaxed);
    observer().earlier_policy_read();
  }
  void note_legacy_read() {
    legacy_reads_.fetch_add(1, std::memory_order_relaxed);
    observer().legacy_read();
  }
  std::string key_id_locked() const;

  void encrypt_impl(Strand strand, ByteView plaintext, envelope::Limits limits,
                    RequestInfo request,
                    asio::any_completion_handler<EncryptSignature> handler);
  void decrypt_impl(Strand strand, ByteView ciphertext, const envelope::Annotations& annotations,
                    RequestInfo request,
                    asio::any_completion_handler<DecryptSignature> handler);
  void legacy_decrypt_impl(Strand strand, ByteView ciphertext, RequestInfo request,
                           asio::any_completion_handler<DecryptSignature> handler);
  void persist_locked();

  asio::io_context& io_;
  config::Config cfg_;
  static std::vector<std::shared_ptr<ManagedProvider>> shared(
      std::vector<std::unique_ptr<ManagedProvider>> providers) {
    return {std::make_move_iterator(providers.begin()), std::make_move_iterator(providers.end())};
  }

  std::vector<std::shared_ptr<ManagedProvider>> owned_;
  std::vector<std::vector<ManagedProvider*>> slots_;
  std::string state_path_;
  std::optional<asio::thread_pool> own_writer_;  ///< unless the caller gave one
  asio::any_io_executor state_writer_;
  mutable std::mutex mutex_;
  WriteState writes_;
  /// The newest degraded write (or, for a state loaded at start, the
  /// engine's creation): only a probe started since proves a missing
  /// provider back. Under mutex_, with writes_.
  Clock::time_point degraded_since_ = Clock::time_point::min();
  std::uint64_t degraded_encrypts_ = 0;  ///< under mutex_, with writes_
  std::atomic<std::uint64_t> bad_shares_{0};
  std::atomic<std::uint64_t> hedges_{0};
  std::atomic<std::uint64_t> forgeries_refused_{0};
  std::atomic<std::uint64_t> earlier_policy_reads_{0};
  std::atomic<std::uint64_t> legacy_reads_{0};
  std::atomic<std::uint64_t> combinations_tried_{0};
  std::shared_ptr<EngineObserver> observer_;
};

/// Puts failures into one Error: INVALID_ARGUMENT when every failure is the
/// data's fault, RESOURCE_EXHAUSTED when back-pressure is the only other
/// cause, UNAVAILABLE otherwise. The message names each provider.
Error aggregate_failures(const std::string& what,
                         const std::vector<std::pair<std::string, Error>>& failures);

}  // namespace trousseau::quorum
