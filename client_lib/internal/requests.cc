#include "client_lib/internal/requests.h"

#include <sodium.h>

#include <algorithm>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "base/check.h"
#include "base/files.h"
#include "base/status.h"
#include "client_lib/document_crypto.h"
#include "client_lib/internal/errors.h"
#include "evidence/integrity_certificate.h"
#include "evidence/timestamp_token.h"
#include "pki/issuer.h"
#include "threshold/rsa/key_file.h"
#include "threshold/tdh2.h"
#include "transport/tls.h"
#include "wire/document_name.h"
#include "wire/request_format.h"

namespace belfry::client::internal {
namespace {

std::string ToString(ByteSpan b) { return std::string(AsStringView(b)); }

absl::string_view AsAbslView(const Bytes& b) {
  return absl::string_view(reinterpret_cast<const char*>(b.data()), b.size());
}

void EnsureSodium() {
  // sodium_init is idempotent and thread-safe; a failure leaves libsodium unusable.
  BELFRY_CHECK(sodium_init() >= 0);
}

}  // namespace

// ---- SessionKey ----

SessionKey SessionKey::Generate() {
  EnsureSodium();
  std::array<uint8_t, 32> seed{};
  randombytes_buf(seed.data(), seed.size());
  SessionKey key = FromSeed(seed);
  SecureWipe(seed.data(), seed.size());
  return key;
}

SessionKey SessionKey::FromSeed(const std::array<uint8_t, 32>& seed) {
  EnsureSodium();
  SessionKey key;
  key.seed_ = seed;
  crypto_sign_seed_keypair(key.public_key_.data(), key.secret_key_.data(), key.seed_.data());
  return key;
}

SessionKey::SessionKey(SessionKey&& other) noexcept
    : seed_(other.seed_), secret_key_(other.secret_key_), public_key_(other.public_key_) {
  other.Wipe();
}

SessionKey& SessionKey::operator=(SessionKey&& other) noexcept {
  if (this != &other) {
    seed_ = other.seed_;
    secret_key_ = other.secret_key_;
    public_key_ = other.public_key_;
    other.Wipe();
  }
  return *this;
}

SessionKey::~SessionKey() { Wipe(); }

void SessionKey::Wipe() {
  SecureWipe(seed_.data(), seed_.size());
  SecureWipe(secret_key_.data(), secret_key_.size());
}

std::string SessionKey::public_key_string() const { return ToString(ByteSpan(public_key_)); }

std::string SessionKey::Sign(ByteSpan message) const {
  std::string sig(crypto_sign_BYTES, '\0');
  crypto_sign_detached(reinterpret_cast<uint8_t*>(sig.data()), nullptr, message.data(),
                       message.size(), secret_key_.data());
  return sig;
}

// ---- requests ----

namespace {

// The SignedRequest of `body_bytes` with `signature`, and its id.
BuiltRequest Signed(std::string body_bytes, std::string signature) {
  pb::SignedRequest request;
  request.set_body(std::move(body_bytes));
  request.set_signature(std::move(signature));
  BuiltRequest out;
  out.bytes = request.SerializeAsString();
  out.id = wire::RequestId(out.bytes);
  return out;
}

}  // namespace

absl::StatusOr<BuiltRequest> BuildLogin(const std::string& cluster_id, const std::string& uid,
                                        const std::string& cert_der,
                                        const pki::Ed25519PrivateKey& user_key,
                                        const SessionKey& session, int64_t client_time_ms,
                                        Rng& rng) {
  std::string nonce(kLoginNonceBytes, '\0');
  rng.Fill(std::span<uint8_t>(reinterpret_cast<uint8_t*>(nonce.data()), nonce.size()));
  pb::RequestBody body;
  body.set_cluster_id(cluster_id);
  pb::Login* login = body.mutable_login();
  login->set_uid(uid);
  login->set_user_cert_der(cert_der);
  login->set_session_public_key(session.public_key_string());
  login->set_client_time_ms(client_time_ms);
  login->set_nonce(nonce);
  login->set_session_key_proof(session.Sign(wire::SessionKeyProofMessage(
      cluster_id, uid, ByteSpan(session.public_key()), client_time_ms, AsBytes(nonce))));
  const std::string body_bytes = body.SerializeAsString();
  BELFRY_ASSIGN_OR_RETURN(pki::Ed25519Signature sig,
                          user_key.Sign(wire::RequestSigningMessage(body_bytes)));
  return Signed(body_bytes, ToString(ByteSpan(sig)));
}

BuiltRequest BuildSessionOp(const std::string& cluster_id, const SessionKey& session,
                            uint64_t seq, pb::SessionOp op) {
  pb::RequestBody body;
  body.set_cluster_id(cluster_id);
  *body.mutable_op() = std::move(op);
  body.mutable_op()->set_session_public_key(session.public_key_string());
  body.mutable_op()->set_seq(seq);
  std::string body_bytes = body.SerializeAsString();
  std::string signature = session.Sign(wire::RequestSigningMessage(body_bytes));
  return Signed(std::move(body_bytes), std::move(signature));
}

// ---- confidential documents ----

absl::StatusOr<SealedDocument> SealConfidential(const std::string& cluster_id,
                                                const std::string& doc,
                                                const std::string& plaintext,
                                                const threshold::PublicKeySet& keys, Rng& rng) {
  SealedDocument out;
  out.version_nonce.assign(wire::kVersionNonceBytes, '\0');
  rng.Fill(std::span<uint8_t>(reinterpret_cast<uint8_t*>(out.version_nonce.data()),
                              out.version_nonce.size()));
  const Bytes label = wire::DocumentLabel(cluster_id, doc, AsBytes(out.version_nonce));
  const DataKey key = DataKey::Generate(rng);
  out.data = SealDocument(key, AsAbslView(label), plaintext, rng);
  BELFRY_ASSIGN_OR_RETURN(threshold::SymmetricKey tdh2_key,
                          threshold::SymmetricKey::FromBytes(ByteSpan(key.bytes())));
  BELFRY_ASSIGN_OR_RETURN(threshold::Ciphertext ciphertext,
                          threshold::Encrypt(keys, AsStringView(label), tdh2_key, rng));
  out.key_ciphertext = ciphertext.Serialize();
  return out;
}

namespace {

// The key ciphertext of a checkout, refused unless it carries the document's own label.
absl::StatusOr<threshold::Ciphertext> CheckedCiphertext(const std::string& cluster_id,
                                                        const threshold::PublicKeySet& keys,
                                                        const pb::CheckOutResult& result,
                                                        Bytes* label) {
  *label = wire::DocumentLabel(cluster_id, result.doc(), AsBytes(result.version_nonce()));
  absl::StatusOr<threshold::Ciphertext> ciphertext =
      threshold::Ciphertext::Parse(AsBytes(result.key_ciphertext()));
  if (!ciphertext.ok()) {
    return MakeError(ErrorKind::kIntegrity,
                     absl::StrCat("the document's key ciphertext does not parse: ",
                                  ciphertext.status().message()));
  }
  if (ciphertext->label != AsStringView(*label)) {
    return MakeError(ErrorKind::kIntegrity,
                     "the document's key ciphertext carries another document's label");
  }
  // Replicas checked it at checkin, but 2f+1 of them agreeing does not make a stored
  // ciphertext well formed if the checkin was not ours: shares are only meaningful for a
  // ciphertext whose proof holds.
  if (!threshold::VerifyCiphertext(keys, *ciphertext).ok()) {
    return MakeError(ErrorKind::kIntegrity,
                     "the document's key ciphertext does not verify under the service key");
  }
  return ciphertext;
}

std::vector<threshold::DecryptionShare> ValidShares(
    const threshold::PublicKeySet& keys, const threshold::Ciphertext& ciphertext,
    const std::map<uint32_t, std::string>& shares, std::map<uint32_t, std::string>* faults) {
  std::vector<threshold::DecryptionShare> good;
  for (const auto& [replica, bytes] : shares) {
    if (bytes.empty()) {
      if (faults != nullptr) (*faults)[replica] = "sent no decryption share";
      continue;
    }
    absl::StatusOr<threshold::DecryptionShare> share =
        threshold::DecryptionShare::Parse(AsBytes(bytes));
    absl::Status valid = share.ok() ? threshold::VerifyDecryptionShareFrom(keys, replica + 1,
                                                                          ciphertext, *share)
                                    : share.status();
    if (!valid.ok()) {
      if (faults != nullptr) {
        (*faults)[replica] = absl::StrCat("sent an invalid decryption share: ", valid.message());
      }
      continue;
    }
    good.push_back(*std::move(share));
  }
  return good;
}

}  // namespace

uint32_t CountValidShares(const std::string& cluster_id, const pb::CheckOutResult& result,
                          const threshold::PublicKeySet& keys,
                          const std::map<uint32_t, std::string>& shares) {
  Bytes label;
  absl::StatusOr<threshold::Ciphertext> ciphertext = CheckedCiphertext(cluster_id, keys, result, &label);
  if (!ciphertext.ok()) return 0;
  return static_cast<uint32_t>(ValidShares(keys, *ciphertext, shares, nullptr).size());
}

absl::StatusOr<std::string> OpenConfidential(const std::string& cluster_id,
                                             const pb::CheckOutResult& result,
                                             const threshold::PublicKeySet& keys,
                                             const std::map<uint32_t, std::string>& shares,
                                             std::map<uint32_t, std::string>* faults) {
  Bytes label;
  BELFRY_ASSIGN_OR_RETURN(threshold::Ciphertext ciphertext,
                          CheckedCiphertext(cluster_id, keys, result, &label));
  std::vector<threshold::DecryptionShare> good = ValidShares(keys, ciphertext, shares, faults);
  if (good.size() < keys.threshold()) {
    for (threshold::DecryptionShare& s : good) s.value.Wipe();
    return MakeError(ErrorKind::kIntegrity,
                     absl::StrCat("only ", good.size(), " valid decryption shares arrived; ",
                                  keys.threshold(), " are needed to decrypt"));
  }
  absl::StatusOr<threshold::SymmetricKey> combined =
      threshold::CombineDecryptionShares(keys, ciphertext, good);
  for (threshold::DecryptionShare& s : good) s.value.Wipe();  // f+1 of them open the key
  if (!combined.ok()) {
    return MakeError(ErrorKind::kIntegrity, absl::StrCat("decryption shares do not combine: ",
                                                         combined.status().message()));
  }
  const DataKey key = DataKey::FromBytes(combined->bytes());
  absl::StatusOr<std::string> plaintext = OpenDocument(key, AsAbslView(label), result.data());
  if (!plaintext.ok()) {
    return MakeError(ErrorKind::kIntegrity, "the document does not decrypt under its label");
  }
  return plaintext;
}

std::map<uint32_t, std::string> OpenSealedShares(const std::string& cluster_id,
                                                 const pb::CheckOutResult& result,
                                                 const threshold::ShareRecipientKey& key,
                                                 const std::map<uint32_t, std::string>& sealed,
                                                 std::map<uint32_t, std::string>* faults) {
  const Bytes label = wire::DocumentLabel(cluster_id, result.doc(), AsBytes(result.version_nonce()));
  std::map<uint32_t, std::string> out;
  for (const auto& [replica, box] : sealed) {
    if (box.empty()) {
      if (faults != nullptr) (*faults)[replica] = "sent no decryption share";
      continue;
    }
    absl::StatusOr<std::string> share = key.Open(box, replica, label);
    if (!share.ok()) {
      if (faults != nullptr) {
        (*faults)[replica] = absl::StrCat("sent a sealed decryption share that does not open: ",
                                          share.status().message());
      }
      continue;
    }
    out[replica] = *std::move(share);
  }
  return out;
}

void WipeShares(std::map<uint32_t, std::string>& shares) {
  for (auto& [replica, bytes] : shares) {
    if (!bytes.empty()) SecureWipe(bytes.data(), bytes.size());
  }
  shares.clear();
}

// ---- integrity ----

bool VerifyReplicaSignature(const config::ClusterConfig& config, uint32_t replica,
                            ByteSpan message, const std::string& signature) {
  if (replica >= config.n() || signature.size() != crypto_sign_BYTES) return false;
  const std::array<uint8_t, 32> key = config.reply_public_key(replica);
  return crypto_sign_verify_detached(reinterpret_cast<const uint8_t*>(signature.data()),
                                     message.data(), message.size(), key.data()) == 0;
}

uint32_t CountServiceShares(const std::map<uint32_t, std::string>& shares) {
  uint32_t count = 0;
  for (const auto& [replica, bytes] : shares) {
    absl::StatusOr<threshold::rsa::SignatureShare> share = threshold::rsa::SignatureShare::Parse(AsBytes(bytes));
    if (share.ok() && share->index == replica + 1) ++count;
  }
  return count;
}

absl::StatusOr<Bytes> CombineServiceSignature(const ServiceKey& service, ByteSpan message,
                                              const std::map<uint32_t, std::string>& shares,
                                              std::map<uint32_t, std::string>* faults) {
  // A share counts for the replica that sent it only: a faulty replica cannot pass off
  // another's share as its own, and the combiner's blame by index is blame by sender.
  std::vector<threshold::rsa::SignatureShare> parsed;
  for (const auto& [replica, bytes] : shares) {
    absl::StatusOr<threshold::rsa::SignatureShare> share = threshold::rsa::SignatureShare::Parse(AsBytes(bytes));
    if (!share.ok() || share->index != replica + 1) {
      if (faults != nullptr) {
        (*faults)[replica] = bytes.empty() ? "sent no service signature share"
                                           : "sent a malformed service signature share";
      }
      continue;
    }
    parsed.push_back(*std::move(share));
  }
  threshold::rsa::CombineResult combined = threshold::rsa::CombineSignatureShares(service.keys, message, parsed);
  for (uint32_t index : combined.faulty_indices) {
    if (faults != nullptr) (*faults)[index - 1] = "sent an invalid service signature share";
  }
  if (!combined.signature.ok()) {
    return MakeError(ErrorKind::kIntegrity, absl::StrCat("the service signature shares do not combine: ",
                                                         combined.signature.status().message()));
  }
  return *std::move(combined.signature);
}

pb::Stamp StampFor(const evidence::TimeStampRequest& request) {
  pb::Stamp stamp;
  stamp.set_hash_algorithm(std::string(evidence::ImprintHashOid(request.imprint.hash)));
  stamp.set_hash_parameters_null(request.imprint.parameters_null);
  stamp.set_hashed_message(std::string(AsStringView(request.imprint.hashed_message)));
  if (request.nonce.has_value()) {
    // The replicas take one encoding only: the magnitude without leading zero bytes.
    const ByteSpan magnitude(*request.nonce);
    size_t first = 0;
    while (first < magnitude.size() && magnitude[first] == 0) ++first;
    stamp.set_has_nonce(true);
    stamp.set_nonce(std::string(AsStringView(magnitude.subspan(first))));
  }
  stamp.set_cert_req(request.cert_req);
  return stamp;
}

bool StampEchoes(const pb::Stamp& sent, const pb::StampResult& result) {
  return sent.hash_algorithm() == result.hash_algorithm() && sent.hashed_message() == result.hashed_message() &&
         sent.nonce() == result.nonce() && sent.has_nonce() == result.has_nonce() &&
         sent.cert_req() == result.cert_req() && sent.hash_parameters_null() == result.hash_parameters_null();
}

absl::StatusOr<Bytes> CollectTimeStampResp(const ServiceKey& service, const pb::ReplyBody& body,
                                           const pb::StampResult& stamp,
                                           const std::map<uint32_t, std::string>& shares,
                                           std::map<uint32_t, std::string>* faults) {
  absl::StatusOr<wire::TimeStampSigning> signing = wire::TimeStampAttributes(body, stamp, service.cert_der);
  if (!signing.ok()) return MakeError(ErrorKind::kIntegrity, std::string(signing.status().message()));
  BELFRY_ASSIGN_OR_RETURN(Bytes signature,
                          CombineServiceSignature(service, signing->signed_attributes, shares, faults));
  absl::StatusOr<Bytes> token = evidence::AssembleTimeStampToken(
      signing->tst_info, signing->signed_attributes, signature, service.cert_der, stamp.cert_req());
  if (!token.ok()) {
    return MakeError(ErrorKind::kIntegrity,
                     absl::StrCat("the time-stamp token does not assemble: ", token.status().message()));
  }
  absl::StatusOr<Bytes> response = evidence::GrantedTimeStampResp(*token);
  if (!response.ok()) {
    return MakeError(ErrorKind::kIntegrity,
                     absl::StrCat("the time-stamp response does not assemble: ", response.status().message()));
  }
  return response;
}

absl::StatusOr<IntegrityCertificate> CollectIntegrityCertificate(
    const config::ClusterConfig& config, const ServiceKey& service, const pb::CheckOutResult& result,
    int64_t consensus_time_ms, const std::map<uint32_t, std::string>& shares,
    std::map<uint32_t, std::string>* faults) {
  absl::StatusOr<Bytes> attributes = wire::IntegrityAttributes(config.cluster_id(), result, consensus_time_ms);
  if (!attributes.ok()) return MakeError(ErrorKind::kIntegrity, std::string(attributes.status().message()));
  BELFRY_ASSIGN_OR_RETURN(Bytes signature, CombineServiceSignature(service, *attributes, shares, faults));
  absl::StatusOr<Bytes> der = evidence::AssembleIntegrityCertificate(*attributes, signature, service.cert_der);
  if (!der.ok()) {
    return MakeError(ErrorKind::kIntegrity,
                     absl::StrCat("the integrity certificate does not assemble: ", der.status().message()));
  }
  IntegrityCertificate cert;
  cert.der = std::string(AsStringView(*der));
  cert.cluster_id = config.cluster_id();
  cert.doc = result.doc();
  cert.owner = result.owner();
  cert.version = result.version();
  std::copy(result.sha256().begin(), result.sha256().end(), cert.sha256.begin());
  cert.signing_time_ms = consensus_time_ms / 1000 * 1000;
  return cert;
}

absl::StatusOr<ServiceKey> LoadServiceKey(const config::ClusterConfig& config) {
  if (config.proto.service_key_file().empty() || config.proto.service_cert_file().empty()) {
    return MakeError(ErrorKind::kInvalidInput, "cluster.conf names no service key (service_key_file, "
                                               "service_cert_file)");
  }
  absl::StatusOr<threshold::rsa::PublicKeySet> keys = threshold::rsa::ReadPublicKeySetFile(config.service_key_path());
  if (!keys.ok()) return MakeError(ErrorKind::kInvalidInput, std::string(keys.status().message()));
  if (keys->n() != config.n() || keys->f() != config.f()) {
    return MakeError(ErrorKind::kInvalidInput,
                     absl::StrCat(config.service_key_path(), " is a key set for another N or f"));
  }
  absl::StatusOr<std::string> pem = ReadFileBounded(config.service_cert_path(), kPemFileBytesMax);
  absl::StatusOr<Bytes> der = pem.ok() ? pki::CertificatePemToDer(*pem) : absl::StatusOr<Bytes>(pem.status());
  if (!der.ok()) return MakeError(ErrorKind::kInvalidInput, std::string(der.status().message()));
  return ServiceKey{*std::move(keys), *std::move(der)};
}

}  // namespace belfry::client::internal

// ---- offline verification (public, client.h) ----

namespace belfry {
namespace {

absl::StatusOr<Bytes> ReadCertificateDer(const std::string& path) {
  BELFRY_ASSIGN_OR_RETURN(std::string pem, ReadFileBounded(path, kPemFileBytesMax));
  return pki::CertificatePemToDer(pem);
}

}  // namespace

absl::StatusOr<IntegrityCertificate> VerifyIntegrityCertificate(const std::string& ca_cert_path,
                                                                const std::string& service_cert_path,
                                                                const std::string& data,
                                                                const std::string& certificate_der) {
  using client::internal::MakeError;
  absl::StatusOr<Bytes> ca = ReadCertificateDer(ca_cert_path);
  if (!ca.ok()) return MakeError(ErrorKind::kInvalidInput, absl::StrCat(ca_cert_path, ": ", ca.status().message()));
  absl::StatusOr<Bytes> service = ReadCertificateDer(service_cert_path);
  if (!service.ok()) {
    return MakeError(ErrorKind::kInvalidInput, absl::StrCat(service_cert_path, ": ", service.status().message()));
  }
  absl::StatusOr<evidence::VerifiedIntegrity> facts = evidence::VerifyIntegrityCertificate(
      AsBytes(certificate_der), AsBytes(data), *ca, *service, transport::WallClockUnixSeconds());
  if (!facts.ok()) {
    return MakeError(facts.status().code() == absl::StatusCode::kInvalidArgument ? ErrorKind::kInvalidInput
                                                                                 : ErrorKind::kIntegrity,
                     absl::StrCat("the integrity certificate does not verify: ", facts.status().message()));
  }
  IntegrityCertificate cert;
  cert.der = certificate_der;
  cert.cluster_id = facts->cluster_id;
  cert.doc = facts->document_name;
  cert.owner = facts->owner;
  cert.version = facts->version;
  cert.sha256 = facts->document_sha256;
  cert.signing_time_ms = facts->consensus_time_ms;
  return cert;
}

}  // namespace belfry
