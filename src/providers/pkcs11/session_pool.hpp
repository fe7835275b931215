// A bounded pool of logged-in PKCS#11 sessions on one token.
#pragma once

#include <condition_variable>
#include <mutex>
#include <optional>
#include <vector>

#include "common/error.hpp"
#include "providers/pkcs11/cryptoki.hpp"
#include "providers/pkcs11/pin.hpp"

namespace trousseau::providers::pkcs11 {

/// At most `max_sessions` sessions exist at once; each is lent to one
/// thread at a time (PKCS#11 sessions are not for concurrent use). Sessions
/// open lazily and stay open: the login belongs to the application and
/// lasts as long as any of its sessions does. A session opened while the
/// token is not logged in logs in, reading the PIN afresh.
///
/// A PIN the token refused (CKR_PIN_INCORRECT, CKR_PIN_LOCKED, ...) is not
/// offered again: each try brings the token closer to locking it, and
/// requests and probes would otherwise try it every time. Until the PIN
/// source changes (see PinVersion), a login fails at once with the
/// remembered refusal and C_Login is not called.
class SessionPool {
 public:
  SessionPool(const CK_FUNCTION_LIST& api, CK_SLOT_ID slot, PinSource pin, unsigned max_sessions,
              bool read_write);
  ~SessionPool();  ///< closes the idle sessions; none may be on loan
  SessionPool(const SessionPool&) = delete;
  SessionPool& operator=(const SessionPool&) = delete;

  /// A session on loan, given back when destroyed.
  class Lease {
   public:
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    CK_SESSION_HANDLE handle() const { return handle_; }
    /// The session is unusable (see ckr_session_unusable): close it, and
    /// the idle ones with it, rather than give it back.
    void discard() { discard_ = true; }

   private:
    friend class SessionPool;
    Lease(SessionPool* pool, CK_SESSION_HANDLE handle) : pool_(pool), handle_(handle) {}
    SessionPool* pool_;
    CK_SESSION_HANDLE handle_;
    bool discard_ = false;
  };

  /// An idle session, a new one, or (all lent out) waits for one. Blocking.
  Result<Lease> acquire();

  /// Logs in again if the token logged us out while `lease`'s session
  /// stayed open (after C_Logout a private key handle reads as invalid).
  Error ensure_login(const Lease& lease) { return login_if_needed(lease.handle()); }

 private:
  struct Refusal {
    PinVersion version;  ///< of the PIN the token refused
    CK_RV rv;
  };

  Result<CK_SESSION_HANDLE> open();
  Error login_if_needed(CK_SESSION_HANDLE session);
  void give_back(CK_SESSION_HANDLE session, bool discard);

  const CK_FUNCTION_LIST& api_;
  const CK_SLOT_ID slot_;
  const PinSource pin_;
  const unsigned max_;
  const CK_FLAGS flags_;
  std::mutex mutex_;
  std::condition_variable returned_;
  std::vector<CK_SESSION_HANDLE> idle_;
  unsigned open_ = 0;  ///< idle, lent out, or being opened
  /// Held across one login attempt, so that threads opening sessions at
  /// once offer a refused PIN once between them; guards refused_.
  std::mutex login_mutex_;
  std::optional<Refusal> refused_;
};

}  // namespace trousseau::providers::pkcs11
