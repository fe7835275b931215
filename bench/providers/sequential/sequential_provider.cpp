#include "bench/providers/sequential/sequential_provider.hpp"

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <array>
#include <optional>

#include "bench/providers/sequential/shares.hpp"
#include "common/completion.hpp"
#include "common/text.hpp"

namespace trousseau::bench::sequential {

namespace {

std::string random_identity() {
  std::array<std::uint8_t, 8> bytes{};
  random_fill(bytes);
  return "sequential:" + hex_encode(bytes);
}

Error cancelled() { return Error(Code::cancelled, "cancelled"); }
Error past_deadline() {
  return Error(Code::deadline_exceeded, "no answer before the call's deadline");
}

}  // namespace

/// One call walking the members in order, on a strand of its own; it owns
/// copies of the call's arguments (rule 2 of the Provider contract).
class SequentialProvider::Walk : public std::enable_shared_from_this<Walk> {
 public:
  virtual ~Walk() = default;

  /// Connects the caller's cancellation slot, then takes the first step on
  /// the strand: never inside the initiating call.
  void start(asio::cancellation_slot slot) {
    if (slot.is_connected()) {
      slot.assign([self = shared_from_this()](asio::cancellation_type) {
        asio::post(self->strand_, [self] { self->cancel(); });
      });
    }
    asio::post(strand_, [self = shared_from_this()] { self->step(); });
  }

 protected:
  Walk(SequentialProvider& owner, const providers::CallOptions& options)
      : owner_(owner),
        strand_(asio::make_strand(owner.executor_)),
        deadline_(options.deadline),
        lease_(options.lease),
        request_id_(options.request_id) {}

  /// Asks the next member, or finishes. On the strand.
  virtual void step() = 0;

  /// A member call's budget: `member_timeout`, within the call's deadline.
  providers::CallOptions member_options() const {
    return {std::min(deadline_, Clock::now() + owner_.member_timeout_), {}, request_id_};
  }

  /// A member call's handler: on the strand, cancelled by cancel().
  template <typename Handler>
  auto member_handler(Handler handler) {
    return asio::bind_cancellation_slot(member_call_.slot(),
                                        asio::bind_executor(strand_, std::move(handler)));
  }

  template <typename Self>
  std::shared_ptr<Self> shared_this() {
    return std::static_pointer_cast<Self>(shared_from_this());
  }

  SequentialProvider& owner_;
  asio::strand<asio::any_io_executor> strand_;
  const Clock::time_point deadline_;
  std::shared_ptr<void> lease_;  // until the walk is over
  const std::string request_id_;
  std::size_t next_ = 0;  // the member to ask next
  bool cancelled_ = false;

 private:
  void cancel() {
    cancelled_ = true;
    member_call_.emit(asio::cancellation_type::terminal);  // a no-op between calls
  }

  asio::cancellation_signal member_call_;
};

class SequentialProvider::WrapWalk final : public Walk {
 public:
  WrapWalk(SequentialProvider& owner, const providers::CallOptions& options, ByteView context,
           ByteView share, asio::any_completion_handler<providers::WrapSignature> handler)
      : Walk(owner, options),
        context_(context.begin(), context.end()),
        share_(share),
        handler_(std::move(handler)) {}

 private:
  void step() override {
    if (cancelled_) return finish(cancelled());
    if (next_ == owner_.members_.size()) return finish(none_wrapped());
    if (Clock::now() >= deadline_) return finish(past_deadline());
    injected::InjectedProvider* member = owner_.members_[next_].get();
    member->async_wrap(
        member_options(), context_, share_.view(),
        member_handler([self = shared_this<WrapWalk>(), member](Error e, providers::WrapResult r) {
          if (self->cancelled_) return self->finish(cancelled());
          if (e.ok()) {
            self->wrapped_ = true;
            self->shares_.push_back({std::move(r.key_version), std::move(r.wrapped)});
          } else {
            // Its place is kept: unwrap will ask it all the same.
            self->failures_.push_back(e);
            self->failure_text_.push_back(member->name() + ": " + e.message());
            self->shares_.push_back({member->key_identity(), {}});
          }
          ++self->next_;
          self->step();
        }));
  }

  /// Ok when some member wrapped; otherwise the members' common code (or
  /// unavailable), naming each failure.
  Error none_wrapped() const {
    if (wrapped_) return {};
    if (failures_.empty()) return internal_error("a chain without members");
    Code code = failures_.front().code();
    for (const Error& f : failures_) {
      if (f.code() != code) code = Code::unavailable;
    }
    return Error(code, "no member wrapped the share: " + join(failure_text_, "; "));
  }

  void finish(Error e) {
    providers::WrapResult result;
    if (e.ok()) result = {encode_shares(shares_), owner_.identity_};
    lease_.reset();
    complete_on_executor(std::move(handler_), owner_.executor_, std::move(e), std::move(result));
  }

  const Bytes context_;
  const SecretBytes share_;
  asio::any_completion_handler<providers::WrapSignature> handler_;
  std::vector<MemberShare> shares_;  // one per member asked so far
  bool wrapped_ = false;             // by at least one member
  std::vector<Error> failures_;
  std::vector<std::string> failure_text_;
};

class SequentialProvider::UnwrapWalk final : public Walk {
 public:
  UnwrapWalk(SequentialProvider& owner, const providers::CallOptions& options, ByteView context,
             ByteView wrapped, asio::any_completion_handler<providers::UnwrapSignature> handler)
      : Walk(owner, options),
        context_(context.begin(), context.end()),
        shares_(decode_shares(wrapped)),
        handler_(std::move(handler)) {}

 private:
  void step() override {
    if (cancelled_) return finish(cancelled());
    if (!shares_ || shares_->size() != owner_.members_.size()) {
      return finish(integrity_error("wrapped data does not hold one share per member"));
    }
    if (next_ == owner_.members_.size()) return finish(all_failed());
    if (Clock::now() >= deadline_) return finish(past_deadline());
    injected::InjectedProvider* member = owner_.members_[next_].get();
    const MemberShare& share = (*shares_)[next_];
    member->async_unwrap(
        member_options(), context_, share.key_version, share.wrapped,
        member_handler([self = shared_this<UnwrapWalk>(), member](Error e, SecretBytes s) {
          if (self->cancelled_) return self->finish(cancelled());
          if (e.ok()) return self->finish({}, std::move(s));
          // On to the next member, whatever went wrong with this one.
          self->bad_data_ = self->bad_data_ &&
                            (e.code() == Code::integrity || e.code() == Code::invalid_argument);
          self->failures_.push_back(member->name() + ": " + e.message());
          ++self->next_;
          self->step();
        }));
  }

  /// Integrity when every member found the data bad; otherwise the
  /// deadline, or unavailable.
  Error all_failed() const {
    const Code code = bad_data_                   ? Code::integrity
                      : Clock::now() >= deadline_ ? Code::deadline_exceeded
                                                  : Code::unavailable;
    return Error(code, "no member opened the share: " + join(failures_, "; "));
  }

  void finish(Error e, SecretBytes share = {}) {
    lease_.reset();
    complete_on_executor(std::move(handler_), owner_.executor_, std::move(e), std::move(share));
  }

  const Bytes context_;
  const std::optional<std::vector<MemberShare>> shares_;
  asio::any_completion_handler<providers::UnwrapSignature> handler_;
  bool bad_data_ = true;
  std::vector<std::string> failures_;
};

Result<std::unique_ptr<SequentialProvider>> SequentialProvider::create(
    std::string name, const Settings& settings, asio::any_io_executor executor) {
  std::vector<std::unique_ptr<injected::InjectedProvider>> members;
  for (const Member& m : settings.members) {
    auto made = injected::InjectedProvider::create(m.name, *m.settings, executor);
    if (!made.ok()) return made.error().prefixed("member '" + m.name + "'");
    members.push_back(std::move(made.value()));
  }
  return std::make_unique<SequentialProvider>(std::move(name), std::move(members),
                                              settings.member_timeout, std::move(executor));
}

SequentialProvider::SequentialProvider(
    std::string name, std::vector<std::unique_ptr<injected::InjectedProvider>> members,
    Clock::duration member_timeout, asio::any_io_executor executor)
    : Provider(std::move(name), "sequential"),
      members_(std::move(members)),
      member_timeout_(member_timeout),
      executor_(std::move(executor)),
      identity_(random_identity()) {}

std::string SequentialProvider::key_identity() const { return identity_; }

bool SequentialProvider::owns_key_version(std::string_view key_version) const {
  return key_version == identity_;
}

void SequentialProvider::wrap_impl(const providers::CallOptions& options, ByteView context,
                                   ByteView share,
                                   asio::any_completion_handler<providers::WrapSignature> handler) {
  auto slot = asio::get_associated_cancellation_slot(handler);
  std::make_shared<WrapWalk>(*this, options, context, share, std::move(handler))->start(slot);
}

void SequentialProvider::unwrap_impl(
    const providers::CallOptions& options, ByteView context, std::string_view key_version,
    ByteView wrapped, asio::any_completion_handler<providers::UnwrapSignature> handler) {
  if (!owns_key_version(key_version)) {
    post_completion(executor_, std::move(handler),
                    invalid_argument("share was wrapped by key " + quote(key_version) +
                                     ", not this provider's " + identity_),
                    SecretBytes());
    return;
  }
  auto slot = asio::get_associated_cancellation_slot(handler);
  std::make_shared<UnwrapWalk>(*this, options, context, wrapped, std::move(handler))->start(slot);
}

void SequentialProvider::probe_impl(
    const providers::CallOptions& /*answered at once*/,
    asio::any_completion_handler<providers::ProbeSignature> handler) {
  post_completion(executor_, std::move(handler), Error());
}

}  // namespace trousseau::bench::sequential
