// Registers the "sequential" provider type: parse() reads the Settings of
// settings.hpp, create() builds a SequentialProvider and its members.
// Linked into trousseau-bench-server and tests only.
#include "bench/providers/sequential/sequential_provider.hpp"
#include "bench/providers/sequential/settings.hpp"
#include "providers/registry.hpp"

namespace trousseau::bench::sequential {

namespace {

class SequentialFactory final : public providers::ProviderFactory {
 public:
  std::string_view type() const override { return "sequential"; }

  std::unique_ptr<providers::ProviderSettings> parse(settings::Node& node) const override {
    return parse_settings(node);
  }

  Result<std::unique_ptr<providers::Provider>> create(
      const std::string& name, const providers::ProviderSettings& settings,
      const providers::ProviderContext& context) const override {
    auto made =
        SequentialProvider::create(name, static_cast<const Settings&>(settings), context.executor);
    if (!made.ok()) return made.error();
    return std::unique_ptr<providers::Provider>(std::move(made.value()));
  }
};

TROUSSEAU_REGISTER_PROVIDER(SequentialFactory)

}  // namespace

}  // namespace trousseau::bench::sequential
