// The user PIN: a refused PIN is offered to the token once per version of
// its source, and a PIN file must be private, as key files are. Logins are
// counted by the counting module in front of a real SoftHSM2 token.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include "pkcs11_fixture.hpp"
#include "support/temp_dir.hpp"

namespace trousseau::providers::pkcs11 {
namespace {

class Pkcs11PinTest : public Pkcs11Test {
 protected:
  /// Writes the PIN file (mode 0600) and gives it an mtime of its own, so
  /// every write is a new version of it whatever the file system's
  /// timestamp granularity: "rewritten" never depends on the clock.
  void write_pin(const std::string& pin, unsigned mode = 0600) {
    testkit::write_file(pin_file, pin + "\n", mode);
    const struct ::timespec times[2] = {{0, UTIME_OMIT}, {1'000'000 + ++writes, 0}};
    ASSERT_EQ(::utimensat(AT_FDCWD, pin_file.c_str(), times, 0), 0);
  }

  std::string pin_entry(const std::string& extra = "") const {
    return counted_entry("pin_file: " + pin_file, extra);
  }

  static unsigned long logins() { return trousseau_p11_logins(); }

  /// Every call and probe fails the same way, without a C_Login.
  void expect_refused_without_login(Provider& p, const WrapResult& earlier, Code code,
                                    const std::string& needle) {
    const unsigned long before = logins();
    SecretBytes share = SecretBytes::random(32);
    for (int i = 0; i < 3; ++i) {
      auto [we, w] = wrap(p, share.view());
      auto [ue, back] = unwrap(p, earlier);
      Error pe = probe(p);
      for (const Error& e : {we, ue, pe}) {
        EXPECT_EQ(e.code(), code) << e.message();
        EXPECT_NE(e.message().find(needle), std::string::npos) << e.message();
        EXPECT_NE(e.message().find(pin_file), std::string::npos) << e.message();
        EXPECT_EQ(e.message().find(hsm->pin()), std::string::npos) << e.message();
        EXPECT_EQ(e.message().find("00000000"), std::string::npos) << e.message();
      }
    }
    EXPECT_EQ(logins(), before);
  }

  testkit::TempDir dir;
  const std::string pin_file = dir.file("user.pin");
  int writes = 0;
};

TEST_F(Pkcs11PinTest, WrongPinAfterALogoutIsOfferedOnceUntilThePinFileChanges) {
  write_pin(hsm->pin());
  auto p = make_ok(pin_entry("sessions: 2, threads: 2"));
  ASSERT_NE(p, nullptr);
  SecretBytes share = SecretBytes::random(32);
  auto [err, earlier] = wrap(*p, share.view());
  ASSERT_TRUE(err.ok()) << err.message();

  write_pin("00000000");  // a botched rotation: same size, new mtime
  log_out(counting_module());
  const unsigned long before = logins();
  auto [first, w] = wrap(*p, share.view());
  EXPECT_EQ(first.code(), Code::permission_denied) << first.message();
  EXPECT_NE(first.message().find("CKR_PIN_INCORRECT"), std::string::npos) << first.message();
  EXPECT_NE(first.message().find(pin_file), std::string::npos) << first.message();
  EXPECT_EQ(first.message().find("00000000"), std::string::npos) << first.message();
  EXPECT_EQ(logins(), before + 1);

  expect_refused_without_login(*p, earlier, Code::permission_denied, "CKR_PIN_INCORRECT");
  EXPECT_EQ(logins(), before + 1);

  write_pin(hsm->pin());
  auto [fixed, again] = wrap(*p, share.view());
  EXPECT_TRUE(fixed.ok()) << fixed.message();
  EXPECT_EQ(logins(), before + 2);
  auto [ue, back] = unwrap(*p, earlier);
  ASSERT_TRUE(ue.ok()) << ue.message();
  EXPECT_TRUE(back.equals(share.view()));
  EXPECT_TRUE(probe(*p).ok());
  EXPECT_EQ(logins(), before + 2);
}

TEST_F(Pkcs11PinTest, WrongPinFromAVariableIsOfferedOnceUntilTheVariableChanges) {
  constexpr const char* kVar = "TROUSSEAU_TEST_PKCS11_ROTATED_PIN";
  ::setenv(kVar, hsm->pin().c_str(), 1);
  auto p = make_ok(counted_entry(std::string("pin_env: ") + kVar, "sessions: 1, threads: 1"));
  ASSERT_NE(p, nullptr);
  ASSERT_TRUE(probe(*p).ok());

  // No provider call is in flight while the variable changes.
  ::setenv(kVar, "00000000", 1);
  log_out(counting_module());
  const unsigned long before = logins();
  Error first = probe(*p);
  EXPECT_EQ(first.code(), Code::permission_denied) << first.message();
  EXPECT_NE(first.message().find(kVar), std::string::npos) << first.message();
  EXPECT_EQ(first.message().find("00000000"), std::string::npos) << first.message();
  for (int i = 0; i < 3; ++i) {
    Error e = probe(*p);
    EXPECT_EQ(e.code(), Code::permission_denied) << e.message();
    EXPECT_NE(e.message().find(kVar), std::string::npos) << e.message();
    EXPECT_NE(e.message().find("CKR_PIN_INCORRECT"), std::string::npos) << e.message();
  }
  EXPECT_EQ(logins(), before + 1);

  ::setenv(kVar, hsm->pin().c_str(), 1);
  Error fixed = probe(*p);
  EXPECT_TRUE(fixed.ok()) << fixed.message();
  EXPECT_EQ(logins(), before + 2);
  p.reset();
  ::unsetenv(kVar);
}

TEST_F(Pkcs11PinTest, PinFileReadableOrWritableByGroupOrOthersIsRefusedAtStartUp) {
  for (unsigned mode : {0640u, 0620u, 0604u, 0602u, 0644u}) {
    write_pin(hsm->pin(), mode);
    const unsigned long before = logins();
    auto p = make(pin_entry());
    ASSERT_FALSE(p.ok()) << std::oct << mode;
    EXPECT_EQ(p.error().code(), Code::failed_precondition) << p.error().message();
    EXPECT_NE(p.error().message().find("PIN file " + pin_file + " is accessible by group or others"),
              std::string::npos)
        << p.error().message();
    EXPECT_EQ(logins(), before);
  }
  write_pin(hsm->pin(), 0400);
  EXPECT_NE(make_ok(pin_entry()), nullptr);
}

TEST_F(Pkcs11PinTest, PinFileThatIsASymlinkIsRefusedAtStartUp) {
  write_pin(hsm->pin());
  const std::string link = dir.file("link.pin");
  ASSERT_EQ(::symlink(pin_file.c_str(), link.c_str()), 0);
  auto p = make(counted_entry("pin_file: " + link));
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code(), Code::failed_precondition) << p.error().message();
  EXPECT_NE(p.error().message().find("PIN file " + link + " is a symbolic link"), std::string::npos)
      << p.error().message();
}

TEST_F(Pkcs11PinTest, PinFileLoosenedOrSwappedForASymlinkIsRefusedAtTheNextLogin) {
  write_pin(hsm->pin());
  auto p = make_ok(pin_entry("sessions: 1, threads: 1"));
  ASSERT_NE(p, nullptr);
  SecretBytes share = SecretBytes::random(32);
  auto [err, earlier] = wrap(*p, share.view());
  ASSERT_TRUE(err.ok()) << err.message();

  ASSERT_EQ(::chmod(pin_file.c_str(), 0644), 0);
  log_out(counting_module());
  expect_refused_without_login(*p, earlier, Code::failed_precondition,
                               "is accessible by group or others");

  const std::string target = dir.file("elsewhere.pin");
  testkit::write_file(target, hsm->pin() + "\n");
  ASSERT_EQ(::unlink(pin_file.c_str()), 0);
  ASSERT_EQ(::symlink(target.c_str(), pin_file.c_str()), 0);
  expect_refused_without_login(*p, earlier, Code::failed_precondition, "is a symbolic link");

  ASSERT_EQ(::unlink(pin_file.c_str()), 0);
  write_pin(hsm->pin());
  const unsigned long before = logins();
  EXPECT_TRUE(probe(*p).ok());
  EXPECT_EQ(logins(), before + 1);
}

}  // namespace
}  // namespace trousseau::providers::pkcs11
