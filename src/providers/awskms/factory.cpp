// Settings of the "awskms" provider type and how an instance is built.
#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <cctype>
#include <optional>
#include <vector>

#include "common/log.hpp"
#include "common/text.hpp"
#include "providers/awskms/awskms_provider.hpp"
#include "providers/awskms/key_metadata.hpp"
#include "providers/awskms/kms_messages.hpp"
#include "providers/awskms/operation.hpp"
#include "providers/registry.hpp"

namespace trousseau::providers::awskms {

namespace {

struct Settings final : ProviderSettings {
  std::string region;
  std::string key_id;
  std::string endpoint;
  std::string cluster_name;
  std::string profile;
  std::string ca_file;
  std::string sts_endpoint;
  std::vector<std::string> previous_key_ids;  ///< full key ARNs
};

/// The whole budget of the start-up calls of create() (DescribeKey and
/// ListKeyRotations to resolve the key): no request is in flight yet, so no
/// request deadline exists to inherit. Nothing on the request path uses it.
constexpr std::chrono::seconds kStartupBudget{10};

bool plausible_key_id(const std::string& k) {
  if (is_kms_arn(k, "key") || is_kms_arn(k, "alias")) return true;
  if (k.rfind("alias/", 0) == 0) return valid_resource_name(std::string_view(k).substr(6), "/_-");
  return valid_resource_name(k, "-");  // a key id, or a multi-Region "mrk-…" id
}

/// "eu-west-1", "us-gov-east-1", "cn-north-1": letters, then words, then a number.
bool plausible_region(const std::string& r) {
  const std::size_t last = r.rfind('-');
  return r.size() >= 6 && std::islower(static_cast<unsigned char>(r[0])) != 0 &&
         std::islower(static_cast<unsigned char>(r[1])) != 0 && r[2] == '-' &&
         last != std::string::npos && last > 2 && last + 1 < r.size() &&
         std::all_of(r.begin() + static_cast<long>(last) + 1, r.end(),
                     [](char c) { return c >= '0' && c <= '9'; }) &&
         valid_resource_name(r, "-") &&
         std::none_of(r.begin(), r.end(), [](char c) { return std::isupper(static_cast<unsigned char>(c)) != 0; });
}

/// https anywhere; plain http only to a loopback emulator.
void check_endpoint(settings::Node& node, const std::string& key, const std::string& value) {
  if (value.empty()) return;
  Result<http::Url> url = http::Url::parse(value);
  if (!url.ok()) return node.error(key, url.error().message());
  if (!url->tls() && !url->loopback()) {
    node.error(key, "plain http is allowed to a loopback address only (an emulator); use https");
  }
}

std::string default_endpoint(const std::string& region) {
  return "https://kms." + region + ".amazonaws.com" + (region.rfind("cn-", 0) == 0 ? ".cn" : "") + "/";
}

/// Runs one KMS call to completion on a private io_context: create() runs
/// at start-up, when the shared one may not run yet.
Result<std::string> call_now(KmsApi& api, asio::io_context& io, const std::string& operation,
                             std::string body, http::Deadline deadline) {
  std::optional<Result<std::string>> out;
  auto op = std::make_shared<Operation<Error, std::string>>(
      io.get_executor(), nullptr, [&out](Error e, std::string b) {
        out.emplace(e.ok() ? Result<std::string>(std::move(b)) : Result<std::string>(e));
      });
  asio::post(op->strand(), [&api, op, operation, body = std::move(body), deadline]() mutable {
    api.call(op, operation, std::move(body), false, deadline,
             [op](Error e, std::string b) { op->complete(std::move(e), std::move(b)); });
  });
  io.restart();
  io.run();
  return out ? std::move(*out) : Result<std::string>(internal_error(operation + " never completed"));
}

class AwsKmsFactory final : public ProviderFactory {
 public:
  std::string_view type() const override { return "awskms"; }

  std::unique_ptr<ProviderSettings> parse(settings::Node& node) const override {
    auto s = std::make_unique<Settings>();
    s->key_id = node.string("key_id");
    if (!s->key_id.empty() && !plausible_key_id(s->key_id)) {
      node.error("key_id", "'" + s->key_id + "' is not a KMS key id, key ARN, alias name or alias ARN");
    }
    s->region = node.string("region", "");
    const std::string arn_region = s->key_id.rfind("arn:", 0) == 0 ? region_of_arn(s->key_id) : "";
    if (s->region.empty()) s->region = arn_region;
    if (s->region.empty()) {
      node.error("region", "is required unless key_id is an ARN");
    } else if (!arn_region.empty() && arn_region != s->region) {
      node.error("region", "'" + s->region + "' differs from the region of key_id (" + arn_region + ")");
    } else if (!plausible_region(s->region)) {
      node.error("region", "'" + s->region + "' is not an AWS region name");
    }
    s->endpoint = node.string("endpoint", "");
    check_endpoint(node, "endpoint", s->endpoint);
    s->sts_endpoint = node.string("sts_endpoint", "");
    check_endpoint(node, "sts_endpoint", s->sts_endpoint);
    s->cluster_name = node.string("cluster_name");
    if (s->cluster_name.size() > 256) node.error("cluster_name", "must be at most 256 characters");
    s->profile = node.string("profile", "");
    s->ca_file = node.string("ca_file", "");
    if (!s->ca_file.empty() && s->ca_file.front() != '/') {
      node.error("ca_file", "must be an absolute path");
    }
    s->previous_key_ids = node.string_list("previous_key_ids");
    for (std::size_t i = 0; i < s->previous_key_ids.size(); ++i) {
      const std::string& k = s->previous_key_ids[i];
      const std::string where = "previous_key_ids[" + std::to_string(i) + "]";
      if (!is_kms_arn(k, "key")) {
        node.error(where, quote(k) + " is not a KMS key ARN (previous keys are named by their full ARN, never an alias)");
      } else if (!s->region.empty() && region_of_arn(k) != s->region) {
        node.error(where, "is in region " + region_of_arn(k) + ", but this provider uses " + s->region);
      }
    }
    return s;
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
                                  s.previous_key_ids};
    return std::unique_ptr<Provider>(std::make_unique<AwsKmsProvider>(
        name, context.executor, std::move(api).value(), std::move(config)));
  }
};

TROUSSEAU_REGISTER_PROVIDER(AwsKmsFactory)

}  // namespace

}  // namespace trousseau::providers::awskms
