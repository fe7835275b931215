// KMIP's binary encoding, TTLV (Tag, Type, Length, Value; KMIP 1.x section
// 9.1, 2.0 section 9): a strict, bounded decoder for what servers send and a
// writer for what we send. No I/O, no knowledge of KMIP messages
// (messages.hpp builds those).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "common/bytes.hpp"
#include "common/error.hpp"

namespace trousseau::providers::kmip {

enum class Type : std::uint8_t {
  structure = 0x01,
  integer = 0x02,
  long_integer = 0x03,
  big_integer = 0x04,
  enumeration = 0x05,
  boolean = 0x06,
  text_string = 0x07,
  byte_string = 0x08,
  date_time = 0x09,
  interval = 0x0A,
  date_time_extended = 0x0B,
};

/// Bounds on what decode() accepts. A server's answer is untrusted input:
/// these cap the memory and the stack one answer can cost us.
struct Limits {
  std::size_t max_message = 64 * 1024;  ///< bytes, the whole message
  std::size_t max_depth = 16;           ///< nesting; the top-level item is depth 1
  std::size_t max_items = 2048;         ///< items in the whole message
};

/// A decoded item. Borrows the buffer it was decoded from (no copies: a
/// Decrypt response's Data is key material, and the caller wipes that one
/// buffer). Keep the buffer alive, and unchanged, as long as the item and
/// any view taken from it.
///
/// The typed accessors return nullopt when the item is of another type, so
/// a server that sends the right tag with the wrong type is caught where the
/// value is read.
class Item {
 public:
  std::uint32_t tag() const { return tag_; }
  Type type() const { return type_; }
  /// Where the item starts in the decoded message (for error messages).
  std::size_t offset() const { return offset_; }

  std::optional<std::int32_t> integer() const;
  std::optional<std::int64_t> long_integer() const;
  /// Two's complement, big-endian, a multiple of 8 bytes.
  std::optional<ByteView> big_integer() const;
  std::optional<std::uint32_t> enumeration() const;
  std::optional<bool> boolean() const;
  /// Valid UTF-8 (decode() checked it).
  std::optional<std::string_view> text() const;
  /// A Byte String's bytes (not a Big Integer's: see big_integer()).
  std::optional<ByteView> bytes() const;
  std::optional<std::int64_t> date_time() const;           ///< seconds since the epoch
  std::optional<std::uint32_t> interval() const;           ///< seconds
  std::optional<std::int64_t> date_time_extended() const;  ///< microseconds since the epoch

  /// A structure's items in order; empty for every other type.
  std::span<const Item> children() const { return children_; }
  /// The first child with `tag`, or nullptr.
  const Item* find(std::uint32_t tag) const;
  /// Every child with `tag`, in order.
  std::vector<const Item*> find_all(std::uint32_t tag) const;

 private:
  friend class Decoder;
  std::uint32_t tag_ = 0;
  Type type_ = Type::structure;
  std::size_t offset_ = 0;
  ByteView value_;  ///< the value without its padding; empty for structures
  std::vector<Item> children_;
};

/// Decodes one whole item, usually a Response Message, from exactly
/// `message`. Strict: every length must be the one its type fixes (4 for
/// Integer, Enumeration and Interval; 8 for Long Integer, Boolean and the
/// date-times; a nonzero multiple of 8 for Big Integer), every value padded
/// with zeros to 8 bytes, Booleans 0 or 1, Text Strings valid UTF-8, a
/// structure's items filling its length exactly, and nothing after the
/// item. Bounded by `limits`: the message size, the nesting depth (the only
/// recursion) and the item count. Errors are Code::unavailable,
/// "KMIP: malformed response: <what> at offset <n>", and never quote the
/// message's bytes.
Result<Item> decode(ByteView message, const Limits& limits = {});

/// The size of the whole message that starts with `header8` (its first 8
/// bytes, at least), for reading one message off a stream: an error unless
/// the header is a structure whose length is a multiple of 8 and whose
/// total fits limits.max_message.
Result<std::size_t> message_size(ByteView header8, const Limits& limits = {});

/// Appends TTLV items to `out`. Structures nest with begin()/end(); end()
/// patches the structure's length. The writer never reads `out` back, and
/// never copies it: a caller that writes a secret reserves the whole size
/// first, so that no reallocation leaves a copy behind, and wipes `out`.
class Writer {
 public:
  explicit Writer(Bytes& out) : out_(out) {}
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  void begin(std::uint32_t tag);
  /// Closes the innermost open structure. Every begin() needs its end().
  void end();
  /// Structures begun and not yet ended.
  std::size_t open() const { return open_.size(); }

  void integer(std::uint32_t tag, std::int32_t value);
  void long_integer(std::uint32_t tag, std::int64_t value);
  /// `value`: two's complement, big-endian, a nonzero multiple of 8 bytes.
  void big_integer(std::uint32_t tag, ByteView value);
  void enumeration(std::uint32_t tag, std::uint32_t value);
  void boolean(std::uint32_t tag, bool value);
  /// `value` must be valid UTF-8 (the writer does not check).
  void text(std::uint32_t tag, std::string_view value);
  void bytes(std::uint32_t tag, ByteView value);
  void date_time(std::uint32_t tag, std::int64_t seconds);
  void interval(std::uint32_t tag, std::uint32_t seconds);
  void date_time_extended(std::uint32_t tag, std::int64_t microseconds);

 private:
  void header(std::uint32_t tag, Type type, std::uint32_t length);
  void value(ByteView value);
  Bytes& out_;
  std::vector<std::size_t> open_;  ///< offsets of the open structures' headers
};

/// The size TTLV gives an item whose value is `length` bytes: header and padding.
constexpr std::size_t encoded_size(std::size_t length) { return 8 + (length + 7) / 8 * 8; }

}  // namespace trousseau::providers::kmip
