#include "support/test_pki.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "support/temp_dir.hpp"

namespace trousseau::testkit {

namespace {

bool run(const std::string& cmd) {
  const int status = std::system((cmd + " >/dev/null 2>&1").c_str());
  EXPECT_EQ(status, 0) << cmd;
  return status == 0;
}

}  // namespace

TestPki make_test_pki(const std::string& dir, const std::vector<std::string>& alt_names) {
  std::filesystem::create_directories(dir);
  const std::string d = dir + "/";
  write_file(d + "ca.cnf",
             "[req]\ndistinguished_name = dn\nx509_extensions = v3_ca\nprompt = no\n"
             "[dn]\nCN = Trousseau Test CA\n"
             "[v3_ca]\nbasicConstraints = critical,CA:TRUE\n"
             "keyUsage = critical,keyCertSign,cRLSign\nsubjectKeyIdentifier = hash\n");
  write_file(d + "server.cnf",
             "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = trousseau test server\n");
  std::string sans;
  for (const std::string& n : alt_names) sans += (sans.empty() ? "" : ",") + n;
  write_file(d + "ext.cnf", "subjectAltName = " + sans +
                                "\nbasicConstraints = CA:FALSE\nextendedKeyUsage = serverAuth\n");
  const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
  TestPki pki{d + "ca.pem", d + "server.pem", d + "server.key"};
  bool ok = run("openssl req -x509 -config " + d + "ca.cnf" + ec + " -keyout " + d +
                "ca.key -out " + pki.ca_cert + " -days 2") &&
            run("openssl req -new -config " + d + "server.cnf" + ec + " -keyout " +
                pki.server_key + " -out " + d + "server.csr") &&
            run("openssl x509 -req -in " + d + "server.csr -CA " + pki.ca_cert + " -CAkey " + d +
                "ca.key -set_serial 2 -days 2 -extfile " + d + "ext.cnf -out " +
                pki.server_cert);
  if (!ok) return {};
  return pki;
}

TestClientCert make_test_client_cert(const std::string& dir, const std::string& name) {
  const std::string d = dir + "/";
  write_file(d + name + ".cnf",
             "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = " + name + "\n");
  write_file(d + name + "-ext.cnf", "basicConstraints = CA:FALSE\nextendedKeyUsage = clientAuth\n");
  TestClientCert c{d + name + ".pem", d + name + ".key"};
  const bool ok =
      run("openssl req -new -config " + d + name + ".cnf -newkey ec -pkeyopt "
          "ec_paramgen_curve:P-256 -nodes -keyout " + c.key + " -out " + d + name + ".csr") &&
      run("openssl x509 -req -in " + d + name + ".csr -CA " + d + "ca.pem -CAkey " + d +
          "ca.key -set_serial 3 -days 2 -extfile " + d + name + "-ext.cnf -out " + c.cert);
  if (!ok) return {};
  return c;
}

}  // namespace trousseau::testkit
