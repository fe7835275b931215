// Calls of the Cloud KMS v1 REST API: a Google token, the HTTP exchange,
// one retry with a fresh token after a 401, and the mapping of errors; one
// call at a time per operation.
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <memory>
#include <string>

#include "http/client.hpp"
#include "providers/gcpkms/google_auth.hpp"
#include "providers/operation.hpp"

namespace trousseau::providers::gcpkms {

/// One request to Cloud KMS.
struct KmsCall {
  std::string operation;  ///< "encrypt", "get key", …: starts every error message
  std::string method;     ///< "GET" or "POST"
  std::string path;       ///< "/v1/projects/…/cryptoKeys/k:encrypt"
  std::string body;       ///< JSON, empty for GET
  bool sensitive = false; ///< the body or the answer carries key material
  bool opening = false;   ///< a decrypt: INVALID_ARGUMENT means the data did not open (integrity)
};

class KmsApi {
 public:
  KmsApi(std::shared_ptr<http::Client> client, std::shared_ptr<TokenSource> tokens,
         http::Url endpoint);

  using Done = asio::any_completion_handler<void(Error, std::string)>;

  /// Gets a token, sends `call` within `deadline`, and hands `next(Error,
  /// body)` the 200 answer's body (the caller wipes a sensitive one). Call
  /// on op's strand; `next` runs there too, unless the operation has
  /// completed meanwhile. An operation cancelled before the request is sent
  /// never sends it. A 401 (the token expired early or was revoked) drops
  /// the token and makes the call once more with a fresh one.
  template <typename Op, typename Next>
  void call(const std::shared_ptr<Op>& op, KmsCall call, http::Deadline deadline, Next&& next) {
    start(op, std::make_shared<KmsCall>(std::move(call)), deadline, false,
          [op, next = std::forward<Next>(next)](Error e, std::string b) mutable {
            if (!op->done()) next(std::move(e), std::move(b));
          });
  }

  const http::Url& endpoint() const { return endpoint_; }
  TokenSource& tokens() { return *tokens_; }

 private:
  void start(std::shared_ptr<OperationState> op, std::shared_ptr<KmsCall> call,
             http::Deadline deadline, bool retried, Done done);
  void send(const std::shared_ptr<OperationState>& op, std::shared_ptr<KmsCall> call,
            http::Deadline deadline, bool retried, TokenPtr token, Done done);

  std::shared_ptr<http::Client> client_;
  std::shared_ptr<TokenSource> tokens_;
  http::Url endpoint_;
};

}  // namespace trousseau::providers::gcpkms
