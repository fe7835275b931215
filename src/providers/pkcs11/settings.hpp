// The `pkcs11` provider's configuration keys.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "common/bytes.hpp"
#include "settings/node.hpp"
#include "providers/pkcs11/pin.hpp"
#include "providers/registry.hpp"

namespace trousseau::providers::pkcs11 {

struct Settings final : ProviderSettings {
  std::string module;                      ///< absolute path of the .so
  std::optional<std::string> token_label;  ///< exactly one of token_label
  std::optional<std::uint64_t> slot;       ///< and slot (a slot id)
  PinSource pin;                           ///< pin_file or pin_env
  std::optional<std::string> key_label;    ///< key_label, key_id or both
  std::optional<Bytes> key_id;             ///< CKA_ID, from hex
  unsigned sessions = 4;                   ///< session pool bound
  unsigned threads = 2;                    ///< blocking-call threads
  unsigned thread_queue = 64;              ///< calls waiting for a thread, then refused
  bool read_write = false;                 ///< open R/W sessions (some tokens insist)
};

/// Reads and validates the keys of one provider mapping; problems go to the
/// node's diagnostics with their field paths. Touches no file or device.
std::unique_ptr<Settings> parse_settings(settings::Node& node);

}  // namespace trousseau::providers::pkcs11
