// A scriptable provider for orchestrator tests: delay, error, garbage,
// hang until cancelled, flip-flopping health. Wrapping is real AES-GCM under
// a per-instance key, so integrity failures are as real as in production.
#pragma once

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "providers/legacy.hpp"
#include "providers/provider.hpp"

namespace trousseau::testkit {

namespace asio = boost::asio;

struct Behaviour {
  std::chrono::milliseconds delay{0};
  std::chrono::milliseconds jitter{0};  ///< added uniformly at random, 0..jitter
  Code fail = Code::ok;                 ///< complete with this error instead
  bool hang = false;                    ///< never complete unless cancelled
  bool garbage = false;                 ///< unwrap "succeeds" with a wrong share
};

class FakeProvider final : public providers::Provider, public providers::LegacyDecrypter {
 public:
  FakeProvider(std::string name, boost::asio::any_io_executor executor);

  std::string key_identity() const override;
  /// Every identity this fake has had: a rotated fake still opens old shares.
  bool owns_key_version(std::string_view key_version) const override;
  void set_key_identity(std::string id);
  /// Makes the fake claim public-key wraps (Provider::anyone_can_wrap).
  void set_anyone_can_wrap(bool v) { anyone_can_wrap_ = v; }
  bool anyone_can_wrap() const override { return anyone_can_wrap_; }

  /// Behaviour of wrap, unwrap and probe calls started from now on.
  void script(Behaviour b);
  void script_wrap(Behaviour b);
  void script_unwrap(Behaviour b);
  void script_probe(Behaviour b);
  /// Probes alternate between healthy and `fail` on every call.
  void flip_flop_probe(Code fail);

  Behaviour probe_behaviour() const;

  /// Appends this many bytes to every wrapped share (to test size limits).
  void set_wrap_padding(std::size_t n) { padding_ = n; }

  /// Fakes built from configuration (type "fake"), by name, while they live.
  static FakeProvider* find(const std::string& name);

  ~FakeProvider() override;

  /// Every share this fake was asked to wrap: the secrets a leak test
  /// looks for in logs and metrics.
  std::vector<Bytes> shares_seen() const;

  /// A ciphertext in the original Trousseau's manner, which only this
  /// fake's legacy decrypt opens: the raw form (as AWS KMS's blob) and the
  /// `vault:v1:<base64>` form (as Vault's text). Legacy decrypts follow the
  /// unwrap script.
  Bytes legacy_seal(ByteView plaintext) const;
  std::string legacy_vault_text(ByteView plaintext) const;
  int legacy_decrypts() const { return legacy_decrypts_; }

  int wraps() const { return wraps_; }
  int unwraps() const { return unwraps_; }
  int probes() const { return probes_; }
  int cancelled() const { return cancelled_; }
  int in_flight() const { return in_flight_; }
  /// Calls that gave up at the deadline they were given.
  int expired() const { return expired_; }
  /// The deadline the last call carried.
  Clock::time_point last_deadline() const;
  /// The request id of every wrap, unwrap and probe call so far, in order.
  std::vector<std::string> request_ids() const;

 private:
  void wrap_impl(const providers::CallOptions& options, ByteView context, ByteView share,
                 asio::any_completion_handler<providers::WrapSignature> handler) override;
  void unwrap_impl(const providers::CallOptions& options, ByteView context, std::string_view key_version, ByteView wrapped,
                   asio::any_completion_handler<providers::UnwrapSignature> handler) override;
  void probe_impl(const providers::CallOptions& options, asio::any_completion_handler<providers::ProbeSignature> handler) override;
  void legacy_decrypt_impl(const providers::CallOptions& options, ByteView ciphertext,
                           asio::any_completion_handler<providers::UnwrapSignature> handler) override;

  template <typename Signature, typename Produce>
  void run(const providers::CallOptions& options, Behaviour b,
           asio::any_completion_handler<Signature> handler, Produce produce);

  boost::asio::any_io_executor executor_;
  SecretBytes key_;
  mutable std::mutex mutex_;
  std::vector<Bytes> shares_;  ///< under mutex_
  Behaviour wrap_, unwrap_, probe_;
  Code flip_ = Code::ok;
  bool flip_state_ = false;
  std::string identity_;
  std::set<std::string> known_identities_;
  Clock::time_point last_deadline_{};
  std::vector<std::string> request_ids_;
  std::atomic<std::size_t> padding_{0};
  std::atomic<int> legacy_decrypts_{0};
  std::atomic<bool> anyone_can_wrap_{false};
  std::atomic<int> wraps_{0}, unwraps_{0}, probes_{0}, cancelled_{0}, in_flight_{0}, expired_{0};
};

}  // namespace trousseau::testkit
