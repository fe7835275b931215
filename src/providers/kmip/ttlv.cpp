#include "providers/kmip/ttlv.hpp"

#include <cassert>
#include <limits>
#include <string>

namespace trousseau::providers::kmip {

namespace {

std::uint64_t read_be(ByteView b) {
  std::uint64_t v = 0;
  for (std::uint8_t byte : b) v = (v << 8) | byte;
  return v;
}

Error malformed(std::string_view what, std::size_t offset) {
  return unavailable("KMIP: malformed response: " + std::string(what) + " at offset " +
                     std::to_string(offset));
}

// RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF.
bool valid_utf8(ByteView s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const std::uint8_t c = s[i];
    std::size_t n = 0;
    std::uint8_t lo = 0x80, hi = 0xBF;  // bounds of the second byte
    if (c < 0x80) {
      ++i;
      continue;
    } else if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return false;
    }
    if (s.size() - i <= n) return false;
    if (s[i + 1] < lo || s[i + 1] > hi) return false;
    for (std::size_t k = 2; k <= n; ++k) {
      if (s[i + k] < 0x80 || s[i + k] > 0xBF) return false;
    }
    i += n + 1;
  }
  return true;
}

// The length a type fixes, or 0 for the variable-length types.
std::size_t fixed_length(Type type) {
  switch (type) {
    case Type::integer:
    case Type::enumeration:
    case Type::interval:
      return 4;
    case Type::long_integer:
    case Type::boolean:
    case Type::date_time:
    case Type::date_time_extended:
      return 8;
    default:
      return 0;
  }
}

bool known_type(std::uint8_t t) { return t >= 0x01 && t <= 0x0B; }

}  // namespace

// Walks the message once, building the tree. Recursion is bounded by
// limits.max_depth; every length is checked against what remains of the
// enclosing item before anything is read or allocated.
class Decoder {
 public:
  Decoder(ByteView message, const Limits& limits) : message_(message), limits_(limits) {}

  // Decodes the item at `offset`, which must end by `end`; sets `next`.
  Error item(std::size_t offset, std::size_t end, std::size_t depth, Item& out,
             std::size_t& next) {
    if (depth > limits_.max_depth) return malformed("nesting deeper than the limit", offset);
    if (++items_ > limits_.max_items) return malformed("more items than the limit", offset);
    if (end - offset < 8) return malformed("truncated item header", offset);
    const ByteView header = message_.subspan(offset, 8);
    out.tag_ = static_cast<std::uint32_t>(read_be(header.first(3)));
    out.offset_ = offset;
    if (!known_type(header[3])) return malformed("unknown item type", offset);
    out.type_ = static_cast<Type>(header[3]);
    const std::uint64_t length = read_be(header.subspan(4, 4));
    const std::uint64_t padded = (length + 7) / 8 * 8;  // no overflow: length < 2^32
    const std::size_t body = offset + 8;
    if (padded > end - body) return malformed("length past the end of its container", offset);
    next = body + static_cast<std::size_t>(padded);

    if (out.type_ == Type::structure) {
      if (length != padded) return malformed("structure length not a multiple of 8", offset);
      return children(body, next, depth, out);
    }
    const std::size_t fixed = fixed_length(out.type_);
    if (fixed != 0 && length != fixed) return malformed("wrong length for its type", offset);
    if (out.type_ == Type::big_integer && (length == 0 || length % 8 != 0)) {
      return malformed("big integer length not a nonzero multiple of 8", offset);
    }
    out.value_ = message_.subspan(body, static_cast<std::size_t>(length));
    for (std::size_t i = body + static_cast<std::size_t>(length); i < next; ++i) {
      if (message_[i] != 0) return malformed("nonzero padding", offset);
    }
    if (out.type_ == Type::boolean && read_be(out.value_) > 1) {
      return malformed("boolean neither 0 nor 1", offset);
    }
    if (out.type_ == Type::text_string && !valid_utf8(out.value_)) {
      return malformed("text string not valid UTF-8", offset);
    }
    return {};
  }

 private:
  Error children(std::size_t offset, std::size_t end, std::size_t depth, Item& parent) {
    while (offset < end) {
      Item child;
      std::size_t next = 0;
      if (Error e = item(offset, end, depth + 1, child, next); !e.ok()) return e;
      parent.children_.push_back(std::move(child));
      offset = next;
    }
    return {};
  }

  ByteView message_;
  const Limits& limits_;
  std::size_t items_ = 0;
};

Result<Item> decode(ByteView message, const Limits& limits) {
  if (message.size() > limits.max_message) {
    return malformed("message larger than " + std::to_string(limits.max_message) + " bytes", 0);
  }
  Decoder decoder(message, limits);
  Item root;
  std::size_t next = 0;
  if (Error e = decoder.item(0, message.size(), 1, root, next); !e.ok()) return e;
  if (next != message.size()) return malformed("trailing bytes after the message", next);
  return root;
}

Result<std::size_t> message_size(ByteView header8, const Limits& limits) {
  if (header8.size() < 8) return malformed("truncated message header", 0);
  if (header8[3] != static_cast<std::uint8_t>(Type::structure)) {
    return malformed("message is not a structure", 0);
  }
  const std::uint64_t length = read_be(header8.subspan(4, 4));
  if (length % 8 != 0) return malformed("structure length not a multiple of 8", 0);
  if (length > limits.max_message || limits.max_message - length < 8) {
    return malformed("message larger than " + std::to_string(limits.max_message) + " bytes", 0);
  }
  return static_cast<std::size_t>(8 + length);
}

// Item --------------------------------------------------------------------

std::optional<std::int32_t> Item::integer() const {
  if (type_ != Type::integer) return std::nullopt;
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(read_be(value_)));
}

std::optional<std::int64_t> Item::long_integer() const {
  if (type_ != Type::long_integer) return std::nullopt;
  return static_cast<std::int64_t>(read_be(value_));
}

std::optional<ByteView> Item::big_integer() const {
  if (type_ != Type::big_integer) return std::nullopt;
  return value_;
}

std::optional<std::uint32_t> Item::enumeration() const {
  if (type_ != Type::enumeration) return std::nullopt;
  return static_cast<std::uint32_t>(read_be(value_));
}

std::optional<bool> Item::boolean() const {
  if (type_ != Type::boolean) return std::nullopt;
  return read_be(value_) == 1;
}

std::optional<std::string_view> Item::text() const {
  if (type_ != Type::text_string) return std::nullopt;
  return as_chars(value_);
}

std::optional<ByteView> Item::bytes() const {
  if (type_ != Type::byte_string) return std::nullopt;
  return value_;
}

std::optional<std::int64_t> Item::date_time() const {
  if (type_ != Type::date_time) return std::nullopt;
  return static_cast<std::int64_t>(read_be(value_));
}

std::optional<std::uint32_t> Item::interval() const {
  if (type_ != Type::interval) return std::nullopt;
  return static_cast<std::uint32_t>(read_be(value_));
}

std::optional<std::int64_t> Item::date_time_extended() const {
  if (type_ != Type::date_time_extended) return std::nullopt;
  return static_cast<std::int64_t>(read_be(value_));
}

const Item* Item::find(std::uint32_t tag) const {
  for (const Item& c : children_) {
    if (c.tag_ == tag) return &c;
  }
  return nullptr;
}

std::vector<const Item*> Item::find_all(std::uint32_t tag) const {
  std::vector<const Item*> found;
  for (const Item& c : children_) {
    if (c.tag_ == tag) found.push_back(&c);
  }
  return found;
}

// Writer ------------------------------------------------------------------

namespace {

void put_be(Bytes& out, std::uint64_t v, std::size_t n) {
  for (std::size_t i = n; i-- > 0;) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

}  // namespace

void Writer::header(std::uint32_t tag, Type type, std::uint32_t length) {
  assert(tag <= 0xFFFFFF);
  put_be(out_, tag, 3);
  out_.push_back(static_cast<std::uint8_t>(type));
  put_be(out_, length, 4);
}

void Writer::value(ByteView value) {
  out_.insert(out_.end(), value.begin(), value.end());
  out_.resize(out_.size() + (8 - value.size() % 8) % 8, 0);
}

void Writer::begin(std::uint32_t tag) {
  open_.push_back(out_.size());
  header(tag, Type::structure, 0);
}

void Writer::end() {
  assert(!open_.empty());
  const std::size_t start = open_.back();
  open_.pop_back();
  const std::size_t length = out_.size() - start - 8;
  assert(length <= std::numeric_limits<std::uint32_t>::max());
  for (std::size_t i = 0; i < 4; ++i) {
    out_[start + 4 + i] = static_cast<std::uint8_t>(length >> (8 * (3 - i)));
  }
}

void Writer::integer(std::uint32_t tag, std::int32_t v) {
  header(tag, Type::integer, 4);
  put_be(out_, static_cast<std::uint32_t>(v), 4);
  put_be(out_, 0, 4);
}

void Writer::long_integer(std::uint32_t tag, std::int64_t v) {
  header(tag, Type::long_integer, 8);
  put_be(out_, static_cast<std::uint64_t>(v), 8);
}

void Writer::big_integer(std::uint32_t tag, ByteView v) {
  assert(!v.empty() && v.size() % 8 == 0 && v.size() <= std::numeric_limits<std::uint32_t>::max());
  header(tag, Type::big_integer, static_cast<std::uint32_t>(v.size()));
  value(v);
}

void Writer::enumeration(std::uint32_t tag, std::uint32_t v) {
  header(tag, Type::enumeration, 4);
  put_be(out_, v, 4);
  put_be(out_, 0, 4);
}

void Writer::boolean(std::uint32_t tag, bool v) {
  header(tag, Type::boolean, 8);
  put_be(out_, v ? 1 : 0, 8);
}

void Writer::text(std::uint32_t tag, std::string_view v) {
  assert(v.size() <= std::numeric_limits<std::uint32_t>::max());
  header(tag, Type::text_string, static_cast<std::uint32_t>(v.size()));
  value(as_bytes(v));
}

void Writer::bytes(std::uint32_t tag, ByteView v) {
  assert(v.size() <= std::numeric_limits<std::uint32_t>::max());
  header(tag, Type::byte_string, static_cast<std::uint32_t>(v.size()));
  value(v);
}

void Writer::date_time(std::uint32_t tag, std::int64_t seconds) {
  header(tag, Type::date_time, 8);
  put_be(out_, static_cast<std::uint64_t>(seconds), 8);
}

void Writer::interval(std::uint32_t tag, std::uint32_t seconds) {
  header(tag, Type::interval, 4);
  put_be(out_, seconds, 4);
  put_be(out_, 0, 4);
}

void Writer::date_time_extended(std::uint32_t tag, std::int64_t microseconds) {
  header(tag, Type::date_time_extended, 8);
  put_be(out_, static_cast<std::uint64_t>(microseconds), 8);
}

}  // namespace trousseau::providers::kmip
