// Errors as values on the request path.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace trousseau {

/// What went wrong, coarse enough to choose a gRPC status and a retry policy.
enum class Code {
  ok,
  invalid_argument,    ///< the request itself is malformed
  integrity,           ///< data did not authenticate (tampered or wrong key)
  unavailable,         ///< a provider or resource cannot be reached now
  deadline_exceeded,   ///< the time budget ran out
  cancelled,           ///< the caller went away
  resource_exhausted,  ///< a bounded queue is full
  failed_precondition, ///< the configuration cannot serve this request
  permission_denied,   ///< a provider refused our credentials
  internal,            ///< a broken invariant or an unexpected library error
};

std::string_view to_string(Code code);

/// Is a retry, or another provider, likely to do better?
constexpr bool is_transient(Code code) {
  return code == Code::unavailable || code == Code::deadline_exceeded ||
         code == Code::resource_exhausted || code == Code::cancelled;
}

/// A code and a message for people. Messages name the component and the
/// cause and never carry secret material.
class [[nodiscard]] Error {
 public:
  Error() = default;
  Error(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  bool ok() const { return code_ == Code::ok; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  /// "provider 'aws-east': <message>": adds context while keeping the code.
  Error prefixed(std::string_view context) const;

 private:
  Code code_ = Code::ok;
  std::string message_;
};

inline Error invalid_argument(std::string m) { return {Code::invalid_argument, std::move(m)}; }
inline Error integrity_error(std::string m) { return {Code::integrity, std::move(m)}; }
inline Error unavailable(std::string m) { return {Code::unavailable, std::move(m)}; }
inline Error internal_error(std::string m) { return {Code::internal, std::move(m)}; }

/// A value or the Error that prevented it.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}            // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {         // NOLINT: implicit by design
    assert(!std::get<Error>(v_).ok());
  }

  bool ok() const { return v_.index() == 0; }
  T& value() & { assert(ok()); return std::get<0>(v_); }
  const T& value() const& { assert(ok()); return std::get<0>(v_); }
  T&& value() && { assert(ok()); return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const Error& error() const { assert(!ok()); return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

}  // namespace trousseau
