// Registers the "gcpkms" provider type: parse() reads the Settings of
// settings.hpp, create() resolves the key's primary version and builds a
// GcpKmsProvider.
#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <cstdlib>

#include "common/log.hpp"
#include "common/text.hpp"
#include "providers/gcpkms/gcpkms_provider.hpp"
#include "providers/gcpkms/kms_messages.hpp"
#include "providers/gcpkms/settings.hpp"
#include "providers/registry.hpp"
#include "providers/run_now.hpp"

namespace trousseau::providers::gcpkms {

namespace {

/// The whole budget of create()'s start-up calls (a token and the key): no
/// request is in flight yet, so there is no request deadline to inherit.
constexpr std::chrono::seconds kStartupBudget{10};

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

/// One Cloud KMS call, run to completion at start-up (run_now.hpp).
Result<std::string> call_now(KmsApi& api, asio::io_context& io, KmsCall call,
                             http::Deadline deadline) {
  const std::string what = call.operation;
  return run_now<std::string>(io, what, [&](auto done) {
    auto op = std::make_shared<Operation<Error, std::string>>(io.get_executor(), nullptr,
                                                              std::move(done));
    asio::post(op->strand(), [&api, op, call = std::move(call), deadline]() mutable {
      api.call(op, std::move(call), deadline,
               [op](Error e, std::string b) { op->complete(std::move(e), std::move(b)); });
    });
  });
}

/// The primary version of `key_name`, if the key can wrap: failed_precondition
/// for a key of another purpose, without a primary, or whose primary is not
/// enabled (logged, not fatal: the operator may enable it).
Result<std::string> resolve(const std::string& provider, const std::string& key_name,
                            const std::string& body) {
  Result<CryptoKeyInfo> k = parse_crypto_key(body);
  if (!k.ok()) return k.error();
  if (k->purpose != "ENCRYPT_DECRYPT") {
    return Error(Code::failed_precondition, "the key's purpose is " + quote(k->purpose, 64) +
                                                ", not ENCRYPT_DECRYPT (a symmetric key)");
  }
  if (k->primary.empty() || crypto_key_of_version(k->primary) != key_name) {
    return Error(Code::failed_precondition, "the key has no primary version");
  }
  if (k->primary_state != "ENABLED") {
    log::warn("the Cloud KMS key's primary version is not enabled",
              {{"provider", provider}, {"version", k->primary}, {"state", k->primary_state}});
  }
  return k->primary;
}

class GcpKmsFactory final : public ProviderFactory {
 public:
  std::string_view type() const override { return "gcpkms"; }

  std::unique_ptr<ProviderSettings> parse(settings::Node& node) const override {
    return parse_settings(node);
  }

  KeyStanding key_standing(const ProviderSettings& settings,
                           std::string_view key_version) const override {
    const auto& s = static_cast<const Settings&>(settings);
    const std::optional<std::string> key = crypto_key_of_version(key_version);
    return key ? standing_among(*key, s.key_name, s.previous_keys) : KeyStanding::foreign;
  }

  Result<std::unique_ptr<Provider>> create(const std::string& name,
                                           const ProviderSettings& settings,
                                           const ProviderContext& context) const override {
    // Errors do not name the provider: whoever builds it adds the name.
    const auto& s = static_cast<const Settings&>(settings);
    Result<http::Url> endpoint = http::Url::parse(s.endpoint);
    if (!endpoint.ok()) return endpoint.error();

    TokenOptions to;
    to.method = s.auth.method;
    to.credentials_file = s.auth.credentials_file;
    to.metadata_address = s.auth.metadata_address;
    if (to.method != AuthMethod::metadata_server && to.credentials_file.empty()) {
      to.credentials_file = env("GOOGLE_APPLICATION_CREDENTIALS");
    }

    auto make_api = [&](const asio::any_io_executor& ex) -> Result<std::unique_ptr<KmsApi>> {
      http::ClientOptions co;
      co.ca_file = s.ca_file;
      // parse() allowed plain http for the metadata server only (its
      // link-local address, DNS name or loopback); Cloud KMS is https.
      co.allow_plain_http = to.method == AuthMethod::metadata_server &&
                            to.metadata_address.rfind("http://", 0) == 0;
      Result<std::unique_ptr<http::Client>> client = http::Client::create(ex, co);
      if (!client.ok()) return client.error();
      std::shared_ptr<http::Client> shared = std::move(client).value();
      Result<std::shared_ptr<TokenSource>> tokens = TokenSource::create(ex, shared, to);
      if (!tokens.ok()) return tokens.error();
      return std::make_unique<KmsApi>(shared, std::move(tokens).value(), *endpoint);
    };

    // Resolve the key's primary version on a private io_context, within one
    // start-up budget. Cloud KMS or a token service that cannot be reached
    // now does not stop the plugin: it starts with the key unresolved, and
    // the first probe that reaches it resolves it. Anything else (a missing
    // key, a refused credential, an asymmetric key) is a configuration
    // error.
    GcpKmsProvider::Config config{s.key_name, s.previous_keys, ""};
    {
      const http::Deadline deadline = Clock::now() + kStartupBudget;
      asio::io_context io;
      Result<std::unique_ptr<KmsApi>> api = make_api(io.get_executor());
      if (!api.ok()) return api.error();
      log::info("Google credentials", {{"provider", name}, {"source", (*api)->tokens().describe()}});
      Result<std::string> got =
          call_now(**api, io, KmsCall{"get key", "GET", "/v1/" + s.key_name, "", false, false}, deadline);
      Result<std::string> version = got.ok() ? resolve(name, s.key_name, *got) : got.error();
      if (!version.ok() && is_transient(version.error().code())) {
        log::warn("Cloud KMS unreachable at start-up; the key is resolved by the first probe that reaches it",
                  {{"provider", name}, {"error", version.error().message()}});
      } else if (!version.ok()) {
        return version.error().prefixed("cannot resolve key " + quote(s.key_name));
      } else {
        config.version = *version;
        log::info("resolved Cloud KMS key", {{"provider", name}, {"version", config.version}});
      }
    }
    if (!s.previous_keys.empty()) {
      log::info("unwrap also accepts previous keys",
                {{"provider", name}, {"previous_keys", join(s.previous_keys)}});
    }
    Result<std::unique_ptr<KmsApi>> api = make_api(context.executor);
    if (!api.ok()) return api.error();
    return std::unique_ptr<Provider>(std::make_unique<GcpKmsProvider>(
        name, context.executor, std::move(api).value(), std::move(config)));
  }
};

TROUSSEAU_REGISTER_PROVIDER(GcpKmsFactory)

}  // namespace

}  // namespace trousseau::providers::gcpkms
