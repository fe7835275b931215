#include "support/fake_provider.hpp"

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/append.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <map>
#include <random>

#include "providers/registry.hpp"

#include "common/text.hpp"
#include "support/wait.hpp"
#include "envelope/aead.hpp"

namespace trousseau::testkit {

namespace {
std::mutex g_registry_mutex;
std::map<std::string, FakeProvider*>& registry() {
  static std::map<std::string, FakeProvider*> r;
  return r;
}
}  // namespace

FakeProvider::FakeProvider(std::string name, asio::any_io_executor executor)
    : Provider(std::move(name), "fake"),
      executor_(std::move(executor)),
      key_(SecretBytes::random(32)),
      identity_("fake:" + this->name() + ":v1"),
      known_identities_{identity_} {
  std::lock_guard lock(g_registry_mutex);
  registry()[this->name()] = this;
}

FakeProvider::~FakeProvider() {
  std::lock_guard lock(g_registry_mutex);
  auto it = registry().find(name());
  if (it != registry().end() && it->second == this) registry().erase(it);
}

FakeProvider* FakeProvider::find(const std::string& name) {
  std::lock_guard lock(g_registry_mutex);
  auto it = registry().find(name);
  return it == registry().end() ? nullptr : it->second;
}

std::string FakeProvider::key_identity() const {
  std::lock_guard lock(mutex_);
  return identity_;
}

void FakeProvider::set_key_identity(std::string id) {
  std::lock_guard lock(mutex_);
  known_identities_.insert(id);
  identity_ = std::move(id);
}

void FakeProvider::script(Behaviour b) {
  std::lock_guard lock(mutex_);
  wrap_ = unwrap_ = probe_ = b;
  flip_ = Code::ok;
}
void FakeProvider::script_wrap(Behaviour b) { std::lock_guard lock(mutex_); wrap_ = b; }
void FakeProvider::script_unwrap(Behaviour b) { std::lock_guard lock(mutex_); unwrap_ = b; }
void FakeProvider::script_probe(Behaviour b) {
  std::lock_guard lock(mutex_);
  probe_ = b;
  flip_ = Code::ok;
}
Behaviour FakeProvider::probe_behaviour() const {
  std::lock_guard lock(mutex_);
  return probe_;
}
void FakeProvider::flip_flop_probe(Code fail) { std::lock_guard lock(mutex_); flip_ = fail; }

bool FakeProvider::owns_key_version(std::string_view key_version) const {
  std::lock_guard lock(mutex_);
  return known_identities_.count(std::string(key_version)) > 0;
}

Clock::time_point FakeProvider::last_deadline() const {
  std::lock_guard lock(mutex_);
  return last_deadline_;
}

std::vector<std::string> FakeProvider::request_ids() const {
  std::lock_guard lock(mutex_);
  return request_ids_;
}

template <typename Signature, typename Produce>
void FakeProvider::run(const providers::CallOptions& options, Behaviour b,
                       asio::any_completion_handler<Signature> handler, Produce produce) {
  {
    std::lock_guard lock(mutex_);
    last_deadline_ = options.deadline;
    request_ids_.push_back(options.request_id);
  }
  // Each operation owns a strand; the cancellation slot handler runs on the
  // emitter's thread, so it marshals to that strand before touching the timer.
  auto strand = asio::make_strand(executor_);
  auto timer = std::make_shared<Timer>(strand);
  auto delay = b.delay;
  if (b.jitter.count() > 0) {
    static thread_local std::mt19937 rng{std::random_device{}()};
    delay += std::chrono::milliseconds(rng() % (b.jitter.count() + 1));
  }
  // Like a real backend, give up at the call's deadline.
  const bool past_deadline = b.hang || Clock::now() + delay > options.deadline;
  timer->expires_at(past_deadline ? options.deadline : Clock::now() + delay);
  auto slot = asio::get_associated_cancellation_slot(handler);
  if (slot.is_connected()) {
    slot.assign([timer, strand](asio::cancellation_type) {
      asio::post(strand, [timer] { timer->cancel(); });
    });
  }
  ++in_flight_;
  notify_waiters();
  timer->async_wait(asio::bind_executor(
      strand, [this, timer, b, slot, past_deadline, lease = options.lease,
               handler = std::move(handler),
               produce = std::move(produce)](boost::system::error_code ec) mutable {
        Error e;
        if (ec) {
          ++cancelled_;
          e = Error(Code::cancelled, "cancelled");
        } else if (past_deadline) {
          ++expired_;
          e = Error(Code::deadline_exceeded, "no answer before the call's deadline");
        } else if (b.fail != Code::ok) {
          e = Error(b.fail, "scripted " + std::string(to_string(b.fail)));
        }
        lease.reset();  // the "backend" is done
        --in_flight_;
        // Hop to the caller's executor for the completion, and clear the
        // slot there: the caller emits on that executor, never on ours.
        produce([h = std::move(handler), slot](auto&&... args) mutable {
          auto ex = asio::get_associated_executor(h);
          asio::dispatch(ex, [h = std::move(h), slot,
                              ... a = std::forward<decltype(args)>(args)]() mutable {
            if (slot.is_connected()) slot.clear();
            std::move(h)(std::move(a)...);
          });
        }, std::move(e));
        notify_waiters();
      }));
}

std::vector<Bytes> FakeProvider::shares_seen() const {
  std::lock_guard lock(mutex_);
  return shares_;
}

void FakeProvider::wrap_impl(const providers::CallOptions& options, ByteView context, ByteView share,
                             asio::any_completion_handler<providers::WrapSignature> handler) {
  ++wraps_;
  Behaviour b;
  std::string identity;
  {
    std::lock_guard lock(mutex_);
    b = wrap_;
    identity = identity_;
    shares_.emplace_back(share.begin(), share.end());
  }
  Bytes nonce(12);
  random_fill(nonce);
  Bytes wrapped = nonce;
  auto sealed = aead::seal(key_.view(), nonce, context, share);
  wrapped.insert(wrapped.end(), sealed->begin(), sealed->end());
  wrapped.resize(wrapped.size() + padding_, 0xa5);
  run<providers::WrapSignature>(
      options, b, std::move(handler),
      [wrapped = std::move(wrapped), identity](auto h, Error e) mutable {
        providers::WrapResult r;
        if (e.ok()) r = {std::move(wrapped), identity};
        std::move(h)(std::move(e), std::move(r));
      });
}

void FakeProvider::unwrap_impl(const providers::CallOptions& options, ByteView context,
                               std::string_view key_version, ByteView wrapped,
                               asio::any_completion_handler<providers::UnwrapSignature> handler) {
  ++unwraps_;
  Behaviour b;
  {
    std::lock_guard lock(mutex_);
    b = unwrap_;
  }
  SecretBytes share;
  Error err;
  if (!owns_key_version(key_version)) {
    err = invalid_argument("not this fake's key: " + quote(key_version));
  } else if (wrapped.size() < 12 + 16) {
    err = integrity_error("wrapped share too short");
  } else {
    const std::size_t pad = std::min<std::size_t>(padding_, wrapped.size() - 28);
    auto opened = aead::open(key_.view(), wrapped.first(12), context,
                             wrapped.subspan(12, wrapped.size() - 12 - pad));
    if (opened.ok()) {
      share = std::move(opened.value());
      if (b.garbage) random_fill(share.span());
    } else {
      err = opened.error();
    }
  }
  run<providers::UnwrapSignature>(
      options, b, std::move(handler),
      [share = std::move(share), err](auto h, Error e) mutable {
        if (e.ok()) e = err;
        std::move(h)(std::move(e), e.ok() ? std::move(share) : SecretBytes());
      });
}

namespace {
constexpr std::string_view kLegacyContext = "trousseau.test/legacy";
}  // namespace

Bytes FakeProvider::legacy_seal(ByteView plaintext) const {
  Bytes out(12);
  random_fill(out);
  auto sealed = aead::seal(key_.view(), out, as_bytes(kLegacyContext), plaintext);
  if (!sealed.ok()) throw std::runtime_error(sealed.error().message());
  out.insert(out.end(), sealed->begin(), sealed->end());
  return out;
}

std::string FakeProvider::legacy_vault_text(ByteView plaintext) const {
  return "vault:v1:" + base64_encode(legacy_seal(plaintext));
}

void FakeProvider::legacy_decrypt_impl(const providers::CallOptions& options, ByteView ciphertext,
                                       asio::any_completion_handler<providers::UnwrapSignature> handler) {
  ++legacy_decrypts_;
  Behaviour b;
  {
    std::lock_guard lock(mutex_);
    b = unwrap_;
  }
  Bytes raw(ciphertext.begin(), ciphertext.end());
  const std::string_view text(reinterpret_cast<const char*>(ciphertext.data()), ciphertext.size());
  Error err;
  if (text.rfind("vault:v1:", 0) == 0 && !base64_decode(text.substr(9), raw)) {
    err = invalid_argument("malformed vault text");
  }
  SecretBytes plain;
  if (err.ok() && raw.size() < 12 + 16) {
    err = integrity_error("legacy ciphertext too short");
  } else if (err.ok()) {
    auto opened = aead::open(key_.view(), ByteView(raw).first(12), as_bytes(kLegacyContext),
                             ByteView(raw).subspan(12));
    if (opened.ok()) {
      plain = std::move(opened.value());
    } else {
      err = opened.error();
    }
  }
  run<providers::UnwrapSignature>(
      options, b, std::move(handler), [plain = std::move(plain), err](auto h, Error e) mutable {
        if (e.ok()) e = err;
        std::move(h)(std::move(e), e.ok() ? std::move(plain) : SecretBytes());
      });
}

void FakeProvider::probe_impl(const providers::CallOptions& options, asio::any_completion_handler<providers::ProbeSignature> handler) {
  ++probes_;
  Behaviour b;
  {
    std::lock_guard lock(mutex_);
    b = probe_;
    if (flip_ != Code::ok) {
      flip_state_ = !flip_state_;
      b.fail = flip_state_ ? flip_ : Code::ok;
    }
  }
  run<providers::ProbeSignature>(options, b, std::move(handler),
                                 [](auto h, Error e) { std::move(h)(std::move(e)); });
}

}  // namespace trousseau::testkit

namespace trousseau::testkit {
namespace {

struct FakeSettings final : providers::ProviderSettings {
  std::size_t padding = 0;
};

/// `type: fake` in a configuration: for server-level tests only.
class FakeFactory final : public providers::ProviderFactory {
 public:
  std::string_view type() const override { return "fake"; }
  std::unique_ptr<providers::ProviderSettings> parse(settings::Node& node) const override {
    auto s = std::make_unique<FakeSettings>();
    s->padding = static_cast<std::size_t>(node.integer("wrap_padding", 0, 0, 4096));
    return s;
  }
  Result<std::unique_ptr<providers::Provider>> create(
      const std::string& name, const providers::ProviderSettings& settings,
      const providers::ProviderContext& context) const override {
    auto p = std::make_unique<FakeProvider>(name, context.executor);
    p->set_wrap_padding(static_cast<const FakeSettings&>(settings).padding);
    return std::unique_ptr<providers::Provider>(std::move(p));
  }
};

TROUSSEAU_REGISTER_PROVIDER(FakeFactory)

}  // namespace
}  // namespace trousseau::testkit
