// Reading the JSON bodies of remote KMS APIs: one field at a time, with
// whatever is missing or of another type read as empty.
#pragma once

#include <boost/json/object.hpp>
#include <string>
#include <string_view>

namespace trousseau::http {

/// The string at `key` of `o`, or "" when it is missing or not a string.
inline std::string string_field(const boost::json::object& o, std::string_view key) {
  const boost::json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

}  // namespace trousseau::http
