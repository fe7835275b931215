#include "common/fd.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

namespace trousseau {
namespace {

int open_null() { return ::open("/dev/null", O_RDONLY | O_CLOEXEC); }

bool is_open(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

bool is_closed(int fd) {
  errno = 0;
  return ::fcntl(fd, F_GETFD) == -1 && errno == EBADF;
}

TEST(UniqueFd, HoldsNothingByDefault) {
  UniqueFd fd;
  EXPECT_FALSE(fd.valid());
  EXPECT_FALSE(fd);
  EXPECT_EQ(fd.get(), -1);
  UniqueFd failed(::open("/nonexistent/file", O_RDONLY | O_CLOEXEC));
  EXPECT_FALSE(failed);
}

TEST(UniqueFd, ClosesTheDescriptorWhenDestroyed) {
  int raw = -1;
  {
    UniqueFd fd(open_null());
    ASSERT_TRUE(fd);
    raw = fd.get();
    EXPECT_TRUE(is_open(raw));
  }
  EXPECT_TRUE(is_closed(raw));
}

TEST(UniqueFd, MoveConstructionTransfersOwnership) {
  UniqueFd a(open_null());
  const int raw = a.get();
  UniqueFd b(std::move(a));
  EXPECT_FALSE(a);  // NOLINT(bugprone-use-after-move): the moved-from state is the contract
  EXPECT_EQ(b.get(), raw);
  EXPECT_TRUE(is_open(raw)) << "moving must not close";
  { UniqueFd c(std::move(b)); }
  EXPECT_TRUE(is_closed(raw)) << "closed once, by the last owner";
}

TEST(UniqueFd, MoveAssignmentClosesWhatTheTargetHeld) {
  UniqueFd a(open_null());
  UniqueFd b(open_null());
  const int first = a.get();
  const int second = b.get();
  b = std::move(a);
  EXPECT_TRUE(is_closed(second));
  EXPECT_EQ(b.get(), first);
  EXPECT_TRUE(is_open(first));
  EXPECT_FALSE(a);  // NOLINT(bugprone-use-after-move)

  UniqueFd& same = b;
  b = std::move(same);
  EXPECT_EQ(b.get(), first) << "self-move keeps the descriptor";
  EXPECT_TRUE(is_open(first));
}

TEST(UniqueFd, ReleaseGivesTheDescriptorUpWithoutClosingIt) {
  int raw = -1;
  {
    UniqueFd fd(open_null());
    raw = fd.release();
    EXPECT_FALSE(fd);
  }
  EXPECT_TRUE(is_open(raw));
  ::close(raw);
}

TEST(UniqueFd, ResetClosesTheOldDescriptorAndTakesTheNew) {
  UniqueFd fd(open_null());
  const int first = fd.get();
  const int second = open_null();
  fd.reset(second);
  EXPECT_TRUE(is_closed(first));
  EXPECT_EQ(fd.get(), second);
  fd.reset();
  EXPECT_FALSE(fd);
  EXPECT_TRUE(is_closed(second));
}

}  // namespace
}  // namespace trousseau
