#include "providers/azurekv/share_binding.hpp"

#include "envelope/aead.hpp"

namespace trousseau::providers::azurekv {

namespace {

constexpr std::string_view kLabel = "trousseau.io/azurekv/v1";

}  // namespace

std::string_view algorithm_name(Algorithm a) {
  switch (a) {
    case Algorithm::rsa_oaep_256: return "RSA-OAEP-256";
    case Algorithm::a256kw: return "A256KW";
    case Algorithm::a256gcm: return "A256GCM";
  }
  return "?";
}

std::optional<Algorithm> algorithm_from_name(std::string_view name) {
  for (Algorithm a : {Algorithm::rsa_oaep_256, Algorithm::a256kw, Algorithm::a256gcm}) {
    if (algorithm_name(a) == name) return a;
  }
  return std::nullopt;
}

Result<Algorithm> choose_algorithm(std::string_view configured, std::string_view kty) {
  const bool rsa = kty == "RSA" || kty == "RSA-HSM";
  const bool oct = kty == "oct" || kty == "oct-HSM";
  const std::string type = "key type \"" + std::string(kty.substr(0, 32)) + "\"";
  if (!rsa && !oct) {
    return Error(Code::failed_precondition, type + " cannot wrap (use an RSA, RSA-HSM or oct-HSM key)");
  }
  if (configured.empty()) return rsa ? Algorithm::rsa_oaep_256 : Algorithm::a256kw;
  const std::optional<Algorithm> a = algorithm_from_name(configured);
  if (!a || rsa != (*a == Algorithm::rsa_oaep_256)) {
    return Error(Code::failed_precondition,
                 "algorithm " + std::string(configured) + " does not fit " + type +
                     (rsa ? " (RSA keys use RSA-OAEP-256)" : " (oct keys use A256KW or A256GCM)"));
  }
  return *a;
}

std::string_view wrap_operation(Algorithm a) { return a == Algorithm::a256gcm ? "encrypt" : "wrapKey"; }
std::string_view unwrap_operation(Algorithm a) { return a == Algorithm::a256gcm ? "decrypt" : "unwrapKey"; }

Bytes binding_aad(Algorithm a, ByteView context) {
  Bytes aad(kLabel.begin(), kLabel.end());
  aad.push_back(0);
  aad.push_back(kFormat);
  aad.push_back(static_cast<std::uint8_t>(a));
  aad.insert(aad.end(), context.begin(), context.end());
  return aad;
}

Result<Bytes> seal_share(ByteView key, Algorithm a, ByteView context, ByteView share) {
  // K seals exactly one share, so the nonce could be fixed; a random one
  // costs 12 bytes and needs no argument.
  Bytes out(aead::kNonceSize);
  random_fill(out);
  Result<Bytes> sealed = aead::seal(key, out, binding_aad(a, context), share);
  if (!sealed.ok()) return sealed.error();
  out.insert(out.end(), sealed->begin(), sealed->end());
  return out;
}

Result<SecretBytes> open_share(ByteView key, Algorithm a, ByteView context, ByteView sealed) {
  if (sealed.size() < aead::kNonceSize + aead::kTagSize) {
    return integrity_error("wrapped share too short");
  }
  Result<SecretBytes> share = aead::open(key, sealed.first(aead::kNonceSize), binding_aad(a, context),
                                         sealed.subspan(aead::kNonceSize));
  if (!share.ok()) {
    return integrity_error("the share does not authenticate for this context (moved or altered)");
  }
  return share;
}

Result<WrappedParts> parse_wrapped(ByteView w) {
  if (w.size() < 4) return integrity_error("wrapped share too short");
  if (w[0] != kFormat) return integrity_error("unknown wrapped-share format " + std::to_string(w[0]));
  if (w[1] < 1 || w[1] > 3) return integrity_error("unknown algorithm " + std::to_string(w[1]));
  const std::size_t n = (std::size_t{w[2]} << 8) | w[3];
  if (w.size() < 4 + n + aead::kNonceSize + aead::kTagSize) {
    return integrity_error("wrapped share too short");
  }
  WrappedParts p;
  p.algorithm = static_cast<Algorithm>(w[1]);
  p.remote = w.subspan(4, n);
  p.sealed = w.subspan(4 + n);
  return p;
}

Bytes join_wrapped(Algorithm a, ByteView remote, ByteView sealed) {
  Bytes out{kFormat, static_cast<std::uint8_t>(a), static_cast<std::uint8_t>(remote.size() >> 8),
            static_cast<std::uint8_t>(remote.size() & 0xff)};
  out.insert(out.end(), remote.begin(), remote.end());
  out.insert(out.end(), sealed.begin(), sealed.end());
  return out;
}

}  // namespace trousseau::providers::azurekv
