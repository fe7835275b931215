// The state shared by the steps of one provider operation that makes one or
// more calls: its strand, its handler, the relay that forwards the
// handler's cancellation slot to whichever call is running, and the
// caller's lease. Shared by the HTTP providers (awskms, vault, azurekv, gcpkms).
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <memory>

#include "common/completion.hpp"

namespace trousseau::providers {

namespace asio = boost::asio;

/// What the steps of an operation need, whatever its result type (so that
/// an API class can check it without being a template). Everything but the
/// constructor is called on strand().
class OperationState {
 public:
  OperationState(const OperationState&) = delete;
  OperationState& operator=(const OperationState&) = delete;

  const asio::strand<asio::any_io_executor>& strand() const { return strand_; }
  /// Bind the current child call to this slot (one child at a time).
  asio::cancellation_slot child_slot() { return inner_.slot(); }
  /// Checked before starting each child call, and again whenever a child's
  /// result could have been queued before the cancellation landed (a
  /// completed child has nothing left for the relay to reach).
  bool cancelled() const { return cancelled_; }
  bool done() const { return done_; }

 protected:
  OperationState(const asio::any_io_executor& io, std::shared_ptr<void> lease)
      : strand_(asio::make_strand(io)), lease_(std::move(lease)) {}
  ~OperationState() = default;

  asio::strand<asio::any_io_executor> strand_;
  asio::cancellation_signal inner_;
  /// Released with the operation, i.e. after the last step that holds it
  /// (an HTTP exchange in flight) has returned, not at completion.
  std::shared_ptr<void> lease_;
  bool cancelled_ = false;
  bool done_ = false;
};

template <typename... Args>
class Operation : public OperationState,
                  public std::enable_shared_from_this<Operation<Args...>> {
 public:
  using Handler = asio::any_completion_handler<void(Args...)>;

  Operation(const asio::any_io_executor& io, std::shared_ptr<void> lease, Handler handler)
      : OperationState(io, std::move(lease)), handler_(std::move(handler)) {}

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

  /// Completes exactly once, on the handler's executor. Call on the strand,
  /// never from the initiating function.
  void complete(Args... args) {
    if (done_) return;
    done_ = true;
    complete_on_executor(std::move(handler_), strand_, std::move(args)...);
  }

 private:
  Handler handler_;
  asio::cancellation_slot outer_;
};

}  // namespace trousseau::providers
