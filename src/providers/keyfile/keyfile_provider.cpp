#include "providers/keyfile/keyfile_provider.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/log.hpp"
#include "common/text.hpp"
#include "envelope/aead.hpp"
#include "providers/completion.hpp"
#include "providers/registry.hpp"

namespace trousseau::providers::keyfile {

namespace {

constexpr std::string_view kIdentityLabel = "trousseau.io/keyfile/identity/v1";

struct Settings final : ProviderSettings {
  std::string path;
  bool create = true;
};

std::string errno_text(int err) { return std::strerror(err); }

bool same_file(const struct ::stat& a, const struct ::stat& b) {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino && a.st_size == b.st_size &&
         a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec;
}

Error check_mode(const std::string& path, const struct ::stat& st) {
  if (!S_ISREG(st.st_mode)) return unavailable("key file " + path + " is not a regular file");
  if ((st.st_mode & 077) != 0) {
    return Error(Code::failed_precondition,
                 "key file " + path + " is accessible by group or others; chmod 600 it");
  }
  return {};
}

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
  SecretBytes key;
  std::string identity;
  (void)current_key(key, identity);  // prime the identity; errors surface per call
}

std::string KeyfileProvider::key_identity() const {
  std::lock_guard lock(mutex_);
  return identity_;
}

Error KeyfileProvider::current_key(SecretBytes& key, std::string& identity) {
  // O_NOFOLLOW: the key file itself must not be a symlink someone could swap.
  int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return unavailable("key file " + path_ + ": " + errno_text(errno));
  struct ::stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return unavailable("key file " + path_ + ": " + errno_text(err));
  }
  if (Error e = check_mode(path_, st); !e.ok()) {
    ::close(fd);
    return e;
  }
  std::lock_guard lock(mutex_);
  if (key_.empty() || !same_file(st, loaded_)) {
    std::uint8_t buf[128];
    ssize_t n = ::read(fd, buf, sizeof buf);
    int err = errno;
    ::close(fd);
    fd = -1;
    if (n < 0) return unavailable("key file " + path_ + ": " + errno_text(err));
    Result<SecretBytes> parsed = decode_key({buf, static_cast<std::size_t>(n)}, path_);
    secure_wipe(buf);
    if (!parsed.ok()) return parsed.error();
    Bytes digest = sha256({as_bytes(kIdentityLabel), parsed->view()});
    std::string fresh = "sha256:" + hex_encode(ByteView(digest).first(16));
    if (fresh != identity_ && identity_ != "unloaded") {
      log::info("provider=" + name() + " msg=\"key file changed\" key_identity=" + fresh);
    }
    key_ = std::move(parsed.value());
    identity_ = std::move(fresh);
    loaded_ = st;
  }
  if (fd >= 0) ::close(fd);
  key = SecretBytes(key_.view());
  identity = identity_;
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
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return {};  // lost a race with another creator: fine
    return unavailable("cannot create key file " + path + ": " + errno_text(errno));
  }
  SecretBytes key = SecretBytes::random(aead::kKeySize);
  std::string text = base64_encode(key.view()) + "\n";
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  int err = errno;
  secure_wipe({reinterpret_cast<std::uint8_t*>(text.data()), text.size()});
  ::close(fd);
  if (!ok) {
    ::unlink(path.c_str());
    return unavailable("cannot write key file " + path + ": " + errno_text(err));
  }
  log::info("msg=\"created key file\" path=" + path);
  return {};
}

namespace {

class KeyfileFactory final : public ProviderFactory {
 public:
  std::string_view type() const override { return "keyfile"; }

  std::unique_ptr<ProviderSettings> parse(settings::Node& node) const override {
    auto s = std::make_unique<Settings>();
    s->path = node.string("path");
    if (!s->path.empty() && s->path.front() != '/') node.error("path", "must be an absolute path");
    s->create = node.boolean("create_if_missing", true);
    return s;
  }

  Result<std::unique_ptr<Provider>> create(const std::string& name,
                                           const ProviderSettings& settings,
                                           const ProviderContext& context) const override {
    const auto& s = static_cast<const Settings&>(settings);
    if (s.create && context.create_missing_keys) {
      if (Error e = KeyfileProvider::create_if_missing(s.path); !e.ok()) return e;
    }
    return std::unique_ptr<Provider>(std::make_unique<KeyfileProvider>(name, s.path, context.executor));
  }
};

TROUSSEAU_REGISTER_PROVIDER(KeyfileFactory)

}  // namespace

}  // namespace trousseau::providers::keyfile
