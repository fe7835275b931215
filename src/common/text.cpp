#include "common/text.hpp"

namespace trousseau {

bool append_escaped(std::string& out, std::string_view value, std::size_t max, Escape style) {
  static constexpr char kHex[] = "0123456789abcdef";
  const std::size_t n = value.size() < max ? value.size() : max;
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(value[i]);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c >= 0x7f) {
          out += style == Escape::json ? "\\u00" : "\\x";
          out += kHex[c >> 4];
          out += kHex[c & 0xf];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return n == value.size();
}

std::string quote(std::string_view value, std::size_t max) {
  std::string out = "\"";
  if (!append_escaped(out, value, max, Escape::c)) out += "…";
  out += '"';
  return out;
}

std::string join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (const std::string& p : parts) {
    if (!out.empty()) out += separator;
    out += p;
  }
  return out;
}

}  // namespace trousseau
