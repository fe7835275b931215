#include "age/trousseau_keys.hpp"

#include "age/bech32.hpp"
#include "age_stanza.pb.h"
#include "common/text.hpp"
#include "kms/client.hpp"
#include "kms/status_code_name.hpp"

namespace trousseau::age {

namespace {

Result<std::string> encode(std::string_view hrp, const std::string& socket_path) {
  if (socket_path.empty() || socket_path.front() != '/') {
    return invalid_argument("the socket path must be absolute: " + socket_path);
  }
  return bech32_encode(hrp, as_bytes(socket_path));
}

Result<std::string> decode(std::string_view hrp, std::string_view text, std::string_view what) {
  Result<Bech32> b = bech32_decode(text);
  if (!b.ok()) return invalid_argument("not a Trousseau " + std::string(what) + ": " + b.error().message());
  if (b->hrp != hrp) {
    return invalid_argument("not a Trousseau " + std::string(what) + " (prefix " + b->hrp + ")");
  }
  std::string path(as_chars(b->data));
  if (path.empty() || path.front() != '/' || path.find('\0') != std::string::npos) {
    return invalid_argument("the " + std::string(what) + " does not name an absolute socket path");
  }
  return path;
}

/// The plugin's answer with the gRPC code's name. age prints it to a
/// terminal, and it may quote a remote KMS: control bytes are escaped.
Error rpc_error(const std::string& socket, const grpc::Status& s) {
  const Code code = s.error_code() == grpc::StatusCode::INVALID_ARGUMENT ? Code::invalid_argument
                                                                          : Code::unavailable;
  std::string message = "trousseau at ";
  append_escaped(message, socket, 200, Escape::c);
  message += ": " + kms::status_code_name(s.error_code()) + ": ";
  append_escaped(message, s.error_message(), 2000, Escape::c);
  return {code, std::move(message)};
}

}  // namespace

Result<std::string> recipient_for(const std::string& socket_path) {
  return encode(kRecipientHrp, socket_path);
}

Result<std::string> identity_for(const std::string& socket_path) {
  Result<std::string> s = encode(kIdentityHrp, socket_path);
  if (!s.ok()) return s;
  std::string upper = s.value();
  for (char& c : upper) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return upper;
}

Result<std::string> socket_of_recipient(std::string_view recipient) {
  return decode(kRecipientHrp, recipient, "recipient");
}

Result<std::string> socket_of_identity(std::string_view identity) {
  return decode(kIdentityHrp, identity, "identity");
}

Result<WrappedKey> TrousseauKeys::wrap(const std::string& recipient_or_identity, bool identity,
                                       const SecretBytes& file_key) {
  Result<std::string> socket =
      identity ? socket_of_identity(recipient_or_identity) : socket_of_recipient(recipient_or_identity);
  if (!socket.ok()) return socket.error();
  if (file_key.size() != kFileKeySize) {
    return invalid_argument("a file key of " + std::to_string(file_key.size()) + " bytes, not 16");
  }
  std::string plaintext;
  plaintext.reserve(kFileKeyLabel.size() + kFileKeySize);
  plaintext.append(kFileKeyLabel);
  plaintext.append(as_chars(file_key.view()));
  kms::Client client(*socket, {.timeout = timeout_, .wait_for_ready = false});
  v2::EncryptResponse resp;
  const grpc::Status status = client.encrypt(plaintext, resp);
  secure_wipe(plaintext);
  if (!status.ok()) return rpc_error(*socket, status);
  StanzaBody body;
  body.set_ciphertext(resp.ciphertext());
  body.set_key_id(resp.key_id());
  for (const auto& [name, value] : resp.annotations()) (*body.mutable_annotations())[name] = value;
  const std::string bytes = body.SerializeAsString();
  return WrappedKey{std::string(kStanzaType), {std::string(kStanzaVersion)}, to_bytes(bytes)};
}

Result<SecretBytes> TrousseauKeys::unwrap(const std::string& identity, const Stanza& stanza) {
  Result<std::string> socket = socket_of_identity(identity);
  if (!socket.ok()) return socket.error();
  if (stanza.args.size() != 1 || stanza.args[0] != kStanzaVersion) {
    return invalid_argument("a trousseau stanza of another version (want one argument, v1)");
  }
  StanzaBody body;
  if (!body.ParseFromArray(stanza.body.data(), static_cast<int>(stanza.body.size())) ||
      body.ciphertext().empty()) {
    return invalid_argument("a trousseau stanza whose body is not a Trousseau envelope");
  }
  kms::Annotations annotations;
  for (const auto& [name, value] : body.annotations()) annotations[name] = value;
  kms::Client client(*socket, {.timeout = timeout_, .wait_for_ready = false});
  v2::DecryptResponse resp;
  const grpc::Status status = client.decrypt(body.ciphertext(), body.key_id(), annotations, resp);
  std::string& plaintext = *resp.mutable_plaintext();
  if (!status.ok()) {
    secure_wipe(plaintext);
    return rpc_error(*socket, status);
  }
  // The envelope opened, so the quorum wrapped it; the label says it was
  // wrapped as a file key and not for another use of the socket.
  const bool is_file_key = plaintext.size() == kFileKeyLabel.size() + kFileKeySize &&
                           plaintext.compare(0, kFileKeyLabel.size(), kFileKeyLabel) == 0;
  if (!is_file_key) {
    secure_wipe(plaintext);
    return invalid_argument("the trousseau stanza opened, but not to an age file key: "
                            "its envelope was made for another use of the plugin");
  }
  SecretBytes key(as_bytes(std::string_view(plaintext).substr(kFileKeyLabel.size())));
  secure_wipe(plaintext);
  return key;
}

}  // namespace trousseau::age
