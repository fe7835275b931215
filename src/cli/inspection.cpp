#include "cli/inspection.hpp"

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "cli/ciphertext_document.hpp"
#include "cli/io.hpp"
#include "cli/table.hpp"
#include "envelope/aead.hpp"

namespace trousseau::cli {

namespace json = boost::json;

namespace {

bool starts_with(ByteView value, std::string_view prefix) {
  return value.size() >= prefix.size() && as_chars(value).substr(0, prefix.size()) == prefix;
}

bool is_envelope(ByteView value) {
  return value.size() >= envelope::kMagic.size() &&
         std::equal(envelope::kMagic.begin(), envelope::kMagic.end(), value.begin());
}

/// What the first bytes say the input is; automatic when they say nothing.
InputFormat sniff(ByteView value) {
  // k8s:enc:... (encrypted), or k8s\0 (an unencrypted object, refused by name).
  if (starts_with(value, "k8s:") || starts_with(value, std::string_view("k8s\0", 4))) {
    return InputFormat::etcd;
  }
  if (is_envelope(value) || envelope::looks_legacy(value)) return InputFormat::raw;
  if (starts_with(value, "{")) return InputFormat::json;
  return InputFormat::automatic;
}

/// Parses the envelope in `out`; a failure becomes a problem when `out`
/// already has a frame to show, an error otherwise.
Result<Inspection> with_envelope(Inspection out, ByteView ciphertext) {
  out.envelope_size = ciphertext.size();
  if (envelope::looks_legacy(ciphertext)) {
    auto legacy = envelope::parse_legacy(ciphertext);
    if (!legacy.ok()) {
      if (out.form == InputFormat::raw) return legacy.error();
      out.envelope_error = "the encrypted DEK looks like the original Trousseau's, but: " +
                           legacy.error().message();
      out.problems.push_back(out.envelope_error);
      return out;
    }
    out.legacy = std::move(legacy.value());
    if (out.stored && out.stored->api == kms::StoredApi::v2) {
      out.problems.push_back("the original Trousseau's ciphertext in a KMS v2 value: "
                             "Trousseau opens it only through KMS v1beta1");
    } else {
      out.problems.push_back("written by the original Trousseau: readable only while `legacy:` "
                             "maps its origin; re-encrypt it (docs/migration.md)");
    }
    return out;
  }
  auto env = envelope::parse(ciphertext, out.annotations);
  if (env.ok()) {
    out.envelope = std::move(env.value());
  } else if (out.form == InputFormat::raw) {
    return env.error();
  } else {
    out.envelope_error = "the encrypted DEK is not a Trousseau envelope: " + env.error().message();
    out.problems.push_back(out.envelope_error);
  }
  return out;
}

Result<Inspection> inspect_as(ByteView value, InputFormat form) {
  Inspection out;
  out.form = form;
  switch (form) {
    case InputFormat::etcd: {
      auto stored = kms::parse_stored_value(value);
      if (!stored.ok()) return stored.error();
      const Error apiserver = kms::check_stored_value(stored.value());
      const Bytes dek = stored->encrypted_dek;
      out.annotations = stored->annotations;
      out.stored = std::move(stored.value());
      auto result = with_envelope(std::move(out), dek);
      if (result.ok() && !apiserver.ok()) {
        result->apiserver_error = "kube-apiserver would refuse this value: " + apiserver.message();
        result->problems.push_back(result->apiserver_error);
      }
      return result;
    }
    case InputFormat::json: {
      auto doc = parse_ciphertext_document(as_chars(value));
      if (!doc.ok()) {
        return Error(doc.error().code(),
                     "not an `encrypt --json` document: " + doc.error().message());
      }
      for (const auto& [k, v] : doc->annotations) out.annotations.emplace(k, to_bytes(v));
      return with_envelope(std::move(out), as_bytes(doc->ciphertext));
    }
    default: return with_envelope(std::move(out), value);
  }
}

}  // namespace

Result<Inspection> inspect_stored(ByteView value) { return inspect_as(value, InputFormat::etcd); }

Result<Inspection> inspect(ByteView input, InputFormat format) {
  if (input.empty()) return invalid_argument("the input is empty");
  Bytes decoded;
  ByteView value = input;
  bool base64 = false;
  if (format == InputFormat::base64 ||
      (format == InputFormat::automatic && sniff(input) == InputFormat::automatic)) {
    if (!base64_decode(remove_whitespace(as_chars(input)), decoded) || decoded.empty()) {
      return invalid_argument(format == InputFormat::base64
                                  ? "the input is not valid base64"
                                  : "the input is not a Trousseau envelope (\"TRS\" 0x01), a value "
                                    "kube-apiserver stored (k8s:enc:kms:...), an `encrypt --json` "
                                    "document, or base64 of one of them");
    }
    value = decoded;
    base64 = true;
    format = InputFormat::automatic;
  }
  InputFormat form = format == InputFormat::automatic ? sniff(value) : format;
  if (form == InputFormat::automatic) {
    return invalid_argument(
        "the input is base64 of something that is neither a Trousseau "
        "envelope, nor a value kube-apiserver stored, nor an `encrypt --json` "
        "document");
  }
  auto result = inspect_as(value, form);
  // etcdctl --print-value-only and echo end the value with a newline that
  // is not part of it; try without it, but only take what then reads cleanly.
  if ((!result.ok() || !result->problems.empty()) && value.back() == '\n' && value.size() > 1) {
    auto again = inspect_as(value.first(value.size() - 1), form);
    if (again.ok() && again->problems.empty()) {
      again->trailing_newline = true;
      result = std::move(again);
    }
  }
  if (result.ok()) result->base64 = base64;
  return result;
}

namespace {

std::string form_name(const Inspection& in) {
  std::string name;
  switch (in.form) {
    case InputFormat::etcd:
      name = in.stored && in.stored->api == kms::StoredApi::v1 ? "etcd value, KMS v1"
                                                               : "etcd value, KMS v2";
      break;
    case InputFormat::json: name = "encrypt --json document"; break;
    default: name = in.legacy ? "raw ciphertext" : "raw envelope"; break;
  }
  if (in.base64) name += ", as base64";
  if (in.trailing_newline) name += " (a trailing newline was ignored)";
  return name;
}

/// The annotation a wrapped share was read from, or "" when it was inline.
std::string annotation_of(const Inspection& in, std::size_t index) {
  const std::string key = envelope::annotation_key(index);
  return in.annotations.contains(key) ? key : std::string();
}

std::string bytes(std::size_t n) { return std::to_string(n) + " bytes"; }

void field(std::string& out, std::string_view name, const std::string& value) {
  out += std::string(name) + std::string(18 - std::min<std::size_t>(name.size(), 16), ' ') + value +
         "\n";
}

std::size_t plaintext_size(const envelope::Envelope& env) {
  return env.sealed.size() > aead::kTagSize ? env.sealed.size() - aead::kTagSize : 0;
}

}  // namespace

std::string render_text(const Inspection& in) {
  std::string out;
  field(out, "input", form_name(in));
  if (in.stored) {
    const kms::StoredValue& s = *in.stored;
    field(out, "provider",
          printable(s.provider) + " (the kms provider's name in the EncryptionConfiguration)");
    if (s.api == kms::StoredApi::v2) {
      field(out, "key_id", s.key_id.empty() ? "(none)" : printable(s.key_id));
      field(out, "DEK source type", kms::dek_source_type_name(s.dek_source_type));
      std::string annotations;
      for (const auto& [k, v] : s.annotations) {
        annotations +=
            (annotations.empty() ? "" : ", ") + printable(k, 253) + " (" + bytes(v.size()) + ")";
      }
      field(out, "annotations", annotations.empty() ? "none" : annotations);
    }
    field(out, "encrypted data", bytes(s.encrypted_data.size()));
  }
  if (in.envelope) {
    const envelope::Envelope& env = *in.envelope;
    out += "\n";
    field(out, "envelope",
          "Trousseau format " + std::to_string(envelope::kFormat) + ", " + bytes(in.envelope_size));
    field(out, "threshold",
          std::to_string(env.threshold) + " of " + std::to_string(env.slots.size()) + " slots");
    field(out, "envelope id", hex_encode(env.nonce) + " (the GCM nonce)");
    field(out, "header", bytes(env.header_bytes.size()) + ", authenticated with the sealed data");
    field(out, "sealed data",
          bytes(env.sealed.size()) + ": a " + std::to_string(plaintext_size(env)) +
              "-byte plaintext and a " + std::to_string(aead::kTagSize) + "-byte tag");
    // X is the share's x-coordinate: policy slot i wrote share x = i + 1.
    Table table({"X", "PROVIDER", "KEY VERSION", "WRAPPED", "WHERE"});
    std::size_t index = 0;
    for (const envelope::Slot& slot : env.slots) {
      for (const envelope::ShareRef& w : slot.wraps) {
        const std::string annotation = annotation_of(in, index++);
        table.add({std::to_string(slot.x), w.provider, w.key_version.empty() ? "-" : w.key_version,
                   bytes(w.wrapped.size()),
                   annotation.empty() ? "inline" : "annotation " + annotation});
      }
    }
    out += "\n" + table.render("  ");
  }
  if (in.legacy) {
    out += "\n";
    field(out, "legacy", std::string(envelope::to_string(in.legacy->format)) + ", " +
                             bytes(in.envelope_size) + ": a ciphertext of the original Trousseau");
    Table table({"ORIGIN", "VAULT KEY VERSION", "CIPHERTEXT"});
    for (const envelope::LegacyPart& p : in.legacy->parts) {
      const unsigned v = envelope::vault_ciphertext_version(as_chars(p.ciphertext));
      table.add({p.origin, v == 0 ? "-" : std::to_string(v), bytes(p.ciphertext.size())});
    }
    out += "\n" + table.render("  ");
  }
  if (!in.problems.empty()) {
    out += "\nproblems\n";
    for (const std::string& p : in.problems) out += "  " + printable(p) + "\n";
  }
  return out;
}

std::string render_json(const Inspection& in) {
  json::object o;
  switch (in.form) {
    case InputFormat::etcd: o["input"] = "etcd"; break;
    case InputFormat::json: o["input"] = "json"; break;
    default: o["input"] = "raw"; break;
  }
  o["base64"] = in.base64;
  o["trailing_newline_ignored"] = in.trailing_newline;
  if (in.stored) {
    const kms::StoredValue& s = *in.stored;
    json::object stored;
    stored["api"] = s.api == kms::StoredApi::v1 ? "v1" : "v2";
    stored["provider"] = printable(s.provider);
    stored["encrypted_dek_bytes"] = s.encrypted_dek.size();
    stored["encrypted_data_bytes"] = s.encrypted_data.size();
    if (s.api == kms::StoredApi::v2) {
      stored["key_id"] = printable(s.key_id);
      stored["dek_source_type"] = kms::dek_source_type_name(s.dek_source_type);
      json::object annotations;
      for (const auto& [k, v] : s.annotations) annotations[printable(k, 253)] = v.size();
      stored["annotation_bytes"] = std::move(annotations);
    }
    o["stored"] = std::move(stored);
  }
  if (in.envelope) {
    const envelope::Envelope& env = *in.envelope;
    json::object e;
    e["format"] = envelope::kFormat;
    e["bytes"] = in.envelope_size;
    e["threshold"] = env.threshold;
    e["nonce"] = hex_encode(env.nonce);
    e["header_bytes"] = env.header_bytes.size();
    e["sealed_bytes"] = env.sealed.size();
    json::array slots;
    std::size_t index = 0;
    for (const envelope::Slot& slot : env.slots) {
      json::array wraps;
      for (const envelope::ShareRef& w : slot.wraps) {
        const std::string annotation = annotation_of(in, index++);
        wraps.push_back(json::object{
            {"provider", w.provider},
            {"key_version", printable(w.key_version, 255)},
            {"wrapped_bytes", w.wrapped.size()},
            {"annotation", annotation.empty() ? json::value(nullptr) : json::value(annotation)}});
      }
      slots.push_back(json::object{{"x", slot.x}, {"wraps", std::move(wraps)}});
    }
    e["slots"] = std::move(slots);
    o["envelope"] = std::move(e);
  }
  if (in.legacy) {
    json::array parts;
    for (const envelope::LegacyPart& p : in.legacy->parts) {
      const unsigned v = envelope::vault_ciphertext_version(as_chars(p.ciphertext));
      parts.push_back(json::object{{"origin", p.origin},
                                   {"vault_key_version", v == 0 ? json::value(nullptr) : json::value(v)},
                                   {"ciphertext_bytes", p.ciphertext.size()}});
    }
    o["legacy"] = json::object{{"format", std::string(envelope::to_string(in.legacy->format))},
                               {"bytes", in.envelope_size},
                               {"parts", std::move(parts)}};
  }
  json::array problems;
  for (const std::string& p : in.problems) problems.push_back(json::value(printable(p)));
  o["problems"] = std::move(problems);
  return json::serialize(o);
}

}  // namespace trousseau::cli
