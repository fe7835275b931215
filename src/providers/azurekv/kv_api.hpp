// Calls of the Key Vault / Managed HSM REST API: an Entra token, the HTTP
// exchange, the bearer challenge, and the mapping of errors; one call at a
// time per operation.
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <memory>
#include <string>

#include "http/client.hpp"
#include "providers/azurekv/entra.hpp"
#include "providers/operation.hpp"

namespace trousseau::providers::azurekv {

/// One request to the vault.
struct KvCall {
  std::string operation;  ///< "wrapkey", "get key", …: starts every error message
  std::string method;     ///< "GET" or "POST"
  std::string path;       ///< "/keys/<name>[/<version>][/wrapkey]", without the query
  std::string body;       ///< JSON, empty for GET
  bool sensitive = false; ///< the body or the answer carries key material
  bool opening = false;   ///< an unwrap: a 400 means the data did not open (integrity)
};

class KeyVaultApi {
 public:
  KeyVaultApi(std::shared_ptr<http::Client> client, std::shared_ptr<TokenSource> tokens,
              http::Url vault, std::string scope);

  using Done = asio::any_completion_handler<void(Error, std::string)>;

  /// Gets a token, sends `call` within `deadline`, and hands `next(Error,
  /// body)` the 200 answer's body. Call on op's strand; `next` runs there
  /// too, unless the operation has completed meanwhile. An operation
  /// cancelled before the request is sent never sends it.
  ///
  /// A 401 (Key Vault's bearer challenge) is answered once: if the
  /// challenge names our scope's resource, the token is dropped and the
  /// call made again with a fresh one (a token revoked, or expired early);
  /// a challenge for another resource fails at once with
  /// permission_denied, naming both, and no token is fetched for it.
  template <typename Op, typename Next>
  void call(const std::shared_ptr<Op>& op, KvCall call, http::Deadline deadline, Next&& next) {
    start(op, std::make_shared<KvCall>(std::move(call)), deadline, false,
          [op, next = std::forward<Next>(next)](Error e, std::string b) mutable {
            if (!op->done()) next(std::move(e), std::move(b));
          });
  }

  const http::Url& vault() const { return vault_; }
  TokenSource& tokens() { return *tokens_; }

 private:
  void start(std::shared_ptr<OperationState> op, std::shared_ptr<KvCall> call,
             http::Deadline deadline, bool retried, Done done);
  void send(const std::shared_ptr<OperationState>& op, std::shared_ptr<KvCall> call,
            http::Deadline deadline, bool retried, TokenPtr token, Done done);

  std::shared_ptr<http::Client> client_;
  std::shared_ptr<TokenSource> tokens_;
  http::Url vault_;
  std::string resource_;  ///< of the scope, without a trailing slash
};

}  // namespace trousseau::providers::azurekv
