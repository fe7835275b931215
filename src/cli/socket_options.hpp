// The options every command that calls the plugin's socket shares:
// --socket, --timeout, and for encrypt and decrypt --api and --uid.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <string>
#include <string_view>

#include "kms/client.hpp"

namespace CLI {
class App;
}

namespace trousseau::cli {

enum class Api { v2, v1beta1 };

struct SocketOptions {
  std::string socket;  ///< default: the configuration's default socket
  std::string timeout = "5s";
  std::string api = "v2";
  std::string uid;  ///< default: a fresh "trousseau-cli-<hex>"
};

/// Adds --socket and --timeout to `app`, and --api and --uid when `call_options`.
void add_socket_options(CLI::App& app, SocketOptions& options, bool call_options);

Api api_of(const SocketOptions& options);
std::chrono::milliseconds timeout_of(const SocketOptions& options);
std::string uid_of(const SocketOptions& options);

/// A client that fails at once when nothing listens (no wait-for-ready):
/// an operator at a terminal would rather hear so than wait.
kms::Client make_client(const SocketOptions& options);

/// "trousseau <command>: <CODE_NAME>: <message>" on standard error, with a
/// hint when there is no socket at all.
void print_rpc_error(std::string_view command, const SocketOptions& options,
                     const grpc::Status& status);

}  // namespace trousseau::cli
