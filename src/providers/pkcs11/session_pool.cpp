#include "providers/pkcs11/session_pool.hpp"

#include <utility>

#include "providers/pkcs11/ckr.hpp"

namespace trousseau::providers::pkcs11 {

SessionPool::SessionPool(const CK_FUNCTION_LIST& api, CK_SLOT_ID slot, PinSource pin,
                         unsigned max_sessions, bool read_write)
    : api_(api),
      slot_(slot),
      pin_(std::move(pin)),
      max_(max_sessions),
      flags_(CKF_SERIAL_SESSION | (read_write ? CKF_RW_SESSION : 0)) {}

SessionPool::~SessionPool() {
  for (CK_SESSION_HANDLE s : idle_) (void)api_.C_CloseSession(s);
}

SessionPool::Lease::Lease(Lease&& other) noexcept
    : pool_(std::exchange(other.pool_, nullptr)),
      handle_(other.handle_),
      discard_(other.discard_) {}

SessionPool::Lease::~Lease() {
  if (pool_ != nullptr) pool_->give_back(handle_, discard_);
}

Result<SessionPool::Lease> SessionPool::acquire() {
  std::unique_lock lock(mutex_);
  returned_.wait(lock, [&] { return !idle_.empty() || open_ < max_; });
  if (!idle_.empty()) {
    CK_SESSION_HANDLE s = idle_.back();
    idle_.pop_back();
    return Lease(this, s);
  }
  ++open_;  // reserve the place while opening outside the lock
  lock.unlock();
  Result<CK_SESSION_HANDLE> opened = open();
  if (opened.ok()) return Lease(this, *opened);
  lock.lock();
  --open_;
  returned_.notify_one();
  return opened.error();
}

Result<CK_SESSION_HANDLE> SessionPool::open() {
  CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
  if (CK_RV rv = api_.C_OpenSession(slot_, flags_, nullptr, nullptr, &s); rv != CKR_OK) {
    return to_error({rv, "C_OpenSession"});
  }
  if (Error e = login_if_needed(s); !e.ok()) {
    (void)api_.C_CloseSession(s);
    return e;
  }
  return s;
}

Error SessionPool::login_if_needed(CK_SESSION_HANDLE session) {
  std::lock_guard login(login_mutex_);
  CK_SESSION_INFO info{};
  if (CK_RV rv = api_.C_GetSessionInfo(session, &info); rv != CKR_OK) {
    return to_error({rv, "C_GetSessionInfo"});
  }
  if (info.state == CKS_RO_USER_FUNCTIONS || info.state == CKS_RW_USER_FUNCTIONS) return {};
  // The version first: a PIN already refused is not even read again.
  Result<PinVersion> version = pin_version(pin_);
  if (!version.ok()) return version.error();
  if (refused_ && refused_->version == *version) {
    return Error(ckr_code(refused_->rv), "C_Login refused the PIN in " + pin_.describe() + " (" +
                                             ckr_name(refused_->rv) +
                                             "); no new login until it changes");
  }
  Result<Pin> pin = read_pin(pin_);
  if (!pin.ok()) return pin.error();
  CK_RV rv = api_.C_Login(session, CKU_USER, pin->value.data(), pin->value.size());
  if (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN) {  // the latter: another provider's login
    refused_.reset();
    return {};
  }
  if (!ckr_pin_refused(rv)) return to_error({rv, "C_Login"});
  refused_ = Refusal{pin->version, rv};
  return Error(ckr_code(rv), "C_Login: " + ckr_name(rv) + " with the PIN in " + pin_.describe() +
                                 "; no new login until it changes");
}

void SessionPool::give_back(CK_SESSION_HANDLE session, bool discard) {
  std::vector<CK_SESSION_HANDLE> stale;
  {
    std::lock_guard lock(mutex_);
    if (discard) {
      // A lost session usually means a removed token or a lost login, which
      // the idle sessions share: reopen them all rather than fail on each.
      stale.swap(idle_);
      stale.push_back(session);
      open_ -= static_cast<unsigned>(stale.size());
    } else {
      idle_.push_back(session);
    }
  }
  for (CK_SESSION_HANDLE s : stale) (void)api_.C_CloseSession(s);
  returned_.notify_all();
}

}  // namespace trousseau::providers::pkcs11
