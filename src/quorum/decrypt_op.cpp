// Decrypt: fetch shares, best providers first, until k of them rebuild a key
// whose GCM tag verifies.
#include <algorithm>
#include <boost/asio/append.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>

#include "common/log.hpp"
#include "common/text.hpp"
#include "envelope/aead.hpp"
#include "envelope/shamir.hpp"
#include "quorum/operation.hpp"
#include "quorum/policy_check.hpp"

namespace trousseau::quorum {

namespace {

/// One share at hand, and who gave it.
struct Entry {
  std::size_t slot;
  std::string provider;
  shamir::Share share;
  ManagedProvider* managed = nullptr;
  bool from_hedge = false;  ///< its call was started as a hedge
};

/// GCM passes one Decrypt may make while looking for k shares that agree.
constexpr std::size_t kMaxCombinations = 64;

class DecryptOp final : public detail::Operation {
 public:
  DecryptOp(Engine& engine, Strand strand, envelope::Envelope env, Admission admission,
            RequestInfo request, asio::any_completion_handler<DecryptSignature> handler)
      : Operation(engine, CallKind::unwrap, std::move(strand), std::move(request)),
        env_(std::move(env)),
        admission_(std::move(admission)),
        aad_(envelope::additional_data(env_)),
        handler_(std::move(handler)),
        k_(env_.threshold),
        hedged_(engine.config().policy.decrypt == config::DecryptStrategy::hedged) {}

  void start() {
    begin(handler_);
    for (std::size_t s = 0; s < env_.slots.size(); ++s) {
      contexts_.push_back(envelope::share_context(env_.nonce, env_.threshold, env_.slots[s].x));
      for (std::size_t w = 0; w < env_.slots[s].wraps.size(); ++w) {
        const envelope::ShareRef& ref = env_.slots[s].wraps[w];
        ManagedProvider* p = engine_.find(ref.provider);
        if (p == nullptr) {
          failures_.emplace_back(ref.provider, unavailable("not in the current configuration"));
          continue;
        }
        if (!admission_.named[s][w]) {
          failures_.emplace_back(ref.provider, unavailable("not named by the policy in force"));
          continue;
        }
        if (!p->provider().owns_key_version(ref.key_version)) {
          // Never sent to the KMS: a provider uses only its configured keys.
          // The data's fault, so it does not count against the provider.
          failures_.emplace_back(ref.provider,
                                 invalid_argument("key version " + quote(ref.key_version) +
                                                  " is not a key this provider is configured with"));
          continue;
        }
        calls_.emplace_back(p, s);
      }
    }
    if (!hedged_) {
      for (detail::Call& c : calls_) launch(c);
    }
    pump();
  }

 private:
  std::size_t wrap_index(const detail::Call& c) const {
    const auto& wraps = env_.slots[c.slot].wraps;
    for (std::size_t i = 0; i < wraps.size(); ++i) {
      if (wraps[i].provider == c.provider->name()) return i;
    }
    return 0;  // unreachable: calls are built from the wraps
  }

  bool slot_has_share(std::size_t slot) const {
    return std::any_of(entries_.begin(), entries_.end(),
                       [&](const Entry& e) { return e.slot == slot; });
  }
  bool slot_running(std::size_t slot) const {
    return std::any_of(calls_.begin(), calls_.end(),
                       [&](const detail::Call& c) { return c.slot == slot && c.active(); });
  }
  std::size_t distinct_slots_with_shares() const {
    std::vector<bool> seen(env_.slots.size());
    std::size_t n = 0;
    for (const Entry& e : entries_) {
      if (!seen[e.slot]) ++n;
      seen[e.slot] = true;
    }
    return n;
  }

  /// Which idle calls pick() may return.
  enum class Want {
    new_slot,     ///< a slot with no share and nothing running
    alternative,  ///< a slot with no share (beside a running call)
    second_share, ///< any slot: a second share, only to find a bad one
  };

  /// The best idle call of that kind, or nullptr.
  detail::Call* pick(Want want) {
    detail::Call* best = nullptr;
    for (detail::Call& c : calls_) {
      if (c.state != detail::Call::State::idle) continue;
      const bool has = slot_has_share(c.slot);
      if (want == Want::new_slot && (has || slot_running(c.slot))) continue;
      if (want == Want::alternative && has) continue;
      if (best == nullptr || better(c, *best)) best = &c;
    }
    return best;
  }

  static bool better(const detail::Call& a, const detail::Call& b) {
    const bool ha = a.provider->healthy(), hb = b.provider->healthy();
    if (ha != hb) return ha;
    const bool ka = a.provider->latency().known(), kb = b.provider->latency().known();
    if (ka && kb) return a.provider->latency().mean() < b.provider->latency().mean();
    return ka && !kb;  // measured beats unknown; otherwise keep envelope order
  }

  void launch(detail::Call& call) {
    if (!call.provider->admit()) {
      call.state = detail::Call::State::done;
      failures_.emplace_back(call.provider->name(),
                             unavailable("skipped while its circuit is open (" +
                                         call.provider->health().last_error + ")"));
      return;
    }
    const std::size_t wi = wrap_index(call);
    start_call<SecretBytes>(
        call,
        [this, &call, wi](const providers::CallOptions& options, auto h) {
          const envelope::ShareRef& ref = env_.slots[call.slot].wraps[wi];
          call.provider->provider().async_unwrap(options, contexts_[call.slot], ref.key_version,
                                                 ref.wrapped, std::move(h));
        },
        [this](detail::Call& c, Error e, SecretBytes share) {
          on_unwrapped(c, std::move(e), std::move(share));
        });
    // From the moment it is queued: a call stuck behind a saturated
    // provider's limiter is hedged like a slow one. Only when there is
    // something to hedge with: calls not started now are never added later.
    if (hedged_ && call.active() &&
        (pick(Want::new_slot) != nullptr || pick(Want::alternative) != nullptr)) {
      arm_hedge(call);
    }
  }

  void arm_hedge(detail::Call& call) {
    call.hedge.emplace(strand_,
                       call.provider->hedge_delay(engine_.config().request.min_hedge_delay));
    wait_soon(*call.hedge, &call, [this, &call](boost::system::error_code ec) {
      if (ec || finished_ || !call.active() || call.hedged) return;
      call.hedged = true;
      detail::Call* extra = pick(Want::new_slot);
      if (extra == nullptr) extra = pick(Want::alternative);
      if (extra == nullptr) return;
      note_hedge(call);
      extra->is_hedge = true;
      log::debug("hedging slow provider",
                 {{"slow", call.provider->name()},
                  {"extra", extra->provider->name()},
                  {"waiting_for", call.state == detail::Call::State::acquiring ? "limiter" : "answer"}});
      guarded([&] { launch(*extra); });
    });
  }

  void on_unwrapped(detail::Call& call, Error err, SecretBytes share) {
    if (finished_) return;
    if (err.ok() && share.size() != aead::kKeySize) {
      err = integrity_error(call.provider->name() + ": returned a share of " +
                            std::to_string(share.size()) + " bytes");
    }
    if (!err.ok()) {
      failures_.emplace_back(call.provider->name(), std::move(err));
      return pump();
    }
    entries_.push_back({call.slot, call.provider->name(),
                        {env_.slots[call.slot].x, std::move(share)}, call.provider,
                        call.is_hedge});
    if (distinct_slots_with_shares() >= k_ && try_combine()) return;
    pump();
  }

  /// Tries every k-subset (distinct slots) that contains the newest share.
  bool try_combine() {
    const std::size_t newest = entries_.size() - 1;
    std::vector<std::size_t> chosen{newest};
    return choose(chosen, 0);
  }

  bool choose(std::vector<std::size_t>& chosen, std::size_t from) {
    if (search_exhausted_) return false;
    if (chosen.size() == k_) {
      // Bounded: each attempt is a GCM pass on the strand. Honest providers
      // need one; a few liars need a few more. Past the bound, or the
      // deadline, the data is treated as bad.
      if (attempts_ >= kMaxCombinations || past_deadline()) {
        search_exhausted_ = true;
        return false;
      }
      ++attempts_;
      note_combination();
      return attempt(chosen);
    }
    for (std::size_t i = from; i + 1 < entries_.size(); ++i) {
      const bool clash = std::any_of(chosen.begin(), chosen.end(), [&](std::size_t j) {
        return entries_[j].slot == entries_[i].slot;
      });
      if (clash) continue;
      chosen.push_back(i);
      if (choose(chosen, i + 1)) return true;
      chosen.pop_back();
    }
    return false;
  }

  bool attempt(const std::vector<std::size_t>& chosen) {
    std::vector<const shamir::Share*> subset;
    for (std::size_t i : chosen) subset.push_back(&entries_[i].share);
    auto key = shamir::combine(subset);
    if (!key.ok()) return false;
    auto plain = aead::open(key->view(), env_.nonce, aad_, env_.sealed);
    if (!plain.ok()) return false;
    // The polynomial is now known to be right: any other share that is not
    // on it came from a provider that returned a wrong share.
    for (std::size_t i = 0; i < entries_.size(); ++i) {
      if (std::find(chosen.begin(), chosen.end(), i) != chosen.end()) continue;
      auto expected = shamir::interpolate(subset, entries_[i].share.x);
      if (expected.ok() && !expected->equals(entries_[i].share.y.view())) {
        report_bad_share(entries_[i]);
      }
    }
    std::vector<std::string> opened_by;
    for (std::size_t i : chosen) {
      opened_by.push_back(entries_[i].provider);
      if (entries_[i].from_hedge) entries_[i].managed->observer().hedge_won();
    }
    note_served(std::move(opened_by));
    finish(Error(), std::move(plain.value()));
    return true;
  }

  void report_bad_share(Entry& entry) {
    note_bad_share(*entry.managed);
    log::error("provider returned a wrong share",
               {{"provider", entry.provider},
                {"action", "check this KMS and its key: the envelope was recovered without it"}});
  }

  void pump() {
    if (finished_) return;
    if (search_exhausted_) return give_up();
    // Each failed combination asks for one more share than k.
    const std::size_t target = k_ + failed_rounds_;
    std::size_t have = distinct_slots_with_shares();
    std::size_t running = 0;
    for (std::size_t s = 0; s < env_.slots.size(); ++s) {
      if (!slot_has_share(s) && slot_running(s)) ++running;
    }
    if (hedged_) {
      while (have + running < target) {
        detail::Call* c = pick(Want::new_slot);
        if (c == nullptr) break;
        launch(*c);
        if (c->active()) ++running;
      }
    }
    if (active_calls() > 0) return;
    if (have >= k_) {
      // k or more shares, none combining: look for another share, also a
      // second one for a slot, to find the bad one.
      ++failed_rounds_;
      detail::Call* c = pick(Want::new_slot);
      if (c == nullptr) c = pick(Want::alternative);
      if (c == nullptr) c = pick(Want::second_share);
      if (c != nullptr) {
        launch(*c);
        if (c->active()) return;
        return pump();
      }
    } else if (!hedged_ || pick(Want::new_slot) != nullptr || pick(Want::alternative) != nullptr) {
      detail::Call* c = pick(Want::new_slot);
      if (c == nullptr) c = pick(Want::alternative);
      if (c != nullptr) {
        launch(*c);
        if (c->active()) return;
        return pump();
      }
    }
    give_up();
  }

  void give_up() {
    if (past_deadline()) return on_deadline();
    auto failures = failures_;
    std::string what = "decrypt needs " + std::to_string(k_) + " of " +
                       std::to_string(env_.slots.size()) + " shares";
    if (!entries_.empty() && distinct_slots_with_shares() >= k_) {
      // k or more shares, each authenticated by its own provider, and still
      // no key that opens the envelope: the envelope itself is bad (or a
      // provider lies). Either way it is the data that fails, not a KMS.
      std::string from;
      for (const Entry& e : entries_) from += (from.empty() ? "" : ", ") + e.provider;
      Error all = aggregate_failures(what, failures);
      finish(invalid_argument(all.message() + "; [combination] shares from " + from +
                              " do not rebuild a key that authenticates the data"),
             SecretBytes());
      return;
    } else {
      what += ", got " + std::to_string(distinct_slots_with_shares());
    }
    finish(aggregate_failures(what, failures), SecretBytes());
  }

  void on_deadline() override {
    auto failures = failures_;
    for (const detail::Call& c : calls_) {
      if (c.active()) {
        failures.emplace_back(c.provider->name(),
                              Error(Code::deadline_exceeded, "no answer before the request deadline"));
      }
    }
    Error e = aggregate_failures("decrypt got " + std::to_string(distinct_slots_with_shares()) +
                                     " of " + std::to_string(k_) +
                                     " shares before the deadline",
                                 failures);
    finish(Error(Code::deadline_exceeded, e.message()), SecretBytes());
  }

  void on_out_of_memory() override {
    finish(Error(Code::resource_exhausted, "decrypt: locked memory for secrets is exhausted"),
           SecretBytes());
  }

  void on_cancel() override {
    finish(Error(Code::cancelled, "decrypt cancelled by the caller"), SecretBytes());
  }

  void finish(Error e, SecretBytes plaintext) {
    if (finished_) return;
    if (e.code() != Code::cancelled) {
      note_quorum(QuorumKind::decrypt, e.ok() ? QuorumResult::ok : QuorumResult::failed);
    }
    end(handler_);
    entries_.clear();  // wipes the shares now, not when the last call drains
    asio::dispatch(asio::append(std::move(handler_), std::move(e), std::move(plaintext)));
  }

  envelope::Envelope env_;
  Admission admission_;
  Bytes aad_;
  asio::any_completion_handler<DecryptSignature> handler_;
  const std::size_t k_;
  const bool hedged_;
  std::vector<Bytes> contexts_;
  std::vector<Entry> entries_;
  std::size_t failed_rounds_ = 0;
  std::size_t attempts_ = 0;
  bool search_exhausted_ = false;
};

}  // namespace

void Engine::decrypt_impl(Strand strand, ByteView ciphertext,
                          const envelope::Annotations& annotations, RequestInfo request,
                          asio::any_completion_handler<DecryptSignature> handler) {
  auto env = envelope::parse(ciphertext, annotations);
  if (!env.ok()) {
    asio::post(strand, [h = std::move(handler), e = env.error()]() mutable {
      std::move(h)(std::move(e), SecretBytes());
    });
    return;
  }
  auto admission = admit(env.value(), cfg_.policy);
  if (!admission.ok()) {
    log::error("refused an envelope the policy does not admit: possible forgery",
               {{"reason", admission.error().message()}});
    note_forgery_refused();
    asio::post(strand, [h = std::move(handler), e = admission.error()]() mutable {
      std::move(h)(std::move(e), SecretBytes());
    });
    return;
  }
  if (admission->policy > 0) {
    log::warn("read an envelope written under an earlier policy; re-encrypt it",
              {{"previous", admission->policy - 1}});
    note_earlier_policy_read();
  }
  auto op = std::make_shared<DecryptOp>(*this, strand, std::move(env.value()),
                                        std::move(admission.value()), std::move(request),
                                        std::move(handler));
  asio::post(strand, [op] { op->first_turn([&] { op->start(); }); });
}

}  // namespace trousseau::quorum
