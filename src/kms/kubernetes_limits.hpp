// What kube-apiserver checks on every KMS v2 Encrypt response (DESIGN.md §1).
// We check our own responses against the same rules before sending them.
#pragma once

#include <map>
#include <string>

#include "common/error.hpp"

namespace trousseau::kms {

inline constexpr std::size_t kMaxKeyIdSize = 1024;

/// The largest request message the server reads; gRPC refuses anything
/// larger with RESOURCE_EXHAUSTED before it reaches us (its default is
/// 4 MiB). The largest legitimate request is a v1beta1 Decrypt of an
/// envelope at the format's limits: 64 KiB of sealed plaintext plus 16
/// slots of 8 wrapped shares of at most a few KiB each (an RSA-4096 wrap is
/// 512 bytes). v2 requests are far smaller (1 KiB of ciphertext and 32 KiB
/// of annotations).
inline constexpr std::size_t kMaxRequestBytes = 1024 * 1024;

/// A lowercase RFC 1123 subdomain of at most 253 characters with at least
/// two labels, as apiserver requires of annotation keys.
bool is_fully_qualified_domain_name(const std::string& name);

/// Every rule apiserver applies to (ciphertext, key_id, annotations).
Error check_v2_encrypt_response(const std::string& ciphertext, const std::string& key_id,
                                const std::map<std::string, std::string>& annotations);

}  // namespace trousseau::kms
