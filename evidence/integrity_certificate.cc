#include "evidence/integrity_certificate.h"

#include <openssl/asn1.h>
#include <openssl/cms.h>
#include <openssl/x509v3.h>

#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "evidence/internal/der.h"
#include "evidence/internal/openssl.h"
#include "evidence/internal/signed_data.h"
#include "evidence/oids.h"

namespace belfry::evidence {

using internal::Asn1ObjectPtr;
using internal::BioPtr;
using internal::CmsPtr;
using internal::OpenSslError;
using internal::X509Ptr;
using internal::X509StorePtr;

namespace {

struct X509StackFree {
  void operator()(STACK_OF(X509) * s) const { sk_X509_free(s); }
};
using X509StackPtr = std::unique_ptr<STACK_OF(X509), X509StackFree>;

absl::StatusOr<Bytes> TextAttribute(std::string_view oid, absl::string_view what,
                                    std::string_view text) {
  if (text.empty() || text.size() > kAttributeTextBytesMax) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " must be 1..", kAttributeTextBytesMax, " bytes"));
  }
  absl::StatusOr<Bytes> value = internal::Utf8String(text);
  if (!value.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", value.status().message()));
  }
  return internal::Attribute(oid, *value);
}

// The one value of the signed attribute `oid`, which must appear exactly once with
// exactly one value (RFC 5652 §11 asks that of its own attributes; Belfry's follow suit).
absl::StatusOr<const ASN1_TYPE*> SingleValue(CMS_SignerInfo* si, std::string_view oid,
                                             absl::string_view what) {
  const Asn1ObjectPtr obj = internal::Object(oid);
  const int index = CMS_signed_get_attr_by_OBJ(si, obj.get(), -1);
  if (index < 0) {
    return absl::InvalidArgumentError(absl::StrCat("no ", what, " attribute"));
  }
  if (CMS_signed_get_attr_by_OBJ(si, obj.get(), index) >= 0) {
    return absl::InvalidArgumentError(absl::StrCat("more than one ", what, " attribute"));
  }
  X509_ATTRIBUTE* attr = CMS_signed_get_attr(si, index);
  if (attr == nullptr || X509_ATTRIBUTE_count(attr) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("the ", what, " attribute needs one value"));
  }
  const ASN1_TYPE* value = X509_ATTRIBUTE_get0_type(attr, 0);
  if (value == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("the ", what, " attribute has no value"));
  }
  return value;
}

absl::StatusOr<std::string> ReadText(CMS_SignerInfo* si, std::string_view oid,
                                     absl::string_view what) {
  BELFRY_ASSIGN_OR_RETURN(const ASN1_TYPE* value, SingleValue(si, oid, what));
  if (value->type != V_ASN1_UTF8STRING) {
    return absl::InvalidArgumentError(absl::StrCat("the ", what, " is not a UTF8String"));
  }
  const ASN1_STRING* s = value->value.utf8string;
  const auto length = static_cast<size_t>(ASN1_STRING_length(s));
  std::string text(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)), length);
  if (text.empty() || text.size() > kAttributeTextBytesMax || !internal::IsWellFormedUtf8(text)) {
    return absl::InvalidArgumentError(
        absl::StrCat("the ", what, " is empty, too long or not UTF-8"));
  }
  return text;
}

absl::StatusOr<uint64_t> ReadVersion(CMS_SignerInfo* si) {
  BELFRY_ASSIGN_OR_RETURN(const ASN1_TYPE* value, SingleValue(si, kVersionAttributeOid, "version"));
  uint64_t version = 0;
  if (value->type != V_ASN1_INTEGER ||
      ASN1_INTEGER_get_uint64(&version, value->value.integer) != 1) {
    internal::ClearOpenSslErrors();
    return absl::InvalidArgumentError("the version is not an INTEGER in 0..2^64-1");
  }
  return version;
}

absl::StatusOr<int64_t> ReadSigningTimeMs(CMS_SignerInfo* si) {
  BELFRY_ASSIGN_OR_RETURN(const ASN1_TYPE* value,
                          SingleValue(si, kSigningTimeAttributeOid, "signingTime"));
  if (value->type != V_ASN1_UTCTIME && value->type != V_ASN1_GENERALIZEDTIME) {
    return absl::InvalidArgumentError("the signingTime is not a UTCTime or GeneralizedTime");
  }
  using Asn1TimePtr = std::unique_ptr<ASN1_TIME, internal::Deleter<ASN1_TIME, ASN1_TIME_free>>;
  Asn1TimePtr epoch(ASN1_TIME_set(nullptr, 0));
  int days = 0;
  int seconds = 0;
  if (!epoch || ASN1_TIME_diff(&days, &seconds, epoch.get(), value->value.asn1_string) != 1) {
    internal::ClearOpenSslErrors();
    return absl::InvalidArgumentError("the signingTime is malformed");
  }
  return (static_cast<int64_t>(days) * 86400 + seconds) * 1000;
}

absl::Status CheckContentTypeIsData(CMS_SignerInfo* si) {
  BELFRY_ASSIGN_OR_RETURN(const ASN1_TYPE* value,
                          SingleValue(si, kContentTypeAttributeOid, "contentType"));
  const Asn1ObjectPtr data = internal::Object(kIdDataOid);
  if (value->type != V_ASN1_OBJECT || OBJ_cmp(value->value.object, data.get()) != 0) {
    return absl::InvalidArgumentError("the contentType attribute is not id-data");
  }
  return absl::OkStatus();
}

absl::StatusOr<Sha256Digest> ReadMessageDigest(CMS_SignerInfo* si) {
  BELFRY_ASSIGN_OR_RETURN(const ASN1_TYPE* value,
                          SingleValue(si, kMessageDigestAttributeOid, "messageDigest"));
  Sha256Digest digest{};
  if (value->type != V_ASN1_OCTET_STRING ||
      ASN1_STRING_length(value->value.octet_string) != static_cast<int>(digest.size())) {
    return absl::InvalidArgumentError("the messageDigest is not a SHA-256 digest");
  }
  std::memcpy(digest.data(), ASN1_STRING_get0_data(value->value.octet_string), digest.size());
  return digest;
}

absl::StatusOr<CmsPtr> ParseDetachedData(ByteSpan cms_der) {
  if (cms_der.empty() || cms_der.size() > kIntegrityCertificateBytesMax) {
    return absl::InvalidArgumentError(absl::StrCat("an integrity certificate must be 1..",
                                                   kIntegrityCertificateBytesMax, " bytes"));
  }
  const unsigned char* p = cms_der.data();
  CmsPtr cms(d2i_CMS_ContentInfo(nullptr, &p, static_cast<long>(cms_der.size())));
  if (!cms) {
    return OpenSslError(absl::StatusCode::kInvalidArgument,
                        "cannot parse the integrity certificate");
  }
  if (p != cms_der.data() + cms_der.size()) {
    return absl::InvalidArgumentError("trailing bytes after the integrity certificate");
  }
  if (OBJ_obj2nid(CMS_get0_type(cms.get())) != NID_pkcs7_signed ||
      OBJ_obj2nid(CMS_get0_eContentType(cms.get())) != NID_pkcs7_data ||
      CMS_is_detached(cms.get()) != 1) {
    return absl::InvalidArgumentError(
        "an integrity certificate is a detached SignedData over id-data");
  }
  STACK_OF(CMS_SignerInfo)* signers = CMS_get0_SignerInfos(cms.get());
  if (signers == nullptr || sk_CMS_SignerInfo_num(signers) != 1) {
    return absl::InvalidArgumentError("an integrity certificate has exactly one signer");
  }
  return cms;
}

// The trust store: the CA, the caller's time, and the time-stamping purpose, which
// requires the leaf's extendedKeyUsage to be timeStamping alone and critical (RFC 3161
// §2.3) — the service certificate and no other kind of certificate signs evidence.
absl::StatusOr<X509StorePtr> MakeStore(X509* ca, int64_t at_unix_s) {
  X509StorePtr store(X509_STORE_new());
  if (!store || X509_STORE_add_cert(store.get(), ca) != 1 ||
      X509_STORE_set_purpose(store.get(), X509_PURPOSE_TIMESTAMP_SIGN) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "cannot build the trust store");
  }
  X509_VERIFY_PARAM_set_time(X509_STORE_get0_param(store.get()), static_cast<time_t>(at_unix_s));
  return store;
}

}  // namespace

absl::StatusOr<Bytes> IntegritySignedAttributesDer(const IntegrityFacts& facts) {
  BELFRY_ASSIGN_OR_RETURN(Bytes signing_time, internal::SigningTime(facts.consensus_time_ms));
  std::vector<Bytes> attributes;
  attributes.push_back(internal::Attribute(kContentTypeAttributeOid, internal::Oid(kIdDataOid)));
  attributes.push_back(internal::Attribute(kMessageDigestAttributeOid,
                                           internal::OctetString(facts.document_sha256)));
  attributes.push_back(internal::Attribute(kSigningTimeAttributeOid, signing_time));
  BELFRY_ASSIGN_OR_RETURN(Bytes cluster,
                          TextAttribute(kClusterIdAttributeOid, "cluster id", facts.cluster_id));
  attributes.push_back(std::move(cluster));
  BELFRY_ASSIGN_OR_RETURN(
      Bytes name, TextAttribute(kDocumentNameAttributeOid, "document name", facts.document_name));
  attributes.push_back(std::move(name));
  attributes.push_back(internal::Attribute(kVersionAttributeOid, internal::Integer(facts.version)));
  BELFRY_ASSIGN_OR_RETURN(Bytes owner, TextAttribute(kOwnerAttributeOid, "owner", facts.owner));
  attributes.push_back(std::move(owner));
  return internal::SetOf(std::move(attributes));
}

absl::StatusOr<Bytes> AssembleIntegrityCertificate(ByteSpan signed_attrs_der,
                                                   ByteSpan rsa_signature,
                                                   ByteSpan service_cert_der) {
  internal::SignedDataParts parts;
  parts.econtent_type_oid = kIdDataOid;
  parts.signed_attrs_der = signed_attrs_der;
  parts.signature = rsa_signature;
  parts.service_cert_der = service_cert_der;
  parts.include_certificate = true;
  return internal::AssembleSignedData(parts);
}

absl::StatusOr<VerifiedIntegrity> VerifyIntegrityCertificate(ByteSpan cms_der, ByteSpan document,
                                                             ByteSpan ca_cert_der,
                                                             ByteSpan service_cert_der,
                                                             int64_t at_unix_s) {
  BELFRY_ASSIGN_OR_RETURN(CmsPtr cms, ParseDetachedData(cms_der));
  BELFRY_ASSIGN_OR_RETURN(X509Ptr ca,
                          internal::ParseCertificate(ca_cert_der, "the CA certificate"));
  BELFRY_ASSIGN_OR_RETURN(X509Ptr service,
                          internal::ParseCertificate(service_cert_der, "the service certificate"));
  BELFRY_ASSIGN_OR_RETURN(X509StorePtr store, MakeStore(ca.get(), at_unix_s));
  X509StackPtr certs(sk_X509_new_null());
  BioPtr content = internal::MemoryBio(document);
  if (!certs || sk_X509_push(certs.get(), service.get()) <= 0 || !content) {
    return OpenSslError(absl::StatusCode::kInternal, "cannot set up CMS verification");
  }
  // CMS_NOINTERN: the signer must be found among the certificates the caller trusts to be
  // the service's, never among those the input brought along.
  if (CMS_verify(cms.get(), certs.get(), store.get(), content.get(), nullptr,
                 CMS_BINARY | CMS_NOINTERN) != 1) {
    return OpenSslError(absl::StatusCode::kPermissionDenied,
                        "the integrity certificate does not verify");
  }
  // A new stack of certificates the CMS structure still owns: only the stack is freed.
  X509StackPtr signers(CMS_get0_signers(cms.get()));
  if (!signers || sk_X509_num(signers.get()) != 1 ||
      X509_cmp(sk_X509_value(signers.get(), 0), service.get()) != 0) {
    return absl::PermissionDeniedError("the integrity certificate's signer is not the service");
  }
  CMS_SignerInfo* si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms.get()), 0);
  BELFRY_RETURN_IF_ERROR(CheckContentTypeIsData(si));
  VerifiedIntegrity out;
  BELFRY_ASSIGN_OR_RETURN(out.document_sha256, ReadMessageDigest(si));
  BELFRY_ASSIGN_OR_RETURN(out.consensus_time_ms, ReadSigningTimeMs(si));
  BELFRY_ASSIGN_OR_RETURN(out.cluster_id, ReadText(si, kClusterIdAttributeOid, "cluster id"));
  BELFRY_ASSIGN_OR_RETURN(out.document_name,
                          ReadText(si, kDocumentNameAttributeOid, "document name"));
  BELFRY_ASSIGN_OR_RETURN(out.version, ReadVersion(si));
  BELFRY_ASSIGN_OR_RETURN(out.owner, ReadText(si, kOwnerAttributeOid, "owner"));
  return out;
}

}  // namespace belfry::evidence
