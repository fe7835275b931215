// Internal to the HTTP client: the state machine of one request, from the
// first attempt to the single completion.
#pragma once

#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <optional>

#include "common/clock.hpp"
#include "http/connection.hpp"

namespace trousseau::http {

/// Lives in a shared_ptr held by every pending handler, so the connection,
/// buffers and parser outlive the I/O that uses them. All steps run on
/// strand_; the cancellation slot handler only posts to it.
class Exchange : public std::enable_shared_from_this<Exchange> {
 public:
  using Handler = asio::any_completion_handler<ResponseSignature>;
  Exchange(std::shared_ptr<Client::Pool> pool, Request request, Deadline deadline,
           Handler handler);
  /// Called from the initiating function: hooks cancellation, then posts.
  void start();

 private:
  using BeastRequest = boost::beast::http::request<boost::beast::http::string_body>;
  using Parser = boost::beast::http::response_parser<boost::beast::http::string_body>;

  void begin();
  void attempt();
  void on_resolved(const boost::system::error_code& ec,
                   const asio::ip::tcp::resolver::results_type& results);
  void on_connected(const boost::system::error_code& ec);
  void send();
  void on_read(const boost::system::error_code& ec);
  void on_io_error(const boost::system::error_code& ec);
  void on_response(Response response);
  void retry_or_finish(Error error, Response response);
  void abort(Error error);
  void finish(Error error, Response response);
  /// Keeps Pool::waiting_to_retry counting this exchange while its backoff
  /// timer is armed.
  void set_parked(bool parked);
  /// Wraps a step so that it runs on the strand and is dropped once done_.
  template <typename F>
  auto step(F&& f);

  std::shared_ptr<Client::Pool> pool_;
  Request request_;
  BeastRequest wire_;
  Deadline deadline_;
  Handler handler_;
  asio::cancellation_slot slot_;
  asio::strand<asio::any_io_executor> strand_;
  Timer deadline_timer_;
  Timer backoff_timer_;
  std::unique_ptr<Connection> conn_;
  std::optional<Parser> parser_;
  const char* stage_ = "start";
  unsigned attempts_ = 0;
  bool reused_ = false;
  bool replaced_stale_ = false;
  bool parked_ = false;
  bool done_ = false;
};

}  // namespace trousseau::http
