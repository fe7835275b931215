// Registers the "pkcs11" provider type: parse() reads the Settings of
// settings.hpp, create() builds a Pkcs11Provider.
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

  Result<std::unique_ptr<Provider>> create(const std::string& name,
                                           const ProviderSettings& settings,
                                           const ProviderContext& context) const override {
    auto p = Pkcs11Provider::create(name, static_cast<const Settings&>(settings), context.executor);
    if (!p.ok()) return p.error();
    return std::unique_ptr<Provider>(std::move(p.value()));
  }
};

TROUSSEAU_REGISTER_PROVIDER(Pkcs11Factory)

}  // namespace

}  // namespace trousseau::providers::pkcs11
