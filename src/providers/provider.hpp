// The key provider interface: one remote (or local) KMS key that wraps and
// unwraps envelope-key shares.
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>
#include <string>

#include "common/bytes.hpp"
#include "common/error.hpp"
#include "common/secret.hpp"

namespace trousseau::providers {

namespace asio = boost::asio;

struct WrapResult {
  Bytes wrapped;            ///< opaque to everyone but this provider
  std::string key_version;  ///< the key identity/version that wrapped it
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
///     not begun.
///  4. Errors name the cause and never carry key material. Code::integrity
///     means the wrapped data did not authenticate under this provider's key:
///     the data is bad, not the provider.
///  5. The provider outlives every operation started on it.
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

  /// Wraps `share`, binding `context` (see envelope::share_context).
  template <typename Token>
  auto async_wrap(ByteView context, ByteView share, Token&& token) {
    return asio::async_initiate<Token, WrapSignature>(
        [this](auto handler, ByteView c, ByteView s) { wrap_impl(c, s, std::move(handler)); },
        token, context, share);
  }

  /// Unwraps what async_wrap produced under `key_version`.
  template <typename Token>
  auto async_unwrap(ByteView context, std::string_view key_version, ByteView wrapped,
                    Token&& token) {
    return asio::async_initiate<Token, UnwrapSignature>(
        [this](auto handler, ByteView c, std::string_view v, ByteView w) {
          unwrap_impl(c, v, w, std::move(handler));
        },
        token, context, key_version, wrapped);
  }

  /// A cheap round trip that proves the key is usable now.
  template <typename Token>
  auto async_probe(Token&& token) {
    return asio::async_initiate<Token, ProbeSignature>(
        [this](auto handler) { probe_impl(std::move(handler)); }, token);
  }

 protected:
  Provider(std::string name, std::string type) : name_(std::move(name)), type_(std::move(type)) {}

 private:
  virtual void wrap_impl(ByteView context, ByteView share,
                         asio::any_completion_handler<WrapSignature> handler) = 0;
  virtual void unwrap_impl(ByteView context, std::string_view key_version, ByteView wrapped,
                           asio::any_completion_handler<UnwrapSignature> handler) = 0;
  virtual void probe_impl(asio::any_completion_handler<ProbeSignature> handler) = 0;

  std::string name_;
  std::string type_;
};

}  // namespace trousseau::providers
