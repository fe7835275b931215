// A blocking client of etcd's v3 KV API (proto/etcd_kv.proto) over mutual
// TLS, for `trousseau audit`: it reads what kube-apiserver stored, one page
// at a time, and never writes (put() is there for the tests).
//
// The scan rules:
//  1. Only https endpoints: there is no insecure fallback, with or without a
//     client certificate.
//  2. The first page is read at the newest revision; every later page is
//     pinned to that revision, so the scan is one consistent snapshot even
//     while kube-apiserver writes. A revision compacted meanwhile fails the
//     scan (etcd answers OUT_OF_RANGE); nothing is silently skipped.
//  3. A page holds at most `page_size` keys; the next page starts at the
//     last key + "\0". Only one page is held at a time.
//  4. Endpoints are tried in order for each page: an unreachable member is
//     skipped, the snapshot stays the same.
//  5. Every call has its own deadline (`timeout`).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.hpp"
#include "common/error.hpp"

namespace trousseau::etcd {

/// PEM contents, not paths: the caller reads (and wipes) them.
struct TlsCredentials {
  std::string ca;    ///< the CA etcd's server certificate chains to
  std::string cert;  ///< the client certificate; empty: none (etcd refuses)
  std::string key;   ///< its private key
};

struct ClientOptions {
  std::chrono::milliseconds timeout{30000};  ///< per call
  std::int64_t page_size = 500;              ///< keys per Range
};

/// What a scan read, for the summary and for the tests' bounds.
struct ScanStats {
  std::int64_t revision = 0;       ///< the snapshot's revision
  std::uint64_t keys = 0;          ///< keys visited
  std::uint64_t pages = 0;         ///< Range calls that answered
  std::uint64_t largest_page = 0;  ///< most keys one answer held
  std::string endpoint;            ///< the member that answered the last page
};

/// The end of the range that holds every key starting with `prefix`:
/// the prefix with its last byte below 0xff incremented, or "\0" (every key
/// from there on) when there is none.
std::string prefix_range_end(std::string_view prefix);

class KvClient {
 public:
  /// `endpoints`: "https://host:port", at least one. Refuses (invalid
  /// argument) any other scheme, a missing CA, or a certificate without
  /// its key. Dials lazily: a member that is down fails the first call.
  static Result<std::unique_ptr<KvClient>> create(const std::vector<std::string>& endpoints,
                                                  const TlsCredentials& tls,
                                                  ClientOptions options = {});
  ~KvClient();
  KvClient(const KvClient&) = delete;
  KvClient& operator=(const KvClient&) = delete;

  using Visit = std::function<void(std::string_view key, ByteView value)>;
  /// Visits every key under `prefix`, in key order, at one revision (rules
  /// 2-4). `visit` sees the key and value only for the call.
  Result<ScanStats> scan(std::string_view prefix, const Visit& visit);

  /// Writes one key. Tests only: the audit never writes.
  Error put(std::string_view key, ByteView value);
  /// Drops the history before `revision`. Tests only.
  Error compact(std::int64_t revision);

 private:
  struct Member;
  KvClient(std::vector<std::unique_ptr<Member>> members, ClientOptions options);

  std::vector<std::unique_ptr<Member>> members_;
  ClientOptions options_;
};

}  // namespace trousseau::etcd
