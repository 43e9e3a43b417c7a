#include "evidence/internal/signed_data.h"

#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "evidence/internal/der.h"
#include "evidence/internal/openssl.h"
#include "evidence/oids.h"

namespace belfry::evidence::internal {
namespace {

// Verifies the PKCS#1 v1.5 SHA-256 signature with the certificate's own key: the check
// a relying party will make, done once here so a bad combination of shares is caught by
// the service rather than by its users.
absl::Status CheckSignature(X509* cert, ByteSpan signed_attrs_der, ByteSpan signature) {
  EVP_PKEY* key = X509_get0_pubkey(cert);
  if (key == nullptr || EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) {
    ClearOpenSslErrors();
    return absl::InvalidArgumentError("the service certificate does not hold an RSA key");
  }
  if (signature.size() != static_cast<size_t>(EVP_PKEY_get_size(key))) {
    return absl::InvalidArgumentError(absl::StrCat("the signature has ", signature.size(),
                                                   " bytes, the key's modulus ",
                                                   EVP_PKEY_get_size(key)));
  }
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), &pctx, EVP_sha256(), nullptr, key) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "cannot set up RSA verification");
  }
  if (EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), signed_attrs_der.data(),
                       signed_attrs_der.size()) != 1) {
    ClearOpenSslErrors();
    return absl::PermissionDeniedError(
        "the signature does not verify with the service certificate's key over the signed "
        "attributes");
  }
  return absl::OkStatus();
}

}  // namespace

Bytes Attribute(std::string_view type_oid, ByteSpan value_der) {
  return Sequence({Oid(type_oid), SetOf({Bytes(value_der.begin(), value_der.end())})});
}

Bytes Sha256AlgorithmIdentifier() { return Sequence({Oid(kSha256Oid)}); }

absl::StatusOr<Bytes> AssembleSignedData(const SignedDataParts& parts) {
  if (parts.signed_attrs_der.size() > kSignedAttributesBytesMax) {
    return absl::InvalidArgumentError("the signed attributes are too large");
  }
  BELFRY_RETURN_IF_ERROR(CheckSingleTlv(parts.signed_attrs_der, kTagSet, "signed attributes"));
  if (parts.signature.empty() || parts.signature.size() > kRsaSignatureBytesMax) {
    return absl::InvalidArgumentError(
        absl::StrCat("the signature must be 1..", kRsaSignatureBytesMax, " bytes"));
  }
  BELFRY_ASSIGN_OR_RETURN(X509Ptr cert,
                          ParseCertificate(parts.service_cert_der, "the service certificate"));
  BELFRY_RETURN_IF_ERROR(CheckSignature(cert.get(), parts.signed_attrs_der, parts.signature));
  BELFRY_ASSIGN_OR_RETURN(IssuerAndSerial sid, GetIssuerAndSerial(cert.get()));

  const Bytes digest_alg = Sha256AlgorithmIdentifier();
  const Bytes signer_info = Sequence({
      Integer(1),  // v1: the signer is named by issuerAndSerialNumber
      Sequence({sid.issuer_name_der, sid.serial_der}),
      digest_alg,
      Retag(parts.signed_attrs_der, ContextConstructed(0)),  // signedAttrs [0] IMPLICIT
      Sequence({Oid(kRsaEncryptionOid), Null()}),
      OctetString(parts.signature),
  });

  Bytes encap;
  if (parts.econtent.has_value()) {
    encap = Sequence({Oid(parts.econtent_type_oid),
                      Constructed(ContextConstructed(0), {OctetString(*parts.econtent)})});
  } else {
    encap = Sequence({Oid(parts.econtent_type_oid)});
  }
  // RFC 5652 §5.1: version 1 only for id-data with v1 signers and plain certificates.
  const uint64_t version = parts.econtent_type_oid == kIdDataOid ? 1 : 3;
  Bytes certificates;
  if (parts.include_certificate) {
    certificates = Constructed(ContextConstructed(0), {parts.service_cert_der});
  }
  const Bytes signed_data = Sequence({
      Integer(version),
      SetOf({digest_alg}),
      encap,
      certificates,
      SetOf({signer_info}),
  });
  return Sequence({Oid(kIdSignedDataOid), Constructed(ContextConstructed(0), {signed_data})});
}

}  // namespace belfry::evidence::internal
