#include "cli/socket_options.hpp"

#include <CLI/CLI.hpp>
#include <filesystem>

#include "cli/io.hpp"
#include "common/bytes.hpp"
#include "config/config.hpp"
#include "kms/status_code_name.hpp"
#include "settings/node.hpp"

namespace trousseau::cli {

void add_socket_options(CLI::App& app, SocketOptions& options, bool call_options) {
  options.socket = config::Config{}.socket;
  app.add_option("-s,--socket", options.socket, "The plugin's unix socket")->capture_default_str();
  app.add_option("--timeout", options.timeout, "Deadline of each call, e.g. 500ms or 5s")
      ->capture_default_str()
      ->check([](const std::string& text) -> std::string {
        auto d = settings::parse_duration(text);
        if (!d || d->count() <= 0) return "must be a positive duration such as 500ms or 5s";
        return {};
      });
  if (!call_options) return;
  app.add_option("--api", options.api, "KMS API to call")
      ->capture_default_str()
      ->check(CLI::IsMember({"v2", "v1beta1"}));
  app.add_option("--uid", options.uid,
                 "Request id the plugin logs (default: trousseau-cli- and 16 random hex digits)");
}

Api api_of(const SocketOptions& options) {
  return options.api == "v1beta1" ? Api::v1beta1 : Api::v2;
}

std::chrono::milliseconds timeout_of(const SocketOptions& options) {
  // Validated by the option's check.
  return settings::parse_duration(options.timeout).value_or(std::chrono::seconds(5));
}

std::string uid_of(const SocketOptions& options) {
  if (!options.uid.empty()) return options.uid;
  Bytes id(8);
  random_fill(id);
  return "trousseau-cli-" + hex_encode(id);
}

kms::Client make_client(const SocketOptions& options) {
  return kms::Client(options.socket, {.timeout = timeout_of(options), .wait_for_ready = false});
}

void print_rpc_error(std::string_view command, const SocketOptions& options,
                     const grpc::Status& status) {
  std::string message = kms::status_code_name(status.error_code()) + ": " + status.error_message();
  std::error_code ec;
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE &&
      !std::filesystem::exists(options.socket, ec)) {
    message += " (no socket at " + options.socket + ": is `trousseau serve` running? see --socket)";
  }
  print_error(command, message);
}

}  // namespace trousseau::cli
