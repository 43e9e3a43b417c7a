// Fuzz target: evidence::ParseTimeStampReq (evidence/timestamp_request.h), which reads the
// RFC 3161 TimeStampReq any client may send to the time-stamping service.
//
// Properties: nothing crashes; parsing is deterministic (twice, the same verdict) and
// leaves OpenSSL's error queue empty; an accepted request has a hash of its algorithm's
// length and a nonce of at most 160 bits without leading zeros, and its TSTInfo (built
// with TstInfoDer) is DER that OpenSSL reads back with the same imprint and nonce; every
// refusal makes a rejection TimeStampResp.
#include <openssl/err.h>
#include <openssl/ts.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <variant>

#include "base/bytes.h"
#include "evidence/timestamp_request.h"
#include "evidence/timestamp_token.h"
#include "test/fuzz/fixtures.h"

namespace {

namespace evidence = belfry::evidence;
using belfry::Bytes;
using belfry::fuzz::Require;

struct TstInfoFree {
  void operator()(TS_TST_INFO* p) const { TS_TST_INFO_free(p); }
};

bool SameVerdict(const evidence::TimeStampReqParse& a, const evidence::TimeStampReqParse& b) {
  if (a.index() != b.index()) return false;
  if (const auto* ra = std::get_if<evidence::TimeStampRequest>(&a)) {
    const auto& rb = std::get<evidence::TimeStampRequest>(b);
    return ra->imprint.hash == rb.imprint.hash &&
           ra->imprint.parameters_null == rb.imprint.parameters_null &&
           ra->imprint.hashed_message == rb.imprint.hashed_message && ra->nonce == rb.nonce &&
           ra->cert_req == rb.cert_req;
  }
  const auto& fa = std::get<evidence::TimeStampRefusal>(a);
  const auto& fb = std::get<evidence::TimeStampRefusal>(b);
  return fa.fail_info == fb.fail_info && fa.reason == fb.reason;
}

void CheckAccepted(const evidence::TimeStampRequest& request) {
  Require(request.imprint.hashed_message.size() == evidence::ImprintHashBytes(request.imprint.hash),
          "an accepted imprint has its hash's length");
  if (request.nonce.has_value()) {
    Require(request.nonce->size() <= evidence::kNonceBitsMax / 8, "a nonce is at most 160 bits");
    Require(request.nonce->empty() || (*request.nonce)[0] != 0, "a nonce has no leading zeros");
  }
  evidence::TstInfoFields fields;
  fields.imprint = request.imprint;
  fields.serial_number = {0x01};
  fields.consensus_time_ms = 1'700'000'000'123;
  fields.nonce = request.nonce;
  absl::StatusOr<Bytes> tst_info = evidence::TstInfoDer(fields);
  Require(tst_info.ok(), "an accepted request makes a TSTInfo");
  const unsigned char* p = tst_info->data();
  std::unique_ptr<TS_TST_INFO, TstInfoFree> parsed(
      d2i_TS_TST_INFO(nullptr, &p, static_cast<long>(tst_info->size())));
  Require(parsed != nullptr && p == tst_info->data() + tst_info->size(),
          "OpenSSL reads the TSTInfo back");
  const ASN1_OCTET_STRING* hashed =
      TS_MSG_IMPRINT_get_msg(TS_TST_INFO_get_msg_imprint(parsed.get()));
  Require(Bytes(ASN1_STRING_get0_data(hashed),
                ASN1_STRING_get0_data(hashed) + ASN1_STRING_length(hashed)) ==
              request.imprint.hashed_message,
          "the TSTInfo carries the request's hash");
  Require((TS_TST_INFO_get_nonce(parsed.get()) != nullptr) == request.nonce.has_value(),
          "the TSTInfo echoes a nonce exactly when the request had one");
  const int length = i2d_TS_TST_INFO(parsed.get(), nullptr);
  Bytes again(static_cast<size_t>(length > 0 ? length : 0));
  unsigned char* out = again.data();
  Require(length > 0 && i2d_TS_TST_INFO(parsed.get(), &out) == length && again == *tst_info,
          "the TSTInfo is DER (OpenSSL re-encodes it unchanged)");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const belfry::ByteSpan input(data, size);
  const evidence::TimeStampReqParse first = evidence::ParseTimeStampReq(input);
  Require(ERR_peek_error() == 0, "parsing leaves OpenSSL's error queue empty");
  Require(SameVerdict(first, evidence::ParseTimeStampReq(input)), "parsing is deterministic");
  if (const auto* request = std::get_if<evidence::TimeStampRequest>(&first)) {
    CheckAccepted(*request);
  } else {
    const auto& refusal = std::get<evidence::TimeStampRefusal>(first);
    Require(evidence::RejectionTimeStampResp(refusal.fail_info, refusal.reason).ok(),
            "every refusal makes a rejection response");
  }
  return 0;
}
