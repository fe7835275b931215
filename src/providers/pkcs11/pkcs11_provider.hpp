// An AES key on a PKCS#11 token (an HSM, a smart card, SoftHSM2) that wraps
// shares with CKM_AES_GCM. See docs/providers/pkcs11.md.
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <memory>
#include <optional>
#include <string>

#include "providers/pkcs11/blocking_call.hpp"
#include "providers/pkcs11/module.hpp"
#include "providers/pkcs11/session_pool.hpp"
#include "providers/pkcs11/settings.hpp"
#include "providers/pkcs11/token.hpp"
#include "providers/provider.hpp"

namespace trousseau::providers::pkcs11 {

/// A key's identity, the key_version its shares carry:
/// "pkcs11:<token serial>:<CKA_ID in hex>", or
/// "pkcs11:<token serial>:label:<CKA_LABEL>" for a key without a CKA_ID.
/// It names the key; nothing in it is derived from the key's value.
std::string format_key_identity(std::string_view token_serial, ByteView key_id,
                                std::string_view label);

/// Whether `key_version` can be the identity of a key with CKA_ID `key_id`
/// (of any PKCS#11 key when nullopt), on whichever token: the serial comes
/// from the token, so without it a configured CKA_ID can prove a share
/// foreign, never ours.
bool may_be_key_with_id(std::string_view key_version, const std::optional<Bytes>& key_id);

/// Every PKCS#11 call runs on the provider's own pool of `threads` threads,
/// never on the caller's: handlers complete on their associated executor
/// via the io executor, never inline. At most `thread_queue` calls wait for
/// a thread; one more is refused at once with Code::resource_exhausted.
/// Cancellation skips a call that has not started and discards the result
/// of one that has (a token call cannot be interrupted); either way the
/// handler gets Code::cancelled at once, and the call's lease is kept until
/// the token returns. Errors do not name the provider (the engine does).
class Pkcs11Provider final : public Provider {
 public:
  /// Loads the module, finds the token, logs in and finds the key: start-up
  /// only, blocking.
  static Result<std::unique_ptr<Pkcs11Provider>> create(const std::string& name,
                                                        const Settings& settings,
                                                        asio::any_io_executor io);
  ~Pkcs11Provider() override;

  /// "pkcs11:<token serial>:<hex CKA_ID>", or "pkcs11:<serial>:label:<CKA_LABEL>"
  /// for a key without an id. Fixed at create().
  std::string key_identity() const override { return identity_; }
  bool owns_key_version(std::string_view key_version) const override {
    return key_version == identity_;
  }

 private:
  Pkcs11Provider(std::string name, std::unique_ptr<Module> module,
                 std::unique_ptr<SessionPool> sessions, KeySelector selector, Key key,
                 std::string identity, unsigned threads, unsigned thread_queue,
                 asio::any_io_executor io);

  void wrap_impl(const CallOptions& options, ByteView context, ByteView share,
                 asio::any_completion_handler<WrapSignature> handler) override;
  void unwrap_impl(const CallOptions& options, ByteView context, std::string_view key_version,
                   ByteView wrapped, asio::any_completion_handler<UnwrapSignature> handler) override;
  void probe_impl(const CallOptions& options,
                  asio::any_completion_handler<ProbeSignature> handler) override;

  /// Runs `op(session, key)` (returning Rv) on a pooled session; once more,
  /// logged in again if need be and with the key handle found again, when
  /// the session (then on a fresh one) or the key handle was stale.
  /// Blocking.
  template <typename Op>
  Error with_session(Op op);

  Error seal(ByteView context, ByteView plaintext, Bytes& wrapped);
  Error open(ByteView context, ByteView wrapped, SecretBytes& plaintext);
  Error self_test();

  std::unique_ptr<Module> module_;
  std::unique_ptr<SessionPool> sessions_;
  const KeySelector selector_;
  const Bytes key_id_;  ///< CKA_ID at create; a re-found key must match it
  std::atomic<CK_OBJECT_HANDLE> key_;
  const std::string identity_;
  asio::any_io_executor io_;
  BlockingPool pool_;  ///< last: joined before the sessions close
};

}  // namespace trousseau::providers::pkcs11
