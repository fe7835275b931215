#include "age/plugin.hpp"

#include <istream>
#include <map>
#include <ostream>
#include <vector>

namespace trousseau::age {

namespace {

/// After each command the plugin sends, age answers "ok" (or "fail" to a
/// request the plugin does not make). Anything else, or no answer, ends the
/// session.
bool acknowledged(std::istream& in) {
  Result<Stanza> reply = read_stanza(in);
  return reply.ok() && reply->type == "ok";
}

/// Reports an error to age ("error <kind> [index]", the message as body).
int report(std::istream& in, std::ostream& out, const std::string& kind, std::optional<std::size_t> index,
           const std::string& message) {
  std::vector<std::string> args{kind};
  if (index) args.push_back(std::to_string(*index));
  write_stanza(out, "error", args, as_bytes(message));
  (void)acknowledged(in);
  return 1;
}

bool one_arg(const Stanza& s) { return s.args.size() == 1; }

}  // namespace

int run_recipient_v1(std::istream& in, std::ostream& out, Keys& keys) {
  // Phase 1: age sends recipients, identities and file keys, then "done".
  std::vector<std::string> recipients, identities;
  std::vector<SecretBytes> file_keys;
  while (true) {
    Result<Stanza> s = read_stanza(in);
    if (!s.ok()) return report(in, out, "internal", std::nullopt, s.error().message());
    if (s->type == "done") break;
    if (s->type == "add-recipient" && one_arg(*s)) {
      recipients.push_back(s->args[0]);
    } else if (s->type == "add-identity" && one_arg(*s)) {
      identities.push_back(s->args[0]);
    } else if (s->type == "wrap-file-key") {
      file_keys.push_back(std::move(s->body));
    }
    // Anything else (extension-labels, later additions) needs no answer.
  }
  // Phase 2: one stanza per file and recipient (or identity), each
  // acknowledged; the first failure is reported and ends the session.
  for (std::size_t f = 0; f < file_keys.size(); ++f) {
    for (int pass = 0; pass < 2; ++pass) {
      const bool identity = pass == 1;
      const std::vector<std::string>& list = identity ? identities : recipients;
      for (std::size_t i = 0; i < list.size(); ++i) {
        Result<WrappedKey> w = keys.wrap(list[i], identity, file_keys[f]);
        if (!w.ok()) return report(in, out, identity ? "identity" : "recipient", i, w.error().message());
        std::vector<std::string> args{std::to_string(f), w->type};
        args.insert(args.end(), w->args.begin(), w->args.end());
        write_stanza(out, "recipient-stanza", args, w->body);
        if (!acknowledged(in)) return 1;
      }
    }
  }
  write_stanza(out, "done", {});
  return 0;
}

int run_identity_v1(std::istream& in, std::ostream& out, Keys& keys) {
  // Phase 1: identities, then every stanza of every file, then "done".
  std::vector<std::string> identities;
  std::map<std::size_t, std::vector<Stanza>> files;  // ordered by file index
  while (true) {
    Result<Stanza> s = read_stanza(in);
    if (!s.ok()) return report(in, out, "internal", std::nullopt, s.error().message());
    if (s->type == "done") break;
    if (s->type == "add-identity" && one_arg(*s)) {
      identities.push_back(s->args[0]);
    } else if (s->type == "recipient-stanza" && s->args.size() >= 2) {
      std::size_t index = 0;
      try {
        index = std::stoul(s->args[0]);
      } catch (const std::exception&) {
        return report(in, out, "internal", std::nullopt, "age: a file index that is not a number");
      }
      Stanza inner{s->args[1], {s->args.begin() + 2, s->args.end()}, std::move(s->body)};
      files[index].push_back(std::move(inner));
    }
  }
  // Phase 2: per file, the first of our stanzas that an identity opens
  // gives the file key. When ours are there and none opens, age hears why
  // (the last reason): silence would read "no identity matched".
  for (auto& [index, stanzas] : files) {
    std::optional<std::string> failure;
    bool opened = false;
    for (const Stanza& st : stanzas) {
      if (opened || !keys.understands(st.type)) continue;
      for (const std::string& id : identities) {
        Result<SecretBytes> key = keys.unwrap(id, st);
        if (!key.ok()) {
          failure = key.error().message();
          continue;
        }
        write_stanza(out, "file-key", {std::to_string(index)}, key->view());
        if (!acknowledged(in)) return 1;
        opened = true;
        break;
      }
    }
    if (!opened && failure) return report(in, out, "stanza", index, *failure);
  }
  write_stanza(out, "done", {});
  return 0;
}

}  // namespace trousseau::age
