#include "providers/awskms/kms_api.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <cstring>

#include "providers/awskms/aws_error.hpp"
#include "providers/awskms/sigv4.hpp"

namespace trousseau::providers::awskms {

void wipe(std::string& s) {
  if (!s.empty()) secure_wipe({reinterpret_cast<std::uint8_t*>(s.data()), s.size()});
  s.clear();
}

KmsApi::KmsApi(std::unique_ptr<http::Client> client,
               std::shared_ptr<CredentialChain> credentials, http::Url endpoint,
               std::string region)
    : client_(std::move(client)),
      credentials_(std::move(credentials)),
      endpoint_(std::move(endpoint)),
      region_(std::move(region)) {}

void KmsApi::start(std::string operation, std::string body, bool sensitive,
                   http::Deadline deadline, const asio::strand<asio::any_io_executor>& strand,
                   asio::cancellation_slot slot, Done done) {
  credentials_->async_get(
      deadline,
      asio::bind_cancellation_slot(
          slot, asio::bind_executor(strand, [this, operation = std::move(operation),
                                             body = std::move(body), sensitive, deadline, strand,
                                             slot, done = std::move(done)](
                                                Error e, CredentialsPtr creds) mutable {
            if (!e.ok()) {
              wipe(body);
              return std::move(done)(e.prefixed(operation), std::string());
            }
            http::Request req;
            req.method = "POST";
            req.url = endpoint_;
            req.headers = {{"Content-Type", "application/x-amz-json-1.1"},
                           {"X-Amz-Target", "TrentService." + operation}};
            req.body = std::move(body);
            req.sensitive = sensitive;
            req.retry_if = aws_throttled;
            sigv4::sign(req, *creds, region_, "kms", WallClock::now());
            client_->async_request(
                std::move(req), deadline,
                asio::bind_cancellation_slot(
                    slot, asio::bind_executor(strand, [this, operation, sensitive,
                                                       done = std::move(done)](
                                                          Error err, http::Response r) mutable {
                      if (err.ok() && r.status == 200) {
                        return std::move(done)(Error(), std::move(r.body));
                      }
                      if (err.ok() || (err.code() == Code::unavailable && r.status >= 500)) {
                        err = map_aws_error(operation, r);
                        const std::string* type = r.header("x-amzn-ErrorType");
                        if (r.body.find("ExpiredToken") != std::string::npos ||
                            (type != nullptr && type->find("ExpiredToken") != std::string::npos)) {
                          credentials_->invalidate();
                        }
                      } else {
                        err = err.prefixed(operation);
                      }
                      if (sensitive) wipe(r.body);
                      std::move(done)(std::move(err), std::string());
                    })));
          })));
}

}  // namespace trousseau::providers::awskms
