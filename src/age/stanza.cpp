#include "age/stanza.hpp"

#include <istream>
#include <iterator>
#include <ostream>

namespace trousseau::age {

namespace {

constexpr std::size_t kColumns = 64;
/// Bodies go to secret memory, a bounded resource: no stanza of ours or of
/// age's comes near this, and a header that does is refused, not obeyed.
constexpr std::size_t kMaxBodyText = (std::size_t{1} << 20) / 3 * 4;

std::vector<std::string> split(std::string_view line) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    const std::size_t sp = line.find(' ', start);
    out.emplace_back(line.substr(start, sp == std::string_view::npos ? sp : sp - start));
    if (sp == std::string_view::npos) break;
    start = sp + 1;
  }
  return out;
}

}  // namespace

std::string base64_unpadded(ByteView data) {
  std::string s = base64_encode(data);
  while (!s.empty() && s.back() == '=') s.pop_back();
  return s;
}

bool base64_unpadded_decode(std::string_view text, Bytes& out) {
  if (text.find('=') != std::string_view::npos || text.size() % 4 == 1) return false;
  std::string padded(text);
  padded.append((4 - text.size() % 4) % 4, '=');
  const bool ok = base64_decode(padded, out);
  secure_wipe(padded);
  // Canonical: the unused bits of the last character must be zero, so
  // that one body has one encoding.
  return ok && base64_unpadded(out) == text;
}

Result<Stanza> read_stanza(std::istream& in) {
  std::string line;
  if (!std::getline(in, line)) return unavailable("age: the pipe closed before a stanza");
  if (line.rfind("-> ", 0) != 0) return invalid_argument("age: a stanza that does not start with \"-> \"");
  std::vector<std::string> words = split(std::string_view(line).substr(3));
  for (const std::string& w : words) {
    if (w.empty()) return invalid_argument("age: an empty stanza argument");
  }
  Stanza s;
  s.type = std::move(words.front());
  s.args.assign(std::make_move_iterator(words.begin() + 1), std::make_move_iterator(words.end()));
  std::string text;
  while (true) {
    if (!std::getline(in, line)) return unavailable("age: the pipe closed inside a stanza body");
    if (line.size() > kColumns) return invalid_argument("age: a body line over 64 columns");
    text += line;
    if (text.size() > kMaxBodyText) {
      secure_wipe(line);
      secure_wipe(text);
      return invalid_argument("age: a stanza body over 1 MiB");
    }
    const bool last = line.size() < kColumns;
    secure_wipe(line);
    if (last) break;
  }
  Bytes body;
  const bool ok = base64_unpadded_decode(text, body);
  secure_wipe(text);
  if (!ok) {
    secure_wipe(body);
    return invalid_argument("age: a stanza body that is not canonical unpadded base64");
  }
  s.body = SecretBytes(ByteView(body));
  secure_wipe(body);
  return s;
}

void write_stanza(std::ostream& out, std::string_view type, const std::vector<std::string>& args,
                  ByteView body) {
  std::string text = "-> ";
  text += type;
  for (const std::string& a : args) text += " " + a;
  text += "\n";
  std::string b64 = base64_unpadded(body);
  for (std::size_t i = 0; i <= b64.size(); i += kColumns) {
    // The loop runs once more when the body fills its last line: the
    // shorter, empty line ends it.
    text.append(b64, i, kColumns);
    text += "\n";
  }
  out << text << std::flush;
  secure_wipe(b64);
  secure_wipe(text);
}

}  // namespace trousseau::age
