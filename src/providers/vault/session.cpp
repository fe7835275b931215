#include "providers/vault/session.hpp"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>

#include "common/completion.hpp"
#include "common/file.hpp"
#include "common/log.hpp"
#include "common/text.hpp"

namespace trousseau::providers::vault {

namespace {

/// Token and JWT files are written by other systems (Vault Agent, a
/// Kubernetes projected volume: 0644 behind symlinks) and rotate: read them
/// again when needed, with no mode or owner check.
constexpr SecretFileRules file_rules(std::string_view what) {
  return {.what = what,
          .max_size = 64 * 1024,
          .follow_symlinks = true,
          .private_mode = false,
          .owner_check = false};
}

/// The file's content without its trailing line break, as a Token.
Result<Token> read_trimmed(const std::string& path, std::string_view what) {
  Result<SecretBytes> content = read_secret_file(path, file_rules(what));
  if (!content.ok()) return content.error();
  std::string_view text = as_chars(content->view());
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.remove_suffix(1);
  }
  if (text.empty()) return Error(Code::failed_precondition, std::string(what) + " " + path + " is empty");
  return Token(std::make_shared<const SecretBytes>(as_bytes(text)));
}

/// {"<k1>":"<v1>","<k2>":"<secret>"}, the secret escaped straight into a
/// buffer reserved for the worst case, so that no temporary holding it is
/// freed unwiped.
std::string login_body(std::string_view k1, const std::string& v1, std::string_view k2,
                       const SecretBytes& secret) {
  const std::string head = "{\"" + std::string(k1) + "\":" + json_string(v1) + ",\"" +
                           std::string(k2) + "\":\"";
  std::string body;
  body.reserve(head.size() + secret.size() * 6 + 2);
  body += head;
  static constexpr char kHex[] = "0123456789abcdef";
  for (std::uint8_t c : secret.view()) {
    if (c == '"' || c == '\\') {
      body += '\\';
      body += static_cast<char>(c);
    } else if (c < 0x20) {
      body += "\\u00";
      body += kHex[c >> 4];
      body += kHex[c & 0xf];
    } else {
      body += static_cast<char>(c);
    }
  }
  body += "\"}";
  return body;
}

/// Sends `req` and hands the answer's grant to `done`.
void exchange_for_grant(VaultClient& client, http::Request req, std::string what,
                        http::Deadline deadline, Token lookup_token, GrantCallback done) {
  client.http().async_request(
      std::move(req), deadline,
      [what = std::move(what), lookup_token = std::move(lookup_token),
       done = std::move(done)](Error e, http::Response r) mutable {
        if (e.ok() && (r.status == 200)) {
          Result<Grant> g = lookup_token ? parse_lookup_answer(r.body, lookup_token)
                                         : parse_auth_answer(r.body);
          if (!g.ok()) return done(g.error().prefixed(what), Grant());
          return done(Error(), std::move(g).value());
        }
        Error err = e.ok() || r.status >= 500 ? map_vault_error(what, r) : e.prefixed(what);
        secure_wipe(r.body);
        done(std::move(err), Grant());
      });
}

/// What a failed login means for the calls waiting on it. Vault turning
/// our credentials down is permission_denied, whatever status it used (a
/// 400 "invalid role or secret ID"), never "bad data" that would not count
/// against the provider's health; a time-out or cancellation stays what it
/// is; the rest is unavailable.
Error login_failure(Error error) {
  switch (error.code()) {
    case Code::ok:
    case Code::permission_denied:
    case Code::unavailable:
    case Code::failed_precondition:
    case Code::deadline_exceeded:
    case Code::cancelled:
      return error;
    case Code::invalid_argument:
    case Code::integrity:
      return Error(Code::permission_denied, error.message());
    default:
      return unavailable(error.message());
  }
}

}  // namespace

Result<Token> read_token_file(const std::string& path) { return read_trimmed(path, "token file"); }

void obtain_token(VaultClient& client, const AuthSettings& auth, Token from_file,
                  http::Deadline deadline, GrantCallback done) {
  const std::string login = "auth/" + auth.mount + "/login";
  if (auth.method == "token") {
    http::Request req = client.request("GET", "auth/token/lookup-self", "", from_file, true);
    return exchange_for_grant(client, std::move(req), "token lookup-self", deadline, from_file,
                              std::move(done));
  }
  std::string body;
  if (auth.method == "approle") {
    Result<Token> secret_id = read_trimmed(auth.secret_id_file, "secret_id file");
    if (!secret_id.ok()) return done(secret_id.error().prefixed("approle login"), Grant());
    body = login_body("role_id", auth.role_id, "secret_id", **secret_id);
  } else if (auth.method == "kubernetes" || auth.method == "jwt") {
    Result<Token> jwt = read_trimmed(auth.jwt_file, "JWT file");
    if (!jwt.ok()) return done(jwt.error().prefixed(auth.method + " login"), Grant());
    body = login_body("role", auth.role, "jwt", **jwt);
  } else {  // cert: the client certificate of the TLS connection logs in
    body = auth.role.empty() ? "{}" : "{\"name\":" + json_string(auth.role) + "}";
  }
  http::Request req = client.request("POST", login, std::move(body), nullptr, true);
  exchange_for_grant(client, std::move(req), auth.method + " login", deadline, nullptr,
                     std::move(done));
}

Session::Session(asio::any_io_executor executor, std::shared_ptr<VaultClient> client,
                 AuthSettings auth, std::string provider, std::unique_ptr<FileWatch> watch,
                 std::uint64_t loaded_generation)
    : executor_(executor),
      strand_(asio::make_strand(executor)),
      client_(std::move(client)),
      auth_(std::move(auth)),
      provider_(std::move(provider)),
      watch_(std::move(watch)),
      loaded_generation_(loaded_generation),
      timer_(strand_),
      waiters_(executor, Error(Code::cancelled, "cancelled while waiting for a Vault token"),
               Error(Code::deadline_exceeded, "deadline exceeded while logging in to Vault")) {}

Session::~Session() = default;

void Session::adopt(Result<Grant> first) {
  std::lock_guard lock(mutex_);
  if (first.ok()) {
    token_ = first->token;
    ++stats_.logins;
    schedule_locked(*first);
    log::info("Vault token obtained", {{"provider", provider_},
                                       {"method", auth_.method},
                                       {"ttl_s", static_cast<std::int64_t>(first->ttl.count())},
                                       {"renewable", first->renewable}});
  } else {
    fail_locked(login_failure(first.error()));
    retry_after_ = {};  // the first call may try again at once
  }
}

void Session::stop() {
  std::lock_guard lock(mutex_);
  stopped_ = true;
  ++timer_epoch_;
  asio::post(strand_, [self = shared_from_this()] { self->timer_.cancel(); });
}

void Session::check_token(vault::Token token) {
  http::Request req = client_->request("GET", "auth/token/lookup-self", "", token, true);
  exchange_for_grant(*client_, std::move(req), "token lookup-self",
                     Clock::now() + kBackgroundBudget, token,
                     [self = shared_from_this(), token](Error e, Grant) {
                       asio::post(self->strand_, [self, token, e = std::move(e)]() mutable {
                         self->checked(std::move(token), std::move(e));
                       });
                     });
}

void Session::checked(vault::Token token, Error error) {
  std::lock_guard lock(mutex_);
  checking_ = false;
  // Only a refusal of the token itself condemns it; an outage says nothing.
  if (error.code() == Code::permission_denied && token == token_ && !stopped_) {
    token_dead_locked(error.message());
  }
}

void Session::token_dead_locked(const std::string& why) {
  token_.reset();
  ++timer_epoch_;
  renew_at_ = expires_at_ = Clock::time_point::max();
  fail_locked(Error(Code::permission_denied,
                    "Vault refuses the token from " + auth_.token_file +
                        " (revoked or expired): " + why + "; waiting for the file to change"));
}

Session::Stats Session::stats() const {
  std::lock_guard lock(mutex_);
  Stats s = stats_;
  s.failed = !failure_.ok();
  s.reason = failure_.message();
  return s;
}

bool Session::file_changed_locked() const {
  return watch_ != nullptr && watch_->generation() != loaded_generation_;
}

void Session::token_impl(http::Deadline deadline,
                         asio::any_completion_handler<TokenSignature> handler) {
  std::unique_lock lock(mutex_);
  const bool token_method = auth_.method == "token";
  const bool reload = token_method && file_changed_locked();
  if (!reload && token_ && failure_.ok()) {
    Token t = token_;
    lock.unlock();
    return post_completion(executor_, std::move(handler), Error(), std::move(t));
  }
  // A token file's token that Vault refused waits for the file to change;
  // any other failure (a refused login, Vault down) is tried again after
  // its hold-off. Neither is retried on every call.
  const bool retry = !token_method || failure_.code() != Code::permission_denied;
  if (!reload && !logging_in_ && (!retry || Clock::now() < retry_after_)) {
    Error e = failure_.ok() ? unavailable("no Vault token") : failure_;
    lock.unlock();
    return post_completion(executor_, std::move(handler), std::move(e), Token());
  }
  waiters_.push(std::move(handler), deadline);
  const bool start = !logging_in_;
  logging_in_ = true;
  lock.unlock();
  if (start) begin_login(deadline);
}

void Session::begin_login(http::Deadline deadline) {
  Token from_file;
  if (auth_.method == "token") {
    std::uint64_t generation = 0;
    if (watch_) {
      generation = watch_->generation();
      watch_->rearm();  // before reading: a change from here on bumps it again
    }
    Result<Token> read = read_token_file(auth_.token_file);
    if (!read.ok()) {
      return asio::post(strand_, [self = shared_from_this(), e = read.error()] {
        self->logged_in(e, Grant());
      });
    }
    {
      std::lock_guard lock(mutex_);
      loaded_generation_ = generation;
    }
    from_file = std::move(read).value();
  }
  obtain_token(*client_, auth_, std::move(from_file), deadline,
               [self = shared_from_this()](Error e, Grant g) {
                 asio::post(self->strand_, [self, e = std::move(e), g = std::move(g)]() mutable {
                   self->logged_in(std::move(e), std::move(g));
                 });
               });
}

void Session::logged_in(Error error, Grant grant) {
  error = login_failure(std::move(error));
  WaiterQueue<TokenSignature>::Waiters served;
  Token token;
  {
    std::lock_guard lock(mutex_);
    logging_in_ = false;
    if (error.ok()) {
      const bool recovered = !failure_.ok();
      token_ = grant.token;
      token = token_;
      failure_ = {};
      logged_failure_.clear();
      retry_after_ = {};
      ++stats_.logins;
      schedule_locked(grant);
      if (recovered) {
        log::info("Vault token usable again", {{"provider", provider_}, {"method", auth_.method}});
      } else {
        log::debug("Vault token obtained", {{"provider", provider_}, {"method", auth_.method}});
      }
    } else if (error.code() == Code::deadline_exceeded || error.code() == Code::cancelled) {
      // The budget of whoever started the login ran out: that says nothing
      // about Vault. No hold-off, nothing logged; the next caller tries again.
    } else {
      if (auth_.method == "token") token_.reset();
      fail_locked(error);
    }
    served = waiters_.take_all();
  }
  for (auto& w : served) {
    post_completion(executor_, std::move(w.handler), token ? Error() : error, token);
  }
}

void Session::fail_locked(Error error) {
  failure_ = error;
  retry_after_ = Clock::now() + kLoginHoldOff;
  if (error.message() != logged_failure_) {
    logged_failure_ = error.message();
    log::error("Vault token unusable", {{"provider", provider_},
                                        {"method", auth_.method},
                                        {"error", error.message()}});
  }
}

void Session::schedule_locked(const Grant& grant) {
  renewable_ = grant.renewable;
  if (grant.ttl.count() <= 0) {  // a token without a TTL (e.g. root): nothing to do
    renew_at_ = expires_at_ = Clock::time_point::max();
    ++timer_epoch_;
    return;
  }
  const Clock::time_point now = Clock::now();
  expires_at_ = now + grant.ttl;
  renew_at_ = now + std::chrono::duration_cast<Clock::duration>(grant.ttl) * 2 / 3;
  arm_locked(renew_at_);
}

void Session::arm_locked(Clock::time_point at) {
  if (stopped_) return;
  const std::uint64_t epoch = ++timer_epoch_;
  asio::post(strand_, [weak = weak_from_this(), at, epoch] {
    auto self = weak.lock();
    if (!self) return;
    self->timer_.expires_at(at);
    self->timer_.async_wait([weak, epoch](boost::system::error_code ec) {
      if (ec) return;
      auto me = weak.lock();
      if (!me) return;
      {
        std::lock_guard lock(me->mutex_);
        if (epoch != me->timer_epoch_ || me->stopped_) return;
      }
      me->on_timer();
    });
  });
}

void Session::on_timer() {
  Token token;
  http::Deadline deadline;
  bool relogin = false;
  {
    std::lock_guard lock(mutex_);
    const Clock::time_point now = Clock::now();
    if (now >= expires_at_) {
      // fall through to expired(), outside the lock
    } else if (renewable_ && token_ && !renewing_) {
      renewing_ = true;
      token = token_;
      deadline = std::min(now + kBackgroundBudget, expires_at_);
    } else if (auth_.method != "token" && !logging_in_) {
      logging_in_ = relogin = true;
      deadline = std::min(now + kBackgroundBudget, expires_at_);
    } else {
      arm_locked(expires_at_);
      return;
    }
  }
  if (!token && !relogin) return expired();
  if (relogin) return begin_login(deadline);
  http::Request req = client_->request("POST", "auth/token/renew-self", "{}", token, true);
  exchange_for_grant(*client_, std::move(req), "token renew-self", deadline, nullptr,
                     [self = shared_from_this()](Error e, Grant g) {
                       asio::post(self->strand_, [self, e = std::move(e), g = std::move(g)]() mutable {
                         self->renewed(std::move(e), std::move(g));
                       });
                     });
}

void Session::renewed(Error error, Grant grant) {
  bool relogin = false;
  http::Deadline deadline{};
  {
    std::lock_guard lock(mutex_);
    renewing_ = false;
    if (stopped_) return;
    const Clock::time_point now = Clock::now();
    if (error.ok() && grant.ttl.count() > 0) {
      ++stats_.renewals;
      grant.token = token_;  // renew-self answers with the same token
      schedule_locked(grant);
      log::debug("Vault token renewed", {{"provider", provider_},
                                         {"ttl_s", static_cast<std::int64_t>(grant.ttl.count())}});
      return;
    }
    if (error.ok()) error = unavailable("token renew-self: Vault granted no more time");
    if (is_transient(error.code()) && error.code() != Code::cancelled &&
        expires_at_ - now > std::chrono::seconds(2)) {
      // Vault was busy or away: try again halfway to the expiry.
      arm_locked(now + (expires_at_ - now) / 2);
      return;
    }
    if (auth_.method != "token" && !logging_in_) {
      logging_in_ = relogin = true;
      deadline = std::min(now + kBackgroundBudget, expires_at_);
    } else if (auth_.method == "token" && error.code() == Code::permission_denied) {
      token_dead_locked(error.message());
      return;
    } else {
      renewable_ = false;
      if (logged_failure_ != error.message()) {
        logged_failure_ = error.message();
        log::warn("Vault token cannot be renewed; it will be used until it expires",
                  {{"provider", provider_}, {"error", error.message()}});
      }
      arm_locked(expires_at_);
    }
  }
  if (relogin) begin_login(deadline);
}

void Session::expired() {
  bool relogin = false;
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
    token_.reset();
    renew_at_ = expires_at_ = Clock::time_point::max();
    if (auth_.method == "token") {
      fail_locked(Error(Code::permission_denied,
                        "the Vault token from " + auth_.token_file +
                            " expired (its TTL ended); waiting for the file to change"));
    } else if (!logging_in_) {
      logging_in_ = relogin = true;
    }
  }
  if (relogin) begin_login(Clock::now() + kBackgroundBudget);
}

bool Session::refused(const vault::Token& used) {
  std::unique_lock lock(mutex_);
  if (auth_.method == "token") {
    if (file_changed_locked()) return true;
    const bool check = used && used == token_ && !checking_ && !stopped_;
    if (check) checking_ = true;
    lock.unlock();
    if (check) check_token(used);
    return false;
  }
  if (used && used == token_) {
    token_.reset();
    ++timer_epoch_;  // the timer belonged to the dropped token
    retry_after_ = {};
  }
  return true;
}

}  // namespace trousseau::providers::vault
