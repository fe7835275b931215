// JSON bodies of the KMS calls we make and the parts of the answers we read.
// Bodies that carry key material are wiped by whoever holds them last.
#pragma once

#include <map>
#include <string>

#include "common/bytes.hpp"
#include "common/error.hpp"
#include "common/secret.hpp"

namespace trousseau::providers::awskms {

/// {"trousseau.io/share": base64(context), "trousseau.io/cluster": cluster}
std::string encryption_context_json(ByteView context, const std::string& cluster);

/// A JSON object of `pairs` (an operator's EncryptionContext), or "" for none.
std::string encryption_context_json(const std::map<std::string, std::string>& pairs);

std::string key_request(const std::string& key_id);  ///< DescribeKey, ListKeyRotations
std::string encrypt_request(const std::string& key_arn, ByteView plaintext,
                            const std::string& context_json);
std::string decrypt_request(const std::string& key_arn, ByteView blob,
                            const std::string& context_json);

/// Decrypt of a blob the original Trousseau made: `context_json` may be ""
/// (then no EncryptionContext is sent).
std::string legacy_decrypt_request(const std::string& key_arn, ByteView blob,
                                   const std::string& context_json);

/// CiphertextBlob of an Encrypt answer. Its KeyId must be `key_arn`, the
/// key we asked for: otherwise Code::integrity ("KeyId mismatch").
Result<Bytes> parse_encrypt_answer(std::string& body, const std::string& key_arn);
/// Plaintext of a Decrypt answer, into locked memory; wipes `body`. Its
/// KeyId must be `key_arn`: otherwise Code::integrity ("KeyId mismatch"),
/// and the plaintext is never decoded.
Result<SecretBytes> parse_decrypt_answer(std::string& body, const std::string& key_arn);

}  // namespace trousseau::providers::awskms
