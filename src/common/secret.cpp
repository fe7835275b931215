#include "common/secret.hpp"

#include <sodium.h>

#include "common/secret_pool.hpp"

#include <atomic>
#include <cstring>
#include <new>
#include <utility>

namespace trousseau {

namespace {
std::atomic<std::size_t> g_live{0};
std::atomic<bool> g_fail{false};

std::uint8_t* allocate(std::size_t size) {
  if (g_fail.load(std::memory_order_relaxed)) throw std::bad_alloc();
  auto* p = static_cast<std::uint8_t*>(secret_pool::allocate(size));  // zeroed
  g_live.fetch_add(1, std::memory_order_relaxed);
  return p;
}
}  // namespace

SecretBytes::SecretBytes(std::size_t size) : size_(size) {
  if (size_ > 0) data_ = allocate(size_);
}

SecretBytes::SecretBytes(ByteView from) : size_(from.size()) {
  if (size_ > 0) {
    data_ = allocate(size_);
    std::memcpy(data_, from.data(), size_);
  }
}

SecretBytes::~SecretBytes() { reset(); }

SecretBytes::SecretBytes(SecretBytes&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
  if (this != &other) {
    reset();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

void SecretBytes::reset() noexcept {
  if (data_ != nullptr) {
    secret_pool::release(data_, size_);  // wipes
    g_live.fetch_sub(1, std::memory_order_relaxed);
  }
  data_ = nullptr;
  size_ = 0;
}

void fail_secret_allocations_for_testing(bool fail) { g_fail.store(fail); }

std::size_t SecretBytes::live() { return g_live.load(std::memory_order_relaxed); }

SecretBytes SecretBytes::random(std::size_t size) {
  SecretBytes s(size);
  random_fill(s.span());
  return s;
}

bool SecretBytes::equals(ByteView other) const {
  if (other.size() != size_) return false;
  if (size_ == 0) return true;
  return sodium_memcmp(data_, other.data(), size_) == 0;
}

void secure_wipe(std::span<std::uint8_t> bytes) { sodium_memzero(bytes.data(), bytes.size()); }

void secure_wipe(std::string& s, AfterWipe then) {
  if (!s.empty()) secure_wipe({reinterpret_cast<std::uint8_t*>(s.data()), s.size()});
  if (then == AfterWipe::clear) s.clear();
}

}  // namespace trousseau
