#include "providers/awskms/kms_api.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>

#include "providers/awskms/aws_error.hpp"
#include "providers/awskms/sigv4.hpp"

namespace trousseau::providers::awskms {

namespace {

Error cancelled_before_sending(const std::string& operation) {
  return Error(Code::cancelled, operation + ": cancelled before the request was sent");
}

}  // namespace

KmsApi::KmsApi(std::unique_ptr<http::Client> client,
               std::shared_ptr<CredentialChain> credentials, http::Url endpoint,
               std::string region)
    : client_(std::move(client)),
      credentials_(std::move(credentials)),
      endpoint_(std::move(endpoint)),
      region_(std::move(region)) {}

void KmsApi::start(std::shared_ptr<OperationState> op, std::string operation, std::string body,
                   bool sensitive, http::Deadline deadline, Done done) {
  if (op->cancelled()) {
    secure_wipe(body);
    return std::move(done)(cancelled_before_sending(operation), std::string());
  }
  auto slot = op->child_slot();
  auto strand = op->strand();
  credentials_->async_get(
      deadline,
      asio::bind_cancellation_slot(
          slot, asio::bind_executor(strand, [this, op = std::move(op),
                                             operation = std::move(operation),
                                             body = std::move(body), sensitive, deadline,
                                             done = std::move(done)](
                                                Error e, CredentialsPtr creds) mutable {
            // The credentials may have been handed back (their completion
            // queued on the strand) just before the cancellation landed:
            // then the relay found no call in flight to cancel, and the
            // request must not start.
            if (e.ok() && op->cancelled()) e = cancelled_before_sending(operation);
            if (!e.ok()) {
              secure_wipe(body);
              return std::move(done)(e.prefixed(operation), std::string());
            }
            send(op, std::move(operation), std::move(body), sensitive, deadline, *creds,
                 std::move(done));
          })));
}

void KmsApi::send(const std::shared_ptr<OperationState>& op, std::string operation,
                  std::string body, bool sensitive, http::Deadline deadline,
                  const Credentials& credentials, Done done) {
  http::Request req;
  req.method = "POST";
  req.url = endpoint_;
  req.headers = {{"Content-Type", "application/x-amz-json-1.1"},
                 {"X-Amz-Target", "TrentService." + operation}};
  req.body = std::move(body);
  req.sensitive = sensitive;
  req.retry_if = aws_throttled;
  sigv4::sign(req, credentials, region_, "kms", WallClock::now());
  client_->async_request(
      std::move(req), deadline,
      asio::bind_cancellation_slot(
          op->child_slot(),
          asio::bind_executor(op->strand(), [this, op, operation = std::move(operation), sensitive,
                                             done = std::move(done)](
                                                Error err, http::Response r) mutable {
            if (err.ok() && r.status == 200) {
              return std::move(done)(Error(), std::move(r.body));
            }
            if (err.ok() || (err.code() == Code::unavailable && r.status >= 500)) {
              err = map_aws_error(operation, r);
              if (parse_aws_error(r).type.find("ExpiredToken") != std::string::npos) {
                credentials_->invalidate();
              }
            } else {
              err = err.prefixed(operation);
            }
            if (sensitive) secure_wipe(r.body);
            std::move(done)(std::move(err), std::string());
          })));
}

}  // namespace trousseau::providers::awskms
