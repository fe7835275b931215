// One outstanding call of the load generator, for each API and operation.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace trousseau::bench {

enum class Api { v2, v1beta1 };
/// `status` is v2 Status or v1beta1 Version: the call that touches no key.
enum class Op { encrypt, decrypt, status };

/// A ciphertext as Encrypt returned it, to be decrypted later.
struct Sealed {
  std::string ciphertext;
  std::string key_id;                              // v2 only
  std::map<std::string, std::string> annotations;  // v2 only
};

/// What the calls of one phase send.
struct CallPlan {
  Api api = Api::v2;
  Op op = Op::decrypt;
  /// Encrypt: the plaintext. Each call writes its index into the first
  /// bytes, so that no two plaintexts of a run are alike.
  std::string plaintext;
  /// Decrypt: call i decrypts decrypt_from[i % size()]. Not empty.
  std::span<const Sealed> decrypt_from;
  /// Encrypt: when set, call i stores what it got in (*keep)[i]; sized by
  /// the caller to the phase's count.
  std::vector<Sealed>* keep = nullptr;
};

/// What a completed call reports.
struct CallResult {
  grpc::Status status;
  std::size_t ciphertext_bytes = 0;  // encrypt, when the call succeeded
};

/// A slot holding one call at a time, on a CompletionQueue. Every method
/// runs on the one thread that polls the queue: a slot is never shared.
class CallSlot {
 public:
  virtual ~CallSlot() = default;
  /// Starts call number `index`; its completion comes out of the queue
  /// with `tag`. The previous call, if any, must have completed.
  virtual void start(std::uint64_t index, const std::string& uid,
                     std::chrono::system_clock::time_point deadline, void* tag) = 0;
  /// Once the tag came out of the queue with `ok`.
  virtual CallResult finish(bool ok) = 0;
};

/// A slot for `plan` on `channel`, completing on `cq`. `plan` (and what
/// it points to) must outlive the slot.
std::unique_ptr<CallSlot> make_call_slot(const CallPlan& plan,
                                         const std::shared_ptr<grpc::Channel>& channel,
                                         grpc::CompletionQueue* cq);

}  // namespace trousseau::bench
