#include "cli/readiness.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cstdio>
#include <limits>

#include "cli/io.hpp"
#include "cli/table.hpp"
#include "common/clock.hpp"
#include "http/client.hpp"
#include "http/json_fields.hpp"

namespace trousseau::cli {

namespace json = boost::json;
using http::string_field;

namespace {

std::optional<std::int64_t> integer(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return std::nullopt;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64() &&
      v->as_uint64() <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    return static_cast<std::int64_t>(v->as_uint64());
  }
  return std::nullopt;
}

std::optional<bool> boolean(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_bool() ? std::optional<bool>(v->as_bool()) : std::nullopt;
}

std::optional<double> number(const json::object* o, std::string_view key) {
  const json::value* v = o != nullptr ? o->if_contains(key) : nullptr;
  if (v == nullptr || !v->is_number()) return std::nullopt;
  boost::system::error_code ec;
  const double d = v->to_number<double>(ec);
  return ec ? std::nullopt : std::optional<double>(d);
}

ProviderReadiness provider(const json::object& o) {
  ProviderReadiness p;
  p.name = string_field(o, "name");
  p.type = string_field(o, "type");
  p.breaker = string_field(o, "breaker");
  p.last_error = string_field(o, "last_error");
  p.key_identity = string_field(o, "key_identity");
  p.slot = integer(o, "slot");
  p.consecutive_failures = integer(o, "consecutive_failures");
  p.inflight = integer(o, "inflight");
  p.queued = integer(o, "queued");
  p.healthy = boolean(o, "healthy");
  p.probed = boolean(o, "probed");
  const json::value* latency = o.if_contains("latency_ms");
  const json::object* l = latency != nullptr ? latency->if_object() : nullptr;
  p.mean_ms = number(l, "mean");
  p.slow_after_ms = number(l, "slow_after");
  return p;
}

std::string show(const std::optional<std::int64_t>& v) { return v ? std::to_string(*v) : "-"; }

std::string show(const std::optional<double>& v) {
  if (!v) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", *v);
  return buf;
}

std::string health(const ProviderReadiness& p) {
  if (!p.healthy) return "-";
  if (*p.healthy) return "healthy";
  return p.probed == false ? "not probed" : "unhealthy";
}

}  // namespace

Result<http::Url> readiness_url(const std::string& base_url) {
  auto url = http::Url::parse(base_url);
  if (!url.ok()) return url.error();
  if (url->tls()) {
    return invalid_argument("--metrics " + base_url +
                            ": https is not supported; the metrics listener serves plain http "
                            "(telemetry.listen, default http://127.0.0.1:8095)");
  }
  if (!url->loopback()) {
    return invalid_argument("--metrics " + base_url +
                            ": only a loopback address (127.0.0.1, ::1, localhost) is read "
                            "over plain http; run `trousseau status` on the plugin's node");
  }
  if (!url->query().empty()) return invalid_argument("--metrics " + base_url + ": takes no query");
  std::string path(url->path());
  while (!path.empty() && path.back() == '/') path.pop_back();
  url->target = path + "/readyz?verbose";
  return url;
}

Result<Readiness> parse_readiness(unsigned http_status, std::string_view body) {
  boost::system::error_code ec;
  const json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) {
    return invalid_argument("HTTP " + std::to_string(http_status) +
                            " without the JSON document of "
                            "/readyz?verbose (docs/metrics.md)");
  }
  const json::object& o = v.as_object();
  const std::optional<bool> ready = boolean(o, "ready");
  if (!ready) return invalid_argument("the /readyz?verbose document has no boolean \"ready\"");
  Readiness r;
  r.http_status = http_status;
  r.ready = *ready && http_status == 200;
  r.reason = string_field(o, "reason");
  r.key_id = string_field(o, "key_id");
  r.healthy_slots = integer(o, "healthy_slots");
  if (const json::value* policy = o.if_contains("policy");
      policy != nullptr && policy->is_object()) {
    const json::object& p = policy->as_object();
    r.threshold = integer(p, "threshold");
    r.min_encrypt_slots = integer(p, "min_encrypt_slots");
    if (const json::value* slots = p.if_contains("slots"); slots != nullptr && slots->is_array()) {
      r.slots = static_cast<std::int64_t>(slots->as_array().size());
    }
  }
  if (const json::value* list = o.if_contains("providers"); list != nullptr && list->is_array()) {
    for (const json::value& entry : list->as_array()) {
      if (entry.is_object()) r.providers.push_back(provider(entry.as_object()));
    }
  }
  return r;
}

Result<Readiness> fetch_readiness(const std::string& base_url, std::chrono::milliseconds timeout) {
  auto url = readiness_url(base_url);
  if (!url.ok()) return url.error();
  const std::string where = "GET " + url->origin() + url->target;
  http::Request request;
  request.url = std::move(url.value());
  request.set_header("accept", "application/json");

  boost::asio::io_context io;
  http::ClientOptions options;
  options.allow_plain_http = true;
  options.retry.max_attempts = 1;  // a 503 is the answer, not a reason to ask again
  auto client = http::Client::create(io.get_executor(), std::move(options));
  if (!client.ok()) return client.error();
  Error error;
  http::Response response;
  client.value()->async_request(std::move(request), Clock::now() + timeout,
                                [&](Error e, http::Response r) {
                                  error = std::move(e);
                                  response = std::move(r);
                                });
  io.run();
  // 5xx arrive as an error with the response: a 503 still carries the document.
  if (response.status == 0) {
    return unavailable(where + ": " + (error.ok() ? std::string("no answer") : error.message()));
  }
  if (response.status != 200 && response.status != 503) {
    return unavailable(where + ": HTTP " + std::to_string(response.status));
  }
  auto parsed = parse_readiness(response.status, response.body);
  if (!parsed.ok()) return Error(parsed.error().code(), where + ": " + parsed.error().message());
  return parsed;
}

std::string render_readiness(const Readiness& r) {
  std::string out = "readiness  ";
  out += r.ready ? "ready" : "NOT READY";
  std::string detail;
  if (r.healthy_slots && r.slots) {
    detail =
        std::to_string(*r.healthy_slots) + " of " + std::to_string(*r.slots) + " slots healthy";
  }
  if (r.threshold && r.slots) {
    if (!detail.empty()) detail += "; ";
    detail += "policy " + std::to_string(*r.threshold) + "-of-" + std::to_string(*r.slots);
    if (r.min_encrypt_slots) detail += ", writes need " + std::to_string(*r.min_encrypt_slots);
  }
  if (!detail.empty()) out += " (" + detail + ")";
  out += "\n";
  if (!r.reason.empty()) out += "reason     " + printable(r.reason) + "\n";
  if (r.providers.empty()) return out + "providers  none listed\n";
  Table table({"PROVIDER", "TYPE", "SLOT", "HEALTH", "BREAKER", "FAILURES", "MEAN MS", "SLOW MS",
               "INFLIGHT", "QUEUED", "KEY IDENTITY"});
  for (const ProviderReadiness& p : r.providers) {
    table.add({p.name, p.type, show(p.slot), health(p), p.breaker.empty() ? "-" : p.breaker,
               show(p.consecutive_failures), show(p.mean_ms), show(p.slow_after_ms), show(p.inflight),
               show(p.queued), p.key_identity.empty() ? "-" : p.key_identity});
  }
  out += "\n" + table.render();
  for (const ProviderReadiness& p : r.providers) {
    if (!p.last_error.empty())
      out += printable(p.name) + ": last error: " + printable(p.last_error) + "\n";
  }
  return out;
}

}  // namespace trousseau::cli
