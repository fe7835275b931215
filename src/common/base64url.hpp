// Unpadded base64url (RFC 4648 §5), as JWTs and Key Vault write it.
#pragma once

#include <string>
#include <string_view>

#include "common/bytes.hpp"

namespace trousseau {

std::string base64url_encode(ByteView data);
/// Accepts padded or unpadded base64url; false on anything else (the
/// standard alphabet's '+' and '/' included).
bool base64url_decode(std::string_view text, Bytes& out);

}  // namespace trousseau
