#include "common/base64url.hpp"

#include "common/secret.hpp"

namespace trousseau {

std::string base64url_encode(ByteView data) {
  std::string s = base64_encode(data);
  while (!s.empty() && s.back() == '=') s.pop_back();
  for (char& c : s) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return s;
}

bool base64url_decode(std::string_view text, Bytes& out) {
  std::string s(text);
  for (char& c : s) {
    if (c == '-') {
      c = '+';
    } else if (c == '_') {
      c = '/';
    } else if (c == '+' || c == '/') {
      secure_wipe(s);
      return false;
    }
  }
  if (s.size() % 4 == 1) return false;
  while (s.size() % 4 != 0) s += '=';
  const bool ok = base64_decode(s, out);
  secure_wipe(s);
  return ok;
}

}  // namespace trousseau
