#include "support/running_server.hpp"

#include <gtest/gtest.h>

namespace trousseau::testkit {

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (std::size_t pos = text.find(from); pos != std::string::npos;
       pos = text.find(from, pos + to.size())) {
    text.replace(pos, from.size(), to);
  }
  return text;
}

std::string complete_config(const std::string& yaml, const TempDir& dir) {
  std::string text = replace_all(yaml, "{dir}", dir.path().string());
  if (text.find("socket:") == std::string::npos) text = "socket: " + dir.file("kms.sock") + "\n" + text;
  if (text.find("state_dir:") == std::string::npos) {
    text = "state_dir: " + dir.file("state") + "\n" + text;
  }
  // Telemetry on a free loopback port unless the test chose: tests run in
  // parallel, and the default port is the operator's.
  if (text.find("telemetry:") == std::string::npos) {
    text = "telemetry: {listen: \"127.0.0.1:0\"}\n" + text;
  }
  return text;
}

RunningServer::RunningServer(const std::string& yaml) {
  config::Diagnostics diag;
  auto cfg = config::load_string(complete_config(yaml, dir_), diag);
  if (!cfg) {
    ADD_FAILURE() << "bad test configuration: " << (diag.errors().empty() ? "" : diag.errors()[0]);
    return;
  }
  socket_ = cfg->socket;
  auto server = daemon::Daemon::create(*cfg, {.create_missing_keys = true, .threads = 2,
                                              .first_probe_wait = std::chrono::milliseconds(1000),
                                              .watch_config = false});
  if (!server.ok()) {
    ADD_FAILURE() << "server create: " << server.error().message();
    return;
  }
  if (Error e = server.value()->start(); !e.ok()) {
    ADD_FAILURE() << "server start: " << e.message();
    return;
  }
  server_ = std::move(server.value());
}

RunningServer::~RunningServer() {
  if (server_) server_->shutdown(std::chrono::milliseconds(500));
}

}  // namespace trousseau::testkit
