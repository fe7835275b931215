#include "providers/kmip/client.hpp"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <array>
#include <cstring>
#include <mutex>
#include <new>

namespace trousseau::providers::kmip {

using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace detail {

/// One TLS connection to the server and the version it negotiated.
struct Connection {
  Connection(const asio::any_io_executor& io, asio::ssl::context& tls) : resolver(io), stream(io, tls) {}
  /// Aborts whatever is in flight: resolve, connect, handshake, read, write.
  void close() {
    error_code ec;
    resolver.cancel();
    stream.next_layer().shutdown(tcp::socket::shutdown_both, ec);
    stream.next_layer().close(ec);
  }
  tcp::resolver resolver;
  asio::ssl::stream<tcp::socket> stream;
  ProtocolVersion version{};
  Clock::time_point idle_since{};
};

}  // namespace detail

struct Client::Pool {
  Pool(asio::any_io_executor io_, ClientOptions options_, asio::ssl::context tls_)
      : io(std::move(io_)),
        options(std::move(options_)),
        tls(std::move(tls_)),
        endpoint(options.host.find(':') == std::string::npos
                     ? options.host + ":" + std::to_string(options.port)
                     : "[" + options.host + "]:" + std::to_string(options.port)) {}

  /// The most recently used idle connection that is young enough, or null.
  std::unique_ptr<detail::Connection> take() {
    std::lock_guard lock(mutex);
    const auto now = Clock::now();
    while (!idle.empty()) {
      std::unique_ptr<detail::Connection> c = std::move(idle.back());
      idle.pop_back();
      if (now - c->idle_since < options.idle_timeout) return c;
      c->close();
    }
    return nullptr;
  }

  void give_back(std::unique_ptr<detail::Connection> c) {
    c->idle_since = Clock::now();
    std::lock_guard lock(mutex);
    if (idle.size() >= options.max_idle) return c->close();
    idle.push_back(std::move(c));
  }

  std::unique_ptr<detail::Connection> make() {
    opened.fetch_add(1, std::memory_order_relaxed);
    return std::make_unique<detail::Connection>(io, tls);
  }

  const asio::any_io_executor io;
  const ClientOptions options;
  asio::ssl::context tls;
  const std::string endpoint;
  mutable std::mutex mutex;
  std::vector<std::unique_ptr<detail::Connection>> idle;  ///< under mutex
  std::atomic<std::size_t> opened{0};
};

namespace {

std::string describe(const error_code& ec) {
  if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) {
    return "the server closed the connection";
  }
  return ec.message();
}

/// The state of one call(), from taking a connection to the single
/// completion. Lives in a shared_ptr held by every pending handler; every
/// step runs on the operation's strand.
class Call : public std::enable_shared_from_this<Call> {
 public:
  Call(std::shared_ptr<Client::Pool> pool, std::shared_ptr<OperationState> op, Client::Build build,
       Clock::time_point deadline, Client::Done done)
      : pool_(std::move(pool)),
        op_(std::move(op)),
        build_(std::move(build)),
        deadline_(deadline),
        done_(std::move(done)),
        timer_(op_->strand()) {}

  void start() {
    asio::post(op_->strand(), [self = shared_from_this()] { self->begin(); });
  }

 private:
  template <typename F>
  auto step(F&& f) {
    return asio::bind_executor(
        op_->strand(), [self = shared_from_this(), f = std::forward<F>(f)](auto&&... args) mutable {
          if (self->finished_) return;  // the deadline or a cancellation got there first
          f(*self, std::forward<decltype(args)>(args)...);
        });
  }

  void begin() {
    if (op_->cancelled()) return finish(Error(Code::cancelled, pool_->endpoint + ": cancelled"));
    if (Clock::now() >= deadline_) {
      return finish(Error(Code::deadline_exceeded,
                          pool_->endpoint + ": deadline passed before the request started"));
    }
    op_->child_slot().assign([weak = weak_from_this()](asio::cancellation_type type) {
      if ((type & (asio::cancellation_type::terminal | asio::cancellation_type::partial |
                   asio::cancellation_type::total)) == asio::cancellation_type::none) {
        return;
      }
      // Never complete from inside the slot's handler: the completion may
      // start the operation's next call, which assigns this slot again.
      if (auto self = weak.lock()) {
        asio::post(self->op_->strand(), [self] {
          if (!self->finished_) {
            self->abort(Error(Code::cancelled, self->pool_->endpoint + ": cancelled during " + self->stage_));
          }
        });
      }
    });
    timer_.expires_at(deadline_);
    timer_.async_wait(step([](Call& self, error_code ec) {
      if (ec) return;  // cancelled by finish()
      self.abort(Error(Code::deadline_exceeded,
                       self.pool_->endpoint + ": deadline exceeded during " + self.stage_));
    }));
    conn_ = pool_->take();
    if (conn_ == nullptr) return open_new();
    reused_ = true;
    send_request();
  }

  void open_new() {
    reused_ = false;
    conn_ = pool_->make();
    stage_ = "resolve";
    conn_->resolver.async_resolve(
        pool_->options.host, std::to_string(pool_->options.port),
        step([](Call& self, error_code ec, const tcp::resolver::results_type& results) {
          if (ec) return self.on_io_error(ec);
          self.stage_ = "connect";
          asio::async_connect(self.conn_->stream.next_layer(), results,
                              self.step([](Call& s, error_code e, const tcp::endpoint&) {
                                s.on_connected(e);
                              }));
        }));
  }

  void on_connected(const error_code& ec) {
    if (ec) return on_io_error(ec);
    error_code ignored;
    conn_->stream.next_layer().set_option(tcp::no_delay(true), ignored);
    const ClientOptions& o = pool_->options;
    if (Error e = http::verify_peer(conn_->stream, o.server_name.empty() ? o.host : o.server_name);
        !e.ok()) {
      return abort(std::move(e));
    }
    stage_ = "TLS handshake";
    conn_->stream.async_handshake(asio::ssl::stream_base::client,
                                  step([](Call& self, error_code e) {
                                    if (e) return self.on_io_error(e);
                                    self.discover();
                                  }));
  }

  void discover() {
    stage_ = "Discover Versions";
    discovering_ = true;
    request_.clear();
    discover_versions(request_, pool_->options.versions);
    write_and_read();
  }

  void send_request() {
    stage_ = "request";
    request_.clear();
    // Reserved once: a request may hold a share, and a reallocation would
    // leave a copy behind where the wipe cannot reach it.
    request_.reserve(8192);
    if (Error e = build_(conn_->version, request_); !e.ok()) {
      pool_->give_back(std::move(conn_));  // nothing was sent on it
      return finish(std::move(e));
    }
    write_and_read();
  }

  void write_and_read() {
    response_started_ = false;
    asio::async_write(conn_->stream, asio::buffer(request_),
                      step([](Call& self, error_code ec, std::size_t) {
                        secure_wipe(self.request_);
                        if (ec) return self.on_io_error(ec);
                        asio::async_read(self.conn_->stream, asio::buffer(self.header_),
                                         self.step([](Call& s, error_code e, std::size_t) {
                                           s.on_header(e);
                                         }));
                      }));
  }

  void on_header(const error_code& ec) {
    if (ec) return on_io_error(ec);
    response_started_ = true;
    Result<std::size_t> size = message_size(header_, pool_->options.limits);
    if (!size.ok()) return abort(size.error().prefixed(pool_->endpoint));
    try {
      response_ = SecretBytes(*size);
    } catch (const std::bad_alloc&) {
      return abort(Error(Code::resource_exhausted, "no locked memory for a KMIP response"));
    }
    std::memcpy(response_.data(), header_.data(), header_.size());
    if (*size == header_.size()) return on_message();
    asio::async_read(conn_->stream,
                     asio::buffer(response_.data() + header_.size(), *size - header_.size()),
                     step([](Call& self, error_code e, std::size_t) {
                       if (e) return self.on_io_error(e);
                       self.on_message();
                     }));
  }

  void on_message() {
    if (!discovering_) {
      version_ = conn_->version;
      pool_->give_back(std::move(conn_));
      return finish(Error());
    }
    discovering_ = false;
    Result<std::vector<ProtocolVersion>> theirs =
        parse_discover_versions(response_.view(), pool_->options.versions, pool_->options.limits);
    response_ = SecretBytes();
    if (!theirs.ok()) return abort(theirs.error().prefixed(pool_->endpoint));
    Result<ProtocolVersion> v = negotiate(pool_->options.versions, *theirs);
    if (!v.ok()) return abort(v.error().prefixed(pool_->endpoint));
    conn_->version = *v;
    send_request();
  }

  void on_io_error(const error_code& ec) {
    if (finished_) return;
    // A kept-alive connection the server has closed meanwhile (a restart,
    // an idle timeout) fails at the first write or read: one new
    // connection, not counted as a failure.
    if (reused_ && !replaced_ && !response_started_) {
      // Nothing is pending on the old connection (one operation at a time,
      // and this is its completion): it may go.
      replaced_ = true;
      conn_->close();
      return open_new();
    }
    abort(Error(Code::unavailable, pool_->endpoint + ": " + stage_ + " failed: " + describe(ec)));
  }

  void abort(Error error) {
    // Closed, not freed: an operation still pending on it (a handshake, a
    // read) completes later with operation_aborted and touches the stream's
    // buffers. The call owns the connection until its last handler has run
    // (every handler holds the call), and never gives it back to the pool.
    if (conn_ != nullptr) conn_->close();
    finish(std::move(error));
  }

  void finish(Error error) {
    if (finished_) return;
    finished_ = true;
    timer_.cancel();
    op_->child_slot().clear();
    secure_wipe(request_);
    if (!error.ok()) response_ = SecretBytes();
    // Not inline: begin() runs from a post, every other step from I/O.
    Client::Done done = std::move(done_);
    done(std::move(error), version_, std::move(response_));
  }

  std::shared_ptr<Client::Pool> pool_;
  std::shared_ptr<OperationState> op_;
  Client::Build build_;
  Clock::time_point deadline_;
  Client::Done done_;
  Timer timer_;
  std::unique_ptr<detail::Connection> conn_;
  Bytes request_;
  std::array<std::uint8_t, 8> header_{};
  SecretBytes response_;
  ProtocolVersion version_{};  ///< the one the response was read in
  const char* stage_ = "start";
  bool reused_ = false;
  bool replaced_ = false;
  bool discovering_ = false;
  bool response_started_ = false;
  bool finished_ = false;
};

}  // namespace

Result<std::shared_ptr<Client>> Client::create(asio::any_io_executor io, ClientOptions options) {
  Result<asio::ssl::context> tls = http::make_tls_context(options.tls);
  if (!tls.ok()) return tls.error();
  auto pool = std::make_shared<Pool>(std::move(io), std::move(options), std::move(tls).value());
  return std::shared_ptr<Client>(new Client(std::move(pool)));
}

Client::Client(std::shared_ptr<Pool> pool) : pool_(std::move(pool)) {}

Client::~Client() {
  std::lock_guard lock(pool_->mutex);
  for (auto& c : pool_->idle) c->close();
  pool_->idle.clear();
}

void Client::call(const std::shared_ptr<OperationState>& op, Build build, Clock::time_point deadline,
                  Done done) {
  std::make_shared<Call>(pool_, op, std::move(build), deadline, std::move(done))->start();
}

const ClientOptions& Client::options() const { return pool_->options; }
const std::string& Client::endpoint() const { return pool_->endpoint; }

std::size_t Client::idle_count() const {
  std::lock_guard lock(pool_->mutex);
  return pool_->idle.size();
}

std::size_t Client::connections_opened() const {
  return pool_->opened.load(std::memory_order_relaxed);
}

}  // namespace trousseau::providers::kmip
