#include "reliability/load.hpp"

#include <filesystem>
#include <fstream>

#include "common/bytes.hpp"
#include "kms/client.hpp"
#include "support/wait.hpp"

namespace trousseau::testkit {

using namespace std::chrono_literals;

std::size_t open_fds() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

std::size_t rss_kib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoul(line.substr(6));
  }
  return 0;
}

std::string describe(const std::map<grpc::StatusCode, std::uint64_t>& codes) {
  static const std::map<grpc::StatusCode, const char*> names{
      {grpc::StatusCode::UNAVAILABLE, "UNAVAILABLE"},
      {grpc::StatusCode::DEADLINE_EXCEEDED, "DEADLINE_EXCEEDED"},
      {grpc::StatusCode::RESOURCE_EXHAUSTED, "RESOURCE_EXHAUSTED"},
      {grpc::StatusCode::INVALID_ARGUMENT, "INVALID_ARGUMENT"},
      {grpc::StatusCode::INTERNAL, "INTERNAL"},
      {grpc::StatusCode::UNKNOWN, "UNKNOWN"}};
  std::string out;
  for (const auto& [code, n] : codes) {
    if (code == grpc::StatusCode::OK) continue;
    auto it = names.find(code);
    out += (out.empty() ? "" : ", ") +
           std::string(it == names.end() ? std::to_string(static_cast<int>(code)) : it->second) +
           " " + std::to_string(n);
  }
  return out.empty() ? "none" : out;
}

bool outage_code(grpc::StatusCode code) {
  return code == grpc::StatusCode::OK || code == grpc::StatusCode::UNAVAILABLE ||
         code == grpc::StatusCode::DEADLINE_EXCEEDED || code == grpc::StatusCode::RESOURCE_EXHAUSTED;
}

Load::Load(const std::string& socket, int threads, std::chrono::milliseconds deadline)
    : began_(static_cast<std::size_t>(threads)) {
  for (int i = 0; i < threads; ++i) {
    threads_.emplace_back([this, socket, i, deadline] { run(socket, i, deadline); });
  }
}

Load::~Load() { stop(); }

void Load::stop() {
  stop_ = true;
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

std::map<grpc::StatusCode, std::uint64_t> Load::codes() const {
  std::lock_guard lock(mutex_);
  return codes_;
}

bool Load::answer(std::uint64_t n) {
  const std::uint64_t target = answered() + n;
  return wait_until([&] { return answered() >= target; });
}

bool Load::succeed(std::uint64_t n) {
  return wait_until([&] { return streak_.load() >= n; });
}

bool Load::all_began_after(std::chrono::steady_clock::time_point t) {
  const std::int64_t ns = t.time_since_epoch().count();
  return wait_until([&] {
    for (const auto& b : began_) {
      if (b.load() <= ns) return false;
    }
    return true;
  });
}

void Load::count(grpc::StatusCode code) {
  {
    std::lock_guard lock(mutex_);
    ++codes_[code];
  }
  ++answered_;
  if (code == grpc::StatusCode::OK) {
    ++ok_;
    ++streak_;
  } else {
    streak_ = 0;
  }
  notify_waiters();
}

void Load::run(const std::string& socket, int index, std::chrono::milliseconds deadline) {
  kms::Client client(socket, {.timeout = deadline});
  std::uint64_t n = 0;
  while (!stop_) {
    std::string seed(32, '\0');
    random_fill({reinterpret_cast<std::uint8_t*>(seed.data()), seed.size()});
    seed[0] = static_cast<char>(index);
    ++n;
    began_[static_cast<std::size_t>(index)] =
        std::chrono::steady_clock::now().time_since_epoch().count();
    v2::EncryptResponse enc;
    grpc::Status st =
        client.encrypt(seed, enc, "load-" + std::to_string(index) + "-" + std::to_string(n));
    if (!st.ok()) {
      count(st.error_code());
      continue;
    }
    v2::DecryptResponse dec;
    st = client.decrypt(enc.ciphertext(), enc.key_id(), enc.annotations(), dec);
    if (st.ok() && dec.plaintext() != seed) ++wrong_;
    count(st.error_code());
  }
}

}  // namespace trousseau::testkit
