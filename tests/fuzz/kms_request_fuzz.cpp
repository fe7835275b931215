// The request handling of the KMS services (src/kms/v2_service.cpp,
// v1beta1_service.cpp, request.cpp) as kube-apiserver reaches it: a real
// server in this process (the daemon, over a 2-of-3 policy of key files
// with fixed keys) on a unix socket, and arbitrary request messages. The
// first byte picks the call (v2 Status, Encrypt, Decrypt; v1beta1 Version,
// Encrypt, Decrypt), the rest is the request's protobuf encoding (bytes
// that do not parse are what gRPC refuses before our code; skipped).
//
// Properties: every answer has a clear status, one of those the services
// document (never UNKNOWN, INTERNAL or a deadline: key files answer at
// once); Encrypt of 1 byte to 64 KiB succeeds, and its ciphertext (with
// the annotations) decrypts to the plaintext through the same API; a
// Decrypt that succeeds returns a plaintext; Status stays healthy whatever
// was sent before it.
//
// TROUSSEAU_FUZZ_SEEDS=<dir> makes the target write, at start, seeds made
// by this real server under its fixed keys: requests that open
// (<dir>/kms_request/), and the envelopes and etcd values around them for
// the envelope and stored_value targets (tests/fuzz/corpus/ holds them).
#include <grpcpp/grpcpp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "check.hpp"
#include "common/log.hpp"
#include "config/config.hpp"
#include "daemon/daemon.hpp"
#include "envelope/format.hpp"
#include "kms_v1beta1.grpc.pb.h"
#include "kms_v2.grpc.pb.h"
#include "kmsv2_storage.pb.h"

using namespace trousseau;

namespace {

constexpr const char* kConfig = R"(
log_level: error
telemetry: {listen: "off"}
providers:
  - {name: key-a, type: keyfile, path: "{dir}/a.key", create_if_missing: false}
  - {name: key-b, type: keyfile, path: "{dir}/b.key", create_if_missing: false}
  - {name: key-c, type: keyfile, path: "{dir}/c.key", create_if_missing: false}
policy:
  threshold: 2
  slots:
    - providers: [key-a]
    - providers: [key-b]
    - providers: [key-c]
)";

enum Call : std::uint8_t { v2_status, v2_encrypt, v2_decrypt, v1_version, v1_encrypt, v1_decrypt };

struct Fixture {
  std::filesystem::path dir;
  std::unique_ptr<daemon::Daemon> server;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v2::KeyManagementService::Stub> v2;
  std::unique_ptr<v1beta1::KeyManagementService::Stub> v1;
};

Fixture* fixture = nullptr;

void write_key(const std::filesystem::path& path, char fill) {
  {
    std::ofstream out(path, std::ios::binary);
    out << std::string(32, fill);
  }
  ::chmod(path.c_str(), 0600);
}

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (auto pos = text.find(from); pos != std::string::npos; pos = text.find(from, pos + to.size())) {
    text.replace(pos, from.size(), to);
  }
  return text;
}

void prepare(grpc::ClientContext& ctx) {
  ctx.set_wait_for_ready(true);
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
}

/// The codes the services answer with; the decrypts may also find a
/// forged envelope that no quorum of shares opens (UNAVAILABLE) or that
/// no policy admits (FAILED_PRECONDITION).
bool documented(const grpc::Status& s, bool decrypt) {
  switch (s.error_code()) {
    case grpc::StatusCode::OK:
    case grpc::StatusCode::INVALID_ARGUMENT:
      return true;
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::FAILED_PRECONDITION:
      return decrypt;
    default:
      return false;
  }
}

void check_healthy() {
  grpc::ClientContext ctx;
  prepare(ctx);
  v2::StatusResponse resp;
  const grpc::Status s = fixture->v2->Status(&ctx, v2::StatusRequest(), &resp);
  FUZZ_CHECK(s.ok());
  FUZZ_CHECK(resp.version() == "v2" && resp.healthz() == "ok" && !resp.key_id().empty());
}

grpc::Status v2_decrypt_call(const v2::DecryptRequest& req, v2::DecryptResponse& resp) {
  grpc::ClientContext ctx;
  prepare(ctx);
  return fixture->v2->Decrypt(&ctx, req, &resp);
}

grpc::Status v1_decrypt_call(const v1beta1::DecryptRequest& req, v1beta1::DecryptResponse& resp) {
  grpc::ClientContext ctx;
  prepare(ctx);
  return fixture->v1->Decrypt(&ctx, req, &resp);
}

void write_file(const std::filesystem::path& path, const std::string& bytes) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

void write_seed(const std::filesystem::path& dir, const std::string& name, Call call,
                const google::protobuf::MessageLite& request) {
  write_file(dir / "kms_request" / name, static_cast<char>(call) + request.SerializeAsString());
}

/// The envelope target reads the annotation count from the last byte.
void write_envelope_seed(const std::filesystem::path& dir, const std::string& name,
                         const std::string& ciphertext) {
  write_file(dir / "envelope" / name, ciphertext + '\0');
}

/// Seeds made by the real server, under the fixed keys.
void write_seeds(const std::filesystem::path& dir) {
  v2::EncryptRequest enc;
  enc.set_plaintext("a DEK of thirty-two bytes, say..");
  enc.set_uid("6b9ed6a8-3f2b-4d1e-9a51-1f5a7d3c2e10");
  write_seed(dir, "v2_encrypt", v2_encrypt, enc);
  grpc::ClientContext ctx;
  prepare(ctx);
  v2::EncryptResponse out;
  FUZZ_CHECK(fixture->v2->Encrypt(&ctx, enc, &out).ok());
  v2::DecryptRequest dec;
  dec.set_ciphertext(out.ciphertext());
  dec.set_key_id(out.key_id());
  dec.set_uid(enc.uid());
  *dec.mutable_annotations() = out.annotations();
  write_seed(dir, "v2_decrypt", v2_decrypt, dec);
  write_seed(dir, "v2_status", v2_status, v2::StatusRequest());
  write_envelope_seed(dir, "v2_2_of_3", out.ciphertext());

  // What kube-apiserver stores around it, KMS v2.
  kmsv2::storage::EncryptedObject object;
  object.set_encrypteddata("sealed object bytes");
  object.set_keyid(out.key_id());
  object.set_encrypteddeksource(out.ciphertext());
  for (const auto& [k, v] : out.annotations()) {
    auto* a = object.add_annotations();
    a->set_key(k);
    a->set_value(v);
  }
  write_file(dir / "stored_value" / "v2", "k8s:enc:kms:v2:trousseau:" + object.SerializeAsString());

  v1beta1::EncryptRequest enc1;
  enc1.set_version("v1beta1");
  enc1.set_plain(enc.plaintext());
  write_seed(dir, "v1_encrypt", v1_encrypt, enc1);
  grpc::ClientContext ctx1;
  prepare(ctx1);
  v1beta1::EncryptResponse out1;
  FUZZ_CHECK(fixture->v1->Encrypt(&ctx1, enc1, &out1).ok());
  v1beta1::DecryptRequest dec1;
  dec1.set_version("v1beta1");
  dec1.set_cipher(out1.cipher());
  write_seed(dir, "v1_decrypt", v1_decrypt, dec1);
  write_envelope_seed(dir, "v1_2_of_3", out1.cipher());
  // KMS v1: a 2-byte length, the envelope, the sealed object.
  const std::size_t n = out1.cipher().size();
  std::string v1_value = "k8s:enc:kms:v1:trousseau:";
  v1_value += static_cast<char>(n >> 8);
  v1_value += static_cast<char>(n & 0xff);
  write_file(dir / "stored_value" / "v1", v1_value + out1.cipher() + "sealed object bytes");

  v1beta1::DecryptRequest legacy;
  legacy.set_version("v1beta1");
  legacy.set_cipher("vault:v1:ZmFrZSBjaXBoZXJ0ZXh0");
  write_seed(dir, "v1_decrypt_legacy", v1_decrypt, legacy);
  v1beta1::VersionRequest version;
  version.set_version("v1beta1");
  write_seed(dir, "v1_version", v1_version, version);
}

void stop() {
  if (fixture == nullptr) return;
  fixture->v1.reset();
  fixture->v2.reset();
  fixture->channel.reset();
  if (fixture->server) fixture->server->shutdown(std::chrono::milliseconds(500));
  fixture->server.reset();
  std::error_code ec;
  std::filesystem::remove_all(fixture->dir, ec);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fixture = new Fixture;
  std::string tmpl = (std::filesystem::temp_directory_path() / "trousseau-fuzz-XXXXXX").string();
  FUZZ_CHECK(::mkdtemp(tmpl.data()) != nullptr);
  fixture->dir = tmpl;
  write_key(fixture->dir / "a.key", 'a');
  write_key(fixture->dir / "b.key", 'b');
  write_key(fixture->dir / "c.key", 'c');
  const std::string yaml = "socket: " + (fixture->dir / "kms.sock").string() +
                           "\nstate_dir: " + (fixture->dir / "state").string() +
                           replace_all(kConfig, "{dir}", fixture->dir.string());
  config::Diagnostics diag;
  auto cfg = config::load_string(yaml, diag);
  // As `serve` does: a refused request is a warning, one line per input.
  if (cfg) log::set_level(cfg->log_level);
  if (!cfg) {
    std::fprintf(stderr, "kms_request_fuzz: %s\n", diag.errors().front().c_str());
    std::abort();
  }
  auto server = daemon::Daemon::create(*cfg, {.threads = 2, .watch_config = false});
  FUZZ_CHECK(server.ok());
  FUZZ_CHECK(server.value()->start().ok());
  fixture->server = std::move(server.value());
  grpc::ChannelArguments args;
  args.SetString(GRPC_ARG_DEFAULT_AUTHORITY, "localhost");
  fixture->channel = grpc::CreateCustomChannel("unix://" + cfg->socket,
                                               grpc::InsecureChannelCredentials(), args);
  fixture->v2 = v2::KeyManagementService::NewStub(fixture->channel);
  fixture->v1 = v1beta1::KeyManagementService::NewStub(fixture->channel);
  std::atexit(stop);
  if (const char* seeds = std::getenv("TROUSSEAU_FUZZ_SEEDS")) write_seeds(seeds);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const auto call = static_cast<Call>(data[0] % 6);
  const void* body = data + 1;
  const int length = static_cast<int>(size - 1);
  grpc::ClientContext ctx;
  prepare(ctx);

  switch (call) {
    case v2_status:
      check_healthy();
      break;
    case v2_encrypt: {
      v2::EncryptRequest req;
      if (!req.ParseFromArray(body, length)) return 0;
      v2::EncryptResponse resp;
      const grpc::Status s = fixture->v2->Encrypt(&ctx, req, &resp);
      FUZZ_CHECK(documented(s, false));
      const bool fits = !req.plaintext().empty() && req.plaintext().size() <= envelope::kMaxPlaintext;
      FUZZ_CHECK(s.ok() == fits);
      if (!s.ok()) break;
      v2::DecryptRequest back;
      back.set_ciphertext(resp.ciphertext());
      back.set_key_id(resp.key_id());
      *back.mutable_annotations() = resp.annotations();
      v2::DecryptResponse plain;
      FUZZ_CHECK(v2_decrypt_call(back, plain).ok());
      FUZZ_CHECK(plain.plaintext() == req.plaintext());
      break;
    }
    case v2_decrypt: {
      v2::DecryptRequest req;
      if (!req.ParseFromArray(body, length)) return 0;
      v2::DecryptResponse resp;
      const grpc::Status s = v2_decrypt_call(req, resp);
      FUZZ_CHECK(documented(s, true));
      if (s.ok()) FUZZ_CHECK(!resp.plaintext().empty());
      break;
    }
    case v1_version: {
      v1beta1::VersionRequest req;
      if (!req.ParseFromArray(body, length)) return 0;
      v1beta1::VersionResponse resp;
      const grpc::Status s = fixture->v1->Version(&ctx, req, &resp);
      FUZZ_CHECK(s.ok() && resp.version() == "v1beta1");
      break;
    }
    case v1_encrypt: {
      v1beta1::EncryptRequest req;
      if (!req.ParseFromArray(body, length)) return 0;
      v1beta1::EncryptResponse resp;
      const grpc::Status s = fixture->v1->Encrypt(&ctx, req, &resp);
      FUZZ_CHECK(documented(s, false));
      if (!s.ok()) break;
      FUZZ_CHECK(!req.plain().empty() && req.plain().size() <= envelope::kMaxPlaintext);
      v1beta1::DecryptRequest back;
      back.set_version(req.version());
      back.set_cipher(resp.cipher());
      v1beta1::DecryptResponse plain;
      FUZZ_CHECK(v1_decrypt_call(back, plain).ok());
      FUZZ_CHECK(plain.plain() == req.plain());
      break;
    }
    case v1_decrypt: {
      v1beta1::DecryptRequest req;
      if (!req.ParseFromArray(body, length)) return 0;
      v1beta1::DecryptResponse resp;
      const grpc::Status s = v1_decrypt_call(req, resp);
      FUZZ_CHECK(documented(s, true));
      if (s.ok()) FUZZ_CHECK(!resp.plain().empty());
      break;
    }
  }
  return 0;
}
