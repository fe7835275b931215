#include "softhsm.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "providers/pkcs11/ckr.hpp"
#include "providers/pkcs11/module.hpp"
#include "providers/pkcs11/session_pool.hpp"
#include "providers/pkcs11/token.hpp"

namespace trousseau::testkit {

namespace {

namespace p11 = providers::pkcs11;

constexpr const char* kModules[] = {
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
};
constexpr const char* kSoPin = "27182818";

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error("SoftHSM2 test token: " + what);
}

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// Runs a shell command, its output captured in `log`; fails with the output.
void run(const std::string& command, const std::string& log) {
  int rc = std::system((command + " >" + log + " 2>&1").c_str());
  if (rc != 0)
    fail("'" + command + "' failed (status " + std::to_string(rc) + "): " + read_all(log));
}

Bytes unhex(const std::string& hex) {
  Bytes out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<std::uint8_t>(std::stoul(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

}  // namespace

SoftHsm& SoftHsm::shared() {
  static SoftHsm hsm;  // a throw leaves it unbuilt: the next test fails the same way
  return hsm;
}

SoftHsm::SoftHsm() {
  for (const char* m : kModules) {
    if (std::filesystem::exists(m)) module_ = m;
  }
  if (module_.empty()) fail("libsofthsm2.so not found; install the softhsm2 package");
  const std::string log = dir_.file("softhsm2-util.log");
  run("softhsm2-util --version", log);

  std::filesystem::create_directory(dir_.path() / "tokens");
  const std::string conf = dir_.file("softhsm2.conf");
  write_file(conf,
             "directories.tokendir = " + dir_.file("tokens") +
                 "\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n");
  ::setenv("SOFTHSM2_CONF", conf.c_str(), 1);
  pin_file_ = dir_.file("user.pin");
  write_file(pin_file_, pin_ + "\n");
  run("softhsm2-util --init-token --free --label " + token_label_ + " --so-pin " + kSoPin +
          " --pin " + pin_,
      log);

  auto module = p11::Module::load(module_);
  if (!module.ok()) fail(module.error().message());
  auto token = p11::find_token((*module)->api(), token_label_, std::nullopt);
  if (!token.ok()) fail(token.error().message());
  slot_ = token->slot;
  serial_ = token->serial;
  add_aes_key(key_label_, key_id_);
}

void SoftHsm::add_aes_key(const std::string& label, const std::string& id_hex,
                          const std::optional<Bytes>& value) const {
  auto module = p11::Module::load(module_);
  if (!module.ok()) fail(module.error().message());
  const CK_FUNCTION_LIST& api = (*module)->api();
  p11::SessionPool sessions(api, slot_, {pin_file_, {}}, 1, /*read_write=*/true);
  auto lease = sessions.acquire();
  if (!lease.ok()) fail(lease.error().message());

  CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
  CK_KEY_TYPE type = CKK_AES;
  CK_ULONG size = 32;
  CK_BBOOL yes = CK_TRUE;
  CK_BBOOL no = CK_FALSE;
  Bytes label_bytes = to_bytes(label);
  Bytes id = unhex(id_hex);
  Bytes bytes = value.value_or(Bytes{});
  std::vector<CK_ATTRIBUTE> tmpl = {
      {CKA_CLASS, &cls, sizeof cls},
      {CKA_KEY_TYPE, &type, sizeof type},
      {CKA_TOKEN, &yes, sizeof yes},
      {CKA_PRIVATE, &yes, sizeof yes},
      {CKA_SENSITIVE, &yes, sizeof yes},
      {CKA_EXTRACTABLE, &no, sizeof no},
      {CKA_ENCRYPT, &yes, sizeof yes},
      {CKA_DECRYPT, &yes, sizeof yes},
      {CKA_LABEL, label_bytes.data(), label_bytes.size()},
  };
  if (!id.empty()) tmpl.push_back({CKA_ID, id.data(), id.size()});
  CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
  p11::Rv rv;
  if (value) {
    tmpl.push_back({CKA_VALUE, bytes.data(), bytes.size()});
    rv = {api.C_CreateObject(lease->handle(), tmpl.data(), tmpl.size(), &key), "C_CreateObject"};
  } else {
    tmpl.push_back({CKA_VALUE_LEN, &size, sizeof size});
    CK_MECHANISM mech{CKM_AES_KEY_GEN, nullptr, 0};
    rv = {api.C_GenerateKey(lease->handle(), &mech, tmpl.data(), tmpl.size(), &key),
          "C_GenerateKey"};
  }
  if (!rv.ok()) fail("creating key '" + label + "': " + p11::to_error(rv).message());
}

std::string SoftHsm::provider_yaml(const std::string& name, const std::string& extra) const {
  return "{name: " + name + ", type: pkcs11, module: " + module_ +
         ", token_label: " + token_label_ + ", pin_file: " + pin_file_ +
         ", key_label: " + key_label_ + (extra.empty() ? "" : ", " + extra) + "}";
}

}  // namespace trousseau::testkit
