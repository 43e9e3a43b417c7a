#include "evidence/service_certificate.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <array>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "evidence/internal/openssl.h"

namespace belfry::evidence {
namespace {

using internal::Asn1IntegerPtr;
using internal::BignumPtr;
using internal::EvpPkeyPtr;
using internal::OpenSslError;
using internal::X509ExtensionPtr;
using internal::X509Ptr;

constexpr size_t kCommonNameBytesMax = 64;
constexpr size_t kSerialBytes = 16;

absl::Status CheckRequest(const ServiceCertificateRequest& request) {
  if (request.common_name.empty() || request.common_name.size() > kCommonNameBytesMax) {
    return absl::InvalidArgumentError("common name must be 1..64 bytes");
  }
  for (char c : request.common_name) {
    const auto b = static_cast<unsigned char>(c);
    if (b < 0x20 || b == 0x7f) {
      return absl::InvalidArgumentError("common name has a control character");
    }
  }
  if (request.not_after_unix_s <= request.not_before_unix_s) {
    return absl::InvalidArgumentError("validity interval is empty (notAfter <= notBefore)");
  }
  return absl::OkStatus();
}

absl::StatusOr<EvpPkeyPtr> ParseRsaPublicKey(ByteSpan der) {
  if (der.empty() || der.size() > kPublicKeyBytesMax) {
    return absl::InvalidArgumentError("the service public key must be 1..4096 bytes of DER");
  }
  const unsigned char* p = der.data();
  EvpPkeyPtr key(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
  if (!key || p != der.data() + der.size()) {
    return OpenSslError(absl::StatusCode::kInvalidArgument,
                        "the service public key is not one DER SubjectPublicKeyInfo");
  }
  if (EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_RSA ||
      EVP_PKEY_get_bits(key.get()) < kServiceRsaBitsMin) {
    return absl::InvalidArgumentError(
        absl::StrCat("the service key must be RSA of at least ", kServiceRsaBitsMin, " bits"));
  }
  return key;
}

absl::Status SetRandomSerial(X509* cert) {
  std::array<unsigned char, kSerialBytes> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "cannot draw a serial number");
  }
  bytes[0] = static_cast<unsigned char>((bytes[0] & 0x7f) | 0x40);  // positive, full length
  BignumPtr bn(BN_bin2bn(bytes.data(), static_cast<int>(bytes.size()), nullptr));
  Asn1IntegerPtr serial(bn ? BN_to_ASN1_INTEGER(bn.get(), nullptr) : nullptr);
  if (!serial || X509_set_serialNumber(cert, serial.get()) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "cannot set the serial number");
  }
  return absl::OkStatus();
}

absl::Status SetSubject(X509* cert, std::string_view cn) {
  X509_NAME* name = X509_get_subject_name(cert);
  constexpr std::string_view kOu = "service";
  if (X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(cn.data()),
                                 static_cast<int>(cn.size()), -1, 0) != 1 ||
      X509_NAME_add_entry_by_NID(name, NID_organizationalUnitName, MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(kOu.data()),
                                 static_cast<int>(kOu.size()), -1, 0) != 1) {
    return OpenSslError(absl::StatusCode::kInvalidArgument, "cannot set the subject");
  }
  return absl::OkStatus();
}

absl::Status AddExtensions(X509* cert, X509* ca) {
  struct Extension {
    int nid;
    const char* value;
  };
  static constexpr Extension kExtensions[] = {
      {NID_basic_constraints, "critical,CA:FALSE"},
      {NID_key_usage, "critical,digitalSignature,nonRepudiation"},
      // RFC 3161 §2.3: timeStamping only, and critical.
      {NID_ext_key_usage, "critical,timeStamping"},
      {NID_subject_key_identifier, "hash"},
      {NID_authority_key_identifier, "keyid:always"},
  };
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, ca, cert, nullptr, nullptr, 0);
  for (const Extension& e : kExtensions) {
    X509ExtensionPtr ext(X509V3_EXT_nconf_nid(nullptr, &ctx, e.nid, e.value));
    if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
      return OpenSslError(absl::StatusCode::kInternal,
                          absl::StrCat("cannot add extension ", OBJ_nid2sn(e.nid)));
    }
  }
  return absl::OkStatus();
}

// Ed25519 and Ed448 sign the whole TBSCertificate and take no digest.
const EVP_MD* SigningDigest(EVP_PKEY* key) {
  const int id = EVP_PKEY_get_base_id(key);
  return id == EVP_PKEY_ED25519 || id == EVP_PKEY_ED448 ? nullptr : EVP_sha256();
}

}  // namespace

absl::StatusOr<Bytes> IssueServiceCertificate(ByteSpan ca_cert_der, EVP_PKEY* ca_key,
                                              ByteSpan service_public_key_der,
                                              const ServiceCertificateRequest& request) {
  BELFRY_RETURN_IF_ERROR(CheckRequest(request));
  if (ca_key == nullptr) {
    return absl::InvalidArgumentError("no CA key");
  }
  BELFRY_ASSIGN_OR_RETURN(X509Ptr ca,
                          internal::ParseCertificate(ca_cert_der, "the CA certificate"));
  if (X509_check_private_key(ca.get(), ca_key) != 1) {
    return OpenSslError(absl::StatusCode::kInvalidArgument,
                        "the CA key does not match the CA certificate");
  }
  BELFRY_ASSIGN_OR_RETURN(EvpPkeyPtr subject_key, ParseRsaPublicKey(service_public_key_der));

  X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "cannot allocate a certificate");
  }
  BELFRY_RETURN_IF_ERROR(SetRandomSerial(cert.get()));
  if (ASN1_TIME_set(X509_getm_notBefore(cert.get()),
                    static_cast<time_t>(request.not_before_unix_s)) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert.get()),
                    static_cast<time_t>(request.not_after_unix_s)) == nullptr) {
    return OpenSslError(absl::StatusCode::kInvalidArgument, "cannot set the validity");
  }
  BELFRY_RETURN_IF_ERROR(SetSubject(cert.get(), request.common_name));
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(ca.get())) != 1 ||
      X509_set_pubkey(cert.get(), subject_key.get()) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "cannot set the issuer or the key");
  }
  BELFRY_RETURN_IF_ERROR(AddExtensions(cert.get(), ca.get()));
  if (X509_sign(cert.get(), ca_key, SigningDigest(ca_key)) <= 0) {
    return OpenSslError(absl::StatusCode::kInternal, "cannot sign the certificate");
  }
  const int len = i2d_X509(cert.get(), nullptr);
  if (len <= 0) {
    return OpenSslError(absl::StatusCode::kInternal, "cannot encode the certificate");
  }
  Bytes der(static_cast<size_t>(len));
  unsigned char* p = der.data();
  if (i2d_X509(cert.get(), &p) != len) {
    return OpenSslError(absl::StatusCode::kInternal, "cannot encode the certificate");
  }
  return der;
}

}  // namespace belfry::evidence
