// Registers the "kmip" provider type: parse() reads the Settings of
// settings.hpp, create() resolves the key (Locate, Get Attributes) and
// builds a KmipProvider.
#include <algorithm>
#include <boost/asio/io_context.hpp>

#include "common/log.hpp"
#include "common/text.hpp"
#include "providers/kmip/kmip_provider.hpp"
#include "providers/kmip/settings.hpp"
#include "providers/registry.hpp"
#include "providers/run_now.hpp"

namespace trousseau::providers::kmip {

namespace {

/// The whole budget of create()'s start-up calls: no request is in flight
/// yet, so there is no request deadline to inherit.
constexpr std::chrono::seconds kStartupBudget{10};

ProtocolVersion parse_version(const std::string& text) {
  // parse_settings accepted only "2.0", "1.4", "1.3" and "1.2".
  return ProtocolVersion{text[0] - '0', text[2] - '0'};
}

class KmipFactory final : public ProviderFactory {
 public:
  std::string_view type() const override { return "kmip"; }

  std::unique_ptr<ProviderSettings> parse(settings::Node& node) const override {
    return parse_settings(node);
  }

  KeyStanding key_standing(const ProviderSettings& settings,
                           std::string_view key_version) const override {
    const auto& s = static_cast<const Settings&>(settings);
    const KeyStanding standing = standing_among(key_version, s.key_uid, s.previous_key_uids);
    // A key_name is resolved to its Unique Identifier by Locate, at start-up.
    if (s.key_uid.empty() && standing != KeyStanding::previous) return KeyStanding::unknown;
    return standing;
  }

  Result<std::unique_ptr<Provider>> create(const std::string& name,
                                           const ProviderSettings& settings,
                                           const ProviderContext& context) const override {
    // Errors do not name the provider: whoever builds it adds the name.
    const auto& s = static_cast<const Settings&>(settings);
    ClientOptions co;
    co.host = s.host;
    co.port = s.port;
    co.server_name = s.server_name;
    co.tls.ca_file = s.ca_file;
    co.tls.client_cert_file = s.client_certificate_file;
    co.tls.client_key_file = s.client_key_file;
    for (const std::string& v : s.protocol_versions) co.versions.push_back(parse_version(v));
    co.max_idle = s.max_idle_connections;

    KmipProvider::Config config{KeyRef{s.key_uid, s.key_name}, s.previous_key_uids, s.mode,
                                s.tag_length, std::nullopt};
    // Resolve the key on a private io_context, within one start-up budget.
    // A server that cannot be reached now does not stop the plugin: it
    // starts unresolved and the first probe that reaches the server
    // resolves the key. Anything else (no such key, a refused certificate,
    // a key that cannot encrypt) is a configuration error.
    {
      asio::io_context io;
      Result<std::shared_ptr<Client>> client = Client::create(io.get_executor(), co);
      if (!client.ok()) return client.error();
      Result<KeyAttributes> a = run_now<KeyAttributes>(io, "resolve the KMIP key", [&](auto done) {
        auto op = std::make_shared<providers::Operation<Error, KeyAttributes>>(io.get_executor(), nullptr,
                                                                    std::move(done));
        asio::post(op->strand(), [&client, &config, op] {
          resolve_key(**client, op, config.key, Clock::now() + kStartupBudget,
                      [op](Error e, KeyAttributes attributes) {
                        op->complete(std::move(e), std::move(attributes));
                      });
        });
      });
      if (!a.ok() && is_transient(a.error().code())) {
        log::warn("KMIP server unreachable at start-up; the key is resolved by the first probe that "
                  "reaches it",
                  {{"provider", name}, {"error", a.error().message()}});
      } else if (!a.ok()) {
        return a.error().prefixed("cannot resolve the key (" + config.key.describe() + ")");
      } else {
        log::info("resolved KMIP key", {{"provider", name},
                                        {"uid", a->uid},
                                        {"state", std::string(state_name(a->state))},
                                        {"identity", attribute_digest(*a)}});
        if (a->state != State::active) {
          log::warn("KMIP key is not Active: wraps are refused until it is",
                    {{"provider", name}, {"uid", a->uid}, {"state", std::string(state_name(a->state))}});
        }
        config.attributes = std::move(a).value();
      }
    }
    if (!s.previous_key_uids.empty()) {
      log::info("unwrap also accepts previous key uids",
                {{"provider", name}, {"previous_key_uids", join(s.previous_key_uids)}});
    }
    Result<std::shared_ptr<Client>> client = Client::create(context.executor, std::move(co));
    if (!client.ok()) return client.error();
    return std::unique_ptr<Provider>(std::make_unique<KmipProvider>(
        name, context.executor, std::move(client).value(), std::move(config)));
  }
};

TROUSSEAU_REGISTER_PROVIDER(KmipFactory)

}  // namespace

}  // namespace trousseau::providers::kmip
