#include "evidence/timestamp_request.h"

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/ts.h>
#include <openssl/x509.h>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "evidence/internal/openssl.h"
#include "evidence/oids.h"

namespace belfry::evidence {
namespace {

using internal::Asn1ObjectPtr;
using internal::BignumPtr;
using internal::TsReqPtr;

TimeStampRefusal Refuse(FailureInfo info, std::string reason) {
  internal::ClearOpenSslErrors();
  return TimeStampRefusal{info, std::move(reason)};
}

// The imprint's hash from its AlgorithmIdentifier, or nullopt for any other algorithm or
// parameters other than absent / NULL (RFC 5754 §2 allows exactly those two).
std::optional<MessageImprint> ReadAlgorithm(const X509_ALGOR* algor) {
  const ASN1_OBJECT* oid = nullptr;
  int param_type = V_ASN1_UNDEF;
  const void* param = nullptr;
  X509_ALGOR_get0(&oid, &param_type, &param, algor);
  if (oid == nullptr || (param_type != V_ASN1_UNDEF && param_type != V_ASN1_NULL)) {
    return std::nullopt;
  }
  MessageImprint imprint;
  imprint.parameters_null = param_type == V_ASN1_NULL;
  struct Known {
    std::string_view oid;
    ImprintHash hash;
  };
  static constexpr Known kKnown[] = {{kSha256Oid, ImprintHash::kSha256},
                                     {kSha384Oid, ImprintHash::kSha384},
                                     {kSha512Oid, ImprintHash::kSha512}};
  for (const Known& k : kKnown) {
    const Asn1ObjectPtr want = internal::Object(k.oid);
    if (OBJ_cmp(oid, want.get()) == 0) {
      imprint.hash = k.hash;
      return imprint;
    }
  }
  return std::nullopt;
}

}  // namespace

size_t ImprintHashBytes(ImprintHash hash) {
  switch (hash) {
    case ImprintHash::kSha256:
      return 32;
    case ImprintHash::kSha384:
      return 48;
    case ImprintHash::kSha512:
      return 64;
  }
  BELFRY_CHECK(false);
}

std::string_view ImprintHashOid(ImprintHash hash) {
  switch (hash) {
    case ImprintHash::kSha256:
      return kSha256Oid;
    case ImprintHash::kSha384:
      return kSha384Oid;
    case ImprintHash::kSha512:
      return kSha512Oid;
  }
  BELFRY_CHECK(false);
}

std::optional<ImprintHash> ImprintHashFromOid(std::string_view oid) {
  for (ImprintHash hash : {ImprintHash::kSha256, ImprintHash::kSha384, ImprintHash::kSha512}) {
    if (oid == ImprintHashOid(hash)) return hash;
  }
  return std::nullopt;
}

const char* FailureInfoName(FailureInfo info) {
  switch (info) {
    case FailureInfo::kBadAlg:
      return "badAlg";
    case FailureInfo::kBadRequest:
      return "badRequest";
    case FailureInfo::kBadDataFormat:
      return "badDataFormat";
    case FailureInfo::kTimeNotAvailable:
      return "timeNotAvailable";
    case FailureInfo::kUnacceptedPolicy:
      return "unacceptedPolicy";
    case FailureInfo::kUnacceptedExtension:
      return "unacceptedExtension";
    case FailureInfo::kAddInfoNotAvailable:
      return "addInfoNotAvailable";
    case FailureInfo::kSystemFailure:
      return "systemFailure";
  }
  return "unknown";
}

TimeStampReqParse ParseTimeStampReq(ByteSpan der) {
  if (der.empty() || der.size() > kTimeStampReqBytesMax) {
    return Refuse(FailureInfo::kBadDataFormat,
                  absl::StrCat("a request must be 1..", kTimeStampReqBytesMax, " bytes"));
  }
  const unsigned char* p = der.data();
  TsReqPtr req(d2i_TS_REQ(nullptr, &p, static_cast<long>(der.size())));
  if (!req) {
    return Refuse(FailureInfo::kBadDataFormat, "the request is not a DER TimeStampReq");
  }
  if (p != der.data() + der.size()) {
    return Refuse(FailureInfo::kBadDataFormat, "trailing bytes after the request");
  }
  // TS_REQ_get_version reads the INTEGER as a long and gives -1 when it does not fit.
  if (TS_REQ_get_version(req.get()) != 1) {
    return Refuse(FailureInfo::kBadRequest, "the request version is not 1");
  }
  TS_MSG_IMPRINT* msg_imprint = TS_REQ_get_msg_imprint(req.get());
  if (msg_imprint == nullptr) {
    return Refuse(FailureInfo::kBadDataFormat, "the request has no message imprint");
  }
  std::optional<MessageImprint> imprint = ReadAlgorithm(TS_MSG_IMPRINT_get_algo(msg_imprint));
  if (!imprint.has_value()) {
    return Refuse(FailureInfo::kBadAlg,
                  "the message imprint's hash is not SHA-256, SHA-384 or SHA-512");
  }
  const ASN1_OCTET_STRING* hashed = TS_MSG_IMPRINT_get_msg(msg_imprint);
  if (hashed == nullptr ||
      static_cast<size_t>(ASN1_STRING_length(hashed)) != ImprintHashBytes(imprint->hash)) {
    return Refuse(FailureInfo::kBadDataFormat,
                  "the hashed message does not have the hash algorithm's length");
  }
  const unsigned char* hashed_bytes = ASN1_STRING_get0_data(hashed);
  imprint->hashed_message.assign(hashed_bytes, hashed_bytes + ASN1_STRING_length(hashed));

  const ASN1_OBJECT* policy = TS_REQ_get_policy_id(req.get());
  if (policy != nullptr) {
    const Asn1ObjectPtr ours = internal::Object(kTsaPolicyOid);
    if (OBJ_cmp(policy, ours.get()) != 0) {
      return Refuse(FailureInfo::kUnacceptedPolicy, "the requested policy is not the service's");
    }
  }

  TimeStampRequest out;
  out.imprint = std::move(*imprint);
  const ASN1_INTEGER* nonce = TS_REQ_get_nonce(req.get());
  if (nonce != nullptr) {
    BignumPtr bn(ASN1_INTEGER_to_BN(nonce, nullptr));
    if (!bn || BN_is_negative(bn.get()) ||
        BN_num_bits(bn.get()) > static_cast<int>(kNonceBitsMax)) {
      return Refuse(FailureInfo::kBadRequest,
                    absl::StrCat("the nonce is negative or above ", kNonceBitsMax, " bits"));
    }
    Bytes magnitude(static_cast<size_t>(BN_num_bytes(bn.get())));
    BN_bn2bin(bn.get(), magnitude.data());
    out.nonce = std::move(magnitude);
  }
  out.cert_req = TS_REQ_get_cert_req(req.get()) != 0;

  const STACK_OF(X509_EXTENSION)* extensions = TS_REQ_get_exts(req.get());
  if (extensions != nullptr && sk_X509_EXTENSION_num(extensions) == 0) {
    return Refuse(FailureInfo::kBadDataFormat, "the request has an empty extensions field");
  }
  if (extensions != nullptr) {
    return Refuse(FailureInfo::kUnacceptedExtension, "the service accepts no request extensions");
  }
  internal::ClearOpenSslErrors();
  return out;
}

}  // namespace belfry::evidence
