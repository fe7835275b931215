// KMIP requests as the provider builds them (decoded back and checked field
// by field) and responses as servers write them (built by hand with the
// Writer, including the failures and the malformed ones).
#include "providers/kmip/messages.hpp"

#include <gtest/gtest.h>

#include <functional>

#include "kmip_test_versions.hpp"

namespace trousseau::providers::kmip {
namespace {

using namespace test;


Bytes bytes_of(std::string_view s) { return to_bytes(s); }

// A built request, decoded, with its parts at hand.
struct Decoded {
  Bytes message;
  Item root;
  const Item* header = nullptr;
  const Item* item = nullptr;
  const Item* payload = nullptr;
};

Decoded decoded(Bytes message) {
  Decoded d;
  d.message = std::move(message);
  Result<Item> root = decode(d.message);
  EXPECT_TRUE(root.ok()) << root.error().message();
  if (!root.ok()) return d;
  d.root = std::move(root).value();
  d.header = d.root.find(tag::request_header);
  d.item = d.root.find(tag::batch_item);
  if (d.item != nullptr) d.payload = d.item->find(tag::request_payload);
  return d;
}

// Checks the Request Message frame every request shares.
void expect_frame(const Decoded& d, ProtocolVersion version, Operation operation) {
  EXPECT_EQ(d.root.tag(), tag::request_message);
  ASSERT_NE(d.header, nullptr);
  const Item* v = d.header->find(tag::protocol_version);
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->find(tag::protocol_version_major)->integer(), version.major);
  EXPECT_EQ(v->find(tag::protocol_version_minor)->integer(), version.minor);
  EXPECT_EQ(d.header->find(tag::batch_count)->integer(), 1);
  EXPECT_EQ(d.root.find_all(tag::batch_item).size(), 1u);
  ASSERT_NE(d.item, nullptr);
  EXPECT_EQ(d.item->find(tag::operation)->enumeration(), value(operation));
  ASSERT_NE(d.payload, nullptr);
  // No in-band authentication: mutual TLS authenticates.
  EXPECT_EQ(d.header->find(0x42000C), nullptr);
}

std::vector<std::uint32_t> tags_of(const Item& item) {
  std::vector<std::uint32_t> tags;
  for (const Item& c : item.children()) tags.push_back(c.tag());
  return tags;
}

// A response as a server writes it; every part can be left out or spoiled.
struct Answer {
  ProtocolVersion version = v1_4;
  std::optional<Operation> operation;
  std::uint32_t status = value(ResultStatus::success);
  std::optional<std::uint32_t> reason;
  std::optional<std::string> message;
  std::int32_t batch_count = 1;
  int batch_items = 1;
  bool header = true;
  std::function<void(Writer&)> payload;  // empty: no Response Payload

  Bytes bytes() const {
    Bytes out;
    Writer w(out);
    w.begin(tag::response_message);
    if (header) {
      w.begin(tag::response_header);
      w.begin(tag::protocol_version);
      w.integer(tag::protocol_version_major, version.major);
      w.integer(tag::protocol_version_minor, version.minor);
      w.end();
      w.date_time(tag::time_stamp, 1700000000);
      w.integer(tag::batch_count, batch_count);
      w.end();
    }
    for (int i = 0; i < batch_items; ++i) {
      w.begin(tag::batch_item);
      if (operation) w.enumeration(tag::operation, value(*operation));
      w.enumeration(tag::result_status, status);
      if (reason) w.enumeration(tag::result_reason, *reason);
      if (message) w.text(tag::result_message, *message);
      if (payload) {
        w.begin(tag::response_payload);
        payload(w);
        w.end();
      }
      w.end();
    }
    w.end();
    return out;
  }
};

Answer success(Operation op, std::function<void(Writer&)> payload, ProtocolVersion v = v1_4) {
  Answer a;
  a.version = v;
  a.operation = op;
  a.payload = std::move(payload);
  return a;
}

Answer failure(Operation op, ResultReason reason, std::string message = "") {
  Answer a;
  a.operation = op;
  a.status = value(ResultStatus::operation_failed);
  a.reason = value(reason);
  if (!message.empty()) a.message = message;
  return a;
}

// The error parse_decrypt gives for `answer`.
Error decrypt_error(const Answer& answer) {
  const Bytes message = answer.bytes();
  Result<ByteView> data = parse_decrypt(message, v1_4, "key-1");
  EXPECT_FALSE(data.ok());
  return data.ok() ? Error() : data.error();
}

void expect_malformed(const Error& e, std::string_view what) {
  EXPECT_EQ(e.code(), Code::unavailable) << e.message();
  EXPECT_NE(e.message().find("KMIP: malformed response: "), std::string::npos) << e.message();
  EXPECT_NE(e.message().find(what), std::string::npos) << e.message();
}

// Builders ----------------------------------------------------------------------

TEST(KmipMessagesBuild, DiscoverVersionsListsOursBestFirstInTheOldestVersion) {
  Bytes out;
  discover_versions(out, our_versions);
  const Decoded d = decoded(std::move(out));
  expect_frame(d, v1_2, Operation::discover_versions);
  const auto versions = d.payload->find_all(tag::protocol_version);
  ASSERT_EQ(versions.size(), 4u);
  EXPECT_EQ(versions[0]->find(tag::protocol_version_major)->integer(), 2);
  EXPECT_EQ(versions[0]->find(tag::protocol_version_minor)->integer(), 0);
  EXPECT_EQ(versions[3]->find(tag::protocol_version_major)->integer(), 1);
  EXPECT_EQ(versions[3]->find(tag::protocol_version_minor)->integer(), 2);
  EXPECT_EQ(d.header->find(tag::maximum_response_size), nullptr);
}

TEST(KmipMessagesBuild, MaximumResponseSizeIsSentOnlyWhenAsked) {
  Bytes out;
  locate_by_name(out, RequestHeader(v1_4, 65536), "k");
  const Decoded d = decoded(std::move(out));
  expect_frame(d, v1_4, Operation::locate);
  EXPECT_EQ(d.header->find(tag::maximum_response_size)->integer(), 65536);
  // The spec's order: Protocol Version, Maximum Response Size, Batch Count.
  EXPECT_EQ(tags_of(*d.header), (std::vector<std::uint32_t>{tag::protocol_version,
                                                            tag::maximum_response_size,
                                                            tag::batch_count}));
}

TEST(KmipMessagesBuild, BuildersAppendAfterWhatTheBufferHolds) {
  Bytes out = {1, 2, 3};
  get_attributes(out, v1_4, "uid");
  ASSERT_GT(out.size(), 3u);
  EXPECT_EQ(out[0], 1);
  EXPECT_TRUE(decode(ByteView(out).subspan(3)).ok());
}

TEST(KmipMessagesBuild, LocateByNameIn1xSendsAttributeStructures) {
  for (ProtocolVersion v : {v1_2, v1_3, v1_4}) {
    Bytes out;
    locate_by_name(out, v, "trousseau-kek");
    const Decoded d = decoded(std::move(out));
    expect_frame(d, v, Operation::locate);
    const auto attrs = d.payload->find_all(tag::attribute);
    ASSERT_EQ(attrs.size(), 2u);
    EXPECT_EQ(attrs[0]->find(tag::attribute_name)->text(), "Object Type");
    EXPECT_EQ(attrs[0]->find(tag::attribute_value)->enumeration(), value(ObjectType::symmetric_key));
    EXPECT_EQ(attrs[1]->find(tag::attribute_name)->text(), "Name");
    const Item* name = attrs[1]->find(tag::attribute_value);
    ASSERT_EQ(name->type(), Type::structure);
    EXPECT_EQ(name->find(tag::name_value)->text(), "trousseau-kek");
    EXPECT_EQ(name->find(tag::name_type)->enumeration(), value(NameType::uninterpreted_text_string));
    EXPECT_EQ(d.payload->find(tag::attributes), nullptr);
  }
}

TEST(KmipMessagesBuild, LocateByNameIn20SendsAnAttributesStructure) {
  Bytes out;
  locate_by_name(out, v2_0, "trousseau-kek");
  const Decoded d = decoded(std::move(out));
  expect_frame(d, v2_0, Operation::locate);
  EXPECT_EQ(d.payload->find(tag::attribute), nullptr);
  const Item* attrs = d.payload->find(tag::attributes);
  ASSERT_NE(attrs, nullptr);
  EXPECT_EQ(attrs->find(tag::object_type)->enumeration(), value(ObjectType::symmetric_key));
  EXPECT_EQ(attrs->find(tag::name)->find(tag::name_value)->text(), "trousseau-kek");
  EXPECT_EQ(attrs->find(tag::name)->find(tag::name_type)->enumeration(),
            value(NameType::uninterpreted_text_string));
}

TEST(KmipMessagesBuild, GetAttributesIn1xAsksByAttributeName) {
  Bytes out;
  get_attributes(out, v1_2, "42");
  const Decoded d = decoded(std::move(out));
  expect_frame(d, v1_2, Operation::get_attributes);
  EXPECT_EQ(d.payload->children()[0].text(), "42");
  std::vector<std::string> names;
  for (const Item* n : d.payload->find_all(tag::attribute_name)) names.emplace_back(*n->text());
  EXPECT_EQ(names, (std::vector<std::string>{"Unique Identifier", "Object Type",
                                             "Cryptographic Algorithm", "Cryptographic Length",
                                             "Cryptographic Usage Mask", "State", "Name"}));
  EXPECT_EQ(d.payload->find(tag::attribute_reference), nullptr);
}

TEST(KmipMessagesBuild, GetAttributesIn20AsksByAttributeReference) {
  Bytes out;
  get_attributes(out, v2_0, "42");
  const Decoded d = decoded(std::move(out));
  expect_frame(d, v2_0, Operation::get_attributes);
  std::vector<std::uint32_t> refs;
  for (const Item* r : d.payload->find_all(tag::attribute_reference)) refs.push_back(*r->enumeration());
  EXPECT_EQ(refs, (std::vector<std::uint32_t>{tag::unique_identifier, tag::object_type,
                                              tag::cryptographic_algorithm, tag::cryptographic_length,
                                              tag::cryptographic_usage_mask, tag::state, tag::name}));
  EXPECT_EQ(d.payload->find(tag::attribute_name), nullptr);
}

TEST(KmipMessagesBuild, EncryptGcmWithoutAnIvAsksTheServerForOne) {
  Bytes out;
  ASSERT_TRUE(encrypt(out, v1_4, "key-1", {CryptoParams::gcm, 16}, bytes_of("share"), {},
                      bytes_of("context")).ok());
  const Decoded d = decoded(std::move(out));
  expect_frame(d, v1_4, Operation::encrypt);
  EXPECT_EQ(tags_of(*d.payload),
            (std::vector<std::uint32_t>{tag::unique_identifier, tag::cryptographic_parameters,
                                        tag::data, tag::authenticated_encryption_additional_data}));
  EXPECT_EQ(d.payload->find(tag::unique_identifier)->text(), "key-1");
  const Item* p = d.payload->find(tag::cryptographic_parameters);
  EXPECT_EQ(tags_of(*p), (std::vector<std::uint32_t>{tag::block_cipher_mode, tag::cryptographic_algorithm,
                                                     tag::random_iv, tag::tag_length}));
  EXPECT_EQ(p->find(tag::block_cipher_mode)->enumeration(), value(BlockCipherMode::gcm));
  EXPECT_EQ(p->find(tag::cryptographic_algorithm)->enumeration(), value(CryptographicAlgorithm::aes));
  EXPECT_EQ(p->find(tag::random_iv)->boolean(), true);
  EXPECT_EQ(p->find(tag::tag_length)->integer(), 16);
  EXPECT_EQ(copy(*d.payload->find(tag::data)->bytes()), bytes_of("share"));
  EXPECT_EQ(copy(*d.payload->find(tag::authenticated_encryption_additional_data)->bytes()),
            bytes_of("context"));
}

TEST(KmipMessagesBuild, EncryptCbcWithOurIvUsesPkcs5AndNoRandomIv) {
  for (ProtocolVersion v : {v1_2, v1_3, v1_4, v2_0}) {
    Bytes out;
    const Bytes iv(16, 0x11);
    ASSERT_TRUE(encrypt(out, v, "key-1", {CryptoParams::cbc}, bytes_of("share"), iv, {}).ok());
    const Decoded d = decoded(std::move(out));
    expect_frame(d, v, Operation::encrypt);
    const Item* p = d.payload->find(tag::cryptographic_parameters);
    EXPECT_EQ(tags_of(*p), (std::vector<std::uint32_t>{tag::block_cipher_mode, tag::padding_method,
                                                       tag::cryptographic_algorithm}));
    EXPECT_EQ(p->find(tag::block_cipher_mode)->enumeration(), value(BlockCipherMode::cbc));
    EXPECT_EQ(p->find(tag::padding_method)->enumeration(), value(PaddingMethod::pkcs5));
    EXPECT_EQ(copy(*d.payload->find(tag::iv_counter_nonce)->bytes()), iv);
    EXPECT_EQ(d.payload->find(tag::authenticated_encryption_additional_data), nullptr);
  }
}

TEST(KmipMessagesBuild, EncryptCbcWithoutAnIvAsksForARandomOne) {
  Bytes out;
  ASSERT_TRUE(encrypt(out, v1_2, "key-1", {CryptoParams::cbc}, bytes_of("share"), {}, {}).ok());
  const Decoded d = decoded(std::move(out));
  EXPECT_EQ(d.payload->find(tag::cryptographic_parameters)->find(tag::random_iv)->boolean(), true);
  EXPECT_EQ(d.payload->find(tag::iv_counter_nonce), nullptr);
}

TEST(KmipMessagesBuild, GcmBelowKmip14IsRefusedBeforeAnythingIsWritten) {
  for (ProtocolVersion v : {v1_2, v1_3}) {
    Bytes out;
    const Error e = encrypt(out, v, "key-1", {CryptoParams::gcm}, bytes_of("share"), {}, {});
    EXPECT_EQ(e.code(), Code::failed_precondition);
    EXPECT_NE(e.message().find("1.4"), std::string::npos) << e.message();
    EXPECT_TRUE(out.empty());
    EXPECT_EQ(decrypt(out, v, "key-1", {CryptoParams::gcm}, bytes_of("c"), Bytes(12, 0), {}, Bytes(16, 0)).code(),
              Code::failed_precondition);
    EXPECT_TRUE(out.empty());
  }
  EXPECT_FALSE(supports(v1_3, {CryptoParams::gcm}));
  EXPECT_TRUE(supports(v1_4, {CryptoParams::gcm}));
  EXPECT_TRUE(supports(v2_0, {CryptoParams::gcm}));
  EXPECT_TRUE(supports(v1_2, {CryptoParams::cbc}));
}

TEST(KmipMessagesBuild, AdditionalDataWithCbcIsRefused) {
  Bytes out;
  EXPECT_EQ(encrypt(out, v1_4, "k", {CryptoParams::cbc}, bytes_of("s"), {}, bytes_of("aad")).code(),
            Code::invalid_argument);
  EXPECT_EQ(decrypt(out, v1_4, "k", {CryptoParams::cbc}, bytes_of("c"), Bytes(16, 0), bytes_of("aad"), {}).code(),
            Code::invalid_argument);
  EXPECT_TRUE(out.empty());
}

TEST(KmipMessagesBuild, DecryptGcmSendsIvAdditionalDataAndTag) {
  Bytes out;
  const Bytes iv(12, 0x22), tag(16, 0x33);
  ASSERT_TRUE(decrypt(out, v2_0, "key-1", {CryptoParams::gcm, 16}, bytes_of("cipher"), iv,
                      bytes_of("context"), tag).ok());
  const Decoded d = decoded(std::move(out));
  expect_frame(d, v2_0, Operation::decrypt);
  EXPECT_EQ(tags_of(*d.payload),
            (std::vector<std::uint32_t>{tag::unique_identifier, tag::cryptographic_parameters, tag::data,
                                        tag::iv_counter_nonce, tag::authenticated_encryption_additional_data,
                                        tag::authenticated_encryption_tag}));
  const Item* p = d.payload->find(tag::cryptographic_parameters);
  EXPECT_EQ(p->find(tag::random_iv), nullptr);
  EXPECT_EQ(p->find(tag::tag_length)->integer(), 16);
  EXPECT_EQ(copy(*d.payload->find(tag::iv_counter_nonce)->bytes()), iv);
  EXPECT_EQ(copy(*d.payload->find(tag::authenticated_encryption_tag)->bytes()), tag);
}

TEST(KmipMessagesBuild, DecryptCbcSendsNoTag) {
  Bytes out;
  ASSERT_TRUE(decrypt(out, v1_2, "key-1", {CryptoParams::cbc}, bytes_of("cipher"), Bytes(16, 1), {}, {}).ok());
  const Decoded d = decoded(std::move(out));
  EXPECT_EQ(d.payload->find(tag::authenticated_encryption_tag), nullptr);
  EXPECT_EQ(d.payload->find(tag::cryptographic_parameters)->find(tag::padding_method)->enumeration(),
            value(PaddingMethod::pkcs5));
}

TEST(KmipMessagesBuild, DecryptWithoutAnIvIsRefused) {
  Bytes out;
  EXPECT_EQ(decrypt(out, v1_4, "k", {CryptoParams::cbc}, bytes_of("c"), {}, {}, {}).code(),
            Code::invalid_argument);
  EXPECT_TRUE(out.empty());
}

TEST(KmipMessagesBuild, DecryptWithATagOfTheWrongLengthIsAnIntegrityFailure) {
  Bytes out;
  EXPECT_EQ(decrypt(out, v1_4, "k", {CryptoParams::gcm, 16}, bytes_of("c"), Bytes(12, 0), {}, Bytes(15, 0)).code(),
            Code::integrity);
  EXPECT_EQ(decrypt(out, v1_4, "k", {CryptoParams::gcm, 16}, bytes_of("c"), Bytes(12, 0), {}, {}).code(),
            Code::integrity);
  EXPECT_TRUE(out.empty());
}

TEST(KmipMessagesBuild, EncryptReservesEnoughThatTheShareIsNeverCopiedByAReallocation) {
  Bytes out;
  const Bytes share(4096, 0x5A);
  ASSERT_TRUE(encrypt(out, v1_4, std::string(200, 'u'), {CryptoParams::gcm}, share, Bytes(12, 0),
                      Bytes(300, 1)).ok());
  // encrypt() reserves first and asserts that the capacity never changed;
  // here, that the reservation was enough for what it wrote.
  EXPECT_LE(out.size(), out.capacity());
  EXPECT_TRUE(decode(out).ok());
}

// Parsers -----------------------------------------------------------------------

TEST(KmipMessagesParse, DiscoverVersionsListsTheServersVersionsInItsOrder) {
  Answer a = success(Operation::discover_versions, [](Writer& w) {
    for (ProtocolVersion v : {v1_4, v1_2}) {
      w.begin(tag::protocol_version);
      w.integer(tag::protocol_version_major, v.major);
      w.integer(tag::protocol_version_minor, v.minor);
      w.end();
    }
  }, v1_2);
  const Bytes message = a.bytes();
  Result<std::vector<ProtocolVersion>> theirs = parse_discover_versions(message, our_versions);
  ASSERT_TRUE(theirs.ok()) << theirs.error().message();
  EXPECT_EQ(*theirs, (std::vector<ProtocolVersion>{v1_4, v1_2}));
  Result<ProtocolVersion> chosen = negotiate(our_versions, *theirs);
  ASSERT_TRUE(chosen.ok());
  EXPECT_EQ(*chosen, v1_4);
}

TEST(KmipMessagesParse, NegotiateChoosesOurFirstChoiceTheServerLists) {
  const std::vector<ProtocolVersion> theirs = {v1_2, v1_3, v2_0};
  EXPECT_EQ(negotiate(our_versions, theirs).value(), v2_0);
  const std::vector<ProtocolVersion> ours = {v1_3, v2_0};
  EXPECT_EQ(negotiate(ours, theirs).value(), v1_3);
}

TEST(KmipMessagesParse, NegotiateWithNothingInCommonNamesBothLists) {
  const std::vector<ProtocolVersion> theirs = {{1, 0}, {1, 1}};
  Result<ProtocolVersion> chosen = negotiate(our_versions, theirs);
  ASSERT_FALSE(chosen.ok());
  EXPECT_EQ(chosen.error().code(), Code::failed_precondition);
  EXPECT_NE(chosen.error().message().find("ours: 2.0, 1.4, 1.3, 1.2; the server's: 1.0, 1.1"),
            std::string::npos)
      << chosen.error().message();
  EXPECT_NE(negotiate(our_versions, {}).error().message().find("the server's: none"), std::string::npos);
}

TEST(KmipMessagesParse, LocateGivesEveryUniqueIdentifier) {
  const Bytes message = success(Operation::locate, [](Writer& w) {
    w.integer(0x4200D5, 2);  // Located Items (1.3+)
    w.text(tag::unique_identifier, "1");
    w.text(tag::unique_identifier, "7");
  }).bytes();
  Result<std::vector<std::string>> uids = parse_locate(message, v1_4);
  ASSERT_TRUE(uids.ok()) << uids.error().message();
  EXPECT_EQ(*uids, (std::vector<std::string>{"1", "7"}));
}

TEST(KmipMessagesParse, LocateThatFindsNothingIsAnEmptyList) {
  const Bytes message = success(Operation::locate, [](Writer&) {}).bytes();
  Result<std::vector<std::string>> uids = parse_locate(message, v1_4);
  ASSERT_TRUE(uids.ok()) << uids.error().message();
  EXPECT_TRUE(uids->empty());
}

TEST(KmipMessagesParse, LocateWithAUniqueIdentifierOfTheWrongTypeIsMalformed) {
  const Bytes message = success(Operation::locate, [](Writer& w) {
    w.integer(tag::unique_identifier, 1);
  }).bytes();
  expect_malformed(parse_locate(message, v1_4).error(), "Unique Identifier of the wrong type");
}

// Attributes as PyKMIP 0.10 writes them in 1.x: one Attribute per value,
// multi-valued ones (Name) with an Attribute Index.
void attribute(Writer& w, std::string_view name, const std::function<void(Writer&)>& value,
               std::optional<std::int32_t> index = std::nullopt) {
  w.begin(tag::attribute);
  w.text(tag::attribute_name, name);
  if (index) w.integer(tag::attribute_index, *index);
  value(w);
  w.end();
}

void name_value(Writer& w, std::uint32_t t, std::string_view name) {
  w.begin(t);
  w.text(tag::name_value, name);
  w.enumeration(tag::name_type, value(NameType::uninterpreted_text_string));
  w.end();
}

TEST(KmipMessagesParse, GetAttributesIn1xReadsAttributeStructures) {
  const Bytes message = success(Operation::get_attributes, [](Writer& w) {
    w.text(tag::unique_identifier, "42");
    attribute(w, "Unique Identifier", [](Writer& v) { v.text(tag::attribute_value, "42"); });
    attribute(w, "Name", [](Writer& v) { name_value(v, tag::attribute_value, "kek"); }, 0);
    attribute(w, "Name", [](Writer& v) { name_value(v, tag::attribute_value, "kek-old"); }, 1);
    attribute(w, "Object Type", [](Writer& v) { v.enumeration(tag::attribute_value, 2); });
    attribute(w, "Cryptographic Algorithm", [](Writer& v) { v.enumeration(tag::attribute_value, 3); });
    attribute(w, "Cryptographic Length", [](Writer& v) { v.integer(tag::attribute_value, 256); });
    attribute(w, "Cryptographic Usage Mask", [](Writer& v) { v.integer(tag::attribute_value, 12); });
    attribute(w, "State", [](Writer& v) { v.enumeration(tag::attribute_value, 2); });
    attribute(w, "Initial Date", [](Writer& v) { v.date_time(tag::attribute_value, 1700000000); });
  }, v1_2).bytes();
  Result<KeyAttributes> a = parse_get_attributes(message, v1_2, "42");
  ASSERT_TRUE(a.ok()) << a.error().message();
  EXPECT_EQ(a->uid, "42");
  EXPECT_EQ(a->object_type, ObjectType::symmetric_key);
  EXPECT_EQ(a->algorithm, CryptographicAlgorithm::aes);
  EXPECT_EQ(a->length, 256);
  EXPECT_EQ(a->usage_mask, usage::encrypt | usage::decrypt);
  EXPECT_EQ(a->state, State::active);
  EXPECT_EQ(a->names, (std::vector<std::string>{"kek", "kek-old"}));
}

TEST(KmipMessagesParse, GetAttributesIn20ReadsTheAttributesStructure) {
  const Bytes message = success(Operation::get_attributes, [](Writer& w) {
    w.text(tag::unique_identifier, "42");
    w.begin(tag::attributes);
    w.text(tag::unique_identifier, "42");
    name_value(w, tag::name, "kek");
    w.enumeration(tag::object_type, 2);
    w.enumeration(tag::cryptographic_algorithm, 3);
    w.integer(tag::cryptographic_length, 128);
    w.integer(tag::cryptographic_usage_mask, 4);
    w.enumeration(tag::state, 3);
    w.end();
  }, v2_0).bytes();
  Result<KeyAttributes> a = parse_get_attributes(message, v2_0, "42");
  ASSERT_TRUE(a.ok()) << a.error().message();
  EXPECT_EQ(a->object_type, ObjectType::symmetric_key);
  EXPECT_EQ(a->algorithm, CryptographicAlgorithm::aes);
  EXPECT_EQ(a->length, 128);
  EXPECT_EQ(a->usage_mask, usage::encrypt);
  EXPECT_EQ(a->state, State::deactivated);
  EXPECT_EQ(a->names, (std::vector<std::string>{"kek"}));
}

TEST(KmipMessagesParse, GetAttributesLeavesOutWhatTheServerDoesNotSend) {
  const Bytes message = success(Operation::get_attributes, [](Writer& w) {
    w.text(tag::unique_identifier, "42");
    attribute(w, "State", [](Writer& v) { v.enumeration(tag::attribute_value, 1); });
  }).bytes();
  Result<KeyAttributes> a = parse_get_attributes(message, v1_4, "42");
  ASSERT_TRUE(a.ok()) << a.error().message();
  EXPECT_EQ(a->state, State::pre_active);
  EXPECT_FALSE(a->length);
  EXPECT_FALSE(a->algorithm);
  EXPECT_TRUE(a->names.empty());
}

TEST(KmipMessagesParse, GetAttributesAboutAnotherObjectIsRefused) {
  const Bytes message = success(Operation::get_attributes, [](Writer& w) {
    w.text(tag::unique_identifier, "43");
  }).bytes();
  Result<KeyAttributes> a = parse_get_attributes(message, v1_4, "42");
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.error().code(), Code::unavailable);
  EXPECT_NE(a.error().message().find("\"43\""), std::string::npos) << a.error().message();
}

TEST(KmipMessagesParse, GetAttributesWithAnAttributeOfTheWrongTypeIsMalformed) {
  const Bytes v1 = success(Operation::get_attributes, [](Writer& w) {
    w.text(tag::unique_identifier, "42");
    attribute(w, "State", [](Writer& v) { v.integer(tag::attribute_value, 2); });
  }).bytes();
  expect_malformed(parse_get_attributes(v1, v1_4, "42").error(), "State of the wrong type");

  const Bytes v2 = success(Operation::get_attributes, [](Writer& w) {
    w.text(tag::unique_identifier, "42");
    w.begin(tag::attributes);
    w.text(tag::cryptographic_length, "256");
    w.end();
  }, v2_0).bytes();
  expect_malformed(parse_get_attributes(v2, v2_0, "42").error(), "Cryptographic Length of the wrong type");

  const Bytes no_value = success(Operation::get_attributes, [](Writer& w) {
    w.text(tag::unique_identifier, "42");
    attribute(w, "State", [](Writer&) {});
  }).bytes();
  expect_malformed(parse_get_attributes(no_value, v1_4, "42").error(), "no Attribute Value");

  const Bytes nameless = success(Operation::get_attributes, [](Writer& w) {
    w.text(tag::unique_identifier, "42");
    w.begin(tag::attributes);
    w.begin(tag::name);
    w.end();
    w.end();
  }, v2_0).bytes();
  expect_malformed(parse_get_attributes(nameless, v2_0, "42").error(), "no Name Value");
}

TEST(KmipMessagesParse, DigestInputNamesTheKeyMaterialNotItsMutableState) {
  KeyAttributes a;
  a.uid = "42";
  a.object_type = ObjectType::symmetric_key;
  a.algorithm = CryptographicAlgorithm::aes;
  a.length = 256;
  a.state = State::active;
  a.usage_mask = 12;
  a.names = {"kek"};
  KeyAttributes b = a;
  b.state = State::deactivated;
  b.usage_mask = 8;
  b.names = {"renamed"};
  EXPECT_EQ(a.digest_input(), b.digest_input());
  EXPECT_EQ(a.digest_input(), "kmip-key-attributes-v1\nuid 2:42\nobject_type 1:2\nalgorithm 1:3\nlength 3:256\n");
  b.length = 128;
  EXPECT_NE(a.digest_input(), b.digest_input());
  KeyAttributes c = a;
  c.uid = "4";
  EXPECT_NE(a.digest_input(), c.digest_input());
  KeyAttributes missing;
  missing.uid = "42";
  EXPECT_EQ(missing.digest_input(),
            "kmip-key-attributes-v1\nuid 2:42\nobject_type 1:-\nalgorithm 1:-\nlength 1:-\n");
}

TEST(KmipMessagesParse, EncryptGivesDataIvAndTagAsViewsIntoTheResponse) {
  const Bytes message = success(Operation::encrypt, [](Writer& w) {
    w.text(tag::unique_identifier, "key-1");
    w.bytes(tag::data, bytes_of("cipher"));
    w.bytes(tag::iv_counter_nonce, Bytes(16, 0x44));
    w.bytes(tag::authenticated_encryption_tag, Bytes(16, 0x55));
  }).bytes();
  Result<EncryptResult> r = parse_encrypt(message, v1_4, "key-1", {CryptoParams::gcm, 16}, false);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(copy(r->data), bytes_of("cipher"));
  EXPECT_EQ(copy(r->iv), Bytes(16, 0x44));
  EXPECT_EQ(copy(r->tag), Bytes(16, 0x55));
  EXPECT_GE(r->data.data(), message.data());
  EXPECT_LT(r->data.data(), message.data() + message.size());
}

TEST(KmipMessagesParse, EncryptCbcWithOurIvNeedsNeitherIvNorTag) {
  const Bytes message = success(Operation::encrypt, [](Writer& w) {
    w.text(tag::unique_identifier, "key-1");
    w.bytes(tag::data, bytes_of("cipher"));
  }).bytes();
  Result<EncryptResult> r = parse_encrypt(message, v1_4, "key-1", {CryptoParams::cbc}, true);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_TRUE(r->iv.empty());
  EXPECT_TRUE(r->tag.empty());
}

TEST(KmipMessagesParse, EncryptWithoutTheIvWeAskedTheServerToMakeIsMalformed) {
  const Bytes message = success(Operation::encrypt, [](Writer& w) {
    w.text(tag::unique_identifier, "key-1");
    w.bytes(tag::data, bytes_of("cipher"));
  }).bytes();
  expect_malformed(parse_encrypt(message, v1_4, "key-1", {CryptoParams::cbc}, false).error(),
                   "no IV/Counter/Nonce");
}

TEST(KmipMessagesParse, EncryptGcmWithoutATagOrWithAShortOneIsMalformed) {
  const Bytes none = success(Operation::encrypt, [](Writer& w) {
    w.text(tag::unique_identifier, "key-1");
    w.bytes(tag::data, bytes_of("cipher"));
  }).bytes();
  expect_malformed(parse_encrypt(none, v1_4, "key-1", {CryptoParams::gcm}, true).error(),
                   "no Authenticated Encryption Tag");
  const Bytes shorter = success(Operation::encrypt, [](Writer& w) {
    w.text(tag::unique_identifier, "key-1");
    w.bytes(tag::data, bytes_of("cipher"));
    w.bytes(tag::authenticated_encryption_tag, Bytes(12, 0));
  }).bytes();
  expect_malformed(parse_encrypt(shorter, v1_4, "key-1", {CryptoParams::gcm, 16}, true).error(),
                   "Authenticated Encryption Tag of 12 bytes, expected 16");
}

TEST(KmipMessagesParse, EncryptWithoutDataOrWithDataOfTheWrongTypeIsMalformed) {
  const Bytes none = success(Operation::encrypt, [](Writer& w) {
    w.text(tag::unique_identifier, "key-1");
  }).bytes();
  expect_malformed(parse_encrypt(none, v1_4, "key-1", {CryptoParams::cbc}, true).error(), "no Data");
  const Bytes text = success(Operation::encrypt, [](Writer& w) {
    w.text(tag::unique_identifier, "key-1");
    w.text(tag::data, "cipher");
  }).bytes();
  expect_malformed(parse_encrypt(text, v1_4, "key-1", {CryptoParams::cbc}, true).error(),
                   "Data of the wrong type");
}

TEST(KmipMessagesParse, DecryptGivesTheDataAsAViewIntoTheResponse) {
  const Bytes message = success(Operation::decrypt, [](Writer& w) {
    w.text(tag::unique_identifier, "key-1");
    w.bytes(tag::data, bytes_of("share"));
  }).bytes();
  Result<ByteView> data = parse_decrypt(message, v1_4, "key-1");
  ASSERT_TRUE(data.ok()) << data.error().message();
  EXPECT_EQ(copy(*data), bytes_of("share"));
  EXPECT_GE(data->data(), message.data());
  EXPECT_LT(data->data(), message.data() + message.size());
}

TEST(KmipMessagesParse, DecryptForAnotherKeyIsRefused) {
  const Bytes message = success(Operation::decrypt, [](Writer& w) {
    w.text(tag::unique_identifier, "key-2");
    w.bytes(tag::data, bytes_of("share"));
  }).bytes();
  EXPECT_FALSE(parse_decrypt(message, v1_4, "key-1").ok());
}

// Failures --------------------------------------------------------------------------

TEST(KmipMessagesFailures, EachReasonMapsToTheCodeThatSaysWhetherRetryingHelps) {
  const std::vector<std::pair<ResultReason, Code>> table = {
      {ResultReason::item_not_found, Code::failed_precondition},
      {ResultReason::permission_denied, Code::permission_denied},
      {ResultReason::authentication_not_successful, Code::permission_denied},
      {ResultReason::cryptographic_failure, Code::integrity},
      {ResultReason::wrong_key_lifecycle_state, Code::failed_precondition},
      {ResultReason::invalid_field, Code::failed_precondition},
      {ResultReason::invalid_message, Code::failed_precondition},
      {ResultReason::operation_not_supported, Code::failed_precondition},
      {ResultReason::feature_not_supported, Code::failed_precondition},
      {ResultReason::key_format_type_not_supported, Code::failed_precondition},
      {ResultReason::key_compression_type_not_supported, Code::failed_precondition},
      {ResultReason::general_failure, Code::unavailable},
      {ResultReason::response_too_large, Code::unavailable},
      {static_cast<ResultReason>(0x3A), Code::unavailable},
  };
  for (const auto& [reason, code] : table) {
    const Error e = decrypt_error(failure(Operation::decrypt, reason, "the server's words"));
    EXPECT_EQ(e.code(), code) << e.message();
    EXPECT_EQ(e.message(), "KMIP: Decrypt failed: " + to_string(reason) + ": \"the server's words\"");
  }
  EXPECT_EQ(to_string(ResultReason::item_not_found), "Item Not Found");
  EXPECT_EQ(to_string(static_cast<ResultReason>(0x3A)), "reason 0x3a");
}

TEST(KmipMessagesFailures, CryptographicFailureIsIntegrityOnlyForDecrypt) {
  const Bytes message = failure(Operation::encrypt, ResultReason::cryptographic_failure).bytes();
  Result<EncryptResult> r = parse_encrypt(message, v1_4, "key-1", {CryptoParams::gcm}, false);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Code::unavailable);
  EXPECT_EQ(r.error().message(), "KMIP: Encrypt failed: Cryptographic Failure");
}

TEST(KmipMessagesFailures, PendingAndUndoneAreUnavailableBecauseWeAreNeverAsynchronous) {
  for (ResultStatus s : {ResultStatus::operation_pending, ResultStatus::operation_undone}) {
    Answer a;
    a.operation = Operation::decrypt;
    a.status = value(s);
    const Error e = decrypt_error(a);
    EXPECT_EQ(e.code(), Code::unavailable);
    EXPECT_NE(e.message().find("asynchronous"), std::string::npos) << e.message();
  }
  Answer unknown;
  unknown.operation = Operation::decrypt;
  unknown.status = 9;
  EXPECT_EQ(decrypt_error(unknown).code(), Code::unavailable);
}

TEST(KmipMessagesFailures, FailureWithoutAReasonIsUnavailable) {
  Answer a;
  a.operation = Operation::decrypt;
  a.status = value(ResultStatus::operation_failed);
  const Error e = decrypt_error(a);
  EXPECT_EQ(e.code(), Code::unavailable);
  EXPECT_NE(e.message().find("no reason"), std::string::npos) << e.message();
}

TEST(KmipMessagesFailures, TheServersMessageIsEscapedAndCutShort) {
  const std::string words = "line\nbreak\x1b[31m" + std::string(500, 'x');
  const Error e = decrypt_error(failure(Operation::decrypt, ResultReason::general_failure, words));
  EXPECT_EQ(e.message().find('\n'), std::string::npos);
  EXPECT_EQ(e.message().find('\x1b'), std::string::npos);
  EXPECT_NE(e.message().find("line\\nbreak\\x1b[31m"), std::string::npos) << e.message();
  EXPECT_LT(e.message().size(), 300u);
}

TEST(KmipMessagesFailures, AWholeMessageFailureWithoutAnOperationStillSaysWhy) {
  // PyKMIP answers a header it cannot read this way, in its own version.
  Answer a = failure(Operation::decrypt, ResultReason::invalid_message, "KMIP 1.9 is not supported");
  a.operation.reset();
  a.version = v1_2;
  const Error e = decrypt_error(a);
  EXPECT_EQ(e.code(), Code::failed_precondition);
  EXPECT_NE(e.message().find("Invalid Message"), std::string::npos) << e.message();
}

TEST(KmipMessagesFailures, AnAnswerToAnotherOperationIsMalformed) {
  const Error e = decrypt_error(success(Operation::encrypt, [](Writer& w) {
    w.text(tag::unique_identifier, "key-1");
    w.bytes(tag::data, bytes_of("x"));
  }));
  expect_malformed(e, "Operation 0x1f in the answer to Decrypt");
}

TEST(KmipMessagesFailures, ASuccessWithoutAnOperationIsMalformed) {
  Answer a = success(Operation::decrypt, [](Writer& w) {
    w.text(tag::unique_identifier, "key-1");
    w.bytes(tag::data, bytes_of("x"));
  });
  a.operation.reset();
  expect_malformed(decrypt_error(a), "no Operation");
}

TEST(KmipMessagesFailures, ABatchCountOtherThanOneIsMalformed) {
  Answer a = failure(Operation::decrypt, ResultReason::general_failure);
  a.batch_count = 2;
  a.batch_items = 2;
  expect_malformed(decrypt_error(a), "Batch Count 2, expected 1");
}

TEST(KmipMessagesFailures, ACountOfOneWithTwoOrNoBatchItemsIsMalformed) {
  Answer two = failure(Operation::decrypt, ResultReason::general_failure);
  two.batch_items = 2;
  expect_malformed(decrypt_error(two), "2 Batch Items, expected 1");
  Answer none = failure(Operation::decrypt, ResultReason::general_failure);
  none.batch_items = 0;
  expect_malformed(decrypt_error(none), "0 Batch Items, expected 1");
}

TEST(KmipMessagesFailures, AnAnswerInAnotherProtocolVersionIsRefused) {
  Answer a = success(Operation::decrypt, [](Writer& w) {
    w.text(tag::unique_identifier, "key-1");
    w.bytes(tag::data, bytes_of("x"));
  }, v1_2);
  const Error e = decrypt_error(a);
  EXPECT_EQ(e.code(), Code::unavailable);
  EXPECT_NE(e.message().find("protocol 1.2 to a request in 1.4"), std::string::npos) << e.message();
}

TEST(KmipMessagesFailures, MissingPartsAreMalformed) {
  Answer no_header = failure(Operation::decrypt, ResultReason::general_failure);
  no_header.header = false;
  expect_malformed(decrypt_error(no_header), "no Response Header");

  Answer no_payload;
  no_payload.operation = Operation::decrypt;
  expect_malformed(decrypt_error(no_payload), "no Response Payload");

  const Error no_data = decrypt_error(success(Operation::decrypt, [](Writer& w) {
    w.text(tag::unique_identifier, "key-1");
  }));
  expect_malformed(no_data, "no Data");

  const Error no_uid = decrypt_error(success(Operation::decrypt, [](Writer& w) {
    w.bytes(tag::data, bytes_of("x"));
  }));
  expect_malformed(no_uid, "no Unique Identifier");
}

TEST(KmipMessagesFailures, FieldsOfTheWrongTypeAreMalformed) {
  Bytes bad;
  {
    Writer w(bad);
    w.begin(tag::response_message);
    w.begin(tag::response_header);
    w.begin(tag::protocol_version);
    w.integer(tag::protocol_version_major, 1);
    w.integer(tag::protocol_version_minor, 4);
    w.end();
    w.long_integer(tag::batch_count, 1);
    w.end();
    w.end();
  }
  expect_malformed(parse_decrypt(bad, v1_4, "key-1").error(), "Batch Count of the wrong type");

  Bytes bad_status;
  {
    Writer w(bad_status);
    w.begin(tag::response_message);
    w.begin(tag::response_header);
    w.integer(tag::batch_count, 1);
    w.end();
    w.begin(tag::batch_item);
    w.enumeration(tag::operation, value(Operation::decrypt));
    w.integer(tag::result_status, 0);
    w.end();
    w.end();
  }
  expect_malformed(parse_decrypt(bad_status, v1_4, "key-1").error(), "Result Status of the wrong type");

  Bytes text_reason;
  {
    Writer w(text_reason);
    w.begin(tag::response_message);
    w.begin(tag::response_header);
    w.integer(tag::batch_count, 1);
    w.end();
    w.begin(tag::batch_item);
    w.enumeration(tag::result_status, value(ResultStatus::operation_failed));
    w.text(tag::result_reason, "Item Not Found");
    w.end();
    w.end();
  }
  expect_malformed(parse_decrypt(text_reason, v1_4, "key-1").error(), "Result Reason of the wrong type");
}

TEST(KmipMessagesFailures, ARequestMessageIsNotAResponse) {
  Bytes request;
  get_attributes(request, v1_4, "key-1");
  expect_malformed(parse_get_attributes(request, v1_4, "key-1").error(), "not a Response Message");
}

TEST(KmipMessagesFailures, ParsersDecodeWithTheLimitsTheyAreGiven) {
  const Bytes message = success(Operation::decrypt, [](Writer& w) {
    w.text(tag::unique_identifier, "key-1");
    w.bytes(tag::data, Bytes(70 * 1024, 0x01));
  }).bytes();
  expect_malformed(parse_decrypt(message, v1_4, "key-1").error(), "message larger than 65536 bytes");
  EXPECT_TRUE(parse_decrypt(message, v1_4, "key-1", Limits{.max_message = 128 * 1024}).ok());
}

TEST(KmipMessagesFailures, UndecodableBytesAreMalformed) {
  expect_malformed(parse_decrypt(bytes_of("not TTLV at all"), v1_4, "key-1").error(), "at offset");
}

TEST(KmipMessagesFailures, EverySingleByteChangeOfAnAnswerParsesOrIsRefused) {
  const Bytes message = success(Operation::encrypt, [](Writer& w) {
    w.text(tag::unique_identifier, "key-1");
    w.bytes(tag::data, bytes_of("cipher"));
    w.bytes(tag::iv_counter_nonce, Bytes(12, 0x44));
    w.bytes(tag::authenticated_encryption_tag, Bytes(16, 0x55));
  }).bytes();
  for (std::size_t i = 0; i < message.size(); ++i) {
    for (std::uint8_t x : {0x01, 0x80, 0xFF}) {
      Bytes m = message;
      m[i] ^= x;
      Result<EncryptResult> r = parse_encrypt(m, v1_4, "key-1", {CryptoParams::gcm, 16}, false);
      if (r.ok()) {
        EXPECT_EQ(r->tag.size(), 16u);
      } else {
        EXPECT_NE(r.error().code(), Code::ok);
      }
    }
  }
}

}  // namespace
}  // namespace trousseau::providers::kmip
