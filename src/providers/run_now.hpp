// Start-up calls of a provider's create(): run to completion on a private
// io_context, because the shared one may not run yet when providers are
// built. Nothing on the request path uses it.
#pragma once

#include <boost/asio/io_context.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "common/error.hpp"

namespace trousseau::providers {

/// Calls `start(done)`, where `done(Error, T)` must be called once, runs
/// `io` until nothing is left, and returns what `done` received. `what`
/// names the step if `done` was never called.
template <typename T, typename Start>
Result<T> run_now(boost::asio::io_context& io, std::string_view what, Start&& start) {
  std::optional<Result<T>> out;
  std::forward<Start>(start)([&out](Error e, T value) {
    out.emplace(e.ok() ? Result<T>(std::move(value)) : Result<T>(e));
  });
  io.restart();
  io.run();
  return out ? std::move(*out) : Result<T>(internal_error(std::string(what) + " never completed"));
}

}  // namespace trousseau::providers
