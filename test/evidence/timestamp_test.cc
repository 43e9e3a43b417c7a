// Tests for evidence/timestamp_request.h and timestamp_token.h: RFC 3161 requests from
// `openssl ts -query` parse, tokens verify with `openssl ts -verify`, every refusal carries
// its PKIFailureInfo bit, and phase one of signing is deterministic.
#include <openssl/ts.h>

#include <catch2/catch.hpp>
#include <optional>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "base/sha256.h"
#include "evidence/internal/der.h"
#include "evidence/oids.h"
#include "evidence/timestamp_request.h"
#include "evidence/timestamp_token.h"
#include "test/evidence/test_service.h"

namespace belfry::evidence {
namespace {

namespace der = internal;
using testing::ReadFile;
using testing::RunCommand;
using testing::TestService;
using testing::WriteFile;

constexpr int64_t kTimeMs = 1'718'000'123'456;  // 2024-06-10T06:15:23.456Z

std::array<uint8_t, kLogHeadBytes> LogHead() {
  std::array<uint8_t, kLogHeadBytes> head{};
  for (size_t i = 0; i < head.size(); ++i) {
    head[i] = static_cast<uint8_t>(0xa0 + i);
  }
  return head;
}

TimeStampRequest Accepted(ByteSpan der) {
  TimeStampReqParse parse = ParseTimeStampReq(der);
  if (const auto* refusal = std::get_if<TimeStampRefusal>(&parse)) {
    FAIL("refused: " << FailureInfoName(refusal->fail_info) << ": " << refusal->reason);
  }
  return std::get<TimeStampRequest>(parse);
}

TstInfoFields FieldsFor(const TimeStampRequest& request) {
  TstInfoFields fields;
  fields.imprint = request.imprint;
  fields.serial_number = {0x01, 0x02, 0x03, 0x04, 0x05};
  fields.consensus_time_ms = kTimeMs;
  fields.accuracy = Accuracy{1, 500, 0};
  fields.nonce = request.nonce;
  fields.log_head = LogHead();
  return fields;
}

// Phase one, the stand-in threshold signature, phase two: a granted TimeStampResp.
Bytes Respond(const TestService& service, const TimeStampRequest& request) {
  const Bytes tst_info = TestService::Unwrap(TstInfoDer(FieldsFor(request)));
  const Bytes attrs =
      TestService::Unwrap(TimeStampTokenSignedAttributesDer(tst_info, service.service_der()));
  const Bytes token = TestService::Unwrap(AssembleTimeStampToken(
      tst_info, attrs, service.Sign(attrs), service.service_der(), request.cert_req));
  return TestService::Unwrap(GrantedTimeStampResp(token));
}

std::string TsVerify(const TestService& service, const std::string& what,
                     const std::string& response) {
  return "openssl ts -verify " + what + " -in " + response + " -CAfile " + service.ca_path() +
         " -untrusted " + service.service_path();
}

// The nonce `openssl ts -query -text` prints ("Nonce: 0x1A2B..."), lower-case, no 0x.
std::string PrintedNonce(const std::string& query_path) {
  const testing::CommandResult text = RunCommand("openssl ts -query -in " + query_path + " -text");
  REQUIRE(text.exit_code == 0);
  const size_t at = text.output.find("Nonce: 0x");
  REQUIRE(at != std::string::npos);
  const size_t start = at + 9;
  const size_t end = text.output.find('\n', start);
  return absl::AsciiStrToLower(text.output.substr(start, end - start));
}

template <typename T, void (*Free)(T*)>
struct Owned {
  void operator()(T* p) const { Free(p); }
};
using TsRespPtr = std::unique_ptr<TS_RESP, Owned<TS_RESP, TS_RESP_free>>;
using TstInfoPtr = std::unique_ptr<TS_TST_INFO, Owned<TS_TST_INFO, TS_TST_INFO_free>>;

TsRespPtr ParseResp(const Bytes& der) {
  const unsigned char* p = der.data();
  TsRespPtr resp(d2i_TS_RESP(nullptr, &p, static_cast<long>(der.size())));
  REQUIRE(resp != nullptr);
  REQUIRE(p == der.data() + der.size());
  // OpenSSL re-encodes in DER (SET OF sorted): an unchanged round trip means it was DER.
  const int length = i2d_TS_RESP(resp.get(), nullptr);
  Bytes again(static_cast<size_t>(length));
  unsigned char* out = again.data();
  REQUIRE(i2d_TS_RESP(resp.get(), &out) == length);
  CHECK(again == der);
  return resp;
}

TEST_CASE(
    "RFC 3161: a query from openssl ts -query parses to its hash and nonce, and "
    "the token verifies with -queryfile and -data, and not for other data",
    "[evidence][timestamp]") {
  TestService service;
  const std::string data = service.dir().File("data.txt");
  const std::string other = service.dir().File("other.txt");
  const std::string query = service.dir().File("q.tsq");
  const std::string reply = service.dir().File("r.tsr");
  const std::string contents = "a document to stamp\n";
  WriteFile(data, contents);
  WriteFile(other, "another document\n");

  const char* hashes[] = {"-sha256", "-sha384", "-sha512"};
  for (const char* hash : hashes) {
    SECTION(hash) {
      const testing::CommandResult made =
          RunCommand("openssl ts -query -data " + data + " " + hash + " -cert -out " + query);
      INFO(made.output);
      REQUIRE(made.exit_code == 0);
      const TimeStampRequest request = Accepted(ReadFile(query));
      CHECK(request.cert_req);
      REQUIRE(request.nonce.has_value());
      CHECK(ToHex(*request.nonce) == PrintedNonce(query));
      if (std::string(hash) == "-sha256") {
        CHECK(request.imprint.hash == ImprintHash::kSha256);
        const Sha256Digest digest = Sha256Of(contents.data(), contents.size());
        CHECK(request.imprint.hashed_message == Bytes(digest.begin(), digest.end()));
      }
      CHECK(request.imprint.hashed_message.size() == ImprintHashBytes(request.imprint.hash));

      WriteFile(reply, Respond(service, request));
      const testing::CommandResult by_query =
          RunCommand(TsVerify(service, "-queryfile " + query, reply));
      INFO(by_query.output);
      CHECK(by_query.exit_code == 0);
      CHECK(absl::StrContains(by_query.output, "Verification: OK"));
      const testing::CommandResult by_data = RunCommand(TsVerify(service, "-data " + data, reply));
      INFO(by_data.output);
      CHECK(by_data.exit_code == 0);
      const testing::CommandResult wrong = RunCommand(TsVerify(service, "-data " + other, reply));
      INFO(wrong.output);
      CHECK(wrong.exit_code != 0);
      CHECK(absl::StrContains(wrong.output, "message imprint mismatch"));
    }
  }
}

TEST_CASE("RFC 3161 §2.4.2: a token answers only its own query (the nonce is checked)",
          "[evidence][timestamp]") {
  TestService service;
  const std::string data = service.dir().File("data.txt");
  WriteFile(data, "stamp me\n");
  const std::string q1 = service.dir().File("q1.tsq");
  const std::string q2 = service.dir().File("q2.tsq");
  const std::string reply = service.dir().File("r1.tsr");
  REQUIRE(RunCommand("openssl ts -query -data " + data + " -sha256 -cert -out " + q1).exit_code ==
          0);
  REQUIRE(RunCommand("openssl ts -query -data " + data + " -sha256 -cert -out " + q2).exit_code ==
          0);
  WriteFile(reply, Respond(service, Accepted(ReadFile(q1))));
  CHECK(RunCommand(TsVerify(service, "-queryfile " + q1, reply)).exit_code == 0);
  const testing::CommandResult other = RunCommand(TsVerify(service, "-queryfile " + q2, reply));
  INFO(other.output);
  CHECK(other.exit_code != 0);
  CHECK(absl::StrContains(other.output, "nonce mismatch"));
}

TEST_CASE(
    "RFC 3161 §2.4.1: without certReq the token carries no certificate and still "
    "verifies with the service certificate given",
    "[evidence][timestamp]") {
  TestService service;
  const std::string data = service.dir().File("data.txt");
  const std::string query = service.dir().File("q.tsq");
  const std::string reply = service.dir().File("r.tsr");
  WriteFile(data, "no certificate wanted\n");
  REQUIRE(RunCommand("openssl ts -query -data " + data + " -sha256 -no_nonce -out " + query)
              .exit_code == 0);
  const TimeStampRequest request = Accepted(ReadFile(query));
  CHECK_FALSE(request.cert_req);
  CHECK_FALSE(request.nonce.has_value());
  const Bytes resp = Respond(service, request);
  CHECK(std::search(resp.begin(), resp.end(), service.service_der().begin(),
                    service.service_der().end()) == resp.end());
  WriteFile(reply, resp);
  const testing::CommandResult ok = RunCommand(TsVerify(service, "-queryfile " + query, reply));
  INFO(ok.output);
  CHECK(ok.exit_code == 0);
}

TEST_CASE("the TSTInfo says what it was given, in DER, and OpenSSL reads it back",
          "[evidence][timestamp]") {
  TestService service;
  TimeStampRequest request;
  request.imprint.hash = ImprintHash::kSha256;
  request.imprint.parameters_null = true;
  request.imprint.hashed_message = Bytes(32, 0x11);
  request.nonce = Bytes{0x00, 0x80, 0x01};  // leading zero dropped, sign octet added
  request.cert_req = true;
  const TsRespPtr resp = ParseResp(Respond(service, request));
  CHECK(ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(TS_RESP_get_status_info(resp.get()))) == 0);
  TS_TST_INFO* info = TS_RESP_get_tst_info(resp.get());
  REQUIRE(info != nullptr);
  CHECK(TS_TST_INFO_get_version(info) == 1);
  char policy[128];
  OBJ_obj2txt(policy, sizeof(policy), TS_TST_INFO_get_policy_id(info), 1);
  CHECK(std::string(policy) == kTsaPolicyOid);
  const ASN1_GENERALIZEDTIME* gen_time = TS_TST_INFO_get_time(info);
  CHECK(std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(gen_time)),
                    ASN1_STRING_length(gen_time)) == "20240610061523.456Z");
  CHECK(ASN1_INTEGER_get(TS_TST_INFO_get_serial(info)) == 0x0102030405);
  CHECK(ASN1_INTEGER_get(TS_TST_INFO_get_nonce(info)) == 0x8001);
  CHECK(TS_TST_INFO_get_ordering(info) == 0);
  TS_ACCURACY* accuracy = TS_TST_INFO_get_accuracy(info);
  REQUIRE(accuracy != nullptr);
  CHECK(ASN1_INTEGER_get(TS_ACCURACY_get_seconds(accuracy)) == 1);
  CHECK(ASN1_INTEGER_get(TS_ACCURACY_get_millis(accuracy)) == 500);
  CHECK(TS_ACCURACY_get_micros(accuracy) == nullptr);
  REQUIRE(TS_TST_INFO_get_ext_count(info) == 1);
  X509_EXTENSION* ext = TS_TST_INFO_get_ext(info, 0);
  CHECK(X509_EXTENSION_get_critical(ext) == 0);
  char ext_oid[128];
  OBJ_obj2txt(ext_oid, sizeof(ext_oid), X509_EXTENSION_get_object(ext), 1);
  CHECK(std::string(ext_oid) == kLogHeadExtensionOid);
  const ASN1_OCTET_STRING* value = X509_EXTENSION_get_data(ext);
  const std::array<uint8_t, kLogHeadBytes> head = LogHead();
  CHECK(Bytes(ASN1_STRING_get0_data(value),
              ASN1_STRING_get0_data(value) + ASN1_STRING_length(value)) == der::OctetString(head));
}

TEST_CASE(
    "RFC 3161 §2.4.2: genTime has a fraction only when non-zero, without trailing "
    "zeros",
    "[evidence][timestamp]") {
  const auto gen_time = [](int64_t ms) {
    const Bytes der = TestService::Unwrap(der::GeneralizedTimeMs(ms));
    return std::string(der.begin() + 2, der.end());
  };
  CHECK(gen_time(1'718'000'123'000) == "20240610061523Z");
  CHECK(gen_time(1'718'000'123'500) == "20240610061523.5Z");
  CHECK(gen_time(1'718'000'123'120) == "20240610061523.12Z");
  CHECK(gen_time(1'718'000'123'007) == "20240610061523.007Z");
  CHECK(gen_time(0) == "19700101000000Z");
  CHECK(gen_time(-1) == "19691231235959.999Z");
  CHECK(gen_time(der::kTimeMsMax) == "99991231235959.999Z");
  CHECK(gen_time(der::kTimeMsMin) == "00010101000000Z");
  CHECK(der::GeneralizedTimeMs(der::kTimeMsMax + 1).status().code() ==
        absl::StatusCode::kInvalidArgument);
}

TEST_CASE(
    "phase one is deterministic: the same inputs give the same TSTInfo and signed "
    "attributes",
    "[evidence][timestamp][determinism]") {
  TestService service;
  TimeStampRequest request;
  request.imprint.hashed_message = Bytes(32, 0x42);
  request.nonce = Bytes{0x12, 0x34};
  const Bytes a = TestService::Unwrap(TstInfoDer(FieldsFor(request)));
  const Bytes b = TestService::Unwrap(TstInfoDer(FieldsFor(request)));
  CHECK(a == b);
  const Bytes attrs_a =
      TestService::Unwrap(TimeStampTokenSignedAttributesDer(a, service.service_der()));
  const Bytes attrs_b =
      TestService::Unwrap(TimeStampTokenSignedAttributesDer(b, service.service_der()));
  CHECK(attrs_a == attrs_b);
  CHECK(attrs_a[0] == 0x31);

  TstInfoFields later = FieldsFor(request);
  later.consensus_time_ms += 1;
  CHECK(TestService::Unwrap(TstInfoDer(later)) != a);

  // Signed attributes for another TSTInfo are refused at assembly.
  const Bytes attrs_later = TestService::Unwrap(TimeStampTokenSignedAttributesDer(
      TestService::Unwrap(TstInfoDer(later)), service.service_der()));
  CHECK(
      AssembleTimeStampToken(a, attrs_later, service.Sign(attrs_later), service.service_der(), true)
          .status()
          .code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE(
    "TstInfoDer refuses oversized serial numbers and nonces, bad accuracy and a "
    "hash of the wrong length",
    "[evidence][timestamp]") {
  TimeStampRequest request;
  request.imprint.hashed_message = Bytes(32, 0x42);
  TstInfoFields fields = FieldsFor(request);
  fields.serial_number = Bytes(21, 0x01);
  CHECK(TstInfoDer(fields).status().code() == absl::StatusCode::kInvalidArgument);
  fields.serial_number = Bytes(20, 0xff);  // exactly 160 bits
  CHECK(TstInfoDer(fields).ok());
  fields.nonce = Bytes(21, 0x01);
  CHECK(TstInfoDer(fields).status().code() == absl::StatusCode::kInvalidArgument);
  fields = FieldsFor(request);
  fields.accuracy.micros = 1000;
  CHECK(TstInfoDer(fields).status().code() == absl::StatusCode::kInvalidArgument);
  fields = FieldsFor(request);
  fields.imprint.hash = ImprintHash::kSha512;
  CHECK(TstInfoDer(fields).status().code() == absl::StatusCode::kInvalidArgument);
}

// A TimeStampReq built by hand, for the malformed cases `openssl ts -query` cannot make.
struct ReqParts {
  uint64_t version = 1;
  Bytes algorithm = der::Sequence({der::Oid(kSha256Oid), der::Null()});
  Bytes hashed = Bytes(32, 0x5a);
  Bytes policy;  // a full OID TLV, or empty
  Bytes nonce = der::Integer(42);
  bool cert_req = false;
  Bytes extensions;  // the full [0] TLV, or empty
};
Bytes BuildReq(const ReqParts& r) {
  return der::Sequence({der::Integer(r.version),
                        der::Sequence({r.algorithm, der::OctetString(r.hashed)}), r.policy, r.nonce,
                        r.cert_req ? der::Boolean(true) : Bytes{}, r.extensions});
}

std::optional<FailureInfo> RefusalOf(ByteSpan der) {
  TimeStampReqParse parse = ParseTimeStampReq(der);
  if (const auto* refusal = std::get_if<TimeStampRefusal>(&parse)) {
    return refusal->fail_info;
  }
  return std::nullopt;
}

TEST_CASE("RFC 3161 §2.4.2: each malformed query gets its exact failInfo",
          "[evidence][timestamp]") {
  CHECK(RefusalOf(BuildReq(ReqParts{})) == std::nullopt);

  ReqParts r;
  r.version = 2;
  CHECK(RefusalOf(BuildReq(r)) == FailureInfo::kBadRequest);

  r = ReqParts{};
  r.algorithm = der::Sequence({der::Oid("1.3.14.3.2.26"), der::Null()});  // SHA-1
  r.hashed = Bytes(20, 0x5a);
  CHECK(RefusalOf(BuildReq(r)) == FailureInfo::kBadAlg);
  r.algorithm = der::Sequence({der::Oid(kSha256Oid), der::Integer(0)});  // odd parameters
  r.hashed = Bytes(32, 0x5a);
  CHECK(RefusalOf(BuildReq(r)) == FailureInfo::kBadAlg);
  r.algorithm = der::Sequence({der::Oid(kSha256Oid)});  // absent parameters are fine
  CHECK(RefusalOf(BuildReq(r)) == std::nullopt);

  r = ReqParts{};
  r.hashed = Bytes(31, 0x5a);
  CHECK(RefusalOf(BuildReq(r)) == FailureInfo::kBadDataFormat);
  r.algorithm = der::Sequence({der::Oid(kSha384Oid)});
  r.hashed = Bytes(32, 0x5a);
  CHECK(RefusalOf(BuildReq(r)) == FailureInfo::kBadDataFormat);

  r = ReqParts{};
  r.policy = der::Oid("1.2.3.4");
  CHECK(RefusalOf(BuildReq(r)) == FailureInfo::kUnacceptedPolicy);
  r.policy = der::Oid(kTsaPolicyOid);
  CHECK(RefusalOf(BuildReq(r)) == std::nullopt);

  r = ReqParts{};
  r.nonce = der::Tlv(der::kTagInteger, Bytes{0xff});  // -1
  CHECK(RefusalOf(BuildReq(r)) == FailureInfo::kBadRequest);
  Bytes big(21, 0x00);
  big[0] = 0x01;  // 161 bits
  r.nonce = der::UnsignedInteger(big);
  CHECK(RefusalOf(BuildReq(r)) == FailureInfo::kBadRequest);
  r.nonce = der::UnsignedInteger(Bytes(20, 0xff));  // 160 bits
  CHECK(RefusalOf(BuildReq(r)) == std::nullopt);

  r = ReqParts{};
  const Bytes extension = der::Sequence({der::Oid("1.2.3.4.5"), der::OctetString(der::Null())});
  r.extensions = der::Constructed(der::ContextConstructed(0), {extension});
  CHECK(RefusalOf(BuildReq(r)) == FailureInfo::kUnacceptedExtension);

  const Bytes good = BuildReq(ReqParts{});
  CHECK(RefusalOf(Bytes{}) == FailureInfo::kBadDataFormat);
  CHECK(RefusalOf(AsBytes("not a request at all")) == FailureInfo::kBadDataFormat);
  CHECK(RefusalOf(Bytes(good.begin(), good.end() - 1)) == FailureInfo::kBadDataFormat);
  Bytes trailing = good;
  trailing.push_back(0x00);
  CHECK(RefusalOf(trailing) == FailureInfo::kBadDataFormat);
  CHECK(RefusalOf(Bytes(kTimeStampReqBytesMax + 1, 0x30)) == FailureInfo::kBadDataFormat);
}

TEST_CASE("openssl ts -query -tspolicy with another policy is refused as unacceptedPolicy",
          "[evidence][timestamp]") {
  TestService service;
  const std::string data = service.dir().File("data.txt");
  const std::string query = service.dir().File("q.tsq");
  WriteFile(data, "policy\n");
  REQUIRE(RunCommand("openssl ts -query -data " + data + " -sha256 -tspolicy 1.2.3.4 -out " + query)
              .exit_code == 0);
  CHECK(RefusalOf(ReadFile(query)) == FailureInfo::kUnacceptedPolicy);
  REQUIRE(RunCommand("openssl ts -query -data " + data + " -sha1 -out " + query).exit_code == 0);
  CHECK(RefusalOf(ReadFile(query)) == FailureInfo::kBadAlg);
}

TEST_CASE(
    "RFC 3161 §2.4.2: a rejection carries status rejection, the one failInfo bit "
    "and the status string",
    "[evidence][timestamp]") {
  const FailureInfo all[] = {FailureInfo::kBadAlg,
                             FailureInfo::kBadRequest,
                             FailureInfo::kBadDataFormat,
                             FailureInfo::kTimeNotAvailable,
                             FailureInfo::kUnacceptedPolicy,
                             FailureInfo::kUnacceptedExtension,
                             FailureInfo::kAddInfoNotAvailable,
                             FailureInfo::kSystemFailure};
  for (FailureInfo info : all) {
    INFO(FailureInfoName(info));
    const TsRespPtr resp =
        ParseResp(TestService::Unwrap(RejectionTimeStampResp(info, FailureInfoName(info))));
    TS_STATUS_INFO* status = TS_RESP_get_status_info(resp.get());
    CHECK(ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(status)) == 2);
    const ASN1_BIT_STRING* bits = TS_STATUS_INFO_get0_failure_info(status);
    REQUIRE(bits != nullptr);
    for (int bit = 0; bit < 32; ++bit) {
      CHECK(ASN1_BIT_STRING_get_bit(bits, bit) == (bit == static_cast<int>(info) ? 1 : 0));
    }
    const STACK_OF(ASN1_UTF8STRING)* text = TS_STATUS_INFO_get0_text(status);
    REQUIRE(text != nullptr);
    REQUIRE(sk_ASN1_UTF8STRING_num(text) == 1);
    CHECK(ASN1_STRING_length(sk_ASN1_UTF8STRING_value(text, 0)) ==
          static_cast<int>(std::string_view(FailureInfoName(info)).size()));
    CHECK(TS_RESP_get_token(resp.get()) == nullptr);
  }
  // The exact bytes for one case: SEQUENCE { SEQUENCE { INTEGER 2, BIT STRING bit 15 } }.
  CHECK(TestService::Unwrap(RejectionTimeStampResp(FailureInfo::kUnacceptedPolicy, "")) ==
        Bytes{0x30, 0x0a, 0x30, 0x08, 0x02, 0x01, 0x02, 0x03, 0x03, 0x00, 0x00, 0x01});
  CHECK(RejectionTimeStampResp(FailureInfo::kBadAlg, std::string(kStatusStringBytesMax + 1, 'x'))
            .status()
            .code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("openssl ts -reply reads a rejection", "[evidence][timestamp]") {
  TestService service;
  const std::string path = service.dir().File("rejected.tsr");
  WriteFile(path, TestService::Unwrap(
                      RejectionTimeStampResp(FailureInfo::kUnacceptedExtension, "no extensions")));
  const testing::CommandResult text = RunCommand("openssl ts -reply -in " + path + " -text");
  INFO(text.output);
  CHECK(text.exit_code == 0);
  CHECK(absl::StrContains(text.output, "Status: Rejected"));
  CHECK(absl::StrContains(text.output, "no extensions"));
  CHECK(absl::StrContains(text.output, "extension is not supported"));
}

}  // namespace
}  // namespace belfry::evidence
