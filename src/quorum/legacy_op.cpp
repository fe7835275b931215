// Decrypt of the original Trousseau's ciphertexts (envelope/legacy.hpp):
// every part whose origin `legacy:` maps is sent, at once, to that one
// provider; the first plaintext answers. There is no share, no threshold and
// nothing to verify before the KMS opens it, so the only rule is the
// confused-deputy one: an origin goes to the provider configured for it, and
// that provider names only its own key (providers/legacy.hpp).
#include <boost/asio/append.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>

#include "common/log.hpp"
#include "envelope/legacy.hpp"
#include "providers/legacy.hpp"
#include "quorum/operation.hpp"

namespace trousseau::quorum {

namespace {

class LegacyDecryptOp final : public detail::Operation {
 public:
  LegacyDecryptOp(Engine& engine, Strand strand, envelope::LegacyCiphertext legacy,
                  RequestInfo request, asio::any_completion_handler<DecryptSignature> handler)
      : Operation(engine, CallKind::unwrap, std::move(strand), std::move(request)),
        legacy_(std::move(legacy)),
        handler_(std::move(handler)) {}

  void start() {
    begin(handler_);
    const config::LegacyConfig& mapped = engine_.config().legacy;
    for (std::size_t i = 0; i < legacy_.parts.size(); ++i) {
      const envelope::LegacyPart& part = legacy_.parts[i];
      const auto it = mapped.find(part.origin);
      if (it == mapped.end()) {
        failures_.emplace_back(part.origin,
                               invalid_argument("legacy." + part.origin +
                                                " names no provider: this plugin does not open the "
                                                "original Trousseau's " + part.origin + " ciphertexts"));
        continue;
      }
      ManagedProvider* p = engine_.find(it->second);
      auto* legacy = p == nullptr ? nullptr : dynamic_cast<providers::LegacyDecrypter*>(&p->provider());
      if (legacy == nullptr) {  // config validation makes this unreachable
        failures_.emplace_back(it->second, unavailable("cannot open legacy ciphertexts"));
        continue;
      }
      calls_.emplace_back(p, i);  // Call::slot holds the part's index
    }
    for (detail::Call& c : calls_) launch(c);
    if (calls_.empty()) fail();
  }

 private:
  void launch(detail::Call& call) {
    auto* legacy = dynamic_cast<providers::LegacyDecrypter*>(&call.provider->provider());
    const Bytes& ciphertext = legacy_.parts[call.slot].ciphertext;
    start_call<SecretBytes>(
        call,
        [legacy, &ciphertext](const providers::CallOptions& options, auto handler) {
          legacy->async_legacy_decrypt(options, ciphertext, std::move(handler));
        },
        [this](detail::Call& c, Error e, SecretBytes plain) { done(c, std::move(e), std::move(plain)); });
  }

  void done(detail::Call& call, Error e, SecretBytes plain) {
    if (e.ok()) {
      note_legacy_read();
      log::warn("opened a ciphertext of the original Trousseau; re-encrypt it (docs/migration.md)",
                {{"request", request_id_},
                 {"format", std::string(envelope::to_string(legacy_.format))},
                 {"origin", legacy_.parts[call.slot].origin},
                 {"provider", call.provider->name()}});
      note_served({call.provider->name()});
      finish(Error(), std::move(plain));
      return;
    }
    failures_.emplace_back(call.provider->name(), std::move(e));
    if (active_calls() == 0) fail();
  }

  void fail() {
    finish(aggregate_failures("cannot open a " + std::string(envelope::to_string(legacy_.format)) +
                                  " ciphertext",
                              failures_),
           SecretBytes());
  }

  void on_deadline() override {
    auto failures = failures_;
    for (const detail::Call& c : calls_) {
      if (c.active()) {
        failures.emplace_back(c.provider->name(),
                              Error(Code::deadline_exceeded, "no answer before the request deadline"));
      }
    }
    Error e = aggregate_failures("legacy decrypt: no answer before the deadline", failures);
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
    asio::dispatch(asio::append(std::move(handler_), std::move(e), std::move(plaintext)));
  }

  envelope::LegacyCiphertext legacy_;
  asio::any_completion_handler<DecryptSignature> handler_;
};

}  // namespace

void Engine::legacy_decrypt_impl(Strand strand, ByteView ciphertext, RequestInfo request,
                                 asio::any_completion_handler<DecryptSignature> handler) {
  Result<envelope::LegacyCiphertext> legacy = envelope::parse_legacy(ciphertext);
  if (!legacy.ok()) {
    asio::post(strand, [h = std::move(handler), e = legacy.error()]() mutable {
      std::move(h)(std::move(e), SecretBytes());
    });
    return;
  }
  auto op = std::make_shared<LegacyDecryptOp>(*this, strand, std::move(legacy.value()),
                                              std::move(request), std::move(handler));
  asio::post(strand, [op] { op->first_turn([&] { op->start(); }); });
}

}  // namespace trousseau::quorum
