// Secret bytes: keys, shares and plaintexts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "common/bytes.hpp"

namespace trousseau {

/// A move-only buffer for secret material. The memory comes from the secret
/// pool (common/secret_pool.hpp): guarded pages, locked against swapping
/// where the system allows, wiped on destruction, and no system call per
/// buffer. Compare with equals() (constant
/// time), never with memcmp. There is no implicit way to print or copy it.
class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(std::size_t size);
  SecretBytes(ByteView from);  // copies `from`; wipe the source yourself
  ~SecretBytes();

  SecretBytes(SecretBytes&& other) noexcept;
  SecretBytes& operator=(SecretBytes&& other) noexcept;
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;

  static SecretBytes random(std::size_t size);

  std::uint8_t* data() { return data_; }
  const std::uint8_t* data() const { return data_; }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::span<std::uint8_t> span() { return {data_, size_}; }
  ByteView view() const { return {data_, size_}; }

  /// How many non-empty buffers exist right now, process-wide: lets tests
  /// prove that secrets are released when a request answers.
  static std::size_t live();

  /// Constant-time equality (sizes are not secret).
  bool equals(ByteView other) const;

 private:
  void reset() noexcept;
  std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
};

/// Locked memory is a bounded resource: allocation throws std::bad_alloc
/// when it runs out. The request path turns that into an error answer
/// (RESOURCE_EXHAUSTED), never a process abort; see quorum/operation.hpp.
/// Tests force the failure with this switch.
void fail_secret_allocations_for_testing(bool fail);

/// Wipe memory that held a secret outside a SecretBytes.
void secure_wipe(std::span<std::uint8_t> bytes);

/// What a wiped string looks like afterwards.
enum class AfterWipe {
  clear,      ///< empty (its buffer, now zero, is kept for reuse)
  keep_size,  ///< the same size, all '\0': for a buffer someone else still holds
};

/// Wipes a string's bytes in place and, by default, clears it. Only the
/// current buffer is wiped: a string that grew may have left older copies
/// in buffers it freed, so reserve before filling one with a secret.
void secure_wipe(std::string& s, AfterWipe then = AfterWipe::clear);

}  // namespace trousseau
