// Registers the "vault" provider type: parse() reads the Settings of
// settings.hpp, create() obtains the first token, reads the key and builds
// a VaultProvider.
#include <boost/asio/io_context.hpp>
#include <optional>

#include "common/log.hpp"
#include "common/text.hpp"
#include "providers/registry.hpp"
#include "providers/run_now.hpp"
#include "providers/vault/session.hpp"
#include "providers/vault/settings.hpp"
#include "providers/vault/vault_provider.hpp"

namespace trousseau::providers::vault {

namespace {

/// The whole budget of the start-up calls of create() (the login or
/// lookup-self, and the key read): no request is in flight yet, so no
/// request deadline exists to inherit. Nothing on the request path uses it.
constexpr std::chrono::seconds kStartupBudget{10};

Result<std::shared_ptr<VaultClient>> make_client(const asio::any_io_executor& ex,
                                                 const Settings& s, const http::Url& address) {
  http::ClientOptions co;
  co.ca_file = s.ca_file;
  co.client_cert_file = s.client_cert;
  co.client_key_file = s.client_key;
  co.server_name = s.server_name;
  co.allow_plain_http = !address.tls();  // parse() allowed that on loopback only
  Result<std::unique_ptr<http::Client>> client = http::Client::create(ex, co);
  if (!client.ok()) return client.error();
  return std::make_shared<VaultClient>(std::move(client).value(), address, s.vault_namespace);
}

/// "<namespace/><mount>/keys/<key>": what a share's key_version names.
std::string key_path(const Settings& s) {
  return (s.vault_namespace.empty() ? "" : s.vault_namespace + "/") + s.mount + "/keys/" + s.key;
}

class VaultFactory final : public ProviderFactory {
 public:
  std::string_view type() const override { return "vault"; }

  std::unique_ptr<ProviderSettings> parse(settings::Node& node) const override {
    return parse_settings(node);
  }

  KeyStanding key_standing(const ProviderSettings& settings,
                           std::string_view key_version) const override {
    // Every version of the configured key is ours; Vault alone knows which
    // it has retired (min_decryption_version): `audit --retired-key-version`.
    const auto& s = static_cast<const Settings&>(settings);
    return version_in(key_path(s), key_version) ? KeyStanding::current : KeyStanding::foreign;
  }

  Result<std::unique_ptr<Provider>> create(const std::string& name,
                                           const ProviderSettings& settings,
                                           const ProviderContext& context) const override {
    // Errors do not name the provider: whoever builds it adds the name.
    const auto& s = static_cast<const Settings&>(settings);
    Result<http::Url> address = http::Url::parse(s.address);
    if (!address.ok()) return address.error();

    // The token file is watched from before its first read, so that no
    // change goes unseen (common/file_watch.hpp).
    std::unique_ptr<FileWatch> watch;
    std::uint64_t generation = 0;
    Token from_file;
    if (s.auth.method == "token") {
      Result<std::unique_ptr<FileWatch>> w = FileWatch::start(s.auth.token_file);
      if (w.ok()) {
        watch = std::move(w).value();
        generation = watch->generation();
      } else {
        log::warn("token file not watched: a new token needs a reload",
                  {{"provider", name}, {"error", w.error().message()}});
      }
      Result<Token> t = read_token_file(s.auth.token_file);
      if (!t.ok()) return t.error();
      from_file = std::move(t).value();
    }

    // The first token and the key, on a private io_context, within one
    // start-up budget. Vault being down or refusing us is not a
    // configuration error: the provider starts unhealthy and says why.
    Result<Grant> grant = unavailable("not attempted");
    std::optional<KeyInfo> key;
    {
      const http::Deadline deadline = Clock::now() + kStartupBudget;
      asio::io_context io;
      Result<std::shared_ptr<VaultClient>> client = make_client(io.get_executor(), s, *address);
      if (!client.ok()) return client.error();
      grant = run_now<Grant>(io, "login", [&](auto done) {
        obtain_token(**client, s.auth, from_file, deadline, std::move(done));
      });
      if (grant.ok()) {
        Result<KeyInfo> k = run_now<KeyInfo>(io, "read key", [&](auto done) {
          http::Request req = (*client)->request("GET", s.mount + "/keys/" + s.key, "", grant->token, false);
          (*client)->http().async_request(std::move(req), deadline,
                                          [done = std::move(done)](Error e, http::Response r) mutable {
            if (e.ok() && r.status == 200) {
              Result<KeyInfo> parsed = parse_key_answer(r.body);
              if (!parsed.ok()) return done(parsed.error(), KeyInfo());
              return done(Error(), *parsed);
            }
            done(e.ok() || r.status >= 500 ? map_vault_error("read key", r) : e.prefixed("read key"),
                 KeyInfo());
          });
        });
        if (k.ok()) {
          if (context_field(*k).empty()) {
            return Error(Code::failed_precondition,
                         "transit key " + quote(s.key) + " is of type " + quote(k->type) +
                             ", which binds no share context: use a derived key or an AEAD type");
          }
          key = *k;
        } else {
          log::warn("cannot read the transit key at start-up",
                    {{"provider", name}, {"key", s.key}, {"error", k.error().message()}});
        }
      }
    }

    Result<std::shared_ptr<VaultClient>> client = make_client(context.executor, s, *address);
    if (!client.ok()) return client.error();
    auto session = std::make_shared<Session>(context.executor, *client, s.auth, name,
                                             std::move(watch), generation);
    session->adopt(std::move(grant));
    if (key) {
      log::info("Vault transit key", {{"provider", name},
                                      {"key", key_path(s)},
                                      {"type", key->type},
                                      {"latest_version", key->latest_version},
                                      {"binds_context_as", std::string(context_field(*key))}});
    }
    VaultProvider::Config config{address->origin(), key_path(s), s.mount,
                                 s.key, key};
    return std::unique_ptr<Provider>(std::make_unique<VaultProvider>(
        name, context.executor, std::move(client).value(), std::move(session), std::move(config)));
  }
};

TROUSSEAU_REGISTER_PROVIDER(VaultFactory)

}  // namespace

}  // namespace trousseau::providers::vault
