// Registers the "keyfile" provider type: parse() reads the Settings of
// settings.hpp, create() builds a KeyfileProvider.
#include "providers/keyfile/keyfile_provider.hpp"
#include "providers/keyfile/settings.hpp"
#include "providers/registry.hpp"

namespace trousseau::providers::keyfile {

namespace {

class KeyfileFactory final : public ProviderFactory {
 public:
  std::string_view type() const override { return "keyfile"; }

  std::unique_ptr<ProviderSettings> parse(settings::Node& node) const override {
    return parse_settings(node);
  }

  Result<std::unique_ptr<Provider>> create(const std::string& name,
                                           const ProviderSettings& settings,
                                           const ProviderContext& context) const override {
    const auto& s = static_cast<const Settings&>(settings);
    if (s.create && context.create_missing_keys) {
      if (Error e = KeyfileProvider::create_if_missing(s.path); !e.ok()) return e;
    }
    return std::unique_ptr<Provider>(std::make_unique<KeyfileProvider>(name, s.path, context.executor));
  }

  std::vector<std::string> shared_key_warnings(const ProviderSettings& settings) const override {
    const auto& s = static_cast<const Settings&>(settings);
    if (!s.create) return {};
    return {"create_if_missing is on: a node that starts before " + s.path +
            " reaches it creates a key of its own, and the nodes then disagree on key_id and "
            "cannot read each other's Secrets. Create the key once, copy it to every node, and "
            "set create_if_missing: false"};
  }
};

TROUSSEAU_REGISTER_PROVIDER(KeyfileFactory)

}  // namespace

}  // namespace trousseau::providers::keyfile
