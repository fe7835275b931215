// The JSON document `trousseau encrypt --json` prints and `trousseau
// decrypt --json` reads: everything a KMS v2 Decrypt needs besides the
// socket, so that the two commands pipe into each other.
//
//   {"api":"v2","ciphertext":"<base64>","key_id":"trousseau-…",
//    "annotations":{"0.shares.trousseau.io":"<base64>"}}
//
// v1beta1 documents carry only "api" and "ciphertext". No plaintext ever
// goes into one.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "cli/socket_options.hpp"
#include "common/error.hpp"

namespace trousseau::cli {

struct CiphertextDocument {
  Api api = Api::v2;
  std::string ciphertext;                          ///< bytes
  std::string key_id;                              ///< v2
  std::map<std::string, std::string> annotations;  ///< v2; values are bytes
};

/// One line of JSON, without the newline.
std::string to_json(const CiphertextDocument& doc);

/// Reads what to_json wrote. "ciphertext" is required; "api" defaults to
/// v2; "key_id" and "annotations" are optional. Refuses, naming the field,
/// anything else: malformed JSON, a wrong type, bad base64, an unknown
/// field, annotations in a v1beta1 document.
Result<CiphertextDocument> parse_ciphertext_document(std::string_view json);

}  // namespace trousseau::cli
