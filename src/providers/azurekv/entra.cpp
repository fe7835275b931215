#include "providers/azurekv/entra.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <charconv>
#include <optional>

#include "common/completion.hpp"
#include "common/file.hpp"
#include "common/log.hpp"
#include "common/text.hpp"
#include "providers/azurekv/jwt.hpp"

namespace trousseau::providers::azurekv {

namespace {

constexpr std::string_view kAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Kubernetes mounts secrets and projected tokens 0644 behind symlinks that
/// it swaps on rotation: read them as they are, again for each request.
constexpr SecretFileRules kMountedFileRules{.what = "credential file",
                                            .max_size = 64 * 1024,
                                            .follow_symlinks = true,
                                            .private_mode = false,
                                            .owner_check = false};

/// Percent-encodes all but RFC 3986's unreserved characters: safe in a
/// form body and in a query.
std::string form_encode(std::string_view v) {
  return boost::urls::encode(v, boost::urls::unreserved_chars);
}

/// The file's content without trailing newlines, as a view into `content`.
Result<std::string_view> trimmed(const Result<SecretBytes>& content, const std::string& path) {
  if (!content.ok()) return Error(Code::unavailable, content.error().message());
  std::string_view text = as_chars(content->view());
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.remove_suffix(1);
  }
  if (text.empty()) return Error(Code::unavailable, "credential file " + path + " is empty");
  return text;
}

const char* method_name(AuthMethod m) {
  switch (m) {
    case AuthMethod::client_secret: return "client secret";
    case AuthMethod::client_certificate: return "client certificate";
    case AuthMethod::workload_identity: return "workload identity";
    case AuthMethod::managed_identity: return "managed identity";
  }
  return "?";
}

}  // namespace

std::string resource_of_scope(const std::string& scope) {
  constexpr std::string_view kSuffix = "/.default";
  if (scope.size() > kSuffix.size() && scope.substr(scope.size() - kSuffix.size()) == kSuffix) {
    return scope.substr(0, scope.size() - kSuffix.size());
  }
  return scope;
}

Result<AccessToken> parse_token_response(std::string& body, Clock::time_point asked) {
  alignas(std::max_align_t) unsigned char arena[8192];
  Result<AccessToken> result = unavailable("malformed token answer");
  {
    boost::json::monotonic_resource mr(arena, sizeof arena);
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(body, ec, &mr);
    if (!ec && v.is_object()) {
      const auto& o = v.as_object();
      const boost::json::value* token = o.if_contains("access_token");
      const boost::json::value* life = o.if_contains("expires_in");
      std::optional<std::int64_t> seconds;
      if (life != nullptr && life->is_int64()) seconds = life->as_int64();
      if (life != nullptr && life->is_uint64()) seconds = static_cast<std::int64_t>(life->as_uint64());
      if (life != nullptr && life->is_string()) {  // IMDS sends strings
        std::int64_t n = 0;
        const auto& s = life->as_string();
        auto [p, err] = std::from_chars(s.data(), s.data() + s.size(), n);
        if (err == std::errc() && p == s.data() + s.size()) seconds = n;
      }
      if (token == nullptr || !token->is_string() || token->as_string().empty()) {
        result = unavailable("token answer without access_token");
      } else if (!seconds || *seconds <= 0) {
        result = unavailable("token answer without a positive expires_in");
      } else {
        AccessToken t;
        t.value = SecretBytes(as_bytes(std::string_view(token->as_string())));
        t.expires = asked + std::chrono::seconds(*seconds);
        result = std::move(t);
      }
    }
  }
  secure_wipe(std::span<std::uint8_t>(arena, sizeof arena));
  secure_wipe(body);
  return result;
}

Error map_token_error(const http::Response& r) {
  std::string what = "HTTP " + std::to_string(r.status);
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(r.body, ec);
  if (!ec && v.is_object()) {
    const auto& o = v.as_object();
    if (const auto* e = o.if_contains("error"); e != nullptr && e->is_string()) {
      what += " " + quote(std::string_view(e->as_string()), 64);
    }
    if (const auto* d = o.if_contains("error_description"); d != nullptr && d->is_string()) {
      // "AADSTS7000215: Invalid client secret provided. Trace ID: …": the
      // code and its sentence, never the request's values.
      std::string_view text = d->as_string();
      text = text.substr(0, text.find(" Trace ID"));
      what += ": " + quote(text, 200);
    }
  }
  if (r.status == 400 || r.status == 401 || r.status == 403) {
    return Error(Code::permission_denied, what);
  }
  return unavailable(what);
}

TokenSource::TokenSource(asio::any_io_executor executor, std::shared_ptr<http::Client> client,
                         TokenOptions options)
    : executor_(std::move(executor)),
      client_(std::move(client)),
      options_(std::move(options)),
      cache_(executor_, kFailureHoldOff,
             Error(Code::cancelled, "cancelled while waiting for an Entra token"),
             Error(Code::deadline_exceeded, "deadline exceeded while waiting for an Entra token")) {}

Result<std::shared_ptr<TokenSource>> TokenSource::create(asio::any_io_executor executor,
                                                         std::shared_ptr<http::Client> client,
                                                         TokenOptions options) {
  std::shared_ptr<TokenSource> s(new TokenSource(std::move(executor), std::move(client), std::move(options)));
  const TokenOptions& o = s->options_;
  std::string where;
  if (o.method == AuthMethod::managed_identity) {
    where = o.imds_endpoint + "/metadata/identity/oauth2/token";
    s->description_ = std::string(method_name(o.method)) +
                      (o.client_id.empty() ? " (system-assigned)" : " (client " + o.client_id + ")");
  } else {
    if (o.tenant_id.empty() || o.client_id.empty()) {
      return Error(Code::failed_precondition, std::string(method_name(o.method)) +
                                                  " needs a tenant id and a client id");
    }
    if (o.method == AuthMethod::workload_identity && o.federated_token_file.empty()) {
      return Error(Code::failed_precondition,
                   "workload identity needs a federated token file (auth.federated_token_file "
                   "or AZURE_FEDERATED_TOKEN_FILE)");
    }
    where = o.authority_host + "/" + o.tenant_id + "/oauth2/v2.0/token";
    s->description_ = std::string(method_name(o.method)) + " (tenant " + o.tenant_id +
                      ", client " + o.client_id + ")";
  }
  Result<http::Url> url = http::Url::parse(where);
  if (!url.ok()) return url.error().prefixed("token endpoint");
  s->token_url_ = std::move(url).value();
  return s;
}

Result<http::Request> TokenSource::token_request() const {
  const TokenOptions& o = options_;
  http::Request req;
  req.url = token_url_;
  req.sensitive = true;  // a credential goes out, a token comes back
  if (o.method == AuthMethod::managed_identity) {
    req.method = "GET";
    req.url.target += "?api-version=2018-02-01&resource=" + form_encode(resource_of_scope(o.scope));
    if (!o.client_id.empty()) req.url.target += "&client_id=" + form_encode(o.client_id);
    req.headers = {{"Metadata", "true"}};
    return req;
  }
  req.method = "POST";
  req.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
  req.body = "grant_type=client_credentials&client_id=" + form_encode(o.client_id) +
             "&scope=" + form_encode(o.scope);
  std::string encoded;
  switch (o.method) {
    case AuthMethod::client_secret: {
      Result<SecretBytes> file = read_secret_file(o.client_secret_file, kMountedFileRules);
      Result<std::string_view> secret = trimmed(file, o.client_secret_file);
      if (!secret.ok()) return secret.error();
      encoded = form_encode(*secret);
      req.body.reserve(req.body.size() + 16 + encoded.size());
      req.body += "&client_secret=";
      break;
    }
    case AuthMethod::client_certificate: {
      Result<SecretBytes> pem = read_secret_file(o.client_certificate_file, kMountedFileRules);
      if (!pem.ok()) return Error(Code::unavailable, pem.error().message());
      Result<std::string> jwt =
          client_assertion(pem->view(), o.client_id, token_url_.scheme + "://" +
                                                         token_url_.host_header() +
                                                         std::string(token_url_.path()),
                           o.wall_now());
      if (!jwt.ok()) return jwt.error().prefixed(o.client_certificate_file);
      encoded = std::move(jwt).value();  // base64url and dots: nothing to encode
      req.body += "&client_assertion_type=" + form_encode(kAssertionType);
      req.body.reserve(req.body.size() + 32 + encoded.size());
      req.body += "&client_assertion=";
      break;
    }
    case AuthMethod::workload_identity: {
      Result<SecretBytes> file = read_secret_file(o.federated_token_file, kMountedFileRules);
      Result<std::string_view> token = trimmed(file, o.federated_token_file);
      if (!token.ok()) return token.error();
      encoded = form_encode(*token);
      req.body += "&client_assertion_type=" + form_encode(kAssertionType);
      req.body.reserve(req.body.size() + 32 + encoded.size());
      req.body += "&client_assertion=";
      break;
    }
    case AuthMethod::managed_identity:
      break;
  }
  req.body += encoded;
  secure_wipe(encoded);
  return req;
}

void TokenSource::get_impl(http::Deadline deadline, Handler handler) {
  using Freshness = CredentialCache<TokenPtr>::Freshness;
  const bool fetch = cache_.get(deadline, std::move(handler), [this](const TokenPtr& t) {
    const Clock::time_point now = Clock::now();
    if (now + kExpirySafety >= t->expires) return Freshness::expired;
    return now + options_.refresh_margin >= t->expires ? Freshness::due : Freshness::fresh;
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
        self->refreshed(e.ok() ? e : e.prefixed("token from " + self->token_url_.origin()),
                        std::move(fresh));
      });
}

void TokenSource::refreshed(Error error, TokenPtr fresh) {
  const bool got = fresh != nullptr;
  const std::optional<http::Deadline> again = cache_.complete(error, std::move(fresh));
  if (got) {
    log::info("obtained an Entra access token", {{"source", description_}});
  } else {
    log::warn("Entra token request failed",
              {{"source", description_}, {"error", error.message()}, {"retrying", again.has_value()}});
  }
  if (again) refresh(*again);
}

}  // namespace trousseau::providers::azurekv
