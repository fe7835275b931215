#include "etcd/kv_client.hpp"

#include <grpcpp/grpcpp.h>

#include <algorithm>

#include "etcd_kv.grpc.pb.h"
#include "kms/status_code_name.hpp"

namespace trousseau::etcd {

namespace {

constexpr std::string_view kHttps = "https://";
/// The most one answer may carry. A page of large values that passes it is
/// read again with half the keys (rule 3 then bounds memory by this).
constexpr int kMaxAnswerBytes = 256 << 20;

Error from_status(const grpc::Status& s, const std::string& endpoint) {
  const std::string what =
      "etcd " + endpoint + ": " + kms::status_code_name(s.error_code()) + ": " + s.error_message();
  switch (s.error_code()) {
    case grpc::StatusCode::DEADLINE_EXCEEDED: return {Code::deadline_exceeded, what};
    case grpc::StatusCode::UNAVAILABLE: return {Code::unavailable, what};
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return {Code::resource_exhausted, what};
    case grpc::StatusCode::PERMISSION_DENIED:
    case grpc::StatusCode::UNAUTHENTICATED: return {Code::permission_denied, what};
    default: return {Code::failed_precondition, what};
  }
}

}  // namespace

struct KvClient::Member {
  std::string endpoint;
  std::unique_ptr<etcdserverpb::KV::Stub> stub;
};

std::string prefix_range_end(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(end.back());
    if (last < 0xff) {
      ++last;
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');
}

Result<std::unique_ptr<KvClient>> KvClient::create(const std::vector<std::string>& endpoints,
                                                   const TlsCredentials& tls,
                                                   ClientOptions options) {
  if (endpoints.empty()) return invalid_argument("no etcd endpoint");
  if (tls.ca.empty()) return invalid_argument("no CA certificate for etcd's server certificate");
  if (tls.cert.empty() != tls.key.empty()) {
    return invalid_argument("a client certificate needs its key, and a key its certificate");
  }
  if (options.page_size <= 0) return invalid_argument("the page size must be at least 1");
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = tls.ca;
  ssl.pem_cert_chain = tls.cert;
  ssl.pem_private_key = tls.key;
  const auto credentials = grpc::SslCredentials(ssl);
  std::vector<std::unique_ptr<Member>> members;
  for (const std::string& e : endpoints) {
    if (e.compare(0, kHttps.size(), kHttps) != 0 || e.size() == kHttps.size()) {
      return invalid_argument("etcd endpoint '" + e +
                              "': only https://host:port (no insecure connection)");
    }
    std::string target = e.substr(kHttps.size());
    if (!target.empty() && target.back() == '/') target.pop_back();
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(kMaxAnswerBytes);
    auto m = std::make_unique<Member>();
    m->endpoint = e;
    m->stub = etcdserverpb::KV::NewStub(grpc::CreateCustomChannel(target, credentials, args));
    members.push_back(std::move(m));
  }
  return std::unique_ptr<KvClient>(new KvClient(std::move(members), options));
}

KvClient::KvClient(std::vector<std::unique_ptr<Member>> members, ClientOptions options)
    : members_(std::move(members)), options_(options) {}

KvClient::~KvClient() = default;

Result<ScanStats> KvClient::scan(std::string_view prefix, const Visit& visit) {
  ScanStats stats;
  etcdserverpb::RangeRequest request;
  request.set_key(std::string(prefix));
  request.set_range_end(prefix_range_end(prefix));
  request.set_sort_order(etcdserverpb::RangeRequest::ASCEND);
  request.set_sort_target(etcdserverpb::RangeRequest::KEY);
  std::int64_t limit = options_.page_size;
  std::size_t first = 0;  // the member that answered last; tried first
  for (;;) {
    request.set_limit(limit);
    etcdserverpb::RangeResponse response;
    Error last;
    bool answered = false;
    for (std::size_t i = 0; i < members_.size() && !answered; ++i) {
      Member& m = *members_[(first + i) % members_.size()];
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + options_.timeout);
      const grpc::Status s = m.stub->Range(&ctx, request, &response);
      if (s.ok()) {
        answered = true;
        first = (first + i) % members_.size();
        stats.endpoint = m.endpoint;
        break;
      }
      last = from_status(s, m.endpoint);
      // Only an unreachable or slow member is worth asking another about.
      if (last.code() != Code::unavailable && last.code() != Code::deadline_exceeded) break;
    }
    if (!answered) {
      if (last.code() == Code::resource_exhausted && limit > 1) {
        limit = std::max<std::int64_t>(1, limit / 2);  // values too large for one answer
        continue;
      }
      return last;
    }
    if (stats.pages == 0) {
      stats.revision = response.header().revision();
      request.set_revision(stats.revision);  // rule 2: one snapshot
    }
    ++stats.pages;
    stats.largest_page = std::max<std::uint64_t>(stats.largest_page, response.kvs_size());
    for (const auto& kv : response.kvs()) {
      visit(kv.key(), as_bytes(kv.value()));
      ++stats.keys;
    }
    if (!response.more() || response.kvs_size() == 0) return stats;
    // Rule 3: the next page starts just after the last key.
    std::string next = response.kvs(response.kvs_size() - 1).key();
    next.push_back('\0');
    request.set_key(std::move(next));
  }
}

Error KvClient::put(std::string_view key, ByteView value) {
  etcdserverpb::PutRequest request;
  request.set_key(std::string(key));
  request.set_value(std::string(as_chars(value)));
  etcdserverpb::PutResponse response;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + options_.timeout);
  const grpc::Status s = members_.front()->stub->Put(&ctx, request, &response);
  return s.ok() ? Error() : from_status(s, members_.front()->endpoint);
}

Error KvClient::compact(std::int64_t revision) {
  etcdserverpb::CompactionRequest request;
  request.set_revision(revision);
  request.set_physical(true);
  etcdserverpb::CompactionResponse response;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + options_.timeout);
  const grpc::Status s = members_.front()->stub->Compact(&ctx, request, &response);
  return s.ok() ? Error() : from_status(s, members_.front()->endpoint);
}

}  // namespace trousseau::etcd
