#include "evidence/timestamp_token.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/sha256.h"
#include "base/status.h"
#include "evidence/internal/der.h"
#include "evidence/internal/openssl.h"
#include "evidence/internal/signed_data.h"
#include "evidence/oids.h"

namespace belfry::evidence {
namespace {

using internal::ContextConstructed;
using internal::ContextPrimitive;

// PKIStatus values (RFC 3161 §2.4.2).
constexpr uint64_t kStatusGranted = 0;
constexpr uint64_t kStatusRejection = 2;

absl::Status CheckMagnitude(ByteSpan magnitude, absl::string_view what) {
  const ByteSpan trimmed = internal::TrimLeadingZeros(magnitude);
  const size_t bytes_max = kSerialNumberBitsMax / 8;
  if (trimmed.size() > bytes_max) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is above ", kSerialNumberBitsMax, " bits"));
  }
  return absl::OkStatus();
}

absl::StatusOr<Bytes> MessageImprintDer(const MessageImprint& imprint) {
  if (imprint.hashed_message.size() != ImprintHashBytes(imprint.hash)) {
    return absl::InvalidArgumentError("the hashed message does not have the hash's length");
  }
  const Bytes oid = internal::Oid(ImprintHashOid(imprint.hash));
  const Bytes algorithm = imprint.parameters_null ? internal::Sequence({oid, internal::Null()})
                                                  : internal::Sequence({oid});
  return internal::Sequence({algorithm, internal::OctetString(imprint.hashed_message)});
}

absl::StatusOr<Bytes> AccuracyDer(const Accuracy& accuracy) {
  if (accuracy.millis > 999 || accuracy.micros > 999) {
    return absl::InvalidArgumentError("accuracy millis and micros must be 0..999");
  }
  if (accuracy.seconds == 0 && accuracy.millis == 0 && accuracy.micros == 0) {
    return Bytes{};
  }
  Bytes seconds;
  Bytes millis;
  Bytes micros;
  if (accuracy.seconds != 0) {
    seconds = internal::Integer(accuracy.seconds);
  }
  // millis [0] and micros [1] are IMPLICIT INTEGERs: the INTEGER with its tag replaced.
  if (accuracy.millis != 0) {
    millis = internal::Retag(internal::Integer(accuracy.millis), ContextPrimitive(0));
  }
  if (accuracy.micros != 0) {
    micros = internal::Retag(internal::Integer(accuracy.micros), ContextPrimitive(1));
  }
  return internal::Sequence({seconds, millis, micros});
}

// Extensions [1] IMPLICIT: one Extension { extnID, extnValue OCTET STRING { OCTET STRING
// log head } }, critical left out as DER does for its default FALSE.
Bytes LogHeadExtensions(const std::array<uint8_t, kLogHeadBytes>& log_head) {
  const Bytes extension =
      internal::Sequence({internal::Oid(kLogHeadExtensionOid),
                          internal::OctetString(internal::OctetString(log_head))});
  return internal::Constructed(ContextConstructed(1), {extension});
}

// SigningCertificateV2 { certs SEQUENCE OF ESSCertIDv2 } with one ESSCertIDv2 { certHash,
// issuerSerial { issuer GeneralNames { [4] directoryName }, serialNumber } }; the
// hashAlgorithm is SHA-256, its DEFAULT, so DER leaves it out (RFC 5035 §4).
absl::StatusOr<Bytes> SigningCertificateV2(ByteSpan service_cert_der) {
  BELFRY_ASSIGN_OR_RETURN(internal::X509Ptr cert,
                          internal::ParseCertificate(service_cert_der, "the service certificate"));
  BELFRY_ASSIGN_OR_RETURN(internal::IssuerAndSerial sid, internal::GetIssuerAndSerial(cert.get()));
  const Sha256Digest cert_hash = Sha256Of(service_cert_der.data(), service_cert_der.size());
  // directoryName's [4] is EXPLICIT: GeneralName is a CHOICE and Name is one too.
  const Bytes general_names =
      internal::Sequence({internal::Constructed(ContextConstructed(4), {sid.issuer_name_der})});
  const Bytes ess_cert_id = internal::Sequence(
      {internal::OctetString(cert_hash), internal::Sequence({general_names, sid.serial_der})});
  return internal::Sequence({internal::Sequence({ess_cert_id})});
}

}  // namespace

absl::StatusOr<Bytes> TstInfoDer(const TstInfoFields& fields) {
  BELFRY_ASSIGN_OR_RETURN(Bytes imprint, MessageImprintDer(fields.imprint));
  BELFRY_RETURN_IF_ERROR(CheckMagnitude(fields.serial_number, "the serial number"));
  BELFRY_ASSIGN_OR_RETURN(Bytes gen_time, internal::GeneralizedTimeMs(fields.consensus_time_ms));
  BELFRY_ASSIGN_OR_RETURN(Bytes accuracy, AccuracyDer(fields.accuracy));
  Bytes nonce;
  if (fields.nonce.has_value()) {
    BELFRY_RETURN_IF_ERROR(CheckMagnitude(*fields.nonce, "the nonce"));
    nonce = internal::UnsignedInteger(*fields.nonce);
  }
  // ordering is FALSE, its DEFAULT, so it is absent; tsa is absent (the signer's
  // certificate names the service).
  return internal::Sequence({
      internal::Integer(1),
      internal::Oid(kTsaPolicyOid),
      imprint,
      internal::UnsignedInteger(fields.serial_number),
      gen_time,
      accuracy,
      nonce,
      LogHeadExtensions(fields.log_head),
  });
}

absl::StatusOr<Bytes> TimeStampTokenSignedAttributesDer(ByteSpan tst_info_der,
                                                        ByteSpan service_cert_der) {
  if (tst_info_der.size() > kTstInfoBytesMax) {
    return absl::InvalidArgumentError("the TSTInfo is too large");
  }
  BELFRY_RETURN_IF_ERROR(internal::CheckSingleTlv(tst_info_der, internal::kTagSequence, "TSTInfo"));
  BELFRY_ASSIGN_OR_RETURN(Bytes signing_certificate, SigningCertificateV2(service_cert_der));
  const Sha256Digest digest = Sha256Of(tst_info_der.data(), tst_info_der.size());
  std::vector<Bytes> attributes;
  attributes.push_back(
      internal::Attribute(kContentTypeAttributeOid, internal::Oid(kIdCtTstInfoOid)));
  attributes.push_back(
      internal::Attribute(kMessageDigestAttributeOid, internal::OctetString(digest)));
  attributes.push_back(internal::Attribute(kSigningCertificateV2AttributeOid, signing_certificate));
  return internal::SetOf(std::move(attributes));
}

absl::StatusOr<Bytes> AssembleTimeStampToken(ByteSpan tst_info_der, ByteSpan signed_attrs_der,
                                             ByteSpan rsa_signature, ByteSpan service_cert_der,
                                             bool include_certificate) {
  // Recomputed rather than trusted: attributes signed over another TSTInfo or for
  // another certificate would make a token that verifies nowhere.
  BELFRY_ASSIGN_OR_RETURN(Bytes expected,
                          TimeStampTokenSignedAttributesDer(tst_info_der, service_cert_der));
  if (!std::equal(expected.begin(), expected.end(), signed_attrs_der.begin(),
                  signed_attrs_der.end())) {
    return absl::InvalidArgumentError(
        "the signed attributes are not those of this TSTInfo and service certificate");
  }
  internal::SignedDataParts parts;
  parts.econtent_type_oid = kIdCtTstInfoOid;
  parts.econtent = tst_info_der;
  parts.signed_attrs_der = signed_attrs_der;
  parts.signature = rsa_signature;
  parts.service_cert_der = service_cert_der;
  parts.include_certificate = include_certificate;
  return internal::AssembleSignedData(parts);
}

absl::StatusOr<Bytes> GrantedTimeStampResp(ByteSpan token_der) {
  if (token_der.size() > kTimeStampTokenBytesMax) {
    return absl::InvalidArgumentError("the time-stamp token is too large");
  }
  BELFRY_RETURN_IF_ERROR(
      internal::CheckSingleTlv(token_der, internal::kTagSequence, "time-stamp token"));
  return internal::Sequence({internal::Sequence({internal::Integer(kStatusGranted)}), token_der});
}

absl::StatusOr<Bytes> RejectionTimeStampResp(FailureInfo fail_info,
                                             std::string_view status_string) {
  Bytes text;
  if (!status_string.empty()) {
    if (status_string.size() > kStatusStringBytesMax) {
      return absl::InvalidArgumentError("the status string is too long");
    }
    BELFRY_ASSIGN_OR_RETURN(Bytes utf8, internal::Utf8String(status_string));
    text = internal::Sequence({utf8});  // PKIFreeText ::= SEQUENCE SIZE (1..MAX) OF UTF8String
  }
  const Bytes status_info = internal::Sequence({
      internal::Integer(kStatusRejection),
      text,
      internal::NamedBit(static_cast<uint32_t>(fail_info)),
  });
  return internal::Sequence({status_info});
}

}  // namespace belfry::evidence
