// The key provider interface: one remote (or local) KMS key that wraps and
// unwraps envelope-key shares.
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>
#include <memory>
#include <string>

#include "common/bytes.hpp"
#include "common/clock.hpp"
#include "common/error.hpp"
#include "common/secret.hpp"

namespace trousseau::providers {

namespace asio = boost::asio;

struct WrapResult {
  Bytes wrapped;            ///< opaque to everyone but this provider
  std::string key_version;  ///< the key identity/version that wrapped it
};

/// What every call carries besides its arguments.
struct CallOptions {
  /// The call's whole budget: min(request deadline, queued + provider
  /// timeout). Retries, token fetches and reconnects plan against it; a
  /// provider invents no deadline of its own.
  Clock::time_point deadline;
  /// Held by the caller's back-pressure: keep it alive until the backend
  /// has really finished. A blocking call that was cancelled still holds it
  /// until the device returns, so the limiter never admits more work than
  /// the backend is doing.
  std::shared_ptr<void> lease;
  /// The request this call serves (kube-apiserver's uid; empty for probes
  /// and v1beta1), for the provider's logs. Never secret, never trusted.
  std::string request_id;
};

using WrapSignature = void(Error, WrapResult);
using UnwrapSignature = void(Error, SecretBytes);
using ProbeSignature = void(Error);

/// A named key in one KMS.
///
/// Completion contract, for every async_ operation:
///  1. The handler is never invoked from inside the initiating call. It runs
///     on the handler's associated executor (in Trousseau, the request's
///     strand); implementations post or dispatch to it.
///  2. Arguments are borrowed only for the duration of the initiating call;
///     an implementation that needs them later copies them.
///  3. Cancellation: a terminal cancellation emitted on the handler's
///     associated slot completes the operation promptly with
///     Code::cancelled and aborts its I/O (a socket is closed, a timer
///     cancelled). A blocking backend that cannot interrupt a call already
///     running discards its result instead, and does not start one that has
///     not begun; it keeps `options.lease` until the call returns.
///  4. Passing `options.deadline` completes the operation with
///     Code::deadline_exceeded.
///  5. Errors name the cause and never carry key material, and do not repeat
///     the provider's name: the engine adds it once. Code::integrity means
///     the wrapped data did not authenticate under this provider's key, and
///     Code::invalid_argument that the envelope asks for something this
///     provider will not do (a key it does not own): the data is bad, not
///     the provider, and neither counts against its health.
///  6. Key ownership: a provider uses only the keys it was configured with.
///     async_unwrap refuses a key_version for which owns_key_version() is
///     false, with Code::invalid_argument and without any I/O.
///  7. The provider outlives every operation started on it.
class Provider {
 public:
  virtual ~Provider() = default;
  Provider(const Provider&) = delete;
  Provider& operator=(const Provider&) = delete;

  const std::string& name() const { return name_; }
  const std::string& type() const { return type_; }

  /// The identity and version of the key a wrap would use now, e.g.
  /// "sha256:1f2e…" for a key file. Cheap, thread-safe, no I/O: it is part of
  /// the plugin's key_id and is read on every Status call. Never secret.
  virtual std::string key_identity() const = 0;

  /// Whether a share recorded under `key_version` was wrapped by a key this
  /// provider is configured to use (its current key, or one the operator
  /// listed as previous). Cheap, thread-safe, no I/O. The engine asks before
  /// every unwrap; a foreign key_version is never sent to the KMS.
  virtual bool owns_key_version(std::string_view key_version) const = 0;

  /// Whether a wrapped share that this provider unwraps can be made without
  /// the KMS: true for a public-key wrap (RSA-OAEP), which anyone holding
  /// the public key can compute. Such a share is confidential but not
  /// authentic, so a policy whose threshold such slots alone can reach lets
  /// a writer of etcd forge envelopes (Engine::forgeable_slots). Cheap,
  /// thread-safe, no I/O; true while unknown.
  virtual bool anyone_can_wrap() const { return false; }

  /// Wraps `share`, binding `context` (see envelope::share_context).
  template <typename Token>
  auto async_wrap(const CallOptions& options, ByteView context, ByteView share, Token&& token) {
    return asio::async_initiate<Token, WrapSignature>(
        [this](auto handler, const CallOptions& o, ByteView c, ByteView s) {
          wrap_impl(o, c, s, std::move(handler));
        },
        token, options, context, share);
  }

  /// Unwraps what async_wrap produced under `key_version`.
  template <typename Token>
  auto async_unwrap(const CallOptions& options, ByteView context, std::string_view key_version,
                    ByteView wrapped, Token&& token) {
    return asio::async_initiate<Token, UnwrapSignature>(
        [this](auto handler, const CallOptions& o, ByteView c, std::string_view v, ByteView w) {
          unwrap_impl(o, c, v, w, std::move(handler));
        },
        token, options, context, key_version, wrapped);
  }

  /// A cheap round trip that proves the key is usable now, within
  /// `options.deadline` (the health monitor's probe budget).
  template <typename Token>
  auto async_probe(const CallOptions& options, Token&& token) {
    return asio::async_initiate<Token, ProbeSignature>(
        [this](auto handler, const CallOptions& o) { probe_impl(o, std::move(handler)); }, token,
        options);
  }

 protected:
  Provider(std::string name, std::string type) : name_(std::move(name)), type_(std::move(type)) {}

 private:
  virtual void wrap_impl(const CallOptions& options, ByteView context, ByteView share,
                         asio::any_completion_handler<WrapSignature> handler) = 0;
  virtual void unwrap_impl(const CallOptions& options, ByteView context,
                           std::string_view key_version, ByteView wrapped,
                           asio::any_completion_handler<UnwrapSignature> handler) = 0;
  virtual void probe_impl(const CallOptions& options,
                          asio::any_completion_handler<ProbeSignature> handler) = 0;

  std::string name_;
  std::string type_;
};

}  // namespace trousseau::providers
