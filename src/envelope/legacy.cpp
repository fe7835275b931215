#include "envelope/legacy.hpp"

#include <algorithm>
#include <charconv>

namespace trousseau::envelope {

namespace {

constexpr std::string_view kVaultPrefix = "vault:v";
constexpr std::string_view kSeparator = ":-:";
/// The original's provider names are short lowercase words.
constexpr std::size_t kMaxOrigin = 63;

std::string_view text_of(ByteView data) {
  return {reinterpret_cast<const char*>(data.data()), data.size()};
}

bool is_origin(std::string_view name) {
  return !name.empty() && name.size() <= kMaxOrigin &&
         std::all_of(name.begin(), name.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
         });
}

}  // namespace

unsigned vault_ciphertext_version(std::string_view text) {
  if (text.substr(0, kVaultPrefix.size()) != kVaultPrefix) return 0;
  text.remove_prefix(kVaultPrefix.size());
  const auto colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon > 9) return 0;
  unsigned version = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + colon, version);
  if (ec != std::errc() || end != text.data() + colon || version == 0) return 0;
  Bytes decoded;
  const std::string_view body = text.substr(colon + 1);
  if (body.empty() || !base64_decode(body, decoded)) return 0;
  return version;
}

bool looks_legacy(ByteView data) {
  const std::string_view text = text_of(data);
  if (text.substr(0, kVaultPrefix.size()) == kVaultPrefix) return true;
  const std::string_view first = text.substr(0, text.find('\n'));
  const auto sep = first.find(kSeparator);
  return sep != std::string_view::npos && is_origin(first.substr(0, sep));
}

Result<LegacyCiphertext> parse_legacy(ByteView data) {
  const std::string_view text = text_of(data);
  LegacyCiphertext out;
  if (text.substr(0, kVaultPrefix.size()) == kVaultPrefix) {
    if (vault_ciphertext_version(text) == 0) {
      return invalid_argument("legacy ciphertext: not a Vault Transit ciphertext (vault:v<N>:<base64>)");
    }
    out.format = LegacyFormat::trousseau_v1;
    out.parts.push_back({"vault", Bytes(data.begin(), data.end())});
    return out;
  }
  out.format = LegacyFormat::v2_alpha;
  std::size_t line_no = 0;
  std::string_view rest = text;
  while (!rest.empty()) {
    ++line_no;
    const auto nl = rest.find('\n');
    const std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    const std::string where = "legacy ciphertext line " + std::to_string(line_no);
    if (line.empty()) {
      // The original ended every line with '\n', so the text ends there
      // and no line is empty ("x\n\n" is not its output; legacy_fuzz).
      return invalid_argument(where + " is empty");
    }
    const auto sep = line.find(kSeparator);
    if (sep == std::string_view::npos) return invalid_argument(where + " has no ':-:'");
    const std::string_view origin = line.substr(0, sep);
    if (!is_origin(origin)) return invalid_argument(where + ": malformed provider name");
    LegacyPart part{std::string(origin), {}};
    if (!base64_decode(line.substr(sep + kSeparator.size()), part.ciphertext) ||
        part.ciphertext.empty()) {
      return invalid_argument(where + " (" + part.origin + "): ciphertext is not base64");
    }
    if (part.origin == "vault" && vault_ciphertext_version(text_of(part.ciphertext)) == 0) {
      return invalid_argument(where + " (vault): not a Vault Transit ciphertext");
    }
    const bool seen = std::any_of(out.parts.begin(), out.parts.end(),
                                  [&](const LegacyPart& p) { return p.origin == part.origin; });
    if (seen) return invalid_argument(where + ": provider " + part.origin + " appears twice");
    out.parts.push_back(std::move(part));
  }
  if (out.parts.empty()) return invalid_argument("legacy ciphertext has no provider line");
  return out;
}

std::string_view to_string(LegacyFormat format) {
  switch (format) {
    case LegacyFormat::trousseau_v1:
      return "trousseau v1";
    case LegacyFormat::v2_alpha:
      return "trousseau v2 alpha";
  }
  return "unknown";
}

}  // namespace trousseau::envelope
