#include "providers/gcpkms/kms_api.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>

#include "providers/gcpkms/kms_messages.hpp"

namespace trousseau::providers::gcpkms {

namespace {

Error cancelled_before_sending(const std::string& operation) {
  return Error(Code::cancelled, operation + ": cancelled before the request was sent");
}

/// Wipes what a finished call held.
void finish(KmsCall& call) {
  if (call.sensitive) secure_wipe(call.body);
}

}  // namespace

KmsApi::KmsApi(std::shared_ptr<http::Client> client, std::shared_ptr<TokenSource> tokens,
               http::Url endpoint)
    : client_(std::move(client)), tokens_(std::move(tokens)), endpoint_(std::move(endpoint)) {}

void KmsApi::start(std::shared_ptr<OperationState> op, std::shared_ptr<KmsCall> call,
                   http::Deadline deadline, bool retried, Done done) {
  if (op->cancelled()) {
    finish(*call);
    return std::move(done)(cancelled_before_sending(call->operation), std::string());
  }
  auto slot = op->child_slot();
  auto strand = op->strand();
  tokens_->async_get(
      deadline,
      asio::bind_cancellation_slot(
          slot, asio::bind_executor(strand, [this, op = std::move(op), call, deadline, retried,
                                             done = std::move(done)](Error e, TokenPtr token) mutable {
            // The token may have been handed back (its completion queued on
            // the strand) just before the cancellation landed: then the relay
            // found nothing to cancel, and the request must not start.
            if (e.ok() && op->cancelled()) e = cancelled_before_sending(call->operation);
            if (!e.ok()) {
              finish(*call);
              return std::move(done)(e.prefixed(call->operation), std::string());
            }
            send(op, std::move(call), deadline, retried, std::move(token), std::move(done));
          })));
}

void KmsApi::send(const std::shared_ptr<OperationState>& op, std::shared_ptr<KmsCall> call,
                  http::Deadline deadline, bool retried, TokenPtr token, Done done) {
  http::Request req;
  req.method = call->method;
  req.url = endpoint_;
  req.url.target = call->path;
  std::string bearer;
  bearer.reserve(7 + token->value.size());
  bearer += "Bearer ";
  bearer += as_chars(token->value.view());
  req.headers = {{"Authorization", std::move(bearer)}};
  if (call->method != "GET") {
    req.headers.push_back({"Content-Type", "application/json"});
    req.body = call->body;  // kept in `call` for a second attempt after a 401
  }
  // The Authorization header is a credential: the client wipes what it owns.
  req.sensitive = true;
  client_->async_request(
      std::move(req), deadline,
      asio::bind_cancellation_slot(
          op->child_slot(),
          asio::bind_executor(op->strand(), [this, op, call, deadline, retried,
                                             token = std::move(token),
                                             done = std::move(done)](Error err,
                                                                     http::Response r) mutable {
            if (err.ok() && r.status == 200) {
              finish(*call);
              return std::move(done)(Error(), std::move(r.body));
            }
            if (err.ok() && r.status == 401 && !retried && !op->cancelled()) {
              tokens_->invalidate(token);
              return start(op, std::move(call), deadline, true, std::move(done));
            }
            if (err.ok() || (err.code() == Code::unavailable && r.status >= 500)) {
              err = map_kms_error(call->operation, r, call->opening);
            } else {
              err = err.prefixed(call->operation);
            }
            if (call->sensitive) secure_wipe(r.body);
            finish(*call);
            std::move(done)(std::move(err), std::string());
          })));
}

}  // namespace trousseau::providers::gcpkms
