#include "providers/awskms/awskms_provider.hpp"

#include <algorithm>

#include "common/log.hpp"
#include "common/text.hpp"
#include "providers/awskms/key_metadata.hpp"
#include "providers/awskms/kms_messages.hpp"
#include "providers/awskms/operation.hpp"

namespace trousseau::providers::awskms {

namespace {

constexpr std::string_view kProbeContext = "trousseau.io/probe";

}  // namespace

AwsKmsProvider::AwsKmsProvider(std::string name, asio::any_io_executor executor,
                               std::unique_ptr<KmsApi> api, Config config)
    : Provider(std::move(name), "awskms"),
      executor_(std::move(executor)),
      api_(std::move(api)),
      config_(std::move(config)),
      identity_(config_.identity) {
  if (auto hash = identity_.find("#rotated:"); hash != std::string::npos) {
    rotation_ = identity_.substr(hash + 9);
  }
}

std::string AwsKmsProvider::key_identity() const {
  std::lock_guard lock(mutex_);
  return identity_;
}

void AwsKmsProvider::set_identity(const std::string& material, const std::string& rotation) {
  std::lock_guard lock(mutex_);
  if (!rotation.empty()) rotation_ = rotation;
  std::string fresh = awskms::key_identity(config_.key_arn, material, rotation_);
  if (fresh != identity_) {
    log::info("key identity changed", {{"provider", name()}, {"key_identity", fresh}});
    identity_ = std::move(fresh);
  }
}

std::string AwsKmsProvider::encryption_context(ByteView context) const {
  return encryption_context_json(context, config_.cluster_name);
}

bool AwsKmsProvider::owns_key_version(std::string_view key_version) const {
  const std::string arn = arn_of_identity(key_version);
  if (arn.empty()) return false;
  return arn == config_.key_arn ||
         std::find(config_.previous_key_arns.begin(), config_.previous_key_arns.end(), arn) !=
             config_.previous_key_arns.end();
}

void AwsKmsProvider::wrap_impl(const CallOptions& options, ByteView context, ByteView share,
                               asio::any_completion_handler<WrapSignature> handler) {
  auto op = std::make_shared<Operation<Error, WrapResult>>(executor_, options.lease,
                                                           std::move(handler));
  op->listen_for_cancellation();
  std::string body = encrypt_request(config_.key_arn, share, encryption_context(context));
  asio::post(op->strand(), [this, op, body = std::move(body), version = key_identity(),
                            deadline = options.deadline]() mutable {
    api_->call(op, "Encrypt", std::move(body), true, deadline,
               [this, op, version](Error e, std::string answer) {
                 WrapResult result;
                 if (e.ok()) {
                   Result<Bytes> blob = parse_encrypt_answer(answer, config_.key_arn);
                   if (blob.ok()) {
                     result = {std::move(blob).value(), version};
                   } else {
                     e = blob.error();
                   }
                 }
                 op->complete(std::move(e), std::move(result));
               });
  });
}

void AwsKmsProvider::unwrap_impl(const CallOptions& options, ByteView context,
                                 std::string_view key_version, ByteView wrapped,
                                 asio::any_completion_handler<UnwrapSignature> handler) {
  auto op = std::make_shared<Operation<Error, SecretBytes>>(executor_, options.lease,
                                                            std::move(handler));
  op->listen_for_cancellation();
  // Decrypt with the key that wrapped the share, even if the configuration
  // has moved on since, but only if it is a key we were told to use: the
  // envelope is not authenticated yet, and KMS would otherwise open a share
  // under any key our credentials reach (a confused deputy).
  Error early;
  std::string arn;
  if (!owns_key_version(key_version)) {
    early = invalid_argument("share names key " + quote(key_version) +
                             ", which is neither the configured key nor in previous_key_ids");
  } else if (wrapped.empty()) {
    early = integrity_error("empty wrapped share");
  } else {
    arn = arn_of_identity(key_version);
  }
  std::string body = early.ok() ? decrypt_request(arn, wrapped, encryption_context(context)) : "";
  asio::post(op->strand(), [this, op, early, arn, body = std::move(body),
                            deadline = options.deadline]() mutable {
    if (!early.ok()) return op->complete(early, SecretBytes());
    api_->call(op, "Decrypt", std::move(body), true, deadline,
               [op, arn](Error e, std::string answer) {
                 SecretBytes share;
                 if (e.ok()) {
                   Result<SecretBytes> plain = parse_decrypt_answer(answer, arn);
                   if (plain.ok()) {
                     share = std::move(plain.value());
                   } else {
                     e = plain.error();
                   }
                 }
                 op->complete(std::move(e), std::move(share));
               });
  });
}

void AwsKmsProvider::legacy_decrypt_impl(const CallOptions& options, ByteView ciphertext,
                                         asio::any_completion_handler<UnwrapSignature> handler) {
  auto op = std::make_shared<Operation<Error, SecretBytes>>(executor_, options.lease,
                                                            std::move(handler));
  op->listen_for_cancellation();
  // The blob names its key, and KMS would open it under any key our
  // credentials reach; naming ours makes KMS refuse any other, and the
  // answer's KeyId is checked again.
  Error early = ciphertext.empty() ? invalid_argument("empty legacy ciphertext") : Error();
  std::string body = early.ok() ? legacy_decrypt_request(config_.key_arn, ciphertext,
                                                         config_.legacy_context_json)
                                : "";
  asio::post(op->strand(), [this, op, early, body = std::move(body),
                            deadline = options.deadline]() mutable {
    if (!early.ok()) return op->complete(early, SecretBytes());
    api_->call(op, "Decrypt", std::move(body), true, deadline,
               [this, op](Error e, std::string answer) {
                 SecretBytes plain;
                 if (e.ok()) {
                   Result<SecretBytes> opened = parse_decrypt_answer(answer, config_.key_arn);
                   if (opened.ok()) {
                     plain = std::move(opened.value());
                   } else {
                     e = opened.error();
                   }
                 }
                 op->complete(std::move(e), std::move(plain));
               });
  });
}

void AwsKmsProvider::probe_impl(const CallOptions& options,
                                asio::any_completion_handler<ProbeSignature> handler) {
  auto op = std::make_shared<Operation<Error>>(executor_, options.lease, std::move(handler));
  op->listen_for_cancellation();
  const auto deadline = options.deadline;  // the health monitor's probe budget, for every step
  const Bytes zero(32, 0);
  const std::string context = encryption_context(as_bytes(kProbeContext));
  auto fail = [op](const Error& e) { op->complete(e); };

  auto round_trip = [this, op, deadline, zero, context, fail] {
    api_->call(op, "Encrypt", encrypt_request(config_.key_arn, zero, context), false, deadline,
               [this, op, deadline, context, fail](Error e, std::string answer) {
                 Result<Bytes> blob = e.ok() ? parse_encrypt_answer(answer, config_.key_arn)
                                             : Result<Bytes>(e);
                 if (!blob.ok()) return fail(blob.error());
                 api_->call(op, "Decrypt", decrypt_request(config_.key_arn, *blob, context), true,
                            deadline, [this, op, fail](Error e2, std::string answer2) {
                              Result<SecretBytes> plain =
                                  e2.ok() ? parse_decrypt_answer(answer2, config_.key_arn)
                                          : Result<SecretBytes>(e2);
                              if (!plain.ok()) return fail(plain.error());
                              if (!plain->equals(Bytes(32, 0))) {
                                return fail(integrity_error("probe: Decrypt returned another block"));
                              }
                              op->complete(Error());
                            });
               });
  };

  asio::post(op->strand(), [this, op, deadline, fail, round_trip] {
    api_->call(op, "DescribeKey", key_request(config_.key_arn), false, deadline,
               [this, op, deadline, fail, round_trip](Error e, std::string answer) {
                 Result<KeyMetadata> md = e.ok() ? parse_describe_key(answer) : Result<KeyMetadata>(e);
                 if (!md.ok()) return fail(md.error());
                 if (md->arn != config_.key_arn) {
                   return fail(integrity_error("DescribeKey: KeyId mismatch: KMS answered for key " +
                                               quote(md->arn) + ", we asked for " +
                                               config_.key_arn));
                 }
                 if (md->state != "Enabled") {
                   return fail(unavailable("DescribeKey: key state is " + quote(md->state)));
                 }
                 if (!md->material.empty()) {
                   set_identity(md->material, "");
                   return round_trip();
                 }
                 api_->call(op, "ListKeyRotations", key_request(config_.key_arn), false, deadline,
                            [this, round_trip](Error le, std::string rotations) {
                              // Often not permitted: then the last known state stays.
                              if (le.ok()) set_identity("", latest_rotation(rotations));
                              round_trip();
                            });
               });
  });
}

}  // namespace trousseau::providers::awskms
