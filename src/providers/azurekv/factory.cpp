// Registers the "azurekv" provider type: parse() reads the Settings of
// settings.hpp, create() resolves the key's current version and builds an
// AzureKvProvider.
#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <cstdlib>
#include <optional>

#include "common/log.hpp"
#include "common/text.hpp"
#include "providers/azurekv/azurekv_provider.hpp"
#include "providers/azurekv/kv_messages.hpp"
#include "providers/azurekv/settings.hpp"
#include "providers/registry.hpp"
#include "providers/run_now.hpp"

namespace trousseau::providers::azurekv {

namespace {

/// The whole budget of create()'s start-up calls (a token and GET key): no
/// request is in flight yet, so there is no request deadline to inherit.
constexpr std::chrono::seconds kStartupBudget{10};

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

/// One Key Vault call, run to completion at start-up (run_now.hpp).
Result<std::string> call_now(KeyVaultApi& api, asio::io_context& io, KvCall call,
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

class AzureKvFactory final : public ProviderFactory {
 public:
  std::string_view type() const override { return "azurekv"; }

  std::unique_ptr<ProviderSettings> parse(settings::Node& node) const override {
    return parse_settings(node);
  }

  KeyStanding key_standing(const ProviderSettings& settings,
                           std::string_view key_version) const override {
    const auto& s = static_cast<const Settings&>(settings);
    Result<http::Url> vault = http::Url::parse(s.vault_url);
    if (!vault.ok()) return KeyStanding::unknown;
    const std::optional<Kid> kid = parse_kid(key_version, *vault);
    return kid ? standing_among(kid->name, s.key_name, s.previous_key_names)
               : KeyStanding::foreign;
  }

  Result<std::unique_ptr<Provider>> create(const std::string& name,
                                           const ProviderSettings& settings,
                                           const ProviderContext& context) const override {
    // Errors do not name the provider: whoever builds it adds the name.
    const auto& s = static_cast<const Settings&>(settings);
    Result<http::Url> vault = http::Url::parse(s.vault_url);
    if (!vault.ok()) return vault.error();

    TokenOptions to;
    to.method = s.auth.method;
    to.tenant_id = s.auth.tenant_id;
    to.client_id = s.auth.client_id;
    to.client_secret_file = s.auth.client_secret_file;
    to.client_certificate_file = s.auth.client_certificate_file;
    to.federated_token_file = s.auth.federated_token_file;
    to.authority_host = s.auth.authority_host;
    to.imds_endpoint = s.auth.imds_endpoint;
    to.scope = s.scope;
    if (to.method == AuthMethod::workload_identity) {
      // What the AKS workload identity webhook injects into the pod.
      if (to.tenant_id.empty()) to.tenant_id = env("AZURE_TENANT_ID");
      if (to.client_id.empty()) to.client_id = env("AZURE_CLIENT_ID");
      if (to.federated_token_file.empty()) to.federated_token_file = env("AZURE_FEDERATED_TOKEN_FILE");
      if (to.authority_host.empty()) {
        to.authority_host = env("AZURE_AUTHORITY_HOST");
        while (!to.authority_host.empty() && to.authority_host.back() == '/') to.authority_host.pop_back();
      }
    }
    if (to.authority_host.empty()) to.authority_host = cloud_of_host(vault->host).authority_host;
    if (to.authority_host.empty() && to.method != AuthMethod::managed_identity) {
      return Error(Code::failed_precondition,
                   "auth.authority_host is required: the cloud of " + quote(vault->host) +
                       " is not one we know");
    }
    if (to.authority_host.rfind("https://", 0) != 0 && to.method != AuthMethod::managed_identity) {
      return Error(Code::failed_precondition, "the authority host must be an https URL");
    }

    auto make_api = [&](const asio::any_io_executor& ex) -> Result<std::unique_ptr<KeyVaultApi>> {
      http::ClientOptions co;
      co.ca_file = s.ca_file;
      // parse() allowed plain http for IMDS only (its link-local address or
      // loopback); the vault and the authority are https.
      co.allow_plain_http = to.method == AuthMethod::managed_identity &&
                            to.imds_endpoint.rfind("http://", 0) == 0;
      Result<std::unique_ptr<http::Client>> client = http::Client::create(ex, co);
      if (!client.ok()) return client.error();
      std::shared_ptr<http::Client> shared = std::move(client).value();
      Result<std::shared_ptr<TokenSource>> tokens = TokenSource::create(ex, shared, to);
      if (!tokens.ok()) return tokens.error();
      return std::make_unique<KeyVaultApi>(shared, std::move(tokens).value(), *vault, s.scope);
    };

    // Resolve the key's current version (and type) on a private
    // io_context, within one start-up budget. A vault or Entra that cannot
    // be reached now does not stop the plugin: it starts with the key
    // unresolved, and the first probe that reaches the vault resolves it.
    // Anything else (a missing key, a refused credential, an algorithm the
    // key lacks) is a configuration error.
    AzureKvProvider::Config config{s.key_name, s.previous_key_names, s.algorithm, std::nullopt, ""};
    {
      const http::Deadline deadline = Clock::now() + kStartupBudget;
      asio::io_context io;
      Result<std::unique_ptr<KeyVaultApi>> api = make_api(io.get_executor());
      if (!api.ok()) return api.error();
      log::info("Azure credentials", {{"provider", name}, {"source", (*api)->tokens().describe()}});
      Result<std::string> got =
          call_now(**api, io, KvCall{"get key", "GET", "/keys/" + s.key_name, "", false, false}, deadline);
      Result<KeyBundle> bundle = got.ok() ? parse_key_bundle(*got, "wrapKey", "unwrapKey")
                                          : Result<KeyBundle>(got.error());
      if (!bundle.ok() && is_transient(bundle.error().code())) {
        log::warn("Key Vault unreachable at start-up; the key is resolved by the first probe that reaches it",
                  {{"provider", name}, {"error", bundle.error().message()}});
      } else if (!bundle.ok()) {
        return bundle.error().prefixed("cannot resolve key " + quote(s.key_name));
      } else {
        std::optional<Kid> kid = parse_kid(bundle->kid, *vault);
        if (!kid || kid->name != s.key_name) {
          return Error(Code::failed_precondition,
                       "the vault answered with key id " + quote(bundle->kid) + ", not a version of " +
                           s.key_name + " in " + s.vault_url);
        }
        Result<Algorithm> alg = choose_algorithm(s.algorithm, bundle->kty);
        if (!alg.ok()) return alg.error();
        config.algorithm = *alg;
        config.kid = bundle->kid;
        if (!bundle->enabled) {
          log::warn("Key Vault key is disabled", {{"provider", name}, {"kid", bundle->kid}});
        }
        log::info("resolved Key Vault key",
                  {{"provider", name}, {"kid", config.kid}, {"algorithm", algorithm_name(*config.algorithm)}});
      }
    }
    if (!s.previous_key_names.empty()) {
      log::info("unwrap also accepts previous key names",
                {{"provider", name}, {"previous_key_names", join(s.previous_key_names)}});
    }
    Result<std::unique_ptr<KeyVaultApi>> api = make_api(context.executor);
    if (!api.ok()) return api.error();
    return std::unique_ptr<Provider>(std::make_unique<AzureKvProvider>(
        name, context.executor, std::move(api).value(), std::move(config)));
  }
};

TROUSSEAU_REGISTER_PROVIDER(AzureKvFactory)

}  // namespace

}  // namespace trousseau::providers::azurekv
