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

RunningServer::RunningServer(const std::string& yaml) {
  socket_ = dir_.file("kms.sock");
  std::string text = replace_all(yaml, "{dir}", dir_.path().string());
  if (text.find("socket:") == std::string::npos) text = "socket: " + socket_ + "\n" + text;
  if (text.find("state_dir:") == std::string::npos) {
    text = "state_dir: " + dir_.file("state") + "\n" + text;
  }
  config::Diagnostics diag;
  auto cfg = config::load_string(text, diag);
  if (!cfg) {
    ADD_FAILURE() << "bad test configuration: " << (diag.errors().empty() ? "" : diag.errors()[0]);
    return;
  }
  socket_ = cfg->socket;
  // Telemetry on a free loopback port unless the test chose one.
  if (text.find("telemetry:") == std::string::npos) {
    cfg->telemetry.listen = "127.0.0.1:0";
  }
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
