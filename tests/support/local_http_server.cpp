#include "support/local_http_server.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <set>
#include <strings.h>

#include "support/wait.hpp"

namespace trousseau::testkit {

namespace {

std::mutex g_fds_mutex;

struct Conn {
  int fd;
  SSL* ssl;
  ssize_t read(char* p, std::size_t n) {
    if (ssl == nullptr) return ::recv(fd, p, n, 0);
    int r = SSL_read(ssl, p, static_cast<int>(n));
    return r > 0 ? r : (SSL_get_error(ssl, r) == SSL_ERROR_ZERO_RETURN ? 0 : -1);
  }
  bool write(const std::string& s) {
    if (ssl != nullptr) return SSL_write(ssl, s.data(), static_cast<int>(s.size())) > 0;
    return ::send(fd, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size());
  }
};

std::size_t content_length(const std::string& head) {
  std::size_t pos = 0;
  while ((pos = head.find("\r\n", pos)) != std::string::npos) {
    pos += 2;
    static constexpr std::string_view kName = "content-length:";
    if (strncasecmp(head.c_str() + pos, kName.data(), kName.size()) == 0) {
      return std::stoul(head.substr(pos + kName.size()));
    }
  }
  return 0;
}

}  // namespace

LocalHttpServer::LocalHttpServer(const TestPki* tls, const std::string& client_ca) {
  std::signal(SIGPIPE, SIG_IGN);
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, SOMAXCONN) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ADD_FAILURE() << "cannot listen on 127.0.0.1";
  }
  port_ = ntohs(addr.sin_port);
  if (::pipe(stop_pipe_) != 0) ADD_FAILURE() << "pipe";
  if (tls != nullptr) {
    tls_ = SSL_CTX_new(TLS_server_method());
    if (SSL_CTX_use_certificate_chain_file(tls_, tls->server_cert.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(tls_, tls->server_key.c_str(), SSL_FILETYPE_PEM) != 1) {
      ADD_FAILURE() << "cannot load the test server certificate";
    }
    if (!client_ca.empty()) {
      if (SSL_CTX_load_verify_locations(tls_, client_ca.c_str(), nullptr) != 1) {
        ADD_FAILURE() << "cannot load the client CA " << client_ca;
      }
      SSL_CTX_set_verify(tls_, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    }
  }
  acceptor_ = std::thread([this] { accept_loop(); });
}

LocalHttpServer::~LocalHttpServer() {
  stopping_ = true;
  [[maybe_unused]] ssize_t n = ::write(stop_pipe_[1], "x", 1);
  acceptor_.join();
  {
    std::lock_guard lock(g_fds_mutex);
    for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
  }
  std::vector<std::thread> workers;
  {
    std::lock_guard lock(mutex_);
    workers.swap(workers_);
  }
  for (auto& t : workers) t.join();
  ::close(listen_fd_);
  ::close(stop_pipe_[0]);
  ::close(stop_pipe_[1]);
  if (tls_ != nullptr) SSL_CTX_free(tls_);
}

std::string LocalHttpServer::url(const std::string& host) const {
  return std::string(tls_ != nullptr ? "https" : "http") + "://" + host + ":" +
         std::to_string(port_) + "/";
}

void LocalHttpServer::script(std::vector<Reply> replies) {
  std::lock_guard lock(mutex_);
  script_ = replies.empty() ? std::vector<Reply>{Reply{}} : std::move(replies);
  next_ = 0;
}

int LocalHttpServer::requests() const {
  std::lock_guard lock(mutex_);
  return static_cast<int>(seen_.size());
}

std::vector<SeenRequest> LocalHttpServer::seen() const {
  std::lock_guard lock(mutex_);
  return seen_;
}

bool LocalHttpServer::wait_closed_by_client(int n, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return closed_by_client_ >= n; });
}

Reply LocalHttpServer::next_reply() {
  std::lock_guard lock(mutex_);
  Reply r = script_[std::min(next_, script_.size() - 1)];
  ++next_;
  return r;
}

void LocalHttpServer::accept_loop() {
  for (;;) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) continue;
    if (fds[1].revents != 0) return;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    ++accepted_;  // before the worker answers anything on this connection
    {
      std::lock_guard lock(g_fds_mutex);
      fds_.insert(fd);
    }
    {
      std::lock_guard lock(mutex_);
      workers_.emplace_back([this, fd] { serve(fd); });
    }
    notify_waiters();
  }
}

void LocalHttpServer::serve(int fd) {
  Conn c{fd, nullptr};
  bool client_closed = false;
  if (tls_ != nullptr) {
    c.ssl = SSL_new(tls_);
    SSL_set_fd(c.ssl, fd);
    if (SSL_accept(c.ssl) != 1) goto done;
  }
  for (;;) {
    std::string buf;
    char chunk[4096];
    std::size_t head_end;
    while ((head_end = buf.find("\r\n\r\n")) == std::string::npos) {
      ssize_t n = c.read(chunk, sizeof chunk);
      if (n <= 0) {
        client_closed = true;
        goto done;
      }
      buf.append(chunk, static_cast<std::size_t>(n));
    }
    SeenRequest req;
    req.headers = buf.substr(0, head_end + 2);
    const std::size_t want = content_length(req.headers);
    req.body = buf.substr(head_end + 4);
    while (req.body.size() < want) {
      ssize_t n = c.read(chunk, sizeof chunk);
      if (n <= 0) {
        client_closed = true;
        goto done;
      }
      req.body.append(chunk, static_cast<std::size_t>(n));
    }
    const std::size_t sp1 = req.headers.find(' ');
    const std::size_t sp2 = req.headers.find(' ', sp1 + 1);
    req.method = req.headers.substr(0, sp1);
    req.target = req.headers.substr(sp1 + 1, sp2 - sp1 - 1);
    {
      std::lock_guard lock(mutex_);
      seen_.push_back(req);
    }
    notify_waiters();  // outside mutex_: waiters take it to read the counters
    Reply r = next_reply();
    if (r.hang) {
      while (c.read(chunk, sizeof chunk) > 0) {
      }
      client_closed = true;
      goto done;
    }
    std::string out = "HTTP/1.1 " + std::to_string(r.status) + " Scripted\r\n";
    for (const auto& [name, value] : r.headers) out += name + ": " + value + "\r\n";
    out += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
    if (r.close) out += "Connection: close\r\n";
    out += "\r\n" + r.body;
    if (!c.write(out) || r.close || r.drop) goto done;
  }
done:
  if (c.ssl != nullptr) SSL_free(c.ssl);
  {
    std::lock_guard lock(g_fds_mutex);
    fds_.erase(fd);
  }
  ::close(fd);
  if (stopping_) return;
  if (client_closed) {
    std::lock_guard lock(mutex_);
    ++closed_by_client_;
    changed_.notify_all();
  } else {
    ++closed_by_server_;
  }
  notify_waiters();
}

}  // namespace trousseau::testkit
