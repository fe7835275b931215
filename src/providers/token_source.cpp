#include "providers/token_source.hpp"

#include <optional>

#include "common/log.hpp"
#include "common/secret.hpp"

namespace trousseau::providers {

TokenSource::TokenSource(asio::any_io_executor executor, std::shared_ptr<http::Client> client,
                         std::string token_name, std::chrono::seconds refresh_margin)
    : client_(std::move(client)),
      token_name_(std::move(token_name)),
      refresh_margin_(refresh_margin),
      cache_(std::move(executor), kFailureHoldOff,
             Error(Code::cancelled, "cancelled while waiting for " + token_name_),
             Error(Code::deadline_exceeded, "deadline exceeded while waiting for " + token_name_)) {}

void TokenSource::get_impl(http::Deadline deadline, Handler handler) {
  using Freshness = CredentialCache<TokenPtr>::Freshness;
  const bool fetch = cache_.get(deadline, std::move(handler), [this](const TokenPtr& t) {
    const Clock::time_point now = Clock::now();
    if (now + kExpirySafety >= t->expires) return Freshness::expired;
    return now + refresh_margin_ >= t->expires ? Freshness::due : Freshness::fresh;
  });
  if (fetch) refresh(deadline);
}

void TokenSource::invalidate(const TokenPtr& rejected) { cache_.invalidate(&rejected); }

void TokenSource::refresh(http::Deadline deadline) {
  Result<http::Request> req = token_request();
  if (!req.ok()) return refreshed(req.error(), nullptr);
  const Clock::time_point asked = Clock::now();
  client_->async_request(
      std::move(req).value(), deadline,
      [self = shared_from_this(), asked](Error e, http::Response r) {
        TokenPtr fresh;
        if (e.ok() && r.status == 200) {
          Result<AccessToken> t = parse_token_response(r.body, asked);
          if (t.ok()) {
            fresh = std::make_shared<const AccessToken>(std::move(t).value());
          } else {
            e = t.error();
          }
        } else if (e.ok() || r.status >= 500) {
          e = map_token_error(r);
        }
        secure_wipe(r.body);
        self->refreshed(e.ok() ? e : e.prefixed("token from " + self->where_), std::move(fresh));
      });
}

void TokenSource::refreshed(Error error, TokenPtr fresh) {
  const bool got = fresh != nullptr;
  const std::optional<http::Deadline> again = cache_.complete(error, std::move(fresh));
  if (got) {
    log::info("obtained " + token_name_, {{"source", description_}});
  } else {
    log::warn("token request failed", {{"token", token_name_},
                                       {"source", description_},
                                       {"error", error.message()},
                                       {"retrying", again.has_value()}});
  }
  if (again) refresh(*again);
}

}  // namespace trousseau::providers
