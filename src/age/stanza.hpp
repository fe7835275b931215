// The stanzas of the age plugin protocol on a pipe: "-> type args...\n",
// then the body in unpadded standard base64, 64 columns a line, ended by a
// shorter line (empty when the body fills its last line exactly).
#pragma once

#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.hpp"
#include "common/error.hpp"
#include "common/secret.hpp"

namespace trousseau::age {

/// One stanza. The body may be a file key, so it is secret memory.
struct Stanza {
  std::string type;
  std::vector<std::string> args;
  SecretBytes body;
};

/// Reads one stanza. An error when the stream ends or a line breaks the
/// grammar (no "-> ", an empty argument, a body line over 64 columns, base64
/// that is padded or not canonical) or the body passes 1 MiB.
Result<Stanza> read_stanza(std::istream& in);

/// Writes one stanza and flushes: the other side waits for it.
void write_stanza(std::ostream& out, std::string_view type, const std::vector<std::string>& args,
                  ByteView body = {});

/// Unpadded standard base64, as age writes bodies; decode refuses padding
/// and non-canonical trailing bits.
std::string base64_unpadded(ByteView data);
bool base64_unpadded_decode(std::string_view text, Bytes& out);

}  // namespace trousseau::age
