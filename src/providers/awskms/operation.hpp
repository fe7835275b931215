// The state shared by the steps of one provider operation that makes one or
// more calls: its strand, its handler, and the relay that forwards the
// handler's cancellation slot to whichever call is running.
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/append.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <memory>

namespace trousseau::providers::awskms {

namespace asio = boost::asio;

template <typename... Args>
class Operation : public std::enable_shared_from_this<Operation<Args...>> {
 public:
  using Handler = asio::any_completion_handler<void(Args...)>;

  Operation(const asio::any_io_executor& io, Handler handler)
      : strand_(asio::make_strand(io)), handler_(std::move(handler)) {}

  /// Call once from the initiating function. The slot handler runs on the
  /// emitter's thread, so it only posts to the strand.
  void listen_for_cancellation() {
    outer_ = asio::get_associated_cancellation_slot(handler_);
    if (!outer_.is_connected()) return;
    outer_.assign([weak = this->weak_from_this(), strand = strand_](asio::cancellation_type t) {
      asio::post(strand, [weak, t] {
        if (auto self = weak.lock()) {
          self->cancelled_ = true;
          self->inner_.emit(t);  // reaches the call in flight, if any
        }
      });
    });
  }

  const asio::strand<asio::any_io_executor>& strand() const { return strand_; }
  /// Bind the current child call to this slot (one child at a time).
  asio::cancellation_slot child_slot() { return inner_.slot(); }
  /// Checked on the strand before starting each child call.
  bool cancelled() const { return cancelled_; }
  bool done() const { return done_; }

  /// Completes exactly once, on the handler's executor. Call on the strand,
  /// never from the initiating function.
  void complete(Args... args) {
    if (done_) return;
    done_ = true;
    auto executor = asio::get_associated_executor(handler_, strand_);
    asio::dispatch(executor, [h = std::move(handler_), slot = outer_,
                              ... a = std::move(args)]() mutable {
      if (slot.is_connected()) slot.clear();  // on the emitter's side, as Asio expects
      std::move(h)(std::move(a)...);
    });
  }

 private:
  asio::strand<asio::any_io_executor> strand_;
  Handler handler_;
  asio::cancellation_slot outer_;
  asio::cancellation_signal inner_;
  bool cancelled_ = false;
  bool done_ = false;
};

}  // namespace trousseau::providers::awskms
