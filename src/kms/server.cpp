#include "kms/server.hpp"

#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/fd.hpp"
#include "common/log.hpp"
#include "providers/registry.hpp"

namespace trousseau::kms {

namespace {

/// Does a process accept connections on this unix socket?
bool socket_is_live(const std::string& path) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  return ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
}

}  // namespace

Server::Server(const config::Config& cfg, const ServerOptions& options)
    : cfg_(cfg), options_(options) {}

Result<std::unique_ptr<Server>> Server::create(const config::Config& cfg,
                                               const ServerOptions& options) {
  std::unique_ptr<Server> s(new Server(cfg, options));
  providers::ProviderContext context{s->io_.get_executor(), options.create_missing_keys};
  std::vector<std::unique_ptr<quorum::ManagedProvider>> managed;
  for (const config::ProviderConfig& pc : cfg.providers) {
    auto p = config::create_provider(pc, context);
    if (!p.ok()) return p.error();
    managed.push_back(std::make_unique<quorum::ManagedProvider>(std::move(p.value()), pc,
                                                                cfg.health, s->io_.get_executor()));
  }
  const std::string state = (std::filesystem::path(cfg.state_dir) / "state.json").string();
  s->engine_ = std::make_unique<quorum::Engine>(s->io_, cfg, std::move(managed), state);
  s->health_ = std::make_unique<quorum::HealthMonitor>(*s->engine_, s->io_);
  s->v2_ = std::make_unique<V2Service>(*s->engine_, s->inflight_);
  s->v1beta1_ = std::make_unique<V1beta1Service>(*s->engine_, s->inflight_);
  return s;
}

Server::~Server() { shutdown(std::chrono::milliseconds(0)); }

Error Server::prepare_socket() const {
  const std::filesystem::path path(cfg_.socket);
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  if (ec) return unavailable("cannot create " + path.parent_path().string() + ": " + ec.message());
  struct ::stat st {};
  if (::lstat(cfg_.socket.c_str(), &st) != 0) {
    if (errno == ENOENT) return {};
    return unavailable("cannot inspect " + cfg_.socket + ": " + std::strerror(errno));
  }
  if (!S_ISSOCK(st.st_mode)) {
    return Error(Code::failed_precondition, cfg_.socket + " exists and is not a socket; refusing to remove it");
  }
  if (socket_is_live(cfg_.socket)) {
    return Error(Code::failed_precondition,
                 "another process is serving on " + cfg_.socket + "; refusing to start");
  }
  if (::unlink(cfg_.socket.c_str()) != 0) {
    return unavailable("cannot remove stale socket " + cfg_.socket + ": " + std::strerror(errno));
  }
  log::info("removed stale socket", {{"path", cfg_.socket}});
  return {};
}

Error Server::secure_socket(const std::string& staged) const {
  // `staged` lies in a directory only we can enter: nobody can reach the
  // socket, or swap it, until it is renamed into place with its final mode.
  mode_t mode = 0600;
  if (cfg_.socket_group) {
    struct group* g = ::getgrnam(cfg_.socket_group->c_str());
    if (g == nullptr) return Error(Code::failed_precondition, "unknown socket_group " + *cfg_.socket_group);
    if (::chown(staged.c_str(), static_cast<uid_t>(-1), g->gr_gid) != 0) {
      return unavailable("cannot chown " + staged + ": " + std::strerror(errno));
    }
    mode = 0660;
  }
  if (::chmod(staged.c_str(), mode) != 0) {
    return unavailable("cannot chmod " + staged + ": " + std::strerror(errno));
  }
  if (::rename(staged.c_str(), cfg_.socket.c_str()) != 0) {
    return unavailable("cannot move the socket to " + cfg_.socket + ": " + std::strerror(errno));
  }
  return {};
}

Error Server::start() {
  unsigned n = options_.threads ? options_.threads : std::max(2u, std::thread::hardware_concurrency());
  work_.emplace(io_.get_executor());
  for (unsigned i = 0; i < n; ++i) threads_.emplace_back([this] { io_.run(); });
  health_->start();
  health_->wait_first_round(options_.first_probe_wait);
  for (quorum::ManagedProvider* p : engine_->providers()) {
    const auto h = p->health();
    if (!h.probed) {
      log::warn("first probe still running", {{"provider", p->name()}});
    } else if (!h.healthy) {
      log::warn("unhealthy at start", {{"provider", p->name()}, {"error", h.last_error}});
    }
  }

  if (Error e = prepare_socket(); !e.ok()) return e;
  // The socket must never be reachable with looser permissions, not even
  // briefly, and no process-wide umask may change while threads run: bind
  // it in a fresh 0700 directory beside its final path, secure it there,
  // then rename it into place.
  std::string staging =
      (std::filesystem::path(cfg_.socket).parent_path() / ".trousseau-XXXXXX").string();
  if (::mkdtemp(staging.data()) == nullptr) {
    return unavailable("cannot create a private directory beside " + cfg_.socket + ": " +
                       std::strerror(errno));
  }
  const std::string staged = staging + "/s";
  struct RemoveStaging {
    const std::string& dir;
    const std::string& file;
    ~RemoveStaging() {
      ::unlink(file.c_str());
      ::rmdir(dir.c_str());
    }
  } cleanup{staging, staged};
  if (staged.size() > 107) {
    return Error(Code::failed_precondition,
                 "the socket's directory path is too long to bind a socket in it: " + staging);
  }
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix:" + staged, grpc::InsecureServerCredentials());
  builder.RegisterService(v2_.get());
  builder.RegisterService(v1beta1_.get());
  grpc_ = builder.BuildAndStart();
  if (!grpc_) return unavailable("cannot listen on unix:" + staged);
  if (Error e = secure_socket(staged); !e.ok()) return e;
  log::info("serving", {{"socket", cfg_.socket}, {"key_id", engine_->key_id()}});
  return {};
}

void Server::shutdown(std::chrono::milliseconds grace) {
  if (stopped_) return;
  stopped_ = true;
  if (grpc_) {
    // Refuse new calls, wait for those in flight, then close: gRPC's own
    // deadline would also wait for idle client connections.
    inflight_.drain();
    const auto until = std::chrono::steady_clock::now() + grace;
    while (inflight_.count() > 0 && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    grpc_->Shutdown(std::chrono::system_clock::now());
    grpc_->Wait();
    ::unlink(cfg_.socket.c_str());
  }
  if (health_) health_->stop();
  // Let cancelled provider calls drain, then stop.
  work_.reset();
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (!io_.stopped() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  io_.stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

}  // namespace trousseau::kms
