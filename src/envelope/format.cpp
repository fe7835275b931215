#include "envelope/format.hpp"

#include <algorithm>
#include <numeric>
#include <set>

#include "common/text.hpp"
#include "envelope.pb.h"
#include "envelope/aead.hpp"

namespace trousseau::envelope {

namespace pb = ::trousseau::envelope::v1;

namespace {

constexpr std::string_view kShareContextLabel = "trousseau.io/share/v1";
constexpr std::string_view kWrapsDigestLabel = "trousseau.io/wraps/v1";

Bytes serialize(const google::protobuf::MessageLite& m) {
  Bytes out(m.ByteSizeLong());
  if (!m.SerializeToArray(out.data(), static_cast<int>(out.size()))) out.clear();
  return out;
}

Bytes with_magic(const Bytes& body) {
  Bytes out(kMagic.begin(), kMagic.end());
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

std::size_t encoded_size(const pb::Envelope& e) { return kMagic.size() + e.ByteSizeLong(); }

}  // namespace

bool is_valid_provider_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxProviderName) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(name.front()) || !alnum(name.back())) return false;
  return std::all_of(name.begin(), name.end(), [&](char c) { return alnum(c) || c == '-'; });
}

std::string annotation_key(std::size_t index) {
  return std::to_string(index) + std::string(kAnnotationDomain);
}

Bytes encode_header(const Envelope& env) {
  pb::Header h;
  h.set_format(kFormat);
  h.set_threshold(env.threshold);
  h.set_nonce(env.nonce.data(), env.nonce.size());
  for (const Slot& s : env.slots) {
    pb::Slot* ps = h.add_slots();
    ps->set_x(s.x);
    for (const ShareRef& w : s.wraps) {
      pb::ShareRef* r = ps->add_wraps();
      r->set_provider(w.provider);
      r->set_key_version(w.key_version);
    }
  }
  // Protobuf serialization of one message from one binary is deterministic;
  // and the AAD is always these bytes as carried, never a re-encoding.
  return serialize(h);
}

Bytes share_context(const std::array<std::uint8_t, 12>& nonce, std::uint8_t threshold,
                    std::uint8_t x) {
  Bytes out(kShareContextLabel.size() + nonce.size() + 2);
  auto it = std::copy(kShareContextLabel.begin(), kShareContextLabel.end(), out.begin());
  it = std::copy(nonce.begin(), nonce.end(), it);
  *it++ = threshold;
  *it = x;
  return out;
}

Bytes additional_data(const Envelope& env) {
  Bytes wraps;
  for (const Slot& s : env.slots) {
    for (const ShareRef& w : s.wraps) {
      const auto n = static_cast<std::uint32_t>(w.wrapped.size());
      const std::uint8_t len[4] = {static_cast<std::uint8_t>(n >> 24), static_cast<std::uint8_t>(n >> 16),
                                   static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n)};
      wraps.insert(wraps.end(), len, len + 4);
      wraps.insert(wraps.end(), w.wrapped.begin(), w.wrapped.end());
    }
  }
  Bytes digest = sha256({as_bytes(kWrapsDigestLabel), wraps});
  Bytes out = env.header_bytes;
  out.insert(out.end(), digest.begin(), digest.end());
  return out;
}

Result<Encoded> encode(const Envelope& env, const Limits& limits) {
  pb::Envelope e;
  e.set_header(env.header_bytes.data(), env.header_bytes.size());
  e.set_sealed(env.sealed.data(), env.sealed.size());
  std::vector<const Bytes*> wrapped;
  for (const Slot& s : env.slots) {
    for (const ShareRef& w : s.wraps) {
      wrapped.push_back(&w.wrapped);
      e.add_wrapped()->set_inline_(w.wrapped.data(), w.wrapped.size());
    }
  }

  Encoded out;
  if (limits.max_ciphertext != 0 && encoded_size(e) > limits.max_ciphertext) {
    if (!limits.annotations) {
      return Error(Code::failed_precondition,
                   "envelope of " + std::to_string(encoded_size(e)) +
                       " bytes exceeds the ciphertext limit of " +
                       std::to_string(limits.max_ciphertext));
    }
    // Move the largest wrapped shares out first: fewest annotations.
    std::vector<std::size_t> order(wrapped.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      return wrapped[a]->size() > wrapped[b]->size();
    });
    std::size_t annotation_bytes = 0;
    for (std::size_t i : order) {
      if (encoded_size(e) <= limits.max_ciphertext) break;
      std::string key = annotation_key(i);
      annotation_bytes += key.size() + wrapped[i]->size();
      out.annotations.emplace(std::move(key), *wrapped[i]);
      e.mutable_wrapped(static_cast<int>(i))->set_annotation(static_cast<std::uint32_t>(i));
    }
    if (encoded_size(e) > limits.max_ciphertext) {
      return Error(Code::failed_precondition,
                   "envelope header alone is " + std::to_string(encoded_size(e)) +
                       " bytes, over the ciphertext limit of " +
                       std::to_string(limits.max_ciphertext) +
                       "; use fewer slots or shorter provider names");
    }
    if (annotation_bytes > limits.max_annotations) {
      return Error(Code::failed_precondition,
                   "wrapped shares need " + std::to_string(annotation_bytes) +
                       " bytes of annotations, over the limit of " +
                       std::to_string(limits.max_annotations));
    }
  }
  out.ciphertext = with_magic(serialize(e));
  return out;
}

Result<Envelope> parse(ByteView ciphertext, const Annotations& annotations) {
  if (ciphertext.empty()) return invalid_argument("envelope: empty ciphertext");
  if (ciphertext.size() < kMagic.size() ||
      !std::equal(kMagic.begin(), kMagic.end(), ciphertext.begin())) {
    return invalid_argument("envelope: not a Trousseau format 1 ciphertext (bad magic)");
  }
  ByteView body = ciphertext.subspan(kMagic.size());
  pb::Envelope e;
  if (!e.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
    return invalid_argument("envelope: malformed ciphertext");
  }
  // Only the canonical encoding is accepted: no unknown fields, no padding,
  // no second way to write the same envelope.
  e.DiscardUnknownFields();
  if (serialize(e) != Bytes(body.begin(), body.end())) {
    return invalid_argument("envelope: non-canonical ciphertext");
  }
  pb::Header h;
  bool header_ok = h.ParseFromString(e.header());
  h.DiscardUnknownFields();
  if (!header_ok || serialize(h) != Bytes(e.header().begin(), e.header().end())) {
    return invalid_argument("envelope: malformed header");
  }
  if (h.format() != kFormat) {
    return invalid_argument("envelope: unsupported format " + std::to_string(h.format()));
  }
  if (h.nonce().size() != 12) return invalid_argument("envelope: nonce must be 12 bytes");
  const int n = h.slots_size();
  if (n < 1 || static_cast<std::size_t>(n) > kMaxSlots) {
    return invalid_argument("envelope: slot count " + std::to_string(n) + " out of range");
  }
  if (h.threshold() < 1 || h.threshold() > static_cast<std::uint32_t>(n)) {
    return invalid_argument("envelope: threshold " + std::to_string(h.threshold()) +
                            " does not fit " + std::to_string(n) + " slots");
  }
  if (e.sealed().size() < aead::kTagSize + 1) {
    return invalid_argument("envelope: sealed data too short");
  }

  Envelope env;
  env.threshold = static_cast<std::uint8_t>(h.threshold());
  std::copy(h.nonce().begin(), h.nonce().end(), env.nonce.begin());
  env.header_bytes.assign(e.header().begin(), e.header().end());
  env.sealed.assign(e.sealed().begin(), e.sealed().end());

  std::set<std::uint32_t> xs;
  std::set<std::string> providers;
  int next_wrapped = 0;
  std::set<std::string_view> referenced;  // annotation keys the envelope uses
  for (const pb::Slot& ps : h.slots()) {
    if (ps.x() < 1 || ps.x() > 255 || !xs.insert(ps.x()).second) {
      return invalid_argument("envelope: slot x=" + std::to_string(ps.x()) +
                              " is zero, too large or repeated");
    }
    if (ps.wraps_size() < 1 || static_cast<std::size_t>(ps.wraps_size()) > kMaxWrapsPerSlot) {
      return invalid_argument("envelope: slot x=" + std::to_string(ps.x()) +
                              " has an invalid number of wrapped shares");
    }
    Slot slot;
    slot.x = static_cast<std::uint8_t>(ps.x());
    for (const pb::ShareRef& r : ps.wraps()) {
      if (!is_valid_provider_name(r.provider()) ||
          r.key_version().size() > kMaxKeyVersion || !providers.insert(r.provider()).second) {
        return invalid_argument("envelope: invalid or repeated provider reference");
      }
      if (next_wrapped >= e.wrapped_size()) {
        return invalid_argument("envelope: fewer wrapped shares than the header lists");
      }
      const pb::WrappedShare& w = e.wrapped(next_wrapped);
      ShareRef ref{r.provider(), r.key_version(), {}};
      if (w.has_inline_()) {
        ref.wrapped.assign(w.inline_().begin(), w.inline_().end());
      } else if (w.has_annotation()) {
        if (w.annotation() != static_cast<std::uint32_t>(next_wrapped)) {
          return invalid_argument("envelope: annotation reference out of order");
        }
        auto it = annotations.find(annotation_key(w.annotation()));
        if (it == annotations.end()) {
          return invalid_argument("envelope: missing annotation " +
                                  annotation_key(w.annotation()));
        }
        referenced.insert(it->first);
        ref.wrapped = it->second;
      }
      if (ref.wrapped.empty()) {
        return invalid_argument("envelope: empty wrapped share for provider '" +
                                r.provider() + "'");
      }
      slot.wraps.push_back(std::move(ref));
      ++next_wrapped;
    }
    env.slots.push_back(std::move(slot));
  }
  if (next_wrapped != e.wrapped_size()) {
    return invalid_argument("envelope: more wrapped shares than the header lists");
  }
  // kube-apiserver stores exactly the annotations Encrypt returned, so a
  // share annotation of ours that the envelope does not reference was put
  // there by someone else: refused. Annotations of other domains are not
  // ours to judge (nothing reads them), and refusing them would make every
  // Secret unreadable the day kube-apiserver adds one of its own.
  for (const auto& [key, value] : annotations) {
    const bool ours = key.size() > kAnnotationDomain.size() && key.ends_with(kAnnotationDomain);
    if (ours && referenced.count(key) == 0) {
      return invalid_argument("envelope: annotation " + quote(key) +
                              " is not one of this envelope's");
    }
  }
  return env;
}

}  // namespace trousseau::envelope
