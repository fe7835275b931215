#include "providers/awskms/web_identity.hpp"

#include <ctime>
#include <optional>

#include "common/completion.hpp"
#include "common/file.hpp"
#include "common/log.hpp"
#include "providers/awskms/aws_error.hpp"
#include "providers/awskms/kms_api.hpp"
#include "providers/awskms/sigv4.hpp"

namespace trousseau::providers::awskms {

namespace {

std::string xml_unescape(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '&') {
      static constexpr std::pair<std::string_view, char> kEntities[] = {
          {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
      bool matched = false;
      for (const auto& [entity, c] : kEntities) {
        if (s.substr(i, entity.size()) == entity) {
          out += c;
          i += entity.size() - 1;
          matched = true;
          break;
        }
      }
      if (matched) continue;
    }
    out += s[i];
  }
  return out;
}

/// "2024-06-01T12:00:00Z", optionally with fractional seconds.
std::optional<WallClock::time_point> parse_iso8601(std::string_view text) {
  std::tm tm{};
  std::string s(text);
  const char* end = ::strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  // The wall clock counts nanoseconds in 64 bits and ends in 2262: a year
  // past 2200 (STS gives hours) is refused rather than overflowed (found
  // by awskms_fuzz under UBSan), as is one before 1970.
  if (end == nullptr || tm.tm_year < 70 || tm.tm_year > 300) return std::nullopt;
  const std::time_t seconds = ::timegm(&tm);
  if (seconds == static_cast<std::time_t>(-1)) return std::nullopt;
  return WallClock::from_time_t(seconds);
}

std::string form_encode(std::string_view v) { return sigv4::uri_encode(v, false); }

}  // namespace

Result<Credentials> parse_assume_role_response(std::string_view xml) {
  std::string_view creds = xml_element(xml, "Credentials");
  if (creds.empty()) return unavailable("STS answer has no Credentials element");
  Credentials c;
  c.access_key_id = xml_unescape(xml_element(creds, "AccessKeyId"));
  std::string secret = xml_unescape(xml_element(creds, "SecretAccessKey"));
  std::string token = xml_unescape(xml_element(creds, "SessionToken"));
  c.secret_access_key = SecretBytes(as_bytes(secret));
  c.session_token = SecretBytes(as_bytes(token));
  secure_wipe(secret);
  secure_wipe(token);
  c.expiration = parse_iso8601(xml_element(creds, "Expiration"));
  if (c.access_key_id.empty() || c.secret_access_key.empty() || c.session_token.empty() ||
      !c.expiration) {
    return unavailable("STS answer lacks AccessKeyId, SecretAccessKey, SessionToken or Expiration");
  }
  return c;
}

CredentialChain::WebIdentity::WebIdentity(const asio::any_io_executor& ex)
    : executor(ex),
      cache_(ex, CredentialChain::kFailureHoldOff,
             Error(Code::cancelled, "cancelled while waiting for STS"),
             Error(Code::deadline_exceeded, "deadline exceeded while waiting for STS credentials")) {}

Result<std::unique_ptr<CredentialChain::WebIdentity>> CredentialChain::WebIdentity::create(
    const asio::any_io_executor& executor, const ChainOptions& options) {
  auto w = std::make_unique<WebIdentity>(executor);
  w->options = options;
  auto env = [&](const char* k) {
    auto it = options.env.find(k);
    return it == options.env.end() ? std::string() : it->second;
  };
  w->token_file = env("AWS_WEB_IDENTITY_TOKEN_FILE");
  w->role_arn = env("AWS_ROLE_ARN");
  w->session_name = env("AWS_ROLE_SESSION_NAME");
  if (w->session_name.empty()) w->session_name = "trousseau";
  std::string endpoint = options.sts_endpoint;
  if (endpoint.empty()) endpoint = env("AWS_ENDPOINT_URL_STS");
  if (endpoint.empty()) {
    if (options.region.empty()) {
      return Error(Code::failed_precondition, "web identity credentials need a region for STS");
    }
    endpoint = "https://sts." + options.region + ".amazonaws.com" +
               (options.region.rfind("cn-", 0) == 0 ? ".cn" : "") + "/";
  }
  Result<http::Url> url = http::Url::parse(endpoint);
  if (!url.ok()) return url.error().prefixed("STS endpoint");
  if (!url->tls() && !url->loopback()) {
    return Error(Code::failed_precondition,
                 "STS endpoint " + endpoint + ": plain http is allowed on loopback only");
  }
  w->sts_url = std::move(url).value();
  http::ClientOptions co;
  co.ca_file = options.ca_file;
  co.allow_plain_http = !w->sts_url.tls();
  Result<std::unique_ptr<http::Client>> client = http::Client::create(executor, co);
  if (!client.ok()) return client.error().prefixed("STS client");
  w->client = std::move(client).value();
  return w;
}

void CredentialChain::WebIdentity::get(const std::shared_ptr<CredentialChain>& chain,
                                       http::Deadline deadline, Handler handler) {
  using Freshness = CredentialCache<CredentialsPtr>::Freshness;
  // Expiry is on the wall clock (ChainOptions::wall_now), as STS states it.
  const bool fetch = cache_.get(deadline, std::move(handler), [this](const CredentialsPtr& c) {
    if (!c->expiration) return Freshness::fresh;
    const WallClock::time_point wall = options.wall_now();
    if (wall + kExpirySafety >= *c->expiration) return Freshness::expired;
    return wall + options.refresh_margin >= *c->expiration ? Freshness::due : Freshness::fresh;
  });
  if (fetch) refresh(chain, deadline);
}

void CredentialChain::WebIdentity::invalidate() { cache_.invalidate(); }

void CredentialChain::WebIdentity::refresh(const std::shared_ptr<CredentialChain>& chain,
                                           http::Deadline deadline) {
  // A Kubernetes projected token is 0644 behind symlinks, and rotates:
  // read it again for each exchange, with no mode or owner check.
  constexpr SecretFileRules kTokenFileRules{.what = "web identity token file",
                                            .max_size = 64 * 1024,
                                            .follow_symlinks = true,
                                            .private_mode = false,
                                            .owner_check = false};
  Result<SecretBytes> content = read_secret_file(token_file, kTokenFileRules);
  if (!content.ok()) return refreshed(chain, unavailable(content.error().message()), nullptr);
  std::string_view token = as_chars(content->view());
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.remove_suffix(1);
  if (token.empty()) {
    return refreshed(chain, unavailable("web identity token file " + token_file + " is empty"),
                     nullptr);
  }
  http::Request req;
  req.method = "POST";
  req.url = sts_url;
  req.headers = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}};
  // The token is appended last, from a copy we wipe: no temporary that
  // held it is freed unwiped.
  std::string encoded = form_encode(token);
  req.body = "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=" +
             form_encode(role_arn) + "&RoleSessionName=" + form_encode(session_name) +
             "&WebIdentityToken=";
  req.body += encoded;
  secure_wipe(encoded);
  req.sensitive = true;  // the token is a bearer credential, the answer holds keys
  req.retry_if = aws_throttled;
  client->async_request(
      std::move(req), deadline,
      [chain](Error e, http::Response r) {
        WebIdentity& self = *chain->web_;
        CredentialsPtr fresh;
        // Transport errors already name the origin; STS's own answers do not.
        const std::string where = e.ok() || r.status >= 500 ? "STS " + self.sts_url.origin() : "STS";
        if (e.ok() && r.status == 200) {
          Result<Credentials> parsed = parse_assume_role_response(r.body);
          if (parsed.ok()) {
            auto c = std::make_shared<Credentials>(std::move(parsed).value());
            c->source = self.describe();
            fresh = std::move(c);
          } else {
            e = parsed.error();
          }
        } else if (e.ok() || r.status >= 500) {
          e = map_aws_error("AssumeRoleWithWebIdentity", r);
        }
        secure_wipe(r.body);
        self.refreshed(chain, e.prefixed(where), std::move(fresh));
      });
}

void CredentialChain::WebIdentity::refreshed(const std::shared_ptr<CredentialChain>& chain,
                                             Error error, CredentialsPtr fresh) {
  std::optional<WallClock::time_point> expires = fresh ? fresh->expiration : std::nullopt;
  const bool got = fresh != nullptr;
  const std::optional<http::Deadline> again = cache_.complete(error, std::move(fresh));
  if (got) {
    std::string when = "never";
    if (expires) {
      const std::time_t t = WallClock::to_time_t(*expires);
      char buf[32];
      std::tm tm{};
      std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", ::gmtime_r(&t, &tm));
      when = buf;
    }
    log::info("refreshed AWS credentials", {{"source", describe()}, {"expires", when}});
  } else {
    log::warn("AWS credential refresh failed",
              {{"source", describe()}, {"error", error.message()}, {"retrying", again.has_value()}});
  }
  if (again) refresh(chain, *again);
}

}  // namespace trousseau::providers::awskms
