// trousseau status: the plugin's Status over its socket, and each
// provider's health from the metrics listener's /readyz?verbose.
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>

#include "cli/commands.hpp"
#include "cli/io.hpp"
#include "cli/readiness.hpp"
#include "cli/socket_options.hpp"

namespace trousseau::cli {

namespace {

struct StatusOptions {
  SocketOptions socket;
  std::string metrics = "http://127.0.0.1:8095";
};

/// Prints what Status says; true when healthz is "ok".
bool print_status(const StatusOptions& o) {
  v2::StatusResponse resp;
  const grpc::Status status = make_client(o.socket).status(resp);
  std::cout << "socket     unix://" << printable(o.socket.socket) << "\n";
  if (!status.ok()) {
    std::cout << "status     unavailable\n";
    print_rpc_error("status", o.socket, status);
    return false;
  }
  const bool ok = resp.healthz() == "ok";
  std::cout << "version    " << printable(resp.version()) << "\n"
            << "healthz    " << printable(resp.healthz()) << "\n"
            << "key_id     " << printable(resp.key_id()) << "\n";
  return ok;
}

/// Prints the providers table; true when the plugin says it is ready.
bool print_readiness(const StatusOptions& o) {
  auto readiness = fetch_readiness(o.metrics, timeout_of(o.socket));
  if (!readiness.ok()) {
    std::cout << "readiness  unknown\n";
    print_error("status", readiness.error().message());
    return false;
  }
  std::cout << render_readiness(readiness.value());
  return readiness->ready;
}

int status(const StatusOptions& o) {
  const bool healthy = print_status(o);
  if (o.metrics == "off") return healthy ? kExitOk : kExitFailed;
  const bool ready = print_readiness(o);
  return healthy && ready ? kExitOk : kExitFailed;
}

}  // namespace

Command add_status(CLI::App& parent) {
  auto o = std::make_shared<StatusOptions>();
  CLI::App* app =
      parent.add_subcommand("status", "Show the plugin's Status and the health of every provider");
  add_socket_options(*app, o->socket, false);
  app->add_option("--metrics", o->metrics,
                  "Base URL of the metrics listener (plain http on loopback), or \"off\" to skip "
                  "the providers table")
      ->capture_default_str()
      ->check([](const std::string& url) -> std::string {
        if (url == "off") return {};
        auto checked = readiness_url(url);
        return checked.ok() ? std::string() : checked.error().message();
      });
  app->footer(
      "Exit codes: 0 Status says ok and /readyz says ready; 1 otherwise (not ok, not "
      "ready, or either cannot be reached; what could be read is still printed); "
      "2 usage error, including an https or non-loopback --metrics URL.");
  return {app, [o] { return status(*o); }};
}

}  // namespace trousseau::cli
