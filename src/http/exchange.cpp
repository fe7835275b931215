#include "http/exchange.hpp"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <optional>

#include "common/completion.hpp"
#include "common/secret.hpp"
#include "http/response_reader.hpp"

namespace trousseau::http {

namespace beast = boost::beast;
using boost::system::error_code;

namespace {

std::string describe(const error_code& ec) {
  if (ec == beast::http::error::body_limit) return "response body too large";
  return ec.message();
}

}  // namespace

Exchange::Exchange(std::shared_ptr<Client::Pool> pool, Request request, Deadline deadline,
                   Handler handler)
    : pool_(std::move(pool)),
      request_(std::move(request)),
      deadline_(deadline),
      handler_(std::move(handler)),
      strand_(asio::make_strand(pool_->io)),
      deadline_timer_(strand_),
      backoff_timer_(strand_) {
  wire_.version(11);
  wire_.method_string(request_.method);
  wire_.target(request_.url.target);
  for (const Header& h : request_.headers) wire_.insert(h.name, h.value);
  if (request_.header("host") == nullptr) wire_.set(beast::http::field::host, request_.url.host_header());
  if (request_.header("user-agent") == nullptr) {
    wire_.set(beast::http::field::user_agent, "trousseau/" TROUSSEAU_VERSION);
  }
  wire_.keep_alive(true);
  wire_.body() = request_.body;
  wire_.prepare_payload();
}

template <typename F>
auto Exchange::step(F&& f) {
  return asio::bind_executor(
      strand_, [self = shared_from_this(), f = std::forward<F>(f)](auto&&... args) mutable {
        if (self->done_) return;  // the deadline or a cancellation got there first
        f(*self, std::forward<decltype(args)>(args)...);
      });
}

void Exchange::start() {
  slot_ = asio::get_associated_cancellation_slot(handler_);
  if (slot_.is_connected()) {
    // Runs on the emitter's thread: only hop to the strand from here.
    slot_.assign([weak = weak_from_this(), strand = strand_](asio::cancellation_type type) {
      if ((type & (asio::cancellation_type::terminal | asio::cancellation_type::partial |
                   asio::cancellation_type::total)) == asio::cancellation_type::none) {
        return;
      }
      asio::post(strand, [weak] {
        if (auto self = weak.lock(); self && !self->done_) {
          self->abort(Error(Code::cancelled, self->request_.url.origin() + ": cancelled during " +
                                                 self->stage_));
        }
      });
    });
  }
  asio::post(strand_, [self = shared_from_this()] { self->begin(); });
}

void Exchange::begin() {
  if (done_) return;
  if (!request_.url.tls() && !pool_->options.allow_plain_http) {
    return finish(Error(Code::failed_precondition,
                        "refusing plain http to " + request_.url.origin() +
                            ": only https is allowed"),
                  {});
  }
  if (Clock::now() >= deadline_) {
    return finish(Error(Code::deadline_exceeded,
                        request_.url.origin() + ": deadline passed before the request started"),
                  {});
  }
  deadline_timer_.expires_at(deadline_);
  deadline_timer_.async_wait(step([](Exchange& self, error_code ec) {
    if (ec) return;  // cancelled by finish()
    self.abort(Error(Code::deadline_exceeded,
                     self.request_.url.origin() + ": deadline exceeded during " + self.stage_ +
                         " (attempt " + std::to_string(self.attempts_ + 1) + ")"));
  }));
  attempt();
}

void Exchange::attempt() {
  parser_.reset();
  conn_ = pool_->take(request_.url.origin());
  reused_ = conn_ != nullptr;
  if (reused_) return send();
  conn_ = pool_->connect_new(request_.url);
  stage_ = "resolve";
  conn_->resolver().async_resolve(
      request_.url.host, std::to_string(request_.url.port),
      step([](Exchange& self, error_code ec, asio::ip::tcp::resolver::results_type results) {
        self.on_resolved(ec, results);
      }));
}

void Exchange::on_resolved(const error_code& ec,
                           const asio::ip::tcp::resolver::results_type& results) {
  if (ec) return on_io_error(ec);
  stage_ = "connect";
  asio::async_connect(conn_->socket(), results,
                      step([](Exchange& self, error_code e, const asio::ip::tcp::endpoint&) {
                        self.on_connected(e);
                      }));
}

void Exchange::on_connected(const error_code& ec) {
  if (ec) return on_io_error(ec);
  error_code ignored;
  conn_->socket().set_option(asio::ip::tcp::no_delay(true), ignored);
  if (!conn_->tls()) return send();
  const std::string& name =
      pool_->options.server_name.empty() ? request_.url.host : pool_->options.server_name;
  if (Error e = conn_->prepare_tls(name); !e.ok()) return finish(e, {});
  stage_ = "TLS handshake";
  conn_->tls_stream().async_handshake(
      asio::ssl::stream_base::client, step([](Exchange& self, error_code e) {
        if (e) return self.on_io_error(e);
        self.send();
      }));
}

void Exchange::send() {
  stage_ = "write";
  parser_.emplace();
  parser_->body_limit(pool_->options.max_response_body);
  conn_->visit([this](auto& stream) {
    beast::http::async_write(
        stream, wire_, step([](Exchange& self, error_code ec, std::size_t) {
          if (ec) return self.on_io_error(ec);
          self.stage_ = "read";
          self.conn_->visit([&self](auto& s) {
            beast::http::async_read(s, self.conn_->buffer(), *self.parser_,
                                    self.step([](Exchange& me, error_code e, std::size_t) {
                                      me.on_read(e);
                                    }));
          });
        }));
  });
}

void Exchange::on_read(const error_code& ec) {
  if (ec) return on_io_error(ec);
  auto& msg = parser_->get();
  const bool keep = msg.keep_alive();
  Response response = take_response(msg);
  parser_.reset();
  if (request_.sensitive) conn_->scrub();
  if (keep) {
    pool_->give_back(std::move(conn_));
  } else {
    conn_->close();  // no I/O is pending on it: safe to drop now
    conn_.reset();
  }
  on_response(std::move(response));
}

void Exchange::on_io_error(const error_code& ec) {
  const bool got_bytes = parser_ && parser_->got_some();
  const bool before_response = stage_ == std::string_view("write") ||
                               (stage_ == std::string_view("read") && !got_bytes);
  Error error = unavailable(request_.url.origin() + ": " + stage_ + " failed: " + describe(ec));
  const bool tls_failure = ec.category() == asio::error::get_ssl_category() ||
                           ec == asio::ssl::error::stream_truncated;
  conn_->close();
  conn_.reset();
  parser_.reset();
  if (reused_ && before_response && !replaced_stale_) {
    // The server closed an idle keep-alive connection: not a real attempt.
    replaced_stale_ = true;
    return attempt();
  }
  if (tls_failure && stage_ == std::string_view("TLS handshake")) {
    return finish(error, {});  // a certificate problem does not go away by retrying
  }
  retry_or_finish(std::move(error), {});
}

void Exchange::on_response(Response response) {
  if (response.status >= 500) {
    Error error = unavailable(request_.url.origin() + ": HTTP " + std::to_string(response.status));
    return retry_or_finish(std::move(error), std::move(response));
  }
  if (retryable_status(response.status) || (request_.retry_if && request_.retry_if(response))) {
    return retry_or_finish({}, std::move(response));
  }
  finish({}, std::move(response));
}

void Exchange::retry_or_finish(Error error, Response response) {
  ++attempts_;
  const RetryPolicy& policy = pool_->options.retry;
  if (attempts_ >= policy.max_attempts) {
    if (!error.ok()) error = error.prefixed("after " + std::to_string(attempts_) + " attempts");
    return finish(std::move(error), std::move(response));
  }
  Clock::duration pause = pool_->options.backoff(policy, attempts_ - 1);
  // A server that says when to come back (Retry-After in seconds, as Azure
  // sends with 429 and 503) is not asked sooner; if that is past the
  // deadline, the answer stands now.
  if (std::optional<std::chrono::seconds> after = retry_after(response); after && *after > pause) {
    pause = *after;
  }
  if (Clock::now() + pause >= deadline_) {
    return finish(std::move(error), std::move(response));  // no time for another try
  }
  stage_ = "backoff";
  backoff_timer_.expires_after(pause);
  backoff_timer_.async_wait(step([](Exchange& self, error_code ec) {
    self.set_parked(false);
    if (!ec) self.attempt();
  }));
  set_parked(true);  // only now: a test that sees it may move the clock
}

void Exchange::set_parked(bool parked) {
  if (parked == parked_) return;
  parked_ = parked;
  if (parked) {
    ++pool_->waiting_to_retry;
  } else {
    --pool_->waiting_to_retry;
  }
}

void Exchange::abort(Error error) {
  if (conn_) conn_->close();  // pending handlers complete with operation_aborted
  finish(std::move(error), {});
}

void Exchange::finish(Error error, Response response) {
  if (done_) return;
  done_ = true;
  deadline_timer_.cancel();
  backoff_timer_.cancel();
  set_parked(false);  // the cancelled wait's handler is dropped: done_
  if (conn_) conn_->close();  // the handlers still pending hold us alive until they run
  if (request_.sensitive) {
    secure_wipe(request_.body);
    secure_wipe(wire_.body());
    // A bearer token travels in Authorization. Beast keeps each field in a
    // heap block of its own, which it would free unwiped: wipe it in place.
    for (Header& h : request_.headers) {
      if (iequals(h.name, "Authorization")) secure_wipe(h.value);
    }
    for (auto& field : wire_) {
      if (field.name() != beast::http::field::authorization) continue;
      const std::string_view v = field.value();
      secure_wipe(std::span<std::uint8_t>(
          reinterpret_cast<std::uint8_t*>(const_cast<char*>(v.data())), v.size()));
    }
  }
  complete_on_executor(std::move(handler_), pool_->io, std::move(error), std::move(response));
}

}  // namespace trousseau::http
