// Small text checks the tests share.
#pragma once

#include <string>

namespace trousseau::testkit {

inline bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace trousseau::testkit
