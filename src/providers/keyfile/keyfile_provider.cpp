#include "providers/keyfile/keyfile_provider.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/completion.hpp"
#include "common/fd.hpp"
#include "common/log.hpp"
#include "common/text.hpp"
#include "envelope/aead.hpp"

namespace trousseau::providers::keyfile {

namespace {

constexpr std::string_view kIdentityLabel = "trousseau.io/keyfile/identity/v1";

std::string errno_text(int err) { return std::strerror(err); }

/// 32 raw bytes, or their base64 with some whitespace: anything much
/// longer is not a key file.
constexpr SecretFileRules kKeyFileRules{.what = "key file", .max_size = 4096};

/// Parses 32 raw bytes or their base64 (surrounding whitespace allowed).
Result<SecretBytes> decode_key(ByteView raw, const std::string& path) {
  if (raw.size() == aead::kKeySize) return SecretBytes(raw);
  std::string_view text = as_chars(raw);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  Bytes decoded;
  if (base64_decode(text, decoded) && decoded.size() == aead::kKeySize) {
    SecretBytes key(decoded);
    secure_wipe(decoded);
    return key;
  }
  secure_wipe(decoded);
  return Error(Code::failed_precondition,
               "key file " + path + " must hold 32 bytes, raw or base64-encoded");
}

}  // namespace

KeyfileProvider::KeyfileProvider(std::string name, std::string path,
                                 asio::any_io_executor executor)
    : Provider(std::move(name), "keyfile"), path_(std::move(path)), executor_(std::move(executor)) {
  auto watch = FileWatch::start(path_);
  if (watch.ok()) {
    watch_ = std::move(watch.value());
  } else {
    log::warn("cannot watch the key file: it is checked on every call instead",
              {{"provider", this->name()}, {"error", watch.error().message()}});
  }
  SecretBytes key;
  std::string identity;
  (void)current_key(key, identity);  // prime the identity; errors surface per call
}

std::string KeyfileProvider::key_identity() const {
  std::lock_guard lock(mutex_);
  return identity_;
}

Error KeyfileProvider::current_key(SecretBytes& key, std::string& identity) {
  std::lock_guard lock(mutex_);
  if (!watch_ || !loaded_ok_ || watch_->generation() != loaded_generation_) {
    if (Error e = reload_locked(); !e.ok()) return e;
  }
  key = SecretBytes(key_.view());
  identity = identity_;
  return {};
}

Error KeyfileProvider::reload_locked() {
  loaded_ok_ = false;
  std::uint64_t generation = 0;
  if (watch_) {
    // Before reading (file_watch.hpp): a change from now on is seen again.
    generation = watch_->generation();
    watch_->rearm();
  }
  Result<SecretFile> file = open_secret_file(path_, kKeyFileRules);
  if (!file.ok()) return file.error();
  if (key_.empty() || file->version() != loaded_) {
    Result<SecretBytes> raw = file->read();
    if (!raw.ok()) return raw.error();
    Result<SecretBytes> parsed = decode_key(raw->view(), path_);
    if (!parsed.ok()) return parsed.error();
    Bytes digest = sha256({as_bytes(kIdentityLabel), parsed->view()});
    std::string fresh = "sha256:" + hex_encode(ByteView(digest).first(16));
    if (fresh != identity_ && identity_ != "unloaded") {
      log::info("key file changed", {{"provider", name()}, {"key_identity", fresh}});
    }
    key_ = std::move(parsed.value());
    identity_ = std::move(fresh);
    loaded_ = file->version();
  }
  loaded_generation_ = generation;
  loaded_ok_ = true;
  return {};
}

bool KeyfileProvider::owns_key_version(std::string_view key_version) const {
  std::lock_guard lock(mutex_);
  return key_version == identity_;
}

void KeyfileProvider::wrap_impl(const CallOptions& /*local, immediate*/, ByteView context, ByteView share,
                                asio::any_completion_handler<WrapSignature> handler) {
  // Local AES-GCM takes microseconds: done inline, completed by post.
  SecretBytes key;
  WrapResult result;
  Error err = current_key(key, result.key_version);
  if (err.ok()) {
    Bytes nonce(aead::kNonceSize);
    random_fill(nonce);
    Result<Bytes> sealed = aead::seal(key.view(), nonce, context, share);
    if (sealed.ok()) {
      result.wrapped = std::move(nonce);
      result.wrapped.insert(result.wrapped.end(), sealed->begin(), sealed->end());
    } else {
      err = sealed.error();
    }
  }
  post_completion(executor_, std::move(handler), std::move(err), std::move(result));
}

void KeyfileProvider::unwrap_impl(const CallOptions& /*local, immediate*/, ByteView context, std::string_view key_version,
                                  ByteView wrapped,
                                  asio::any_completion_handler<UnwrapSignature> handler) {
  SecretBytes key;
  std::string identity;
  Error err = current_key(key, identity);
  SecretBytes share;
  if (err.ok() && key_version != identity) {
    // Not ours: the data's fault (or an operator's key change), never a
    // reason to doubt this provider's health.
    err = invalid_argument("share was wrapped by key " + quote(key_version) +
                           " but the key file holds " + identity);
  }
  if (err.ok()) {
    if (wrapped.size() <= aead::kNonceSize + aead::kTagSize) {
      err = integrity_error("wrapped share too short");
    } else {
      Result<SecretBytes> opened = aead::open(key.view(), wrapped.first(aead::kNonceSize),
                                              context, wrapped.subspan(aead::kNonceSize));
      if (opened.ok()) {
        share = std::move(opened.value());
      } else {
        err = opened.error();
      }
    }
  }
  post_completion(executor_, std::move(handler), std::move(err), std::move(share));
}

void KeyfileProvider::probe_impl(const CallOptions& /*local, immediate*/, asio::any_completion_handler<ProbeSignature> handler) {
  SecretBytes key;
  std::string identity;
  Error err = current_key(key, identity);
  post_completion(executor_, std::move(handler), std::move(err));
}

Error KeyfileProvider::create_if_missing(const std::string& path) {
  std::error_code ec;
  std::filesystem::path p(path);
  if (std::filesystem::exists(std::filesystem::symlink_status(p, ec))) return {};
  if (p.has_parent_path() && !std::filesystem::exists(p.parent_path(), ec)) {
    std::filesystem::create_directories(p.parent_path(), ec);
    if (ec) return unavailable("cannot create " + p.parent_path().string() + ": " + ec.message());
    std::filesystem::permissions(p.parent_path(), std::filesystem::perms::owner_all, ec);
  }
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) {
    if (errno == EEXIST) return {};  // lost a race with another creator: fine
    return unavailable("cannot create key file " + path + ": " + errno_text(errno));
  }
  SecretBytes key = SecretBytes::random(aead::kKeySize);
  std::string text = base64_encode(key.view()) + "\n";
  bool ok = ::write(fd.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd.get()) == 0;
  int err = errno;
  secure_wipe(text);
  fd.reset();
  if (!ok) {
    ::unlink(path.c_str());
    return unavailable("cannot write key file " + path + ": " + errno_text(err));
  }
  log::info("created key file", {{"path", path}});
  return {};
}

}  // namespace trousseau::providers::keyfile
