#include "providers/gcpkms/google_auth.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <optional>

#include "common/file.hpp"
#include "common/text.hpp"
#include "http/json_fields.hpp"
#include "providers/jwt.hpp"

namespace trousseau::providers::gcpkms {

using http::string_field;

namespace {

constexpr std::string_view kJwtBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer";
constexpr std::string_view kTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange";
constexpr std::string_view kAccessTokenType = "urn:ietf:params:oauth:token-type:access_token";
constexpr std::string_view kDefaultTokenUri = "https://oauth2.googleapis.com/token";
constexpr std::string_view kDefaultStsUrl = "https://sts.googleapis.com/v1/token";
constexpr std::string_view kMetadataTokenPath =
    "/computeMetadata/v1/instance/service-accounts/default/token";

/// Parses a credentials file into a stack arena that is wiped afterwards
/// (a key file holds a private key).
template <typename T, typename F>
Result<T> read_json(ByteView json, std::string_view what, F&& read) {
  alignas(std::max_align_t) unsigned char arena[16384];
  Result<T> result = Error(Code::failed_precondition, std::string(what) + " is not a JSON object");
  {
    boost::json::monotonic_resource mr(arena, sizeof arena);
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(as_chars(json), ec, &mr);
    if (!ec && v.is_object()) result = read(v.as_object());
  }
  secure_wipe(std::span<std::uint8_t>(arena, sizeof arena));
  return result;
}

/// Token endpoints get credentials: https only.
Result<http::Url> https_url(const std::string& text, std::string_view what) {
  Result<http::Url> url = http::Url::parse(text);
  if (!url.ok() || !url->tls()) {
    return Error(Code::failed_precondition, std::string(what) + " " + quote(text) + " is not an https URL");
  }
  return url;
}

Error precondition(std::string message) { return Error(Code::failed_precondition, std::move(message)); }

}  // namespace

Result<ServiceAccountKey> parse_service_account_key(ByteView json) {
  return read_json<ServiceAccountKey>(
      json, "the service-account key", [](const boost::json::object& o) -> Result<ServiceAccountKey> {
        if (string_field(o, "type") != "service_account") {
          return precondition("the key file's type is not \"service_account\"");
        }
        ServiceAccountKey k;
        k.client_email = string_field(o, "client_email");
        k.private_key_id = string_field(o, "private_key_id");
        k.token_uri = string_field(o, "token_uri");
        if (k.token_uri.empty()) k.token_uri = kDefaultTokenUri;
        const boost::json::value* pem = o.if_contains("private_key");
        if (k.client_email.empty()) return precondition("the key file has no client_email");
        if (pem == nullptr || !pem->is_string() || pem->as_string().empty()) {
          return precondition("the key file has no private_key");
        }
        k.private_key_pem = SecretBytes(as_bytes(std::string_view(pem->as_string())));
        return k;
      });
}

Result<std::string> service_account_assertion(const ServiceAccountKey& key, std::string_view scope,
                                              WallClock::time_point now) {
  Result<PrivateKey> pkey = read_rsa_private_key(key.private_key_pem.view(), "the service-account key");
  if (!pkey.ok()) return pkey.error();
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  boost::json::object header;
  if (!key.private_key_id.empty()) header["kid"] = key.private_key_id;
  const boost::json::object claims{{"iss", key.client_email}, {"scope", scope},
                                   {"aud", key.token_uri},    {"iat", seconds},
                                   {"exp", seconds + 3600}};
  return sign_jwt_rs256(**pkey, header, claims);
}

Result<ExternalAccount> parse_external_account(ByteView json) {
  return read_json<ExternalAccount>(
      json, "the external-account file", [](const boost::json::object& o) -> Result<ExternalAccount> {
        if (string_field(o, "type") != "external_account") {
          return precondition("the credentials file's type is not \"external_account\"");
        }
        ExternalAccount a;
        a.audience = string_field(o, "audience");
        a.subject_token_type = string_field(o, "subject_token_type");
        a.token_url = string_field(o, "token_url");
        if (a.token_url.empty()) a.token_url = kDefaultStsUrl;
        if (a.audience.empty() || a.subject_token_type.empty()) {
          return precondition("the external-account file lacks audience or subject_token_type");
        }
        if (!string_field(o, "service_account_impersonation_url").empty()) {
          return precondition(
              "service_account_impersonation_url is not supported: grant the federated principal "
              "roles/cloudkms.cryptoKeyEncrypterDecrypter on the key instead");
        }
        const boost::json::value* source = o.if_contains("credential_source");
        if (source == nullptr || !source->is_object()) {
          return precondition("the external-account file has no credential_source");
        }
        const auto& s = source->as_object();
        a.subject_token_file = string_field(s, "file");
        if (a.subject_token_file.empty()) {
          return precondition("only a file credential_source is supported (not url, executable "
                              "or an AWS environment)");
        }
        if (const auto* f = s.if_contains("format"); f != nullptr && f->is_object()) {
          const std::string type = string_field(f->as_object(), "type");
          if (type == "json") {
            a.subject_token_field = string_field(f->as_object(), "subject_token_field_name");
            if (a.subject_token_field.empty()) {
              return precondition("credential_source.format json needs subject_token_field_name");
            }
          } else if (!type.empty() && type != "text") {
            return precondition("credential_source.format.type " + quote(type, 32) +
                                " is not text or json");
          }
        }
        return a;
      });
}

TokenSource::TokenSource(asio::any_io_executor executor, std::shared_ptr<http::Client> client,
                         TokenOptions options)
    : providers::TokenSource(std::move(executor), std::move(client), "a Google access token",
                             options.refresh_margin),
      options_(std::move(options)) {}

Result<std::shared_ptr<TokenSource>> TokenSource::create(asio::any_io_executor executor,
                                                         std::shared_ptr<http::Client> client,
                                                         TokenOptions options) {
  std::shared_ptr<TokenSource> s(new TokenSource(std::move(executor), std::move(client), std::move(options)));
  const TokenOptions& o = s->options_;
  if (o.method == AuthMethod::metadata_server) {
    Result<http::Url> url = http::Url::parse(o.metadata_address + std::string(kMetadataTokenPath));
    if (!url.ok()) return url.error().prefixed("metadata server");
    s->where_ = url->origin();
    s->description_ = "metadata server " + o.metadata_address;
    return s;
  }
  if (o.credentials_file.empty()) {
    return precondition("auth.credentials_file is required (or GOOGLE_APPLICATION_CREDENTIALS)");
  }
  // Checked now, so that a wrong file fails at start-up; read again for
  // every token.
  Result<SecretBytes> file = read_secret_file(o.credentials_file, kMountedFileRules);
  if (!file.ok()) return precondition(file.error().message());
  if (o.method == AuthMethod::service_account_key) {
    Result<ServiceAccountKey> key = parse_service_account_key(file->view());
    if (!key.ok()) return key.error().prefixed(o.credentials_file);
    Result<http::Url> url = https_url(key->token_uri, "token_uri");
    if (!url.ok()) return url.error().prefixed(o.credentials_file);
    Result<PrivateKey> pkey = read_rsa_private_key(key->private_key_pem.view(), "the service-account key");
    if (!pkey.ok()) return pkey.error().prefixed(o.credentials_file);
    s->where_ = url->origin();
    s->description_ = "service account " + key->client_email;
  } else {
    Result<ExternalAccount> account = parse_external_account(file->view());
    if (!account.ok()) return account.error().prefixed(o.credentials_file);
    Result<http::Url> url = https_url(account->token_url, "token_url");
    if (!url.ok()) return url.error().prefixed(o.credentials_file);
    s->where_ = url->origin();
    s->description_ = "workload identity federation " + account->audience;
  }
  return s;
}

Result<http::Request> TokenSource::token_request() const {
  const TokenOptions& o = options_;
  http::Request req;
  req.sensitive = true;  // a credential goes out, a token comes back
  if (o.method == AuthMethod::metadata_server) {
    req.method = "GET";
    req.url = http::Url::parse(o.metadata_address + std::string(kMetadataTokenPath)).value();
    req.headers = {{"Metadata-Flavor", "Google"}};
    return req;
  }
  Result<SecretBytes> file = read_secret_file(o.credentials_file, kMountedFileRules);
  if (!file.ok()) return Error(Code::unavailable, file.error().message());
  req.method = "POST";
  req.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
  std::string credential;  // the assertion or the subject token, encoded
  if (o.method == AuthMethod::service_account_key) {
    Result<ServiceAccountKey> key = parse_service_account_key(file->view());
    if (!key.ok()) return key.error().prefixed(o.credentials_file);
    Result<http::Url> url = https_url(key->token_uri, "token_uri");
    if (!url.ok()) return url.error().prefixed(o.credentials_file);
    Result<std::string> jwt = service_account_assertion(*key, kCloudKmsScope, o.wall_now());
    if (!jwt.ok()) return jwt.error().prefixed(o.credentials_file);
    req.url = std::move(url).value();
    credential = std::move(jwt).value();  // base64url and dots: nothing to encode
    req.body = "grant_type=" + form_encode(kJwtBearer);
    req.body.reserve(req.body.size() + 16 + credential.size());
    req.body += "&assertion=";
  } else {
    Result<ExternalAccount> account = parse_external_account(file->view());
    if (!account.ok()) return account.error().prefixed(o.credentials_file);
    Result<http::Url> url = https_url(account->token_url, "token_url");
    if (!url.ok()) return url.error().prefixed(o.credentials_file);
    req.url = std::move(url).value();
    const std::string& path = account->subject_token_file;
    Result<SecretBytes> subject = read_secret_file(path, kMountedFileRules);
    Result<std::string_view> text = trimmed_credential(subject, path);
    if (!text.ok()) return text.error();
    if (account->subject_token_field.empty()) {
      credential = form_encode(*text);
    } else {
      Result<std::string> token = read_json<std::string>(
          as_bytes(*text), "subject token file " + path,
          [&](const boost::json::object& j) -> Result<std::string> {
            std::string t = string_field(j, account->subject_token_field);
            if (t.empty()) {
              return Error(Code::unavailable, "subject token file " + path + " has no field " +
                                                  quote(account->subject_token_field, 64));
            }
            std::string encoded = form_encode(t);
            secure_wipe(t);
            return encoded;
          });
      if (!token.ok()) return Error(Code::unavailable, token.error().message());
      credential = std::move(token).value();
    }
    req.body = "grant_type=" + form_encode(kTokenExchange) + "&audience=" + form_encode(account->audience) +
               "&scope=" + form_encode(kCloudPlatformScope) +
               "&requested_token_type=" + form_encode(kAccessTokenType) +
               "&subject_token_type=" + form_encode(account->subject_token_type);
    req.body.reserve(req.body.size() + 16 + credential.size());
    req.body += "&subject_token=";
  }
  req.body += credential;
  secure_wipe(credential);
  return req;
}

}  // namespace trousseau::providers::gcpkms
