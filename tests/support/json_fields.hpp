// Reading the JSON reports of the tools under test.
#pragma once

#include <gtest/gtest.h>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

namespace trousseau::testkit {

/// The number at `key` of `o`; a test failure, and -1, when it is missing.
inline double number(const boost::json::object& o, const char* key) {
  const boost::json::value* v = o.if_contains(key);
  if (v == nullptr) {
    ADD_FAILURE() << "no " << key << " in " << boost::json::serialize(o);
    return -1;
  }
  return v->to_number<double>();
}

}  // namespace trousseau::testkit
