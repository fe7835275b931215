#include "pykmip_server.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "kmip_test_paths.hpp"
#include "support/command.hpp"
#include "support/test_pki.hpp"
#include "support/wait.hpp"

namespace trousseau::testkit {

PyKmipServer::PyKmipServer() {
  const std::string d = dir_.path().string();
  TestPki pki = make_test_pki(d, {"DNS:localhost", "IP:127.0.0.1"});
  TestClientCert client = make_test_client_cert(d, "trousseau");
  ca_ = pki.ca_cert;
  client_cert_ = client.cert;
  client_key_ = client.key;
  ::mkdir(dir_.file("policies").c_str(), 0700);
  port_ = free_loopback_port();
  write_file(dir_.file("server.conf"),
             "[server]\n"
             "hostname=127.0.0.1\n"
             "port=" + std::to_string(port_) + "\n"
             "certificate_path=" + pki.server_cert + "\n"
             "key_path=" + pki.server_key + "\n"
             "ca_path=" + pki.ca_cert + "\n"
             "auth_suite=TLS1.2\n"
             "policy_path=" + dir_.file("policies") + "\n"
             "enable_tls_client_auth=True\n"
             "logging_level=INFO\n"
             "database_path=" + dir_.file("pykmip.db") + "\n");
  start();
}

PyKmipServer::~PyKmipServer() { stop(); }

void PyKmipServer::start() {
  process_.start({"pykmip-server", "-f", dir_.file("server.conf"), "-l", dir_.file("server.log")},
                 dir_.file("stdout.log"));
  // Ready once it accepts connections (or gone: not installed, or the port
  // was taken meanwhile).
  const bool ready = wait_until([&] { return process_.exited() || loopback_port_open(port_); });
  if (!ready || !process_.running()) {
    ADD_FAILURE() << "pykmip-server did not start on port " << port_
                  << " (is python3-pykmip installed?)\n"
                  << file_tail(dir_.file("stdout.log")) << log_tail();
    process_.stop();
  }
}

void PyKmipServer::stop() { process_.stop(); }
void PyKmipServer::kill() { process_.kill(); }

std::string PyKmipServer::log_tail() const { return file_tail(dir_.file("server.log")); }

std::string PyKmipServer::entry(const std::string& uid, const std::string& extra) const {
  return "type: kmip, endpoint: '" + endpoint() + "', ca_file: " + ca_ +
         ", client_certificate_file: " + client_cert_ + ", client_key_file: " + client_key_ +
         (uid.empty() ? "" : ", key_uid: '" + uid + "'") +
         (extra.empty() ? "" : ", " + extra);
}

std::string PyKmipServer::admin(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"/usr/bin/python3", KMIP_ADMIN_SCRIPT, "--port", std::to_string(port_),
                                "--cert", client_cert_, "--key", client_key_, "--ca", ca_};
  argv.insert(argv.end(), args.begin(), args.end());
  CommandResult r = run_command(argv);
  if (r.exit_code != 0) {
    ADD_FAILURE() << "pykmip_admin.py " << args.front() << " failed (" << r.exit_code << "):\n"
                  << r.err << log_tail();
    return "";
  }
  std::string out = r.out;
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

std::string PyKmipServer::create_key(const std::string& name, bool activate) {
  return activate ? admin({"create", name}) : admin({"create", name, "--no-activate"});
}
void PyKmipServer::activate(const std::string& uid) { admin({"activate", uid}); }
void PyKmipServer::revoke(const std::string& uid) { admin({"revoke", uid}); }
void PyKmipServer::destroy(const std::string& uid) { admin({"destroy", uid}); }
std::string PyKmipServer::state(const std::string& uid) { return admin({"state", uid}); }
std::string PyKmipServer::decrypt_cbc(const std::string& uid, const std::string& iv_hex,
                                      const std::string& ct_hex) {
  return admin({"decrypt-cbc", uid, iv_hex, ct_hex});
}

}  // namespace trousseau::testkit
