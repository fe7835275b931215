// The policy the `trousseau audit` tests judge values by: 2-of-3 over
// key-a, key-b and key-c; key-d still configured but retired from the
// slots; an earlier 1-of-2 policy still accepted. The key files need not
// exist: the audit opens none.
#pragma once

namespace trousseau::cli {

inline constexpr const char* kAuditPolicy = R"(
providers:
  - {name: key-a, type: keyfile, path: /nonexistent/a.key}
  - {name: key-b, type: keyfile, path: /nonexistent/b.key}
  - {name: key-c, type: keyfile, path: /nonexistent/c.key}
  - {name: key-d, type: keyfile, path: /nonexistent/d.key}
policy:
  threshold: 2
  slots:
    - providers: [key-a]
    - providers: [key-b]
    - providers: [key-c]
  previous:
    - threshold: 1
      slots: [{providers: [key-a]}, {providers: [key-d]}]
)";

}  // namespace trousseau::cli
