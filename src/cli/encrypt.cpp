// trousseau encrypt: standard input to standard output through the
// plugin's socket, as kube-apiserver would call it. A smoke test.
#include <CLI/CLI.hpp>
#include <memory>

#include "cli/ciphertext_document.hpp"
#include "cli/commands.hpp"
#include "cli/io.hpp"
#include "cli/socket_options.hpp"
#include "common/process.hpp"
#include "common/secret.hpp"
#include "envelope/format.hpp"

namespace trousseau::cli {

namespace {

struct EncryptOptions {
  SocketOptions socket;
  bool base64 = false;
  bool json = false;
};

/// Calls Encrypt; the plaintext is wiped whatever happens.
grpc::Status call(const EncryptOptions& o, std::string& plaintext, CiphertextDocument& doc) {
  kms::Client client = make_client(o.socket);
  doc.api = api_of(o.socket);
  grpc::Status status;
  if (doc.api == Api::v2) {
    v2::EncryptResponse resp;
    status = client.encrypt(plaintext, resp, uid_of(o.socket));
    doc.ciphertext = resp.ciphertext();
    doc.key_id = resp.key_id();
    doc.annotations.insert(resp.annotations().begin(), resp.annotations().end());
  } else {
    v1beta1::EncryptResponse resp;
    status = client.v1_encrypt(plaintext, resp);
    doc.ciphertext = resp.cipher();
  }
  secure_wipe(plaintext);
  return status;
}

int encrypt(const EncryptOptions& o) {
  // The plaintext is in this process: no core file, no ptrace by others.
  if (Error e = harden_process(); !e.ok()) {
    print_error("encrypt", e.message());
    return kExitFailed;
  }
  auto input = read_input("-", envelope::kMaxPlaintext);
  if (!input.ok()) {
    print_error("encrypt", input.error().message() + " (the plugin encrypts at most " +
                               std::to_string(envelope::kMaxPlaintext) + " bytes)");
    return kExitFailed;
  }
  CiphertextDocument doc;
  const grpc::Status status = call(o, input.value(), doc);
  if (!status.ok()) {
    print_rpc_error("encrypt", o.socket, status);
    return kExitFailed;
  }
  std::string out;
  if (o.json) {
    out = to_json(doc) + "\n";
  } else if (!doc.annotations.empty()) {
    // Without them the ciphertext cannot be decrypted: refuse rather than
    // print half of the answer.
    print_error("encrypt", "the envelope keeps " + std::to_string(doc.annotations.size()) +
                               " wrapped share(s) in annotations, which only --json carries");
    return kExitFailed;
  } else if (o.base64) {
    out = base64_encode(as_bytes(doc.ciphertext)) + "\n";
  } else {
    out = doc.ciphertext;
  }
  return print_output("encrypt", out);
}

}  // namespace

Command add_encrypt(CLI::App& parent) {
  auto o = std::make_shared<EncryptOptions>();
  CLI::App* app = parent.add_subcommand(
      "encrypt", "Encrypt standard input through the plugin's socket and print the ciphertext");
  add_socket_options(*app, o->socket, true);
  auto* base64 = app->add_flag("--base64", o->base64, "Print the ciphertext in base64, one line");
  app->add_flag("--json", o->json,
                "Print one JSON line: api, base64 ciphertext, key_id, annotations "
                "(what `decrypt --json` reads)")
      ->excludes(base64);
  app->footer(
      "Reads at most 65536 bytes. --uid is sent with v2 only (v1beta1 has no uid).\n"
      "Exit codes: 0 printed; 1 the call failed (the gRPC code and message go to "
      "standard error); 2 usage error.");
  return {app, [o] { return encrypt(*o); }};
}

}  // namespace trousseau::cli
