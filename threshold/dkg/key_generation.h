// threshold/dkg/key_generation.h — dealer-free generation, proactive refresh and resharing
// of the discrete-log threshold keys (the coin key and the TDH2 key, keys.h).
//
// How it works (hbbft's SyncKeyGen, after Kate–Goldberg's "Distributed private-key
// generators", adapted to Belfry's atomic broadcast). Each dealer i picks a random
// symmetric bivariate polynomial φ_i(x, y) = Σ a_kl x^k y^l (a_kl = a_lk) of degree t = f
// in each variable, publishes the commitment C_kl = g^{a_kl} (k ≤ l) and, sealed to each
// recipient m, the row φ_i(m, y). That is a Part. Recipient m checks its row against the
// commitment at x = m and, if it matches, publishes an Ack: φ_i(m, j) sealed to each j.
// Because Parts and Acks go through atomic broadcast, every node feeds the same messages
// in the same order to a KeyGeneration and reaches the same decision, with no complaint
// round: a Part is complete after 2t+1 distinct Acks (at least t+1 from correct nodes,
// whose values are right), and generation is done when f_dealers+1 Parts are complete.
// Those Parts, in completion order, are the chosen set Q; one of them is from a correct
// dealer, so nobody knows the secret. Node m's share of dealing i is φ_i(m, 0) =
// φ_i(0, m), interpolated from t+1 values φ_i(j, m) that ackers j sent it (each checked
// against the commitment), and everyone computes the public key set from commitments
// alone: g^{φ_i(m, 0)} = Π_k C_k0^{m^k}.
//
// Modes. kFresh: a random secret; the key is Σ_{i∈Q} φ_i(0, 0). kRefresh (proactive
// security, Herzberg–Jarecki–Krawczyk–Yung 1995): every dealer shares zero (no C_00 is
// sent), and each share and verification key moves by Σ_{i∈Q} φ_i(m, 0): same key, same
// nodes, new shares, so shares stolen before a refresh are useless with shares stolen
// after. kReshare (Desmedt–Jajodia 1997, as in CHURP): the old nodes deal their old shares
// x_i (C_00 must equal the old verification key Y_i) to a new set of n nodes tolerating f,
// and the new share is Σ_{i∈Q} λ_i^Q φ_i(m, 0) with Q's Lagrange coefficients at zero over
// the old indices: the key is unchanged.
//
// Sealing. Each message draws one ephemeral e (E = g^e is published). The slot for
// recipient m is sealed with ChaCha20-Poly1305 (IETF) under a key hashed from e·PK_m, E,
// PK_m, the caller's context bytes, the mode, the dealer, the acker (0 in a Part), the
// recipient and a digest of the dealer's commitment, so a slot opens only in its own run,
// message and position. Context (the caller binds cluster id, run id and the key's
// purpose) also goes into the commitment digest, so a Part of one run is useless in
// another.
//
// Everything here is deterministic given the Rng: the same inputs in the same order give
// the same state, messages and results. KeyGeneration holds only public data (commitments
// and sealed slots): a caller persists the raw Parts and Acks it delivered and rebuilds it
// by replaying them. No exceptions; every refusal is a ThresholdError (errors.h).
#ifndef BELFRY_THRESHOLD_DKG_KEY_GENERATION_H_
#define BELFRY_THRESHOLD_DKG_KEY_GENERATION_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/bytes.h"
#include "base/rng.h"
#include "proto/dkg.pb.h"
#include "threshold/dkg/encryption_key.h"
#include "threshold/group.h"
#include "threshold/keys.h"
#include "threshold/shamir.h"

namespace belfry::threshold::dkg {

// The only Part/Ack format version this build reads and writes.
inline constexpr uint32_t kDkgFormatVersion = 1;
// Longest context accepted (cluster id, run id, key purpose).
inline constexpr size_t kDkgContextBytesMax = 4096;
// Largest f: key generation needs n >= 3f+1 (2f+1 Acks must be able to arrive with f
// nodes silent, and t+1 of them must come from correct nodes).
inline constexpr uint32_t kDkgFaultsMax = (kParticipantsMax - 1) / 3;
// Poly1305's tag after each sealed slot.
inline constexpr size_t kSealTagBytes = 16;
// Bytes protobuf spends on one repeated-bytes entry besides its payload, at most (a tag
// byte and a length of up to three varint bytes), and on the scalar fields of a message.
inline constexpr size_t kEntryOverheadBytesMax = 4;
inline constexpr size_t kHeaderBytesMax = 16;

// Size limits of a serialized Part and Ack for n recipients and degree t, and the limits
// every parser applies (n = kParticipantsMax, t = kDkgFaultsMax).
constexpr size_t DkgPartBytesMax(size_t n, size_t t) {
  return kHeaderBytesMax + (kPointBytes + kEntryOverheadBytesMax) * (1 + (t + 1) * (t + 2) / 2) +
         n * ((t + 1) * kScalarBytes + kSealTagBytes + kEntryOverheadBytesMax);
}
constexpr size_t DkgAckBytesMax(size_t n) {
  return kHeaderBytesMax + kPointBytes + kEntryOverheadBytesMax +
         n * (kScalarBytes + kSealTagBytes + kEntryOverheadBytesMax);
}
inline constexpr size_t kDkgPartBytesMax = DkgPartBytesMax(kParticipantsMax, kDkgFaultsMax);
inline constexpr size_t kDkgAckBytesMax = DkgAckBytesMax(kParticipantsMax);

// What a key generation run produces. Its number goes into every hash.
enum class Mode : uint8_t {
  kFresh = 1,    // a new random key
  kRefresh = 2,  // new shares of the same key for the same nodes
  kReshare = 3,  // shares of the same key for another set of nodes
};

// Config: one run's public parameters, the same at every node. A plain value.
struct Config {
  Mode mode = Mode::kFresh;
  uint32_t n = 0;  // recipients, indexed 1..n
  uint32_t f = 0;  // recipients' fault bound: the new key set's f, and each polynomial's degree t
  // Dealers, indexed 1..n_dealers: equal to (n, f) except in kReshare, where they are
  // the old set's.
  uint32_t n_dealers = 0;
  uint32_t f_dealers = 0;
  // Caller-chosen bytes that tie every message to this run (at most kDkgContextBytesMax).
  std::string context;
  // Entry m-1 is recipient m's encryption public key (EncryptionKeyPair::public_key).
  std::vector<Point> encryption_keys;
  // The key set being refreshed or reshared (kRefresh, kReshare); absent for kFresh.
  std::optional<PublicKeySet> old_keys;
};

// Refuses a Config that KeyGeneration::Create would refuse: kInvalidParameters unless
// 0 <= 3f < n <= kParticipantsMax (likewise for the dealers), the dealers equal (n, f)
// outside kReshare, encryption_keys has n entries, and old_keys is present exactly for
// kRefresh (same n, f) and kReshare (n_dealers, f_dealers); kIdentityPoint for an
// identity encryption key; kTooLarge for a context beyond kDkgContextBytesMax.
absl::Status ValidateConfig(const Config& config);

// Dealer `dealer`'s Part for the run `config`, with every random value from `rng`
// (CryptoRng in production). kFresh deals a random secret; kRefresh deals zero and ignores
// `old_share` (it may be null); kReshare deals the dealer's old share, which must be given
// (kInvalidParameters if null), have index `dealer` and belong to config.old_keys
// (kKeyMismatch). Also fails as ValidateConfig, and kIndexOutOfRange unless
// 1 <= dealer <= n_dealers. The polynomial, the rows and the derived keys are wiped before
// returning. Thread-safe if `rng` is.
absl::StatusOr<pb::DkgPart> MakePart(const Config& config, uint32_t dealer,
                                     const KeyShare* old_share, Rng& rng);

// The deterministic encoding of a Part or Ack (what a caller broadcasts and persists).
std::string SerializePart(const pb::DkgPart& part);
std::string SerializeAck(const pb::DkgAck& ack);
// Parses at most kDkgPartBytesMax / kDkgAckBytesMax bytes (kTooLarge beyond); kMalformed
// for bytes that do not decode or carry fields this schema does not name. The contents
// are checked by AddPart / AddAck.
absl::StatusOr<pb::DkgPart> ParsePart(ByteSpan bytes);
absl::StatusOr<pb::DkgAck> ParseAck(ByteSpan bytes);

// AckFault: a value in an Ack that MyShare could not use, with the reason
// (kDecryptionFailed, kNonCanonicalScalar or kCommitmentMismatch): evidence against `acker`
// (or against the dealer, if the acker is correct, which nobody else can tell).
struct AckFault {
  uint32_t dealer = 0;
  uint32_t acker = 0;
  absl::Status status;
};

// KeyGeneration: the accumulator of one run. Every node adds the same Parts and Acks in
// the same (atomic broadcast) order and so reaches the same state; order matters (the
// chosen set is the first Parts to complete). Holds only public data: commitments and
// sealed slots, never a decrypted row or value. Copyable. Not thread-safe for writes;
// const methods are thread-safe.
class KeyGeneration {
 public:
  // Fails as ValidateConfig.
  static absl::StatusOr<KeyGeneration> Create(Config config);

  const Config& config() const { return config_; }

  // Adds dealer `dealer`'s Part (the broadcast's sender, never a message field). Public
  // checks only, in this order: kIndexOutOfRange (dealer), kDuplicateMessage (this dealer
  // already has a Part: the first one counts), kMalformed (unknown fields, format version,
  // the number of commitment entries — (t+1)(t+2)/2, one fewer in kRefresh — or rows, or a
  // row's size), kNonCanonicalPoint / kIdentityPoint (the ephemeral key or a commitment
  // entry), kKeyMismatch (kReshare: C_00 is not the dealer's old verification key). A
  // refused Part changes nothing. After done() a Part is checked, then ignored.
  absl::Status AddPart(uint32_t dealer, const pb::DkgPart& part);

  // Adds recipient `acker`'s Ack (the broadcast's sender). Shape checks only (the values
  // are sealed to their recipients), in this order: kIndexOutOfRange (acker, then the
  // dealer it names), kMalformed (unknown fields, version, number or size of the values),
  // kNonCanonicalPoint / kIdentityPoint (ephemeral key), kUnknownDealing (no Part from that
  // dealer has been added), kDuplicateMessage (this acker already acked that Part). The
  // 2t+1-th Ack of a Part completes it; the Ack after which f_dealers+1 Parts are complete
  // makes done() true. After done() an Ack is checked, then ignored.
  absl::Status AddAck(uint32_t acker, const pb::DkgAck& ack);

  bool done() const { return done_; }
  // The chosen dealers Q in completion order (f_dealers+1 of them); empty until done().
  const std::vector<uint32_t>& chosen_dealers() const { return chosen_; }
  // How many Acks have been added for `dealer`'s Part (0 if it has none); for progress.
  uint32_t ack_count(uint32_t dealer) const;

  // The new public key set, from commitments alone (and the old key set for kRefresh and
  // kReshare): kNotDone before done(). For kReshare the public key is asserted unchanged
  // (kKeyMismatch otherwise, which would mean an inconsistent old key set). Costs about
  // (f_dealers+1)·n·(t+1) scalar multiplications plus PublicKeySet::Create's check.
  absl::StatusOr<PublicKeySet> Result() const;

  // Node `me`'s Ack of `dealer`'s Part: opens its row with `key` and checks it against the
  // commitment, then seals φ(me, j) to each recipient j with a fresh ephemeral key from
  // `rng`. Refuses kIndexOutOfRange (me, dealer), kUnknownDealing (no Part from dealer),
  // kKeyMismatch (`key` is not recipient me's configured key), and, when the dealer is at
  // fault, kDecryptionFailed (the row does not open), kNonCanonicalScalar (it opens to a
  // non-canonical coefficient) or kCommitmentMismatch (it is not the committed row): a
  // correct node then sends no Ack, and may report the dealer. The opened row and every
  // derived key are wiped. Thread-safe if `rng` is.
  absl::StatusOr<pb::DkgAck> MakeAck(uint32_t me, const EncryptionKeyPair& key, uint32_t dealer,
                                     Rng& rng) const;

  // Node `me`'s share of the new key. kNotDone before done(); kIndexOutOfRange (me);
  // kKeyMismatch (`key` is not me's configured key). kRefresh needs me's old share
  // (kInvalidParameters if null; kKeyMismatch unless it has index me and belongs to
  // config.old_keys); the other modes ignore `old_share`. For each chosen dealer the
  // values sealed to me are opened and checked in Ack order until t+1 are good; each bad
  // one is skipped and, if `faults` is given, appended to it. kNotEnoughShares if fewer
  // than t+1 good values exist (impossible with at most t faulty ackers). Every opened
  // value and partial sum is wiped. Thread-safe.
  absl::StatusOr<KeyShare> MyShare(uint32_t me, const EncryptionKeyPair& key,
                                   const KeyShare* old_share,
                                   std::vector<AckFault>* faults = nullptr) const;

 private:
  struct AckRecord {
    uint32_t acker = 0;
    Point ephemeral_key;
    std::vector<std::string> values;  // sealed; entry j-1 for recipient j
  };
  struct Dealing {
    // The upper triangle C_kl (k <= l) in message order, C_00 included (the identity in
    // kRefresh), so that every mode indexes it the same way.
    std::vector<Point> commitment;
    std::array<uint8_t, 32> digest{};
    Point ephemeral_key;
    std::vector<std::string> rows;  // sealed; entry m-1 for recipient m
    std::vector<AckRecord> acks;    // in the order they were added
    std::vector<bool> acked;        // by acker index 1..n (entry 0 unused)
    bool complete = false;
  };

  explicit KeyGeneration(Config config);
  const Dealing* FindDealing(uint32_t dealer) const;

  Config config_;
  std::vector<std::optional<Dealing>> dealings_;  // entry i-1 for dealer i
  std::vector<uint32_t> completed_;               // dealers whose Parts completed, in order
  std::vector<uint32_t> chosen_;
  bool done_ = false;
};

}  // namespace belfry::threshold::dkg

#endif  // BELFRY_THRESHOLD_DKG_KEY_GENERATION_H_
