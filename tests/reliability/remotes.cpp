#include "reliability/remotes.hpp"

#include <gtest/gtest.h>

#include <csignal>

#include "cloudkms_double.hpp"
#include "keyvault_double.hpp"
#include "providers/awskms/moto.hpp"
#include "pykmip_server.hpp"
#include "support/temp_dir.hpp"
#include "vault_double.hpp"

namespace trousseau::testkit {
namespace {

using Fault = TcpProxy::Fault;

std::uint16_t port_of(const std::string& url) {
  return static_cast<std::uint16_t>(std::stoul(url.substr(url.rfind(':') + 1)));
}

/// `text` with every `from` replaced by `to`.
std::string replaced(std::string text, const std::string& from, const std::string& to) {
  for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

/// Keys are new for every case, so that no case reads another's.
std::string next_key_name() {
  static int n = 0;
  return "faults-" + std::to_string(++n);
}

class AwsRemote final : public Remote {
 public:
  bool running() const override { return moto_.running(); }
  std::uint16_t port() const override { return moto_.port(); }
  std::string provider_entry(const std::string& name, const TcpProxy& proxy,
                             const std::string& timeout) override {
    const std::string arn = moto_.prepare_key();
    return "{name: " + name + ", type: awskms, region: us-east-1, key_id: " + arn +
           ", endpoint: " + proxy.endpoint() + ", cluster_name: faults, timeout: " + timeout + "}";
  }
  void freeze() override { moto_.freeze(); }
  void thaw() override { moto_.thaw(); }
  void lie(TcpProxy& proxy) override { proxy.set_fault(Fault::wrong_plaintext); }
  void tell_the_truth(TcpProxy& proxy) override { proxy.restore(); }

 private:
  MotoServer moto_;
};

/// The Vault double over plain HTTP, so that the proxy can change its
/// answers; token auth from a file, a non-renewable token of an hour.
class VaultRemote final : public Remote {
 public:
  bool running() const override { return vault_.running(); }
  std::uint16_t port() const override { return port_of(vault_.address()); }
  std::string provider_entry(const std::string& name, const TcpProxy& proxy,
                             const std::string& timeout) override {
    const std::string key = next_key_name();
    vault_.create_key(key);
    renew_credential();
    return "{name: " + name + ", type: vault, address: \"http://" + proxy.host_port() +
           "\", key: " + key + ", timeout: " + timeout + ", auth: {method: token, token_file: \"" +
           dir_.file("token") + "\"}}";
  }
  void freeze() override { vault_.signal(SIGSTOP); }
  void thaw() override { vault_.signal(SIGCONT); }
  void lie(TcpProxy& proxy) override { proxy.set_fault(Fault::wrong_plaintext); }
  void tell_the_truth(TcpProxy& proxy) override { proxy.restore(); }
  bool expire_credential() override {
    vault_.advance(std::chrono::hours(2));
    return true;
  }
  /// A new token in the file, as an operator (or an agent) would put it.
  void renew_credential() override {
    write_file(dir_.file("token"), vault_.create_token(3600, /*renewable=*/false));
  }

 private:
  TempDir dir_;
  VaultDouble vault_;
};

/// Key Vault over TLS: the vault and its Entra token endpoint both through
/// the proxy (one origin), an RSA key.
class AzureRemote final : public Remote {
 public:
  bool running() const override { return vault_.running(); }
  std::uint16_t port() const override { return port_of(vault_.url()); }
  std::string provider_entry(const std::string& name, const TcpProxy& proxy,
                             const std::string& timeout) override {
    const std::string key = next_key_name();
    vault_.create_key(key, "RSA");
    return "{name: " + name + ", type: azurekv, " +
           replaced(vault_.entry(key, "timeout: " + timeout), vault_.url(), "https://" + proxy.host_port()) + "}";
  }
  void freeze() override { vault_.signal(SIGSTOP); }
  void thaw() override { vault_.signal(SIGCONT); }
  void lie(TcpProxy&) override { vault_.corrupt(1 << 30); }
  void tell_the_truth(TcpProxy&) override { vault_.corrupt(0); }
  bool expire_credential() override {
    vault_.advance_clock(2 * 3600);
    return false;
  }
  int credential_refusals() override { return vault_.count("/keys/", 401); }

 private:
  KeyVaultDouble vault_;
};

/// Cloud KMS over TLS, through the proxy (the service account's token
/// endpoint is named in its key file, and stays direct). Its lie keeps the
/// CRC32C consistent with the wrong plaintext, so that it gets past the
/// provider's integrity check and only the envelope can catch it.
class GcpRemote final : public Remote {
 public:
  bool running() const override { return kms_.running(); }
  std::uint16_t port() const override { return port_of(kms_.url()); }
  std::string provider_entry(const std::string& name, const TcpProxy& proxy,
                             const std::string& timeout) override {
    const std::string key = CloudKmsDouble::key_path(next_key_name());
    kms_.create_key(key);
    return "{name: " + name + ", type: gcpkms, " +
           replaced(kms_.entry(key, "timeout: " + timeout), kms_.url(), "https://" + proxy.host_port()) + "}";
  }
  void freeze() override { kms_.signal(SIGSTOP); }
  void thaw() override { kms_.signal(SIGCONT); }
  void lie(TcpProxy&) override { kms_.corrupt("plaintextAndCrc32c", 1 << 30); }
  void tell_the_truth(TcpProxy&) override { kms_.corrupt("plaintextAndCrc32c", 0); }
  bool expire_credential() override {
    kms_.advance_clock(2 * 3600);
    return false;
  }
  int credential_refusals() override { return kms_.count("/v1/", 401); }

 private:
  CloudKmsDouble kms_;
};

class KmipRemote final : public Remote {
 public:
  bool running() const override { return kmip_.running(); }
  std::uint16_t port() const override { return kmip_.port(); }
  std::string provider_entry(const std::string& name, const TcpProxy& proxy,
                             const std::string& timeout) override {
    const std::string uid = kmip_.create_key(next_key_name());
    return "{name: " + name + ", " +
           replaced(kmip_.entry(uid, "timeout: " + timeout), kmip_.endpoint(), proxy.host_port()) + "}";
  }
  void freeze() override { kmip_.signal(SIGSTOP); }
  void thaw() override { kmip_.signal(SIGCONT); }
  void lie(TcpProxy&) override { ADD_FAILURE() << "PyKMIP cannot be made to lie"; }
  void tell_the_truth(TcpProxy&) override {}
  void kill() override { kmip_.kill(); }
  bool restart() override {
    kmip_.start();
    return kmip_.running();
  }

 private:
  PyKmipServer kmip_;
};

}  // namespace

std::unique_ptr<Remote> Remote::start(Kind kind) {
  switch (kind) {
    case Kind::aws: return std::make_unique<AwsRemote>();
    case Kind::vault: return std::make_unique<VaultRemote>();
    case Kind::azure: return std::make_unique<AzureRemote>();
    case Kind::gcp: return std::make_unique<GcpRemote>();
    case Kind::kmip: return std::make_unique<KmipRemote>();
  }
  return nullptr;
}

const std::vector<FaultCase>& fault_cases() {
  using Way = FaultCase::Way;
  using Fault = TcpProxy::Fault;
  static const std::vector<FaultCase> cases = {
      {"connections refused", Way::proxy, Fault::refuse, true},
      {"blackhole (no answer past the deadline)", Way::proxy, Fault::blackhole, true},
      {"reset mid-response", Way::proxy, Fault::reset_response, true},
      {"garbage answers", Way::proxy, Fault::garbage, true},
      {"latency 50 ms per chunk", Way::proxy, Fault::latency, false},
      {"server frozen (SIGSTOP) and thawed", Way::freeze, Fault::none, true},
      {"wrong plaintext from a well-formed answer", Way::lie, Fault::none, false},
      {"server killed (SIGKILL) and restarted", Way::kill, Fault::none, true},
      // Unhealthy only where the credential stays dead until renewed
      // (Remote::expire_credential()).
      {"credential expired", Way::expire, Fault::none, false},
  };
  return cases;
}

bool can_suffer(Remote::Kind kind, const FaultCase& fault) {
  switch (fault.way) {
    case FaultCase::Way::lie: return Remote::can_lie(kind);
    case FaultCase::Way::kill: return Remote::can_restart(kind);
    case FaultCase::Way::expire: return Remote::can_expire(kind);
    case FaultCase::Way::proxy:
    case FaultCase::Way::freeze: return true;
  }
  return false;
}

bool begin_fault(const FaultCase& fault, Remote& remote, TcpProxy& proxy) {
  switch (fault.way) {
    case FaultCase::Way::proxy: proxy.set_fault(fault.fault, std::chrono::milliseconds(50)); break;
    case FaultCase::Way::freeze: remote.freeze(); break;
    case FaultCase::Way::kill: remote.kill(); break;
    case FaultCase::Way::lie: remote.lie(proxy); break;
    case FaultCase::Way::expire: return remote.expire_credential();
  }
  return fault.unhealthy;
}

bool end_fault(const FaultCase& fault, Remote& remote, TcpProxy& proxy) {
  switch (fault.way) {
    case FaultCase::Way::proxy: proxy.restore(); break;
    case FaultCase::Way::freeze: remote.thaw(); break;
    case FaultCase::Way::kill: return remote.restart();
    case FaultCase::Way::lie: remote.tell_the_truth(proxy); break;
    case FaultCase::Way::expire: remote.renew_credential(); break;
  }
  return true;
}

std::string fast_health(const std::string& probe_timeout) {
  return "health:\n"
         "  probe_interval: 300ms\n"
         "  unhealthy_probe_interval: 200ms\n"
         "  probe_timeout: " + probe_timeout + "\n"
         "  failure_threshold: 2\n"
         "  breaker_backoff: 200ms\n";
}

}  // namespace trousseau::testkit
