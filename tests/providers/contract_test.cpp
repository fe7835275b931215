// One contract, every provider: the same checks run against every target
// this binary links, e.g. the key file, a real SoftHSM2 token and AWS KMS as
// served by moto. Each provider's test folder registers its own target
// (support/contract_targets.hpp), so that a new provider gets these checks
// without a line here.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_future.hpp>
#include <future>
#include <thread>

#include "envelope/format.hpp"
#include "providers/registry.hpp"
#include "support/call_options.hpp"
#include "support/contract_targets.hpp"
#include "support/provider_entry.hpp"

namespace trousseau::providers {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

class ProviderContract : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    const testkit::ContractTarget* target = testkit::find_contract_target(GetParam());
    ASSERT_NE(target, nullptr) << "no contract target for " << GetParam();
    settings::Diagnostics diag;
    settings::Node node = testkit::provider_entry(target->entry(), diag);
    (void)node.string("name");
    const std::string type = node.string("type");
    const ProviderFactory* factory = Registry::instance().find(type);
    ASSERT_NE(factory, nullptr) << type << " is not registered";
    auto settings = factory->parse(node);
    node.reject_unknown_keys();
    ASSERT_TRUE(diag.ok()) << diag.errors()[0];
    auto made = factory->create("contract", *settings, {io.get_executor(), true});
    ASSERT_TRUE(made.ok()) << made.error().message();
    provider = std::move(made.value());
  }

  void TearDown() override {
    provider.reset();
    work.reset();
    for (auto& t : threads) t.join();
  }

  std::pair<Error, WrapResult> wrap(ByteView ctx, ByteView share) {
    return provider->async_wrap(::trousseau::testkit::within(), ctx, share, asio::use_future([](Error e, WrapResult r) {
      return std::make_pair(std::move(e), std::move(r));
    })).get();
  }
  std::pair<Error, SecretBytes> unwrap(ByteView ctx, const WrapResult& w) {
    return provider->async_unwrap(::trousseau::testkit::within(), ctx, w.key_version, w.wrapped,
                                  asio::use_future([](Error e, SecretBytes s) {
                                    return std::make_pair(std::move(e), std::move(s));
                                  })).get();
  }

  asio::io_context io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work{io.get_executor()};
  std::vector<std::thread> threads = [this] {
    std::vector<std::thread> t;
    for (int i = 0; i < 2; ++i) t.emplace_back([this] { io.run(); });
    return t;
  }();
  std::unique_ptr<Provider> provider;
  std::array<std::uint8_t, 12> nonce{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  Bytes context = envelope::share_context(nonce, 2, 1);
  SecretBytes share = SecretBytes::random(32);
};

TEST_P(ProviderContract, WrapThenUnwrapReturnsTheShare) {
  auto [e, w] = wrap(context, share.view());
  ASSERT_TRUE(e.ok()) << e.message();
  EXPECT_FALSE(w.wrapped.empty());
  EXPECT_FALSE(w.key_version.empty());
  EXPECT_LE(w.key_version.size(), envelope::kMaxKeyVersion);
  auto [e2, back] = unwrap(context, w);
  ASSERT_TRUE(e2.ok()) << e2.message();
  EXPECT_TRUE(back.equals(share.view()));
}

TEST_P(ProviderContract, WrappedSharesNeverRepeatAndNeverShowTheShare) {
  auto [e1, a] = wrap(context, share.view());
  auto [e2, b] = wrap(context, share.view());
  ASSERT_TRUE(e1.ok() && e2.ok());
  EXPECT_NE(a.wrapped, b.wrapped);
  const Bytes plain(share.view().begin(), share.view().end());
  EXPECT_EQ(std::search(a.wrapped.begin(), a.wrapped.end(), plain.begin(), plain.end()),
            a.wrapped.end());
}

TEST_P(ProviderContract, AnotherContextFailsIntegrity) {
  auto [e, w] = wrap(context, share.view());
  ASSERT_TRUE(e.ok()) << e.message();
  auto [e2, back] = unwrap(envelope::share_context(nonce, 2, 2), w);
  EXPECT_EQ(e2.code(), Code::integrity) << e2.message();
  EXPECT_TRUE(back.empty());
}

TEST_P(ProviderContract, TamperedWrapFailsIntegrity) {
  auto [e, w] = wrap(context, share.view());
  ASSERT_TRUE(e.ok()) << e.message();
  WrapResult bad = w;
  bad.wrapped.back() ^= 0x01;
  auto [e2, back] = unwrap(context, bad);
  EXPECT_EQ(e2.code(), Code::integrity) << e2.message();
  EXPECT_TRUE(back.empty());
}

TEST_P(ProviderContract, ProbeSucceedsAndIdentityIsStableAndNamed) {
  Error e = provider->async_probe(::trousseau::testkit::within(), asio::use_future).get();
  EXPECT_TRUE(e.ok()) << e.message();
  const std::string id = provider->key_identity();
  EXPECT_FALSE(id.empty());
  EXPECT_EQ(provider->key_identity(), id);
  EXPECT_EQ(provider->name(), "contract");
  EXPECT_EQ(provider->type(), GetParam());
}

TEST_P(ProviderContract, CompletesOnTheHandlersExecutorAndNeverInline) {
  auto strand = asio::make_strand(io);
  std::promise<std::pair<bool, bool>> seen;
  asio::post(strand, [&] {
    auto returned = std::make_shared<std::atomic<bool>>(false);
    provider->async_wrap(::trousseau::testkit::within(), context, share.view(),
                         asio::bind_executor(strand, [&, returned, strand](Error, WrapResult) {
                           seen.set_value({strand.running_in_this_thread(), returned->load()});
                         }));
    *returned = true;
  });
  auto [on_strand, after_return] = seen.get_future().get();
  EXPECT_TRUE(on_strand);
  EXPECT_TRUE(after_return);
}

TEST_P(ProviderContract, CancellationCompletesExactlyOnceAndHoldsTheLeaseUntilTheBackendIsDone) {
  auto [werr, w] = wrap(context, share.view());
  ASSERT_TRUE(werr.ok()) << werr.message();
  Bytes tampered = w.wrapped;
  tampered.back() ^= 1;
  auto strand = asio::make_strand(io);
  asio::cancellation_signal signal;
  std::atomic<int> calls{0};
  std::promise<Code> first;
  auto lease = std::make_shared<int>(0);
  std::weak_ptr<int> watch = lease;
  // The key version by name: clang 14 cannot capture a structured binding.
  asio::post(strand, [&, &key_version = w.key_version, lease = std::move(lease)]() mutable {
    providers::CallOptions options = ::trousseau::testkit::within();
    options.lease = std::move(lease);
    provider->async_unwrap(
        options, context, key_version, tampered,
        asio::bind_cancellation_slot(signal.slot(), asio::bind_executor(strand, [&](Error e, SecretBytes) {
          if (calls++ == 0) first.set_value(e.code());
        })));
    signal.emit(asio::cancellation_type::terminal);  // on the strand, as the engine does
  });
  const Code code = first.get_future().get();
  // Either the call was cancelled, or it had already finished (an instant
  // local provider); never both.
  EXPECT_TRUE(code == Code::cancelled || code == Code::integrity) << to_string(code);
  // Once the lease is gone the backend has finished: nothing can complete
  // after that. Then drain the strand and count.
  while (!watch.expired()) std::this_thread::yield();
  std::promise<void> drained;
  asio::post(strand, [&] { drained.set_value(); });
  drained.get_future().get();
  EXPECT_EQ(calls.load(), 1);
}

TEST_P(ProviderContract, RefusesAKeyVersionItDoesNotOwnAsBadData) {
  auto [werr, w] = wrap(context, share.view());
  ASSERT_TRUE(werr.ok()) << werr.message();
  EXPECT_TRUE(provider->owns_key_version(w.key_version));
  for (const std::string& foreign : {std::string("whatever"), w.key_version + "x",
                                    std::string("arn:aws:kms:us-east-1:999999999999:key/evil"),
                                    std::string()}) {
    EXPECT_FALSE(provider->owns_key_version(foreign)) << foreign;
    WrapResult forged{w.wrapped, foreign};
    auto [err, s] = unwrap(context, forged);
    EXPECT_EQ(err.code(), Code::invalid_argument) << foreign << ": " << err.message();
    EXPECT_TRUE(s.empty());
  }
}

TEST_P(ProviderContract, ManyConcurrentCallsAllSucceed) {
  std::vector<std::future<std::pair<Error, WrapResult>>> futures;
  for (int i = 0; i < 40; ++i) {
    futures.push_back(provider->async_wrap(::trousseau::testkit::within(), context, share.view(),
                                           asio::use_future([](Error e, WrapResult r) {
                                             return std::make_pair(std::move(e), std::move(r));
                                           })));
  }
  for (auto& f : futures) {
    auto [e, w] = f.get();
    ASSERT_TRUE(e.ok()) << e.message();
    auto [e2, back] = unwrap(context, w);
    ASSERT_TRUE(e2.ok()) << e2.message();
    EXPECT_TRUE(back.equals(share.view()));
  }
}

INSTANTIATE_TEST_SUITE_P(Providers, ProviderContract,
                         ::testing::ValuesIn(testkit::contract_target_types()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace trousseau::providers
