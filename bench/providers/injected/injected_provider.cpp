#include "bench/providers/injected/injected_provider.hpp"

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <array>
#include <cstring>

#include "common/completion.hpp"
#include "common/log.hpp"
#include "common/text.hpp"
#include "envelope/aead.hpp"

namespace trousseau::bench::injected {

namespace {

std::uint64_t random_seed() {
  std::array<std::uint8_t, sizeof(std::uint64_t)> bytes{};
  random_fill(bytes);
  std::uint64_t seed = 0;
  std::memcpy(&seed, bytes.data(), sizeof seed);
  return seed;
}

/// Not derived from the key: the key exists only in this process, and the
/// identity tells one instance from the next.
std::string random_identity() {
  std::array<std::uint8_t, 8> bytes{};
  random_fill(bytes);
  return "injected:" + hex_encode(bytes);
}

}  // namespace

Result<std::unique_ptr<InjectedProvider>> InjectedProvider::create(std::string name,
                                                                   const Settings& settings,
                                                                   asio::any_io_executor executor) {
  if (!settings.record.empty()) {
    if (Error e = CallLog::prepare(settings.record); !e.ok()) return e;
  }
  return std::make_unique<InjectedProvider>(std::move(name), settings, std::move(executor));
}

InjectedProvider::InjectedProvider(std::string name, const Settings& settings,
                                   asio::any_io_executor executor)
    : Provider(std::move(name), "injected"),
      executor_(std::move(executor)),
      key_(SecretBytes::random(aead::kKeySize)),
      identity_(random_identity()),
      hang_(settings.hang),
      hang_unwrap_(settings.hang_unwrap),
      sampler_(settings.delay, settings.seed ? *settings.seed : random_seed()),
      log_(settings.record) {}

InjectedProvider::~InjectedProvider() {
  if (Error e = log_.write(name()); !e.ok()) {
    log::error("cannot write the call record", {{"provider", name()}, {"error", e.message()}});
  }
}

std::string InjectedProvider::key_identity() const { return identity_; }

bool InjectedProvider::owns_key_version(std::string_view key_version) const {
  return key_version == identity_;
}

std::optional<std::chrono::nanoseconds> InjectedProvider::draw(Op op) {
  if (hang_ || (hang_unwrap_ && op == Op::unwrap)) return std::nullopt;
  std::lock_guard lock(mutex_);
  return sampler_.next();
}

template <typename Deliver>
void InjectedProvider::answer_later(Op op, const providers::CallOptions& options,
                                    asio::cancellation_slot slot, Error answer, Deliver deliver) {
  const std::optional<std::chrono::nanoseconds> drawn = draw(op);
  const std::size_t entry = log_.begin(options.request_id, op, drawn);
  const Clock::time_point now = Clock::now();
  // A delay that outlasts the call's budget ends at its deadline, as a
  // real client gives up then (contract rule 4).
  const bool in_time = drawn && options.deadline - now >= *drawn;
  auto strand = asio::make_strand(executor_);
  auto timer = std::make_shared<Timer>(strand);
  timer->expires_at(in_time ? now + *drawn : options.deadline);
  if (slot.is_connected()) {
    // Runs on the emitter's thread: the timer is touched on its strand only.
    slot.assign([strand, timer](asio::cancellation_type) {
      asio::post(strand, [timer] { timer->cancel(); });
    });
  }
  timer->async_wait(asio::bind_executor(
      strand, [this, timer, entry, in_time, lease = options.lease, answer = std::move(answer),
               deliver = std::move(deliver)](boost::system::error_code ec) mutable {
        Error e = std::move(answer);
        if (ec) {
          e = Error(Code::cancelled, "cancelled");
        } else if (!in_time) {
          e = Error(Code::deadline_exceeded, "no answer before the call's deadline");
        }
        log_.end(entry, e.code());
        lease.reset();  // the "backend" is done
        deliver(std::move(e));
      }));
}

void InjectedProvider::wrap_impl(const providers::CallOptions& options, ByteView context,
                                 ByteView share,
                                 asio::any_completion_handler<providers::WrapSignature> handler) {
  // Sealed now: the arguments are borrowed for this call only (rule 2).
  providers::WrapResult result{Bytes(aead::kNonceSize), identity_};
  random_fill(result.wrapped);
  Error answer;
  Result<Bytes> sealed = aead::seal(key_.view(), result.wrapped, context, share);
  if (sealed.ok()) {
    result.wrapped.insert(result.wrapped.end(), sealed->begin(), sealed->end());
  } else {
    answer = sealed.error();
  }
  auto slot = asio::get_associated_cancellation_slot(handler);
  answer_later(Op::wrap, options, slot, std::move(answer),
               [this, handler = std::move(handler), result = std::move(result)](Error e) mutable {
                 if (!e.ok()) result = {};
                 complete_on_executor(std::move(handler), executor_, std::move(e),
                                      std::move(result));
               });
}

void InjectedProvider::unwrap_impl(
    const providers::CallOptions& options, ByteView context, std::string_view key_version,
    ByteView wrapped, asio::any_completion_handler<providers::UnwrapSignature> handler) {
  if (!owns_key_version(key_version)) {
    // Never sent to the "KMS" (rule 6): refused at once.
    log_.end(log_.begin(options.request_id, Op::unwrap, std::chrono::nanoseconds(0)),
             Code::invalid_argument);
    post_completion(executor_, std::move(handler),
                    invalid_argument("share was wrapped by key " + quote(key_version) +
                                     ", not this provider's " + identity_),
                    SecretBytes());
    return;
  }
  Error answer;
  SecretBytes share;
  if (wrapped.size() <= aead::kNonceSize + aead::kTagSize) {
    answer = integrity_error("wrapped share too short");
  } else {
    Result<SecretBytes> opened = aead::open(key_.view(), wrapped.first(aead::kNonceSize), context,
                                            wrapped.subspan(aead::kNonceSize));
    if (opened.ok()) {
      share = std::move(opened.value());
    } else {
      answer = opened.error();
    }
  }
  auto slot = asio::get_associated_cancellation_slot(handler);
  answer_later(Op::unwrap, options, slot, std::move(answer),
               [this, handler = std::move(handler), share = std::move(share)](Error e) mutable {
                 if (!e.ok()) share = SecretBytes();
                 complete_on_executor(std::move(handler), executor_, std::move(e),
                                      std::move(share));
               });
}

void InjectedProvider::probe_impl(const providers::CallOptions& options,
                                  asio::any_completion_handler<providers::ProbeSignature> handler) {
  log_.end(log_.begin(options.request_id, Op::probe, std::chrono::nanoseconds(0)), Code::ok);
  post_completion(executor_, std::move(handler), Error());
}

}  // namespace trousseau::bench::injected
