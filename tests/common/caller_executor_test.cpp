#include "common/caller_executor.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "common/completion.hpp"
#include "common/error.hpp"

namespace trousseau {
namespace {

namespace asio = boost::asio;

// The io_context in these tests is never run unless a test says so: what
// runs, runs on the caller's thread or not at all.

TEST(CallerQueue, WorkPostedToARequestStrandRunsOnTheCallersThreadAfterThePost) {
  asio::io_context io;
  CallerStrand strand = make_caller_strand(io);
  std::vector<int> order;
  {
    CallerQueue here(strand);
    asio::post(strand, [&] {
      order.push_back(2);
      EXPECT_TRUE(strand.running_in_this_thread());
    });
    order.push_back(1);  // never inside post(): blocking.never holds
    here.run();
    order.push_back(3);
  }
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(io.poll(), 0u) << "nothing was left for the io_context's threads";
}

TEST(CallerQueue, WhatTheWorkPostsToItsStrandRunsBeforeRunReturns) {
  asio::io_context io;
  CallerStrand strand = make_caller_strand(io);
  std::vector<int> order;
  CallerQueue here(strand);
  asio::post(strand, [&] {
    order.push_back(1);
    asio::post(strand, [&] {
      order.push_back(3);
      asio::post(strand, [&] { order.push_back(4); });
    });
    order.push_back(2);  // the strand runs one handler at a time
  });
  here.run();
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3, 4}));
  EXPECT_EQ(io.poll(), 0u);
}

TEST(CallerQueue, ADispatchFromOutsideTheStrandIsQueuedNotRunInline) {
  asio::io_context io;
  CallerStrand strand = make_caller_strand(io);
  bool ran = false;
  CallerQueue here(strand);
  asio::dispatch(strand, [&] { ran = true; });
  EXPECT_FALSE(ran);
  here.run();
  EXPECT_TRUE(ran);
}

TEST(CallerQueue, TheDestructorRunsWhatIsLeft) {
  asio::io_context io;
  CallerStrand strand = make_caller_strand(io);
  bool ran = false;
  {
    CallerQueue here(strand);
    asio::post(strand, [&] { ran = true; });
  }
  EXPECT_TRUE(ran);
}

TEST(CallerQueue, TheInnermostQueueTakesTheWorkAndTheOuterOneIsBackAfterIt) {
  asio::io_context io;
  CallerStrand first = make_caller_strand(io);
  CallerStrand second = make_caller_strand(io);
  std::vector<int> order;
  CallerQueue outer(second);
  {
    CallerQueue inner(first);
    EXPECT_EQ(CallerQueue::current(), &inner);
    asio::post(first, [&] { order.push_back(1); });
  }  // inner ran it
  EXPECT_EQ(order, (std::vector<int>{1}));
  EXPECT_EQ(CallerQueue::current(), &outer);
  asio::post(second, [&] { order.push_back(2); });
  EXPECT_EQ(order, (std::vector<int>{1}));
  outer.run();
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
  EXPECT_EQ(io.poll(), 0u);
}

// A gRPC thread works for its own request only. Another request's strand,
// resumed from here (a limiter permit handed on to that request's waiting
// call, say), runs on the io_context: this thread's answer would otherwise
// wait for work it never asked for.
TEST(CallerQueue, AnotherStrandsWorkGoesToTheIoContext) {
  asio::io_context io;
  CallerStrand mine = make_caller_strand(io);
  CallerStrand theirs = make_caller_strand(io);
  std::vector<std::string> ran;
  CallerQueue here(mine);
  asio::post(mine, [&] {
    ran.push_back("mine");
    asio::post(theirs, [&] { ran.push_back("theirs"); });
  });
  here.run();
  EXPECT_EQ(ran, (std::vector<std::string>{"mine"}));
  EXPECT_EQ(io.poll(), 1u);
  EXPECT_EQ(ran, (std::vector<std::string>{"mine", "theirs"}));
}

TEST(CallerQueue, WithoutAQueueTheStrandRunsOnTheIoContext) {
  asio::io_context io;
  CallerStrand strand = make_caller_strand(io);
  std::atomic<bool> ran{false};
  std::thread::id where;
  asio::post(strand, [&] {
    where = std::this_thread::get_id();
    ran = true;
  });
  EXPECT_FALSE(ran);
  std::thread worker([&] { io.run(); });
  worker.join();
  EXPECT_TRUE(ran);
  EXPECT_NE(where, std::this_thread::get_id());
}

TEST(CallerQueue, OtherExecutorsIgnoreIt) {
  asio::io_context io;
  bool ran = false;
  CallerQueue here(make_caller_strand(io));
  asio::post(io, [&] { ran = true; });
  here.run();
  EXPECT_FALSE(ran) << "only a CallerFirstExecutor hands work to the caller";
  EXPECT_EQ(io.poll(), 1u);
  EXPECT_TRUE(ran);
}

// The strand keeps its promise when an io thread holds it: the caller's
// work waits for it, and runs once, never beside the io thread's handler.
// (Run under TSan, this is a race test too.)
TEST(CallerQueue, AStrandHeldByAnIoThreadRunsTheCallersWorkAfterItsOwn) {
  asio::io_context io;
  auto work = asio::make_work_guard(io);
  CallerStrand strand = make_caller_strand(io);
  std::promise<void> holding;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  int counter = 0;  // touched only on the strand
  std::vector<int> order;
  asio::post(strand, [&] {
    holding.set_value();
    released.wait();
    order.push_back(++counter);
  });
  std::thread worker([&] { io.run(); });
  holding.get_future().wait();  // the io thread is inside the strand now
  std::promise<std::thread::id> ran_on;
  {
    CallerQueue here(strand);
    asio::post(strand, [&] {
      order.push_back(++counter * 10);
      ran_on.set_value(std::this_thread::get_id());
    });
    here.run();  // nothing here: the strand is the io thread's
    release.set_value();
  }
  EXPECT_NE(ran_on.get_future().get(), std::this_thread::get_id());
  work.reset();
  worker.join();
  EXPECT_EQ(order, (std::vector<int>{1, 20}));
}

// A provider's completion reaches a request's strand directly, also behind
// any_completion_handler's type erasure: a request the caller runs stays on
// the caller's thread to its answer.
TEST(PostCompletion, ToARequestStrandStaysWithTheCaller) {
  asio::io_context io;
  CallerStrand strand = make_caller_strand(io);
  std::vector<int> order;
  CallerQueue here(strand);
  asio::post(strand, [&] {
    asio::any_completion_handler<void(Error, int)> handler =
        asio::bind_executor(strand, [&](Error e, int v) {
          EXPECT_TRUE(e.ok());
          EXPECT_TRUE(strand.running_in_this_thread());
          order.push_back(v);
        });
    post_completion(io.get_executor(), std::move(handler), Error(), 2);
    order.push_back(1);  // never inline
  });
  here.run();
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
  EXPECT_EQ(io.poll(), 0u) << "the completion never went through the io_context";
}

}  // namespace
}  // namespace trousseau
