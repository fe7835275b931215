// trousseau decrypt: a ciphertext on standard input, its plaintext on
// standard output, through the plugin's socket.
#include <CLI/CLI.hpp>
#include <memory>

#include "cli/ciphertext_document.hpp"
#include "cli/commands.hpp"
#include "cli/io.hpp"
#include "cli/socket_options.hpp"
#include "common/bytes.hpp"
#include "common/process.hpp"
#include "common/secret.hpp"

namespace trousseau::cli {

namespace {

/// Ciphertexts, JSON documents and annotations stay well below this.
constexpr std::size_t kMaxInput = 1 << 20;

struct DecryptOptions {
  SocketOptions socket;
  bool base64 = false;
  bool json = false;
  std::string key_id;
  CLI::App* app = nullptr;
};

/// What to send, from standard input in the form the options name.
Result<CiphertextDocument> read_request(const DecryptOptions& o) {
  auto input = read_input("-", kMaxInput);
  if (!input.ok()) return input.error();
  CiphertextDocument doc;
  doc.api = api_of(o.socket);
  if (o.json) {
    auto parsed = parse_ciphertext_document(input.value());
    if (!parsed.ok()) return parsed.error();
    if (o.app->count("--api") > 0 && parsed->api != doc.api) {
      return invalid_argument("the document is for --api " +
                              std::string(parsed->api == Api::v2 ? "v2" : "v1beta1") + ", not " +
                              o.socket.api);
    }
    doc = std::move(parsed.value());
  } else if (o.base64) {
    Bytes bytes;
    if (!base64_decode(remove_whitespace(input.value()), bytes)) {
      return invalid_argument("standard input is not valid base64");
    }
    doc.ciphertext.assign(as_chars(bytes));
  } else {
    doc.ciphertext = std::move(input.value());
  }
  if (!o.key_id.empty()) doc.key_id = o.key_id;
  return doc;
}

int decrypt(const DecryptOptions& o) {
  // The plaintext will be in this process: no core file, no ptrace by others.
  if (Error e = harden_process(); !e.ok()) {
    print_error("decrypt", e.message());
    return kExitFailed;
  }
  auto request = read_request(o);
  if (!request.ok()) {
    print_error("decrypt", request.error().message());
    return kExitFailed;
  }
  const CiphertextDocument& doc = request.value();
  kms::Client client = make_client(o.socket);
  grpc::Status status;
  std::string plaintext;
  if (doc.api == Api::v2) {
    v2::DecryptResponse resp;
    const kms::Annotations annotations(doc.annotations.begin(), doc.annotations.end());
    status = client.decrypt(doc.ciphertext, doc.key_id, annotations, resp, uid_of(o.socket));
    plaintext.swap(*resp.mutable_plaintext());
  } else {
    v1beta1::DecryptResponse resp;
    status = client.v1_decrypt(doc.ciphertext, resp);
    plaintext.swap(*resp.mutable_plain());
  }
  if (!status.ok()) {
    print_rpc_error("decrypt", o.socket, status);
    return kExitFailed;
  }
  const int code = print_output("decrypt", plaintext);
  secure_wipe(plaintext);
  return code;
}

}  // namespace

Command add_decrypt(CLI::App& parent) {
  auto o = std::make_shared<DecryptOptions>();
  CLI::App* app = parent.add_subcommand(
      "decrypt", "Decrypt a ciphertext from standard input through the plugin's socket");
  o->app = app;
  add_socket_options(*app, o->socket, true);
  auto* base64 =
      app->add_flag("--base64", o->base64, "Standard input is base64 (white space ignored)");
  app->add_flag("--json", o->json,
                "Standard input is what `encrypt --json` printed; its api is used unless --api "
                "says otherwise")
      ->excludes(base64);
  app->add_option("--key-id", o->key_id,
                  "key_id to send with a v2 Decrypt (default: the document's, or none)");
  app->footer(
      "Prints the plaintext as it is, with no newline added.\n"
      "Exit codes: 0 printed; 1 the input was refused or the call failed (the gRPC "
      "code and message go to standard error); 2 usage error.");
  return {app, [o] { return decrypt(*o); }};
}

}  // namespace trousseau::cli
