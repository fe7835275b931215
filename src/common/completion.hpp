// Completing an async operation: once, on the handler's executor, with its
// cancellation slot cleared there. Providers, the HTTP client, the limiter
// and the waiter queue finish through one of these two functions; the
// engine's operations clear the slot on their strand, where it is emitted
// (quorum/operation.hpp, Operation::end).
#pragma once

#include <boost/asio/any_completion_executor.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <type_traits>
#include <utility>

#include "common/caller_executor.hpp"

namespace trousseau {

/// Invokes `handler(args...)` on its associated executor (`fallback` when it
/// has none), clearing its associated cancellation slot there first, if
/// connected. The slot is emitted from that executor, and Asio expects it to
/// be cleared on the emitter's side: once the handler runs, a later emit
/// reaches nothing.
///
/// Dispatches: runs inline when the caller is already on that executor. Use
/// post_completion() from an initiating function.
template <typename Handler, typename Executor, typename... Args>
void complete_on_executor(Handler&& handler, const Executor& fallback, Args&&... args) {
  auto executor = boost::asio::get_associated_executor(handler, fallback);
  boost::asio::cancellation_slot slot = boost::asio::get_associated_cancellation_slot(handler);
  boost::asio::dispatch(executor, [h = std::forward<Handler>(handler), slot,
                                   ... a = std::forward<Args>(args)]() mutable {
    if (slot.is_connected()) slot.clear();
    std::move(h)(std::move(a)...);
  });
}

/// Like complete_on_executor(), but never inline: runs through `io` (the
/// component's own executor, also the fallback) first.
///
/// Boost 1.81's type-erased any_completion_executor cannot be required to
/// be non-blocking, so a direct post() on the handler does not compile: we
/// post to the component's own executor first, then dispatch to the
/// handler's. The exception is a request's strand (CallerStrand), found
/// behind the type erasure and posted to directly: that keeps a request that
/// its gRPC thread runs (common/caller_executor.hpp) on that thread, and
/// saves a trip through the io_context for every other.
template <typename Executor, typename Handler, typename... Args>
void post_completion(const Executor& io, Handler&& handler, Args&&... args) {
  const auto target = boost::asio::get_associated_executor(handler, io);
  const CallerStrand* strand = nullptr;
  if constexpr (std::is_same_v<std::decay_t<decltype(target)>, CallerStrand>) {
    strand = &target;
  } else if constexpr (std::is_same_v<std::decay_t<decltype(target)>,
                                      boost::asio::any_completion_executor>) {
    strand = target.template target<CallerStrand>();
  }
  if (strand != nullptr) {
    boost::asio::cancellation_slot slot = boost::asio::get_associated_cancellation_slot(handler);
    boost::asio::post(*strand, [slot, h = std::forward<Handler>(handler),
                                ... a = std::forward<Args>(args)]() mutable {
      if (slot.is_connected()) slot.clear();
      std::move(h)(std::move(a)...);
    });
    return;
  }
  boost::asio::post(io, [io, h = std::forward<Handler>(handler),
                         ... a = std::forward<Args>(args)]() mutable {
    complete_on_executor(std::move(h), io, std::move(a)...);
  });
}

}  // namespace trousseau
