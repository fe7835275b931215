// Registers the "pkcs11" provider type: parse() reads the Settings of
// settings.hpp, create() builds a Pkcs11Provider.
#include <algorithm>
#include <cctype>
#include <filesystem>

#include "common/bytes.hpp"
#include "providers/pkcs11/pkcs11_provider.hpp"
#include "providers/pkcs11/settings.hpp"
#include "providers/registry.hpp"

namespace trousseau::providers::pkcs11 {

namespace {

class Pkcs11Factory final : public ProviderFactory {
 public:
  std::string_view type() const override { return "pkcs11"; }

  std::unique_ptr<ProviderSettings> parse(settings::Node& node) const override {
    return parse_settings(node);
  }

  KeyStanding key_standing(const ProviderSettings& settings,
                           std::string_view key_version) const override {
    // The token's serial is part of the identity (format_key_identity): a
    // configured key_id can only prove a share foreign.
    const auto& s = static_cast<const Settings&>(settings);
    return may_be_key_with_id(key_version, s.key_id) ? KeyStanding::unknown
                                                     : KeyStanding::foreign;
  }

  Result<std::unique_ptr<Provider>> create(const std::string& name,
                                           const ProviderSettings& settings,
                                           const ProviderContext& context) const override {
    auto p = Pkcs11Provider::create(name, static_cast<const Settings&>(settings), context.executor);
    if (!p.ok()) return p.error();
    return std::unique_ptr<Provider>(std::move(p.value()));
  }

  std::vector<std::string> shared_key_warnings(const ProviderSettings& settings) const override {
    const auto& s = static_cast<const Settings&>(settings);
    std::string file = std::filesystem::path(s.module).filename().string();
    std::transform(file.begin(), file.end(), file.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (file.find("softhsm") == std::string::npos) return {};
    return {"module " + s.module +
            " is SoftHSM2, whose token is files on this node's disk (directories.tokendir in "
            "softhsm2.conf). Every node needs a copy of the same token, made after the key was "
            "created, or use a network HSM that every node reaches. Compare the key_identity "
            "that `trousseau status` prints on each node"};
  }
};

TROUSSEAU_REGISTER_PROVIDER(Pkcs11Factory)

}  // namespace

}  // namespace trousseau::providers::pkcs11
