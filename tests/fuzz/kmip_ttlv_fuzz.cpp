// KMIP's TTLV decoder (src/providers/kmip/ttlv.cpp) on what a server could
// send. Property: the decoder is strict (fixed lengths, zero padding, exact
// structure lengths, nothing trailing), so an accepted message has exactly
// one encoding: writing the decoded tree again with Writer gives the input
// byte for byte; and message_size() of its header is its size.
#include "check.hpp"
#include "providers/kmip/ttlv.hpp"

using namespace trousseau::providers::kmip;

namespace {

void write(Writer& w, const Item& item) {
  const std::uint32_t tag = item.tag();
  switch (item.type()) {
    case Type::structure:
      w.begin(tag);
      for (const Item& child : item.children()) write(w, child);
      w.end();
      return;
    case Type::integer:
      return w.integer(tag, *item.integer());
    case Type::long_integer:
      return w.long_integer(tag, *item.long_integer());
    case Type::big_integer:
      return w.big_integer(tag, *item.big_integer());
    case Type::enumeration:
      return w.enumeration(tag, *item.enumeration());
    case Type::boolean:
      return w.boolean(tag, *item.boolean());
    case Type::text_string:
      return w.text(tag, *item.text());
    case Type::byte_string:
      return w.bytes(tag, *item.bytes());
    case Type::date_time:
      return w.date_time(tag, *item.date_time());
    case Type::interval:
      return w.interval(tag, *item.interval());
    case Type::date_time_extended:
      return w.date_time_extended(tag, *item.date_time_extended());
  }
  FUZZ_CHECK(!"decode() returned an item of an unknown type");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const trousseau::ByteView input(data, size);
  auto decoded = decode(input);
  if (!decoded.ok()) {
    FUZZ_CHECK(decoded.error().code() == trousseau::Code::unavailable);
    return 0;
  }
  FUZZ_CHECK(decoded.value().tag() <= 0xFFFFFF);
  trousseau::Bytes out;
  Writer writer(out);
  write(writer, decoded.value());
  FUZZ_CHECK(writer.open() == 0);
  FUZZ_CHECK(out == trousseau::Bytes(input.begin(), input.end()));
  if (decoded.value().type() == Type::structure) {
    auto whole = message_size(input);
    FUZZ_CHECK(whole.ok() && whole.value() == size);
  }
  return 0;
}
