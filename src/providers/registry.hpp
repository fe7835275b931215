// Provider types register themselves; the core never switches on a type.
//
// Every provider folder, src/providers/<name>/, holds the same files:
//   settings.hpp, settings.cpp   `struct Settings final : ProviderSettings` and
//                                `parse_settings(settings::Node&)`: parse and
//                                validate, no I/O
//   <name>_provider.hpp, .cpp    the Provider (and its static create, if any)
//   factory.cpp                  the ProviderFactory (type(), parse() calling
//                                parse_settings, create()) and
//                                TROUSSEAU_REGISTER_PROVIDER(<Name>Factory)
//   meson.build                  appends to provider_sources and provider_deps
// plus whatever helpers it needs. Its tests and its contract target live in
// tests/providers/<name>/. Adding a provider is those two folders and its
// name in the `providers` build option (meson_options.txt): nothing else.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "settings/node.hpp"
#include "providers/provider.hpp"

namespace trousseau::providers {

/// Type-specific settings, validated and free of side effects.
struct ProviderSettings {
  virtual ~ProviderSettings() = default;
};

/// Where a share's key_version stands against a provider's settings alone,
/// without its KMS, device or key file (`trousseau audit`).
enum class KeyStanding {
  unknown,   ///< the settings cannot tell: the key's identity is read at start-up
  current,   ///< the configured key, or one of its versions
  previous,  ///< kept only to unwrap (previous_key_ids and the like): retired
  foreign,   ///< neither: unwrap refuses the share without calling the KMS
};

/// Where the key named `key` stands among a provider's configured key
/// (`current`) and those it keeps only to unwrap (`previous`): the one rule
/// behind both a provider's owns_key_version() (anything but foreign) and
/// its factory's key_standing().
KeyStanding standing_among(std::string_view key, std::string_view current,
                           const std::vector<std::string>& previous);

/// What a provider may use at run time.
struct ProviderContext {
  asio::any_io_executor executor;  ///< the shared io_context's executor
  bool create_missing_keys = false;  ///< `serve` may create local key material
};

class ProviderFactory {
 public:
  virtual ~ProviderFactory() = default;
  virtual std::string_view type() const = 0;
  /// Reads this type's keys from `node` (the provider's mapping), recording
  /// errors in its diagnostics. Touches no file, network or device.
  virtual std::unique_ptr<ProviderSettings> parse(settings::Node& node) const = 0;
  /// Builds the provider; may open files, load modules, dial servers. Runs
  /// at start-up only.
  virtual Result<std::unique_ptr<Provider>> create(const std::string& name,
                                                   const ProviderSettings& settings,
                                                   const ProviderContext& context) const = 0;
  /// Why these settings would give each node of a control plane a key of
  /// its own, where the settings alone show it (`check-config --ha`). A
  /// remote KMS key is shared by nature; local key material is not.
  /// Touches nothing.
  virtual std::vector<std::string> shared_key_warnings(const ProviderSettings&) const { return {}; }
  /// Where a share wrapped under `key_version` stands against these
  /// settings: the judgement the provider's owns_key_version() makes at
  /// run time, where the settings alone decide it. Touches nothing.
  virtual KeyStanding key_standing(const ProviderSettings&, std::string_view /*key_version*/) const {
    return KeyStanding::unknown;
  }
};

class Registry {
 public:
  static Registry& instance();
  void add(std::unique_ptr<ProviderFactory> factory);
  const ProviderFactory* find(std::string_view type) const;
  std::string types() const;  ///< "awskms, keyfile, …" for error messages

 private:
  std::map<std::string, std::unique_ptr<ProviderFactory>, std::less<>> factories_;
};

template <typename Factory>
struct Registrar {
  Registrar() { Registry::instance().add(std::make_unique<Factory>()); }
};

}  // namespace trousseau::providers

#define TROUSSEAU_REGISTER_PROVIDER(Factory) \
  static const ::trousseau::providers::Registrar<Factory> trousseau_registrar_##Factory{};
