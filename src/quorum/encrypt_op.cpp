// Encrypt: wrap every share with every provider, succeed at W slots.
#include <boost/asio/append.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>

#include "common/log.hpp"
#include "common/text.hpp"
#include "envelope/aead.hpp"
#include "envelope/shamir.hpp"
#include "quorum/operation.hpp"

namespace trousseau::quorum {

namespace {

class EncryptOp final : public detail::Operation {
 public:
  EncryptOp(Engine& engine, Strand strand, SecretBytes plaintext, envelope::Limits limits,
            RequestInfo request, asio::any_completion_handler<EncryptSignature> handler)
      : Operation(engine, CallKind::wrap, std::move(strand), std::move(request)),
        plaintext_(std::move(plaintext)),
        limits_(limits),
        handler_(std::move(handler)),
        grace_timer_(strand_) {}

  void start() {
    begin(handler_);
    const auto& policy = engine_.config().policy;
    const auto& slots = engine_.slots();
    key_ = SecretBytes::random(aead::kKeySize);
    random_fill(nonce_);
    auto shares = shamir::split(key_.view(), policy.threshold, static_cast<unsigned>(slots.size()));
    if (!shares.ok()) return fail(shares.error());
    shares_ = std::move(shares.value());
    wraps_.resize(slots.size());
    for (std::size_t i = 0; i < slots.size(); ++i) {
      contexts_.push_back(envelope::share_context(nonce_, static_cast<std::uint8_t>(policy.threshold),
                                                  shares_[i].x));
      for (ManagedProvider* p : slots[i]) calls_.emplace_back(p, i);
    }
    for (detail::Call& call : calls_) {
      if (!call.provider->admit()) {
        call.state = detail::Call::State::done;
        failures_.emplace_back(call.provider->name(),
                               Error(Code::unavailable, "skipped while its circuit is open (" +
                                                            call.provider->health().last_error + ")"));
        continue;
      }
      const std::size_t slot = call.slot;
      start_call<providers::WrapResult>(
          call,
          [this, slot, &call](const providers::CallOptions& options, auto h) {
            call.provider->provider().async_wrap(options, contexts_[slot], shares_[slot].y.view(),
                                                 std::move(h));
          },
          [this](detail::Call& c, Error e, providers::WrapResult r) {
            on_wrapped(c, std::move(e), std::move(r));
          });
    }
    settle();
  }

 private:
  void on_wrapped(detail::Call& call, Error err, providers::WrapResult result) {
    if (finished_) return;
    if (err.ok() && (result.wrapped.empty() || result.key_version.size() > envelope::kMaxKeyVersion)) {
      err = internal_error(call.provider->name() + ": returned an empty wrap or an oversized key version");
    }
    if (err.ok()) {
      wraps_[call.slot].push_back({call.provider->name(), std::move(result.key_version),
                                   std::move(result.wrapped)});
    } else {
      failures_.emplace_back(call.provider->name(), std::move(err));
    }
    settle();
  }

  std::size_t slots_held() const {
    std::size_t n = 0;
    for (const auto& w : wraps_) n += w.empty() ? 0 : 1;
    return n;
  }

  void settle() {
    if (finished_) return;
    const std::size_t need = engine_.config().policy.min_encrypt_slots;
    if (active_calls() == 0) {
      if (slots_held() >= need) return succeed();
      return fail(aggregate_failures("encrypt reached " + std::to_string(slots_held()) + " of the " +
                                         std::to_string(need) + " slots it needs",
                                     failures_));
    }
    if (slots_held() >= need && !grace_armed_) {
      // Enough for a valid write: give the stragglers a short grace so that a
      // hung provider cannot hold the write until the deadline.
      grace_armed_ = true;
      grace_timer_.expires_after(engine_.config().request.encrypt_grace);
      wait_soon(grace_timer_, nullptr, [this](boost::system::error_code ec) {
        if (!ec && !finished_) succeed();
      });
    }
  }

  void on_deadline() override {
    const std::size_t need = engine_.config().policy.min_encrypt_slots;
    if (slots_held() >= need) return succeed();
    auto failures = failures_;
    for (const detail::Call& c : calls_) {
      if (c.active()) failures.emplace_back(c.provider->name(), Error(Code::deadline_exceeded, "no answer before the request deadline"));
    }
    Error e = aggregate_failures("encrypt reached " + std::to_string(slots_held()) + " of the " +
                                     std::to_string(need) + " slots it needs before the deadline",
                                 failures);
    fail(Error(Code::deadline_exceeded, e.message()));
  }

  void on_cancel() override { fail(Error(Code::cancelled, "encrypt cancelled by the caller")); }
  void on_out_of_memory() override {
    fail(Error(Code::resource_exhausted, "encrypt: locked memory for secrets is exhausted"));
  }

  void succeed() {
    envelope::Envelope env;
    env.threshold = static_cast<std::uint8_t>(engine_.config().policy.threshold);
    env.nonce = nonce_;
    std::vector<std::string> missing;
    for (std::size_t i = 0; i < wraps_.size(); ++i) {
      for (ManagedProvider* p : engine_.slots()[i]) {
        bool wrapped = false;
        for (const auto& w : wraps_[i]) wrapped = wrapped || w.provider == p->name();
        if (!wrapped) missing.push_back(p->name());
      }
      if (wraps_[i].empty()) continue;
      // Keep the policy's provider order inside a slot: deterministic headers.
      std::vector<envelope::ShareRef> ordered;
      for (ManagedProvider* p : engine_.slots()[i]) {
        for (auto& w : wraps_[i]) {
          if (w.provider == p->name()) ordered.push_back(std::move(w));
        }
      }
      env.slots.push_back({shares_[i].x, std::move(ordered)});
    }
    env.header_bytes = envelope::encode_header(env);
    auto sealed = aead::seal(key_.view(), nonce_, envelope::additional_data(env), plaintext_.view());
    if (!sealed.ok()) return fail(sealed.error());
    env.sealed = std::move(sealed.value());
    auto encoded = envelope::encode(env, limits_);
    if (!encoded.ok()) return fail(encoded.error());
    if (!missing.empty()) {
      std::vector<std::string> why;
      for (const auto& [name, e] : failures_) why.push_back("[" + name + "] " + e.message());
      log::warn("degraded encrypt",
                {{"slots", std::to_string(env.slots.size()) + "/" + std::to_string(wraps_.size())},
                 {"missing", join(missing, ",")},
                 {"errors", join(why, "; ")}});
    }
    std::string key_id = missing.empty() ? engine_.key_id() : note_degraded(missing);
    note_quorum(QuorumKind::encrypt, missing.empty() ? QuorumResult::ok : QuorumResult::degraded);
    std::vector<std::string> served;
    for (const envelope::Slot& slot : env.slots) {
      for (const envelope::ShareRef& w : slot.wraps) served.push_back(w.provider);
    }
    note_served(std::move(served));
    EncryptOutcome out{std::move(encoded.value()), std::move(key_id), std::move(missing)};
    end(handler_);
    grace_timer_.cancel();
    release_secrets();
    asio::dispatch(asio::append(std::move(handler_), Error(), std::move(out)));
  }

  void fail(Error e) {
    if (finished_) return;
    if (e.code() != Code::cancelled) note_quorum(QuorumKind::encrypt, QuorumResult::failed);
    end(handler_);
    grace_timer_.cancel();
    release_secrets();
    asio::dispatch(asio::append(std::move(handler_), std::move(e), EncryptOutcome{}));
  }

  /// Wipes K, the shares and the plaintext as soon as the request answers,
  /// not when the last straggling provider call drains.
  void release_secrets() {
    key_ = SecretBytes();
    shares_.clear();
    plaintext_ = SecretBytes();
  }

  SecretBytes plaintext_;
  envelope::Limits limits_;
  asio::any_completion_handler<EncryptSignature> handler_;
  Timer grace_timer_;
  bool grace_armed_ = false;
  SecretBytes key_;
  std::array<std::uint8_t, 12> nonce_{};
  std::vector<shamir::Share> shares_;
  std::vector<Bytes> contexts_;
  std::vector<std::vector<envelope::ShareRef>> wraps_;
};

}  // namespace

void Engine::encrypt_impl(Strand strand, ByteView plaintext, envelope::Limits limits,
                          RequestInfo request,
                          asio::any_completion_handler<EncryptSignature> handler) {
  SecretBytes copy;
  try {
    copy = SecretBytes(plaintext);
  } catch (const std::bad_alloc&) {  // no locked memory for the plaintext's copy
    asio::post(strand, [h = std::move(handler)]() mutable {
      std::move(h)(Error(Code::resource_exhausted, "encrypt: locked memory for secrets is exhausted"),
                   EncryptOutcome{});
    });
    return;
  }
  auto op = std::make_shared<EncryptOp>(*this, strand, std::move(copy), limits, std::move(request),
                                        std::move(handler));
  asio::post(strand, [op] { op->first_turn([&] { op->start(); }); });
}

}  // namespace trousseau::quorum
