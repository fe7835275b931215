#include "providers/azurekv/entra.hpp"

#include <optional>

#include "common/completion.hpp"
#include "common/file.hpp"
#include "common/log.hpp"
#include "common/text.hpp"
#include "providers/azurekv/jwt.hpp"

namespace trousseau::providers::azurekv {

namespace {

constexpr std::string_view kAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

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

TokenSource::TokenSource(asio::any_io_executor executor, std::shared_ptr<http::Client> client,
                         TokenOptions options)
    : providers::TokenSource(std::move(executor), std::move(client), "an Entra access token",
                             options.refresh_margin),
      options_(std::move(options)) {}

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
  s->where_ = s->token_url_.origin();
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
      Result<std::string_view> secret = trimmed_credential(file, o.client_secret_file);
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
      Result<std::string_view> token = trimmed_credential(file, o.federated_token_file);
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

}  // namespace trousseau::providers::azurekv
