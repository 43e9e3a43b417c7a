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
#include "base/status.h"
#include "client_lib/document_crypto.h"
#include "client_lib/internal/errors.h"
#include "replica/state/document_name.h"
#include "replica/state/request_format.h"
#include "threshold/tdh2.h"

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
  out.id = state::RequestId(out.bytes);
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
  login->set_session_key_proof(session.Sign(state::SessionKeyProofMessage(
      cluster_id, uid, ByteSpan(session.public_key()), client_time_ms, AsBytes(nonce))));
  const std::string body_bytes = body.SerializeAsString();
  BELFRY_ASSIGN_OR_RETURN(pki::Ed25519Signature sig,
                          user_key.Sign(state::RequestSigningMessage(body_bytes)));
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
  std::string signature = session.Sign(state::RequestSigningMessage(body_bytes));
  return Signed(std::move(body_bytes), std::move(signature));
}

// ---- confidential documents ----

absl::StatusOr<SealedDocument> SealConfidential(const std::string& cluster_id,
                                                const std::string& doc,
                                                const std::string& plaintext,
                                                const threshold::PublicKeySet& keys, Rng& rng) {
  SealedDocument out;
  out.version_nonce.assign(state::kVersionNonceBytes, '\0');
  rng.Fill(std::span<uint8_t>(reinterpret_cast<uint8_t*>(out.version_nonce.data()),
                              out.version_nonce.size()));
  const Bytes label = state::DocumentLabel(cluster_id, doc, AsBytes(out.version_nonce));
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
  *label = state::DocumentLabel(cluster_id, result.doc(), AsBytes(result.version_nonce()));
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
  const Bytes label = state::DocumentLabel(cluster_id, result.doc(), AsBytes(result.version_nonce()));
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

absl::StatusOr<Bytes> IntegrityStatementFor(const std::string& cluster_id,
                                            const pb::CheckOutResult& result) {
  wire::Digest sha{};
  if (result.sha256().size() != sha.size()) {
    return absl::InvalidArgumentError("the result's SHA-256 is not 32 bytes");
  }
  std::copy(result.sha256().begin(), result.sha256().end(), sha.begin());
  return wire::IntegrityStatement(cluster_id, result.doc(), result.version(), sha,
                                  result.confidential(), result.integrity());
}

absl::StatusOr<IntegrityCertificate> CollectIntegrityCertificate(
    const config::ClusterConfig& config, const pb::CheckOutResult& result,
    const std::map<uint32_t, std::string>& signatures, std::map<uint32_t, std::string>* faults) {
  absl::StatusOr<Bytes> statement = IntegrityStatementFor(config.cluster_id(), result);
  if (!statement.ok()) {
    return MakeError(ErrorKind::kIntegrity, std::string(statement.status().message()));
  }
  IntegrityCertificate cert;
  cert.cluster_id = config.cluster_id();
  cert.doc = result.doc();
  cert.version = result.version();
  std::copy(result.sha256().begin(), result.sha256().end(), cert.sha256.begin());
  cert.confidential = result.confidential();
  cert.integrity = result.integrity();
  for (const auto& [replica, signature] : signatures) {
    if (VerifyReplicaSignature(config, replica, *statement, signature)) {
      cert.signatures.emplace(replica, signature);
    } else if (faults != nullptr) {
      (*faults)[replica] = signature.empty() ? "sent no integrity signature"
                                             : "sent an invalid integrity signature";
    }
  }
  if (cert.signatures.size() < config.f() + 1) {
    return MakeError(ErrorKind::kIntegrity,
                     absl::StrCat("only ", cert.signatures.size(),
                                  " valid integrity signatures arrived; ", config.f() + 1,
                                  " are needed"));
  }
  return cert;
}

absl::StatusOr<std::vector<uint32_t>> VerifyIntegrityCertificateWith(
    const config::ClusterConfig& config, const std::string& data,
    const IntegrityCertificate& certificate) {
  if (certificate.cluster_id != config.cluster_id()) {
    return MakeError(ErrorKind::kIntegrity,
                     absl::StrCat("the certificate is for cluster ", certificate.cluster_id,
                                  ", not ", config.cluster_id()));
  }
  const wire::Digest actual = wire::Sha256(AsBytes(data));
  if (actual != certificate.sha256) {
    return MakeError(
        ErrorKind::kIntegrity,
        certificate.confidential
            ? "the file's SHA-256 is not the certified one (the certificate of a confidential "
              "document covers its encrypted form)"
            : "the file's SHA-256 is not the certified one: the file is not this version of "
              "the document");
  }
  const Bytes statement =
      wire::IntegrityStatement(certificate.cluster_id, certificate.doc, certificate.version,
                               certificate.sha256, certificate.confidential,
                               certificate.integrity);
  std::vector<uint32_t> signers;
  for (const auto& [replica, signature] : certificate.signatures) {
    if (!VerifyReplicaSignature(config, replica, statement, signature)) {
      return MakeError(ErrorKind::kIntegrity,
                       absl::StrCat("the signature of replica ", replica, " does not verify"));
    }
    signers.push_back(replica);
  }
  if (signers.size() < config.f() + 1) {
    return MakeError(ErrorKind::kIntegrity,
                     absl::StrCat("the certificate holds ", signers.size(),
                                  " signatures; ", config.f() + 1, " are needed"));
  }
  return signers;
}

}  // namespace belfry::client::internal

// ---- IntegrityCertificate text form (public, client.h) ----

namespace belfry {
namespace {

constexpr char kCertificateHeader[] = "belfry-integrity-certificate v1";
constexpr size_t kCertificateBytesMax = 64 * 1024;

absl::Status CertError(size_t line, const std::string& what) {
  return client::internal::MakeError(
      ErrorKind::kInvalidInput,
      absl::StrCat("integrity certificate line ", line, ": ", what));
}

}  // namespace

std::string IntegrityCertificate::ToText() const {
  std::string out = absl::StrCat(kCertificateHeader, "\n");
  absl::StrAppend(&out, "cluster ", cluster_id, "\n");
  absl::StrAppend(&out, "doc ", doc, "\n");
  absl::StrAppend(&out, "version ", version, "\n");
  absl::StrAppend(&out, "sha256 ", ToHex(ByteSpan(sha256)), "\n");
  absl::StrAppend(&out, "confidential ", confidential ? 1 : 0, "\n");
  absl::StrAppend(&out, "integrity ", integrity ? 1 : 0, "\n");
  for (const auto& [replica, signature] : signatures) {
    absl::StrAppend(&out, "signature ", replica, " ", ToHex(AsBytes(signature)), "\n");
  }
  return out;
}

absl::StatusOr<IntegrityCertificate> IntegrityCertificate::FromText(const std::string& text) {
  if (text.size() > kCertificateBytesMax) {
    return client::internal::MakeError(ErrorKind::kInvalidInput,
                                       "integrity certificate is larger than 64 KiB");
  }
  if (text.empty() || text.back() != '\n') return CertError(1, "the file must end with a newline");
  std::vector<std::string> lines = absl::StrSplit(text.substr(0, text.size() - 1), '\n');
  if (lines.empty() || lines[0] != kCertificateHeader) {
    return CertError(1, absl::StrCat("expected \"", kCertificateHeader, "\""));
  }
  IntegrityCertificate cert;
  std::map<std::string, bool> seen;
  for (size_t i = 1; i < lines.size(); ++i) {
    const size_t number = i + 1;
    const std::string& line = lines[i];
    const size_t space = line.find(' ');
    if (space == std::string::npos) return CertError(number, "expected \"field value\"");
    const std::string field = line.substr(0, space);
    const std::string value = line.substr(space + 1);
    if (field != "signature") {
      if (seen[field]) return CertError(number, absl::StrCat("\"", field, "\" appears twice"));
      seen[field] = true;
    }
    if (field == "cluster") {
      cert.cluster_id = value;
    } else if (field == "doc") {
      if (!state::ValidateDocumentName(value).ok()) {
        return CertError(number, "not a valid document name");
      }
      cert.doc = value;
    } else if (field == "version") {
      if (!absl::SimpleAtoi(value, &cert.version)) return CertError(number, "bad version");
    } else if (field == "sha256") {
      absl::StatusOr<Bytes> sha = FromHex(value);
      if (!sha.ok() || sha->size() != cert.sha256.size()) {
        return CertError(number, "sha256 must be 64 hex digits");
      }
      std::copy(sha->begin(), sha->end(), cert.sha256.begin());
    } else if (field == "confidential" || field == "integrity") {
      if (value != "0" && value != "1") return CertError(number, "expected 0 or 1");
      (field == "confidential" ? cert.confidential : cert.integrity) = value == "1";
    } else if (field == "signature") {
      std::vector<std::string> parts = absl::StrSplit(value, ' ');
      uint32_t replica = 0;
      if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &replica)) {
        return CertError(number, "expected \"signature <replica> <hex>\"");
      }
      absl::StatusOr<Bytes> sig = FromHex(parts[1]);
      if (!sig.ok() || sig->size() != 64) {
        return CertError(number, "a signature must be 128 hex digits");
      }
      if (!cert.signatures.emplace(replica, std::string(AsStringView(*sig))).second) {
        return CertError(number, absl::StrCat("two signatures of replica ", replica));
      }
    } else {
      return CertError(number, absl::StrCat("unknown field \"", field, "\""));
    }
  }
  for (const char* field : {"cluster", "doc", "version", "sha256", "confidential", "integrity"}) {
    if (!seen[field]) {
      return client::internal::MakeError(
          ErrorKind::kInvalidInput,
          absl::StrCat("integrity certificate: \"", field, "\" is missing"));
    }
  }
  return cert;
}

absl::StatusOr<std::vector<uint32_t>> VerifyIntegrityCertificate(
    const std::string& cluster_config_path, const std::string& data,
    const IntegrityCertificate& certificate) {
  absl::StatusOr<config::ClusterConfig> config = config::LoadClusterConfig(cluster_config_path);
  if (!config.ok()) {
    return client::internal::MakeError(ErrorKind::kInvalidInput,
                                       std::string(config.status().message()));
  }
  return client::internal::VerifyIntegrityCertificateWith(*config, data, certificate);
}

}  // namespace belfry
