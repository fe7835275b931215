#include "providers/pkcs11/settings.hpp"

#include <limits>

namespace trousseau::providers::pkcs11 {

namespace {

std::optional<Bytes> hex_decode(std::string_view text) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (text.empty() || text.size() % 2 != 0) return std::nullopt;
  Bytes out;
  for (std::size_t i = 0; i < text.size(); i += 2) {
    int hi = nibble(text[i]);
    int lo = nibble(text[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<std::uint8_t>(hi * 16 + lo));
  }
  return out;
}

void require_absolute(settings::Node& node, const std::string& key, const std::string& value) {
  if (!value.empty() && value.front() != '/') node.error(key, "must be an absolute path");
}

}  // namespace

std::unique_ptr<Settings> parse_settings(settings::Node& node) {
  auto s = std::make_unique<Settings>();
  s->module = node.string("module");
  require_absolute(node, "module", s->module);

  s->token_label = node.optional_string("token_label");
  const bool has_slot = node.has("slot");
  const std::int64_t slot = node.integer("slot", 0, 0, std::numeric_limits<std::int64_t>::max());
  if (has_slot) s->slot = static_cast<std::uint64_t>(slot);
  if (s->token_label && s->slot) {
    node.error("slot", "give token_label or slot, not both");
  } else if (!s->token_label && !s->slot) {
    node.error("token_label", "one of token_label or slot is required");
  } else if (s->token_label && s->token_label->empty()) {
    node.error("token_label", "must not be empty");
  }

  node.forbid("pin",
              "the PIN must not be written in the configuration; "
              "name a file with pin_file or a variable with pin_env");
  std::optional<std::string> pin_file = node.optional_string("pin_file");
  std::optional<std::string> pin_env = node.optional_string("pin_env");
  if (pin_file && pin_env) {
    node.error("pin_env", "give pin_file or pin_env, not both");
  } else if (!pin_file && !pin_env) {
    node.error("pin_file", "one of pin_file or pin_env is required");
  } else if (pin_file) {
    s->pin.file = *pin_file;
    if (pin_file->empty()) node.error("pin_file", "must not be empty");
    require_absolute(node, "pin_file", s->pin.file);
  } else {
    s->pin.env = *pin_env;
    if (pin_env->empty()) node.error("pin_env", "must not be empty");
  }

  s->key_label = node.optional_string("key_label");
  if (s->key_label && s->key_label->empty()) node.error("key_label", "must not be empty");
  if (std::optional<std::string> id = node.optional_string("key_id")) {
    s->key_id = hex_decode(*id);
    if (!s->key_id) node.error("key_id", "must be an even number of hex digits, got '" + *id + "'");
  }
  if (!s->key_label && !node.has("key_id")) {
    node.error("key_label", "one of key_label or key_id is required");
  }

  s->sessions = static_cast<unsigned>(node.integer("sessions", s->sessions, 1, 64));
  s->threads = static_cast<unsigned>(node.integer("threads", s->threads, 1, 64));
  s->thread_queue = static_cast<unsigned>(node.integer("thread_queue", s->thread_queue, 0, 4096));
  s->read_write = node.boolean("read_write", s->read_write);
  return s;
}

}  // namespace trousseau::providers::pkcs11
