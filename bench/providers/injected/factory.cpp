// Registers the "injected" provider type: parse() reads the Settings of
// settings.hpp, create() builds an InjectedProvider. Linked into
// trousseau-bench-server and tests only.
#include "bench/providers/injected/injected_provider.hpp"
#include "bench/providers/injected/settings.hpp"
#include "providers/registry.hpp"

namespace trousseau::bench::injected {

namespace {

class InjectedFactory final : public providers::ProviderFactory {
 public:
  std::string_view type() const override { return "injected"; }

  std::unique_ptr<providers::ProviderSettings> parse(settings::Node& node) const override {
    return parse_settings(node);
  }

  Result<std::unique_ptr<providers::Provider>> create(
      const std::string& name, const providers::ProviderSettings& settings,
      const providers::ProviderContext& context) const override {
    auto made =
        InjectedProvider::create(name, static_cast<const Settings&>(settings), context.executor);
    if (!made.ok()) return made.error();
    return std::unique_ptr<providers::Provider>(std::move(made.value()));
  }
};

TROUSSEAU_REGISTER_PROVIDER(InjectedFactory)

}  // namespace

}  // namespace trousseau::bench::injected
