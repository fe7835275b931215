// A real SoftHSM2 token for provider tests: made fresh in a private
// directory, once per test process, with an AES-256 key generated on it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/bytes.hpp"
#include "support/temp_dir.hpp"

namespace trousseau::testkit {

/// Sets SOFTHSM2_CONF for the whole process (SoftHSM reads it at
/// C_Initialize), initializes a token with softhsm2-util, and generates the
/// key through PKCS#11 itself. Any failure, a missing softhsm2 included,
/// throws std::runtime_error: tests must fail, never skip, without it.
class SoftHsm {
 public:
  /// The process-wide token, created on first use.
  static SoftHsm& shared();

  SoftHsm();
  SoftHsm(const SoftHsm&) = delete;
  SoftHsm& operator=(const SoftHsm&) = delete;

  const std::string& module_path() const { return module_; }
  const std::string& token_label() const { return token_label_; }
  std::uint64_t slot() const { return slot_; }
  const std::string& serial() const { return serial_; }
  const std::string& pin() const { return pin_; }
  /// Holds the user PIN and a trailing newline, mode 0600.
  const std::string& pin_file() const { return pin_file_; }
  const std::string& key_label() const { return key_label_; }
  /// CKA_ID of the key, in hex.
  const std::string& key_id() const { return key_id_; }

  /// One `providers:` entry as a YAML flow mapping, selecting the token and
  /// key by label, with `extra` ("sessions: 2, threads: 1") appended:
  ///   "{name: hsm, type: pkcs11, module: ..., token_label: ..., ...}"
  std::string provider_yaml(const std::string& name, const std::string& extra = "") const;

  /// Adds an AES-256 key (sensitive, token object, encrypt and decrypt):
  /// generated on the token, or imported from `value` when given so that a
  /// test knows the key bytes. An empty `id_hex` leaves CKA_ID unset.
  void add_aes_key(const std::string& label, const std::string& id_hex,
                   const std::optional<Bytes>& value = std::nullopt) const;

 private:
  TempDir dir_;
  std::string module_;
  std::string token_label_ = "trousseau-test";
  std::string pin_ = "31415926";
  std::string pin_file_;
  std::string key_label_ = "trousseau-kek";
  std::string key_id_ = "4b454b01";
  std::uint64_t slot_ = 0;
  std::string serial_;
};

}  // namespace trousseau::testkit
