// Calls of the AWS KMS JSON API (TrentService): credentials, SigV4 signing,
// the HTTP exchange and the mapping of AWS errors, one call at a time.
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <memory>
#include <string>

#include "http/client.hpp"
#include "providers/awskms/credentials.hpp"
#include "providers/awskms/operation.hpp"

namespace trousseau::providers::awskms {

class KmsApi {
 public:
  KmsApi(std::unique_ptr<http::Client> client, std::shared_ptr<CredentialChain> credentials,
         http::Url endpoint, std::string region);

  using Done = asio::any_completion_handler<void(Error, std::string)>;

  /// Calls TrentService.<operation> with a JSON body, fetching credentials
  /// and sending the request within `deadline`. Call on op's strand;
  /// `next(Error, body)` runs there too, unless the operation has completed
  /// meanwhile. An operation cancelled before the request is sent never
  /// sends it: `next` gets Code::cancelled.
  /// Errors start with the operation's name and keep AWS's message, quoted.
  /// `sensitive`: the request or its response carries key material.
  template <typename Op, typename Next>
  void call(const std::shared_ptr<Op>& op, std::string operation, std::string body,
            bool sensitive, http::Deadline deadline, Next&& next) {
    start(op, std::move(operation), std::move(body), sensitive, deadline,
          [op, next = std::forward<Next>(next)](Error e, std::string b) mutable {
            if (!op->done()) next(std::move(e), std::move(b));
          });
  }

  const http::Url& endpoint() const { return endpoint_; }
  const std::string& region() const { return region_; }

 private:
  void start(std::shared_ptr<OperationState> op, std::string operation, std::string body,
             bool sensitive, http::Deadline deadline, Done done);
  void send(const std::shared_ptr<OperationState>& op, std::string operation, std::string body,
            bool sensitive, http::Deadline deadline, const Credentials& credentials, Done done);

  std::unique_ptr<http::Client> client_;
  std::shared_ptr<CredentialChain> credentials_;
  http::Url endpoint_;
  std::string region_;
};

}  // namespace trousseau::providers::awskms
