#include "kms/server.hpp"

#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <thread>

#include "common/fd.hpp"
#include "common/log.hpp"
#include "kms/kubernetes_limits.hpp"

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

Server::Server(SocketOptions socket, ServiceContext context, Surface surface)
    : socket_(std::move(socket)),
      inflight_(context.inflight),
      v2_(context),
      v1beta1_(context),
      sops_(context),
      surface_(surface) {}

Server::~Server() { shutdown(std::chrono::milliseconds(0)); }

Error Server::prepare_socket() const {
  const std::filesystem::path path(socket_.path);
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  if (ec) return unavailable("cannot create " + path.parent_path().string() + ": " + ec.message());
  struct ::stat st {};
  if (::lstat(socket_.path.c_str(), &st) != 0) {
    if (errno == ENOENT) return {};
    return unavailable("cannot inspect " + socket_.path + ": " + std::strerror(errno));
  }
  if (!S_ISSOCK(st.st_mode)) {
    return Error(Code::failed_precondition, socket_.path + " exists and is not a socket; refusing to remove it");
  }
  if (socket_is_live(socket_.path)) {
    return Error(Code::failed_precondition,
                 "another process is serving on " + socket_.path + "; refusing to start");
  }
  if (::unlink(socket_.path.c_str()) != 0) {
    return unavailable("cannot remove stale socket " + socket_.path + ": " + std::strerror(errno));
  }
  log::info("removed stale socket", {{"path", socket_.path}});
  return {};
}

Error Server::secure_socket(const std::string& staged) const {
  // `staged` lies in a directory only we can enter: nobody can reach the
  // socket, or swap it, until it is renamed into place with its final mode.
  mode_t mode = 0600;
  if (socket_.group) {
    struct group* g = ::getgrnam(socket_.group->c_str());
    if (g == nullptr) return Error(Code::failed_precondition, "unknown socket_group " + *socket_.group);
    if (::chown(staged.c_str(), static_cast<uid_t>(-1), g->gr_gid) != 0) {
      return unavailable("cannot chown " + staged + ": " + std::strerror(errno));
    }
    mode = 0660;
  }
  if (::chmod(staged.c_str(), mode) != 0) {
    return unavailable("cannot chmod " + staged + ": " + std::strerror(errno));
  }
  if (::rename(staged.c_str(), socket_.path.c_str()) != 0) {
    return unavailable("cannot move the socket to " + socket_.path + ": " + std::strerror(errno));
  }
  return {};
}

Error Server::start() {
  if (Error e = prepare_socket(); !e.ok()) return e;
  // The socket must never be reachable with looser permissions, not even
  // briefly, and no process-wide umask may change while threads run: bind
  // it in a fresh 0700 directory beside its final path, secure it there,
  // then rename it into place.
  std::string staging =
      (std::filesystem::path(socket_.path).parent_path() / ".trousseau-XXXXXX").string();
  if (::mkdtemp(staging.data()) == nullptr) {
    return unavailable("cannot create a private directory beside " + socket_.path + ": " +
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
  builder.SetMaxReceiveMessageSize(static_cast<int>(kMaxRequestBytes));
  if (surface_ == Surface::sops) {
    builder.RegisterService(&sops_);
  } else {
    builder.RegisterService(&v2_);
    builder.RegisterService(&v1beta1_);
  }
  grpc_ = builder.BuildAndStart();
  if (!grpc_) return unavailable("cannot listen on unix:" + staged);
  if (Error e = secure_socket(staged); !e.ok()) return e;
  return {};
}

void Server::shutdown(std::chrono::milliseconds grace) {
  if (stopped_) return;
  stopped_ = true;
  if (!grpc_) return;
  // Refuse new calls, wait for those in flight, then close: gRPC's own
  // deadline would also wait for idle client connections.
  inflight_.drain();
  const auto until = std::chrono::steady_clock::now() + grace;
  while (inflight_.count() > 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  // A call that arrives between the loop and Shutdown is still refused
  // (AnsweredReactor, counted): a short deadline lets its answer go out
  // rather than be cancelled after it was logged.
  grpc_->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(100));
  grpc_->Wait();
  ::unlink(socket_.path.c_str());
}

}  // namespace trousseau::kms
