// Registers the "awskms" provider type: parse() reads the Settings of
// settings.hpp, create() resolves the key and builds an AwsKmsProvider.
#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <optional>

#include "common/log.hpp"
#include "common/text.hpp"
#include "providers/awskms/awskms_provider.hpp"
#include "providers/awskms/key_metadata.hpp"
#include "providers/awskms/kms_messages.hpp"
#include "providers/awskms/operation.hpp"
#include "providers/awskms/settings.hpp"
#include "providers/registry.hpp"
#include "providers/run_now.hpp"

namespace trousseau::providers::awskms {

namespace {

/// The whole budget of the start-up calls of create() (DescribeKey and
/// ListKeyRotations to resolve the key): no request is in flight yet, so no
/// request deadline exists to inherit. Nothing on the request path uses it.
constexpr std::chrono::seconds kStartupBudget{10};

std::string default_endpoint(const std::string& region) {
  return "https://kms." + region + ".amazonaws.com" + (region.rfind("cn-", 0) == 0 ? ".cn" : "") + "/";
}

/// One KMS call, run to completion at start-up (run_now.hpp).
Result<std::string> call_now(KmsApi& api, asio::io_context& io, const std::string& operation,
                             std::string body, http::Deadline deadline) {
  return run_now<std::string>(io, operation, [&](auto done) {
    auto op = std::make_shared<Operation<Error, std::string>>(io.get_executor(), nullptr,
                                                              std::move(done));
    asio::post(op->strand(), [&api, op, operation, body = std::move(body), deadline]() mutable {
      api.call(op, operation, std::move(body), false, deadline,
               [op](Error e, std::string b) { op->complete(std::move(e), std::move(b)); });
    });
  });
}

class AwsKmsFactory final : public ProviderFactory {
 public:
  std::string_view type() const override { return "awskms"; }

  std::unique_ptr<ProviderSettings> parse(settings::Node& node) const override {
    return parse_settings(node);
  }

  KeyStanding key_standing(const ProviderSettings& settings,
                           std::string_view key_version) const override {
    const auto& s = static_cast<const Settings&>(settings);
    const std::string arn = arn_of_identity(key_version);
    if (arn.empty()) return KeyStanding::foreign;
    if (std::find(s.previous_key_ids.begin(), s.previous_key_ids.end(), arn) !=
        s.previous_key_ids.end()) {
      return KeyStanding::previous;
    }
    if (is_kms_arn(s.key_id, "key")) {
      return arn == s.key_id ? KeyStanding::current : KeyStanding::foreign;
    }
    // A bare key id or an alias: only DescribeKey knows its ARN.
    return KeyStanding::unknown;
  }

  Result<std::unique_ptr<Provider>> create(const std::string& name,
                                           const ProviderSettings& settings,
                                           const ProviderContext& context) const override {
    // Errors do not name the provider: whoever builds it adds the name.
    const auto& s = static_cast<const Settings&>(settings);
    ChainOptions chain;
    chain.env = environment();
    chain.profile = s.profile;
    chain.region = s.region;
    chain.sts_endpoint = s.sts_endpoint;
    chain.ca_file = s.ca_file;
    Result<http::Url> endpoint = http::Url::parse(s.endpoint.empty() ? default_endpoint(s.region) : s.endpoint);
    if (!endpoint.ok()) return endpoint.error();

    auto make_api = [&](const asio::any_io_executor& ex) -> Result<std::unique_ptr<KmsApi>> {
      Result<std::shared_ptr<CredentialChain>> creds = CredentialChain::create(ex, chain);
      if (!creds.ok()) return creds.error();
      http::ClientOptions co;
      co.ca_file = s.ca_file;
      co.allow_plain_http = !endpoint->tls();  // parse() allowed that on loopback only
      Result<std::unique_ptr<http::Client>> client = http::Client::create(ex, co);
      if (!client.ok()) return client.error();
      return std::make_unique<KmsApi>(std::move(client).value(), std::move(creds).value(),
                                      *endpoint, s.region);
    };

    // Resolve the key (an alias or bare id becomes its ARN) and its rotation
    // state on a private io_context, within one start-up budget.
    std::string arn = is_kms_arn(s.key_id, "key") ? s.key_id : "";
    std::string material, rotation;
    {
      const http::Deadline deadline = Clock::now() + kStartupBudget;
      asio::io_context io;
      Result<std::unique_ptr<KmsApi>> api = make_api(io.get_executor());
      if (!api.ok()) return api.error();
      Result<std::string> described = call_now(**api, io, "DescribeKey", key_request(s.key_id), deadline);
      Result<KeyMetadata> md = described.ok() ? parse_describe_key(*described)
                                              : Result<KeyMetadata>(described.error());
      if (md.ok() && !arn.empty() && md->arn != arn) {
        md = integrity_error("DescribeKey: KeyId mismatch: KMS answered for key " +
                             quote(md->arn) + ", we asked for " + arn);
      }
      if (md.ok()) {
        arn = md->arn;
        material = md->material;
        if (md->state != "Enabled") {
          log::warn("KMS key is not enabled", {{"provider", name}, {"state", md->state}, {"key", arn}});
        }
        if (material.empty()) {
          Result<std::string> rotations = call_now(**api, io, "ListKeyRotations", key_request(arn), deadline);
          if (rotations.ok()) rotation = latest_rotation(*rotations);
        }
      } else if (arn.empty() || !is_transient(md.error().code())) {
        return md.error().prefixed("cannot resolve key " + quote(s.key_id));
      } else {
        // A key ARN needs no resolution: start, and let probes report the outage.
        log::warn("KMS unreachable at start-up", {{"provider", name}, {"error", md.error().message()}});
      }
    }
    if (arn != s.key_id) {
      log::info("resolved KMS key", {{"provider", name}, {"key_id", s.key_id}, {"arn", arn}});
    }
    if (!s.previous_key_ids.empty()) {
      log::info("Decrypt also accepts previous keys",
                {{"provider", name}, {"previous_key_ids", join(s.previous_key_ids)}});
    }

    Result<std::unique_ptr<KmsApi>> api = make_api(context.executor);
    if (!api.ok()) return api.error();
    AwsKmsProvider::Config config{arn, key_identity(arn, material, rotation), s.cluster_name,
                                  s.previous_key_ids,
                                  encryption_context_json(s.legacy_encryption_context)};
    return std::unique_ptr<Provider>(std::make_unique<AwsKmsProvider>(
        name, context.executor, std::move(api).value(), std::move(config)));
  }
};

TROUSSEAU_REGISTER_PROVIDER(AwsKmsFactory)

}  // namespace

}  // namespace trousseau::providers::awskms
