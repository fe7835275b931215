// Helpers for provider implementations to honour the completion contract
// in provider.hpp.
#pragma once

#include <boost/asio/append.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <utility>

namespace trousseau::providers {

/// Invokes `handler(args...)` on its associated executor, never inline.
///
/// Boost 1.81's type-erased any_completion_executor cannot be required to
/// be non-blocking, so a direct post() on the handler does not compile: we
/// post to the provider's own executor first, then dispatch to the handler's.
template <typename Executor, typename Handler, typename... Args>
void post_completion(const Executor& io, Handler&& handler, Args&&... args) {
  boost::asio::post(io, [h = std::forward<Handler>(handler),
                         ... a = std::forward<Args>(args)]() mutable {
    boost::asio::dispatch(boost::asio::append(std::move(h), std::move(a)...));
  });
}

}  // namespace trousseau::providers
