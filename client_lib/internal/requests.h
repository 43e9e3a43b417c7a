// client_lib/internal/requests.h — the bytes a client sends and the checks on what comes
// back, without any networking: building signed logins and session operations, sealing a
// confidential document for checkin and opening it from decryption shares, and
// assembling an integrity certificate from replica signatures.
//
// Kept apart from the connection machinery so that tests run every byte a real client
// sends through the replicas' own pre-check and state machine, and the confidential and
// integrity paths against dealt key sets, with no cluster.
#ifndef BELFRY_CLIENT_LIB_INTERNAL_REQUESTS_H_
#define BELFRY_CLIENT_LIB_INTERNAL_REQUESTS_H_

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/bytes.h"
#include "base/rng.h"
#include "client_lib/client.h"
#include "config/cluster_config.h"
#include "evidence/timestamp_request.h"
#include "pki/key.h"
#include "proto/reply.pb.h"
#include "proto/service.pb.h"
#include "threshold/keys.h"
#include "threshold/rsa/keys.h"
#include "threshold/rsa/signature.h"
#include "threshold/sealed_share.h"
#include "wire/statements.h"

namespace belfry::client::internal {

// SessionKey: an Ed25519 session key pair (libsodium), derived from a 32-byte seed.
// Move-only; seed and secret key are wiped on destruction and when moved from. Sign is
// const and thread-safe.
class SessionKey {
 public:
  // A fresh key from the OS CSPRNG.
  static SessionKey Generate();
  static SessionKey FromSeed(const std::array<uint8_t, 32>& seed);

  SessionKey(SessionKey&& other) noexcept;
  SessionKey& operator=(SessionKey&& other) noexcept;
  SessionKey(const SessionKey&) = delete;
  SessionKey& operator=(const SessionKey&) = delete;
  ~SessionKey();

  const std::array<uint8_t, 32>& public_key() const { return public_key_; }
  std::string public_key_string() const;
  // SECRET: for persisting the session only.
  const std::array<uint8_t, 32>& seed() const { return seed_; }
  // A 64-byte detached signature of `message`.
  std::string Sign(ByteSpan message) const;

 private:
  SessionKey() = default;
  void Wipe();
  std::array<uint8_t, 32> seed_{};
  std::array<uint8_t, 64> secret_key_{};
  std::array<uint8_t, 32> public_key_{};
};

// BuiltRequest: a serialized SignedRequest and its id (SHA-256 of those bytes).
struct BuiltRequest {
  std::string bytes;
  wire::Digest id{};
};

// Login nonce length (inside the 16..64 bytes the replicas accept).
inline constexpr size_t kLoginNonceBytes = 32;

// A Login for `uid` registering `session`, with a fresh nonce from `rng`, the session-key
// proof, signed with `user_key` (the key of `cert_der`). INTERNAL if signing fails.
absl::StatusOr<BuiltRequest> BuildLogin(const std::string& cluster_id, const std::string& uid,
                                        const std::string& cert_der,
                                        const pki::Ed25519PrivateKey& user_key,
                                        const SessionKey& session, int64_t client_time_ms,
                                        Rng& rng);

// A SessionOp carrying `op`, naming `session` and `seq`, signed with the session key.
BuiltRequest BuildSessionOp(const std::string& cluster_id, const SessionKey& session,
                            uint64_t seq, pb::SessionOp op);

// The stored form of a confidential document: AES-256-GCM ciphertext bound to the label,
// the TDH2 ciphertext of its key under that label, and the label's version nonce.
struct SealedDocument {
  std::string data;
  std::string key_ciphertext;
  std::string version_nonce;
};

// Seals `plaintext` for a confidential checkin of `doc`: a fresh data key and version
// nonce from `rng`, label = DocumentLabel(cluster_id, doc, nonce), the data sealed with
// the label as associated data, the key TDH2-encrypted under `keys` and the label. The
// data key is wiped before returning.
absl::StatusOr<SealedDocument> SealConfidential(const std::string& cluster_id,
                                                const std::string& doc,
                                                const std::string& plaintext,
                                                const threshold::PublicKeySet& keys, Rng& rng);

// Opens a confidential checkout: checks that the key ciphertext carries exactly the label
// DocumentLabel(cluster_id, doc, version_nonce), verifies each replica's decryption share
// (replica r's share has index r+1) and records a bad one in `faults`, combines f+1
// valid shares and opens the data. kIntegrity (DATA_LOSS) when fewer than f+1 shares are
// valid, the label is wrong or the data does not open. The data key is wiped.
absl::StatusOr<std::string> OpenConfidential(const std::string& cluster_id,
                                             const pb::CheckOutResult& result,
                                             const threshold::PublicKeySet& keys,
                                             const std::map<uint32_t, std::string>& shares,
                                             std::map<uint32_t, std::string>* faults);

// The number of valid decryption shares among `shares` for `result` (without combining).
uint32_t CountValidShares(const std::string& cluster_id, const pb::CheckOutResult& result,
                          const threshold::PublicKeySet& keys,
                          const std::map<uint32_t, std::string>& shares);

// Opens the sealed decryption shares `sealed` (replica -> the reply's
// sealed_decryption_share) with the checkout's ephemeral `key`: replica -> serialized
// share. A box that is empty or does not open as that replica's share for the result's
// label is left out and recorded in `faults` (may be null). The caller wipes the result
// with WipeShares when done.
std::map<uint32_t, std::string> OpenSealedShares(const std::string& cluster_id,
                                                 const pb::CheckOutResult& result,
                                                 const threshold::ShareRecipientKey& key,
                                                 const std::map<uint32_t, std::string>& sealed,
                                                 std::map<uint32_t, std::string>* faults);

// Overwrites every share's bytes, then empties the map.
void WipeShares(std::map<uint32_t, std::string>& shares);

// The service key as a client needs it: the threshold key set, to combine and check
// signature shares, and the certificate that goes into what it signs.
struct ServiceKey {
  threshold::rsa::PublicKeySet keys;
  Bytes cert_der;
};

// Loads the service key cluster.conf names. kInvalidInput when it names none or a file
// does not load.
absl::StatusOr<ServiceKey> LoadServiceKey(const config::ClusterConfig& config);

// How many of `shares` (replica -> serialized share) parse and carry their sender's
// index: enough of them lets the call finish; the proofs are checked only if combining
// fails.
uint32_t CountServiceShares(const std::map<uint32_t, std::string>& shares);

// Combines the replicas' service signature shares (replica -> serialized share) over
// `message`: the first f+1 well-formed shares optimistically, their proofs checked only if
// the result does not verify. A share counts only for the replica that sent it; missing,
// malformed and invalid shares go to `faults` under their sender. kIntegrity (DATA_LOSS)
// when fewer than f+1 good ones. The one place both kinds of evidence combine.
absl::StatusOr<Bytes> CombineServiceSignature(const ServiceKey& service, ByteSpan message,
                                              const std::map<uint32_t, std::string>& shares,
                                              std::map<uint32_t, std::string>* faults);

// The Stamp operation for an accepted RFC 3161 request.
pb::Stamp StampFor(const evidence::TimeStampRequest& request);

// Whether `result` echoes exactly the stamp that was sent.
bool StampEchoes(const pb::Stamp& sent, const pb::StampResult& result);

// The granted TimeStampResp (DER) for an OK stamp reply `body` whose result is `stamp`:
// the token's content from wire::TimeStampAttributes, the combined service signature
// (CombineServiceSignature; bad shares go to `faults`), the service certificate inside
// when the request asked for it. kIntegrity when the shares do not make a token that
// verifies.
absl::StatusOr<Bytes> CollectTimeStampResp(const ServiceKey& service, const pb::ReplyBody& body,
                                           const pb::StampResult& stamp,
                                           const std::map<uint32_t, std::string>& shares,
                                           std::map<uint32_t, std::string>* faults);

// Combines the replicas' service signature shares over `result`'s integrity attributes
// (wire::IntegrityAttributes at `consensus_time_ms`) into the certificate; malformed or
// invalid shares go to `faults`. kIntegrity (DATA_LOSS) when fewer than f+1 good ones.
absl::StatusOr<IntegrityCertificate> CollectIntegrityCertificate(
    const config::ClusterConfig& config, const ServiceKey& service, const pb::CheckOutResult& result,
    int64_t consensus_time_ms, const std::map<uint32_t, std::string>& shares,
    std::map<uint32_t, std::string>* faults);

// True when `signature` is replica `replica`'s valid reply-key signature of `message`.
bool VerifyReplicaSignature(const config::ClusterConfig& config, uint32_t replica,
                            ByteSpan message, const std::string& signature);

}  // namespace belfry::client::internal

#endif  // BELFRY_CLIENT_LIB_INTERNAL_REQUESTS_H_
