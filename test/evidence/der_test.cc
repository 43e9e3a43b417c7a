// Tests for evidence/internal/der.h and oids.h: the encodings X.690 (DER) prescribes, and
// every OID constant against OpenSSL's own encoder.
#include "evidence/internal/der.h"

#include <openssl/objects.h>

#include <catch2/catch.hpp>
#include <string>

#include "evidence/oids.h"

namespace belfry::evidence::internal {
namespace {

Bytes OpenSslOid(std::string_view dotted) {
  const std::string text(dotted);
  ASN1_OBJECT* obj = OBJ_txt2obj(text.c_str(), 1);
  REQUIRE(obj != nullptr);
  const int length = i2d_ASN1_OBJECT(obj, nullptr);
  Bytes der(static_cast<size_t>(length));
  unsigned char* p = der.data();
  REQUIRE(i2d_ASN1_OBJECT(obj, &p) == length);
  ASN1_OBJECT_free(obj);
  return der;
}

TEST_CASE("X.690 §8.19: every OID constant encodes as OpenSSL encodes it", "[evidence][der]") {
  const std::string_view all[] = {kBelfryArcOid,
                                  kClusterIdAttributeOid,
                                  kDocumentNameAttributeOid,
                                  kVersionAttributeOid,
                                  kOwnerAttributeOid,
                                  kLogHeadExtensionOid,
                                  kTsaPolicyOid,
                                  kIdDataOid,
                                  kIdSignedDataOid,
                                  kIdCtTstInfoOid,
                                  kContentTypeAttributeOid,
                                  kMessageDigestAttributeOid,
                                  kSigningTimeAttributeOid,
                                  kSigningCertificateV2AttributeOid,
                                  kSha256Oid,
                                  kSha384Oid,
                                  kSha512Oid,
                                  kRsaEncryptionOid,
                                  "0.0",
                                  "1.39",
                                  "2.999.1"};
  for (std::string_view oid : all) {
    INFO(oid);
    CHECK(Oid(oid) == OpenSslOid(oid));
  }
  // The arc is 2.25.<UUID>: 0x69 = 2*40+25, then the 128-bit integer in base 128.
  CHECK(Oid(kBelfryArcOid)[2] == 0x69);
  CHECK(OidContent("3.1").status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(OidContent("1.40").status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(OidContent("1").status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(OidContent("1..2").status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(OidContent("1.2.03").status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(OidContent("1.2.x").status().code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("X.690 §8.3, §10.1: integers and lengths use the fewest octets", "[evidence][der]") {
  CHECK(Integer(0) == Bytes{0x02, 0x01, 0x00});
  CHECK(Integer(127) == Bytes{0x02, 0x01, 0x7f});
  CHECK(Integer(128) == Bytes{0x02, 0x02, 0x00, 0x80});
  CHECK(Integer(256) == Bytes{0x02, 0x02, 0x01, 0x00});
  CHECK(UnsignedInteger(Bytes{0x00, 0x00, 0x05}) == Bytes{0x02, 0x01, 0x05});
  CHECK(UnsignedInteger(Bytes{}) == Bytes{0x02, 0x01, 0x00});
  CHECK(Tlv(0x04, Bytes(127, 0)).size() == 129);
  const Bytes long_form = Tlv(0x04, Bytes(128, 0));
  CHECK(Bytes(long_form.begin(), long_form.begin() + 3) == Bytes{0x04, 0x81, 0x80});
  const Bytes two_octets = Tlv(0x04, Bytes(256, 0));
  CHECK(Bytes(two_octets.begin(), two_octets.begin() + 4) == Bytes{0x04, 0x82, 0x01, 0x00});
  CHECK(Boolean(true) == Bytes{0x01, 0x01, 0xff});
}

TEST_CASE("X.690 §11.6: SET OF is sorted by encoding, shorter padded with zeros",
          "[evidence][der]") {
  const Bytes set = SetOf({Bytes{0x04, 0x01, 0x02}, Bytes{0x02, 0x01, 0x09}, Bytes{0x04, 0x00}});
  CHECK(set == Bytes{0x31, 0x08, 0x02, 0x01, 0x09, 0x04, 0x00, 0x04, 0x01, 0x02});
}

TEST_CASE("X.690 §11.2.2: a named bit string drops trailing zero bits", "[evidence][der]") {
  CHECK(NamedBit(0) == Bytes{0x03, 0x02, 0x07, 0x80});
  CHECK(NamedBit(2) == Bytes{0x03, 0x02, 0x05, 0x20});
  CHECK(NamedBit(5) == Bytes{0x03, 0x02, 0x02, 0x04});
  CHECK(NamedBit(15) == Bytes{0x03, 0x03, 0x00, 0x00, 0x01});
  CHECK(NamedBit(16) == Bytes{0x03, 0x04, 0x07, 0x00, 0x00, 0x80});
  CHECK(NamedBit(25) == Bytes{0x03, 0x05, 0x06, 0x00, 0x00, 0x00, 0x40});
}

TEST_CASE("RFC 3629: only well-formed UTF-8 becomes a UTF8String", "[evidence][der]") {
  CHECK(IsWellFormedUtf8("plain ascii"));
  CHECK(IsWellFormedUtf8("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"));  // é € 😀
  CHECK_FALSE(IsWellFormedUtf8("\xc0\xaf"));                        // overlong '/'
  CHECK_FALSE(IsWellFormedUtf8("\xed\xa0\x80"));                    // a surrogate
  CHECK_FALSE(IsWellFormedUtf8("\xf4\x90\x80\x80"));                // above U+10FFFF
  CHECK_FALSE(IsWellFormedUtf8("\xe2\x82"));                        // truncated
  CHECK_FALSE(IsWellFormedUtf8("\x80"));                            // a lone continuation
  CHECK(Utf8String("\xff").status().code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("CheckSingleTlv accepts exactly one minimal TLV with the tag", "[evidence][der]") {
  CHECK(CheckSingleTlv(Bytes{0x31, 0x00}, 0x31, "x").ok());
  CHECK(CheckSingleTlv(Tlv(0x31, Bytes(300, 0)), 0x31, "x").ok());
  CHECK_FALSE(CheckSingleTlv(Bytes{0x30, 0x00}, 0x31, "x").ok());
  CHECK_FALSE(CheckSingleTlv(Bytes{0x31, 0x01}, 0x31, "x").ok());
  CHECK_FALSE(CheckSingleTlv(Bytes{0x31, 0x00, 0x00}, 0x31, "x").ok());
  CHECK_FALSE(CheckSingleTlv(Bytes{0x31, 0x80, 0x00, 0x00}, 0x31, "x").ok());
  CHECK_FALSE(CheckSingleTlv(Bytes{0x31, 0x81, 0x01, 0x00}, 0x31, "x").ok());
  CHECK_FALSE(CheckSingleTlv(Bytes{}, 0x31, "x").ok());
}

}  // namespace
}  // namespace belfry::evidence::internal
