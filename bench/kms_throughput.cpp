// Decrypt and Encrypt through the whole stack (gRPC on a unix socket,
// engine, key files) with 2-of-3 key files, from several client threads.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "common/log.hpp"
#include "kms/kms_client.hpp"
#include "stats.hpp"
#include "support/running_server.hpp"

using namespace trousseau;

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 8;
  const int per_thread = argc > 2 ? std::atoi(argv[2]) : 500;
  log::set_level(log::Level::error);
  testkit::RunningServer server(R"(
providers:
  - {name: key-a, type: keyfile, path: "{dir}/a.key"}
  - {name: key-b, type: keyfile, path: "{dir}/b.key"}
  - {name: key-c, type: keyfile, path: "{dir}/c.key"}
policy:
  threshold: 2
  slots: [{providers: [key-a]}, {providers: [key-b]}, {providers: [key-c]}]
)");
  if (!server.started()) return 1;
  testkit::KmsClient warm(server.socket());
  v2::EncryptResponse enc;
  if (!warm.encrypt(std::string(32, 'k'), enc).ok()) return 1;

  for (const char* op : {"Decrypt", "Encrypt"}) {
    std::vector<std::vector<double>> per(threads);
    std::atomic<int> failures{0};
    auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        testkit::KmsClient client(server.socket());
        for (int i = 0; i < per_thread; ++i) {
          auto s = std::chrono::steady_clock::now();
          grpc::Status st;
          if (std::string(op) == "Decrypt") {
            v2::DecryptResponse out;
            st = client.decrypt(enc.ciphertext(), enc.key_id(), enc.annotations(), out);
          } else {
            v2::EncryptResponse out;
            st = client.encrypt(std::string(32, 'k'), out);
          }
          per[t].push_back(bench::ms_since(s));
          if (!st.ok()) ++failures;
        }
      });
    }
    for (auto& th : pool) th.join();
    const double secs = bench::ms_since(t0) / 1000;
    std::vector<double> all;
    for (auto& v : per) all.insert(all.end(), v.begin(), v.end());
    auto p = bench::percentiles(all);
    std::printf("| v2 %s | %d | %.0f | %.2f | %.2f | %.2f | %d |\n", op, threads,
                all.size() / secs, p.p50, p.p99, p.max, failures.load());
  }
}
