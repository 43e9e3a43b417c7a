#include "threshold/dkg/key_generation.h"

#include <sodium.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "base/status.h"
#include "threshold/dkg/internal/slot.h"
#include "threshold/internal/errors.h"
#include "threshold/internal/key_share_access.h"
#include "threshold/internal/proto_fields.h"

namespace belfry::threshold::dkg {
namespace {

using internal::CommitmentAt;
using internal::EvaluateInExponent;
using internal::SlotId;
using internal::TriangleIndex;
using internal::TriangleSize;
using threshold::internal::MakeError;

absl::Status CheckSet(uint32_t n, uint32_t f, std::string_view who) {
  if (n == 0 || n > kParticipantsMax || static_cast<uint64_t>(3) * f >= n) {
    return MakeError(ThresholdError::kInvalidParameters,
                     absl::StrCat(threshold::internal::Absl(who), ": need 0 <= 3f < n <= ",
                                  kParticipantsMax, "; got n=", n, " f=", f));
  }
  return absl::OkStatus();
}

absl::Status CheckIndex(uint32_t index, uint32_t n, std::string_view what) {
  if (index < 1 || index > n) {
    return MakeError(
        ThresholdError::kIndexOutOfRange,
        absl::StrCat(threshold::internal::Absl(what), " index ", index, " is outside 1..", n));
  }
  return absl::OkStatus();
}

absl::Status CheckVersion(uint32_t version, std::string_view what) {
  if (version != kDkgFormatVersion) {
    return MakeError(ThresholdError::kMalformed,
                     absl::StrCat(threshold::internal::Absl(what), " format version ", version,
                                  "; this build reads ", kDkgFormatVersion));
  }
  return absl::OkStatus();
}

absl::Status CheckOldKeys(const Config& c) {
  const bool wants_old = c.mode != Mode::kFresh;
  if (wants_old != c.old_keys.has_value()) {
    return MakeError(ThresholdError::kInvalidParameters,
                     wants_old ? "refresh and reshare need the old key set"
                               : "a fresh key takes no old key set");
  }
  if (wants_old && (c.old_keys->n() != c.n_dealers || c.old_keys->f() != c.f_dealers)) {
    return MakeError(
        ThresholdError::kInvalidParameters,
        absl::StrCat("the old key set is for n=", c.old_keys->n(), " f=", c.old_keys->f(),
                     ", the dealers are n=", c.n_dealers, " f=", c.f_dealers));
  }
  return absl::OkStatus();
}

// Bytes of one opened row: the t+1 coefficients of φ(m, y).
size_t RowBytes(const Config& c) { return static_cast<size_t>(c.f + 1) * kScalarBytes; }

// Wipes a plaintext buffer before it is released.
void Wipe(Bytes& b) { sodium_memzero(b.data(), b.size()); }

// The t+1 scalars of an opened row; kNonCanonicalScalar for a bad coefficient.
absl::StatusOr<std::vector<Scalar>> ParseRow(const Bytes& plain, uint32_t t) {
  std::vector<Scalar> row;
  row.reserve(t + 1);
  for (uint32_t l = 0; l <= t; ++l) {
    BELFRY_ASSIGN_OR_RETURN(Scalar s, Scalar::FromCanonicalBytes(
                                          ByteSpan(plain).subspan(l * kScalarBytes, kScalarBytes)));
    row.push_back(std::move(s));
  }
  return row;
}

// The secret dealer `dealer` shares in `config`'s mode.
absl::StatusOr<Scalar> DealtSecret(const Config& config, uint32_t dealer, const KeyShare* old_share,
                                   Rng& rng) {
  switch (config.mode) {
    case Mode::kFresh:
      return Scalar::Random(rng);
    case Mode::kRefresh:
      return Scalar::Zero();
    case Mode::kReshare:
      break;
  }
  if (old_share == nullptr) {
    return MakeError(ThresholdError::kInvalidParameters,
                     "a reshare Part needs the dealer's old key share");
  }
  if (old_share->index() != dealer) {
    return MakeError(
        ThresholdError::kKeyMismatch,
        absl::StrCat("old key share ", old_share->index(), " given for dealer ", dealer));
  }
  BELFRY_RETURN_IF_ERROR(CheckKeyShareMatches(*old_share, *config.old_keys));
  return threshold::internal::KeyShareAccess::Secret(*old_share);
}

// A random symmetric bivariate polynomial of degree t with a_00 = secret: the upper
// triangle a_kl (k <= l) in TriangleIndex order.
std::vector<Scalar> RandomSymmetricPolynomial(uint32_t t, Scalar secret, Rng& rng) {
  std::vector<Scalar> a;
  a.reserve(TriangleSize(t));
  a.push_back(std::move(secret));
  while (a.size() < TriangleSize(t)) a.push_back(Scalar::Random(rng));
  return a;
}

// Recipient m's row φ(m, y): coefficient l is Σ_k a_kl m^k (Horner over k), serialized.
Bytes RowPlaintext(uint32_t t, const std::vector<Scalar>& a, uint32_t m) {
  const Scalar x = Scalar::FromUint64(m);
  Bytes out;
  out.reserve(static_cast<size_t>(t + 1) * kScalarBytes);
  for (uint32_t l = 0; l <= t; ++l) {
    auto entry = [&](uint32_t k) -> const Scalar& {
      return a[k <= l ? TriangleIndex(t, k, l) : TriangleIndex(t, l, k)];
    };
    Scalar acc = entry(t);
    for (uint32_t k = t; k-- > 0;) acc = acc.Mul(x).Add(entry(k));
    out.insert(out.end(), acc.bytes().begin(), acc.bytes().end());
  }
  return out;
}

// A fresh nonzero ephemeral secret.
Scalar EphemeralSecret(Rng& rng) {
  Scalar e = Scalar::Random(rng);
  while (e.IsZero()) e = Scalar::Random(rng);
  return e;
}

}  // namespace

absl::Status ValidateConfig(const Config& c) {
  if (c.mode != Mode::kFresh && c.mode != Mode::kRefresh && c.mode != Mode::kReshare) {
    return MakeError(ThresholdError::kInvalidParameters,
                     absl::StrCat("unknown key generation mode ", static_cast<int>(c.mode)));
  }
  BELFRY_RETURN_IF_ERROR(CheckSet(c.n, c.f, "recipients"));
  BELFRY_RETURN_IF_ERROR(CheckSet(c.n_dealers, c.f_dealers, "dealers"));
  if (c.mode != Mode::kReshare && (c.n_dealers != c.n || c.f_dealers != c.f)) {
    return MakeError(ThresholdError::kInvalidParameters,
                     "only a reshare has dealers other than the recipients");
  }
  if (c.encryption_keys.size() != c.n) {
    return MakeError(ThresholdError::kInvalidParameters,
                     absl::StrCat(c.encryption_keys.size(), " encryption keys for n=", c.n));
  }
  for (size_t m = 0; m < c.encryption_keys.size(); ++m) {
    if (c.encryption_keys[m].IsIdentity()) {
      return MakeError(ThresholdError::kIdentityPoint,
                       absl::StrCat("encryption key ", m + 1, " is the identity"));
    }
  }
  if (c.context.size() > kDkgContextBytesMax) {
    return MakeError(ThresholdError::kTooLarge,
                     absl::StrCat("context is ", c.context.size(), " bytes; the limit is ",
                                  kDkgContextBytesMax));
  }
  return CheckOldKeys(c);
}

absl::StatusOr<pb::DkgPart> MakePart(const Config& config, uint32_t dealer,
                                     const KeyShare* old_share, Rng& rng) {
  BELFRY_RETURN_IF_ERROR(ValidateConfig(config));
  BELFRY_RETURN_IF_ERROR(CheckIndex(dealer, config.n_dealers, "dealer"));
  const uint32_t t = config.f;
  BELFRY_ASSIGN_OR_RETURN(Scalar secret, DealtSecret(config, dealer, old_share, rng));
  const std::vector<Scalar> a = RandomSymmetricPolynomial(t, std::move(secret), rng);

  pb::DkgPart part;
  part.set_format_version(kDkgFormatVersion);
  std::vector<Point> commitment;
  commitment.reserve(a.size());
  for (size_t k = 0; k < a.size(); ++k) {
    commitment.push_back(Point::MulBase(a[k]));
    // In a refresh C_00 is the identity (a_00 = 0), known to all: it is not sent.
    if (k == 0 && config.mode == Mode::kRefresh) continue;
    threshold::internal::AssignBytes(part.add_commitment(), commitment.back().span());
  }
  const std::array<uint8_t, 32> digest = internal::CommitmentDigest(config, dealer, commitment);

  const Scalar e = EphemeralSecret(rng);
  const Point ephemeral_key = Point::MulBase(e);
  threshold::internal::AssignBytes(part.mutable_ephemeral_key(), ephemeral_key.span());
  for (uint32_t m = 1; m <= config.n; ++m) {
    Bytes row = RowPlaintext(t, a, m);
    *part.add_rows() = internal::SealSlot(config, e, ephemeral_key, config.encryption_keys[m - 1],
                                          SlotId{dealer, 0, m}, digest, row);
    Wipe(row);
  }
  return part;
}

std::string SerializePart(const pb::DkgPart& part) {
  return threshold::internal::SerializeDeterministic(part);
}
std::string SerializeAck(const pb::DkgAck& ack) {
  return threshold::internal::SerializeDeterministic(ack);
}

absl::StatusOr<pb::DkgPart> ParsePart(ByteSpan bytes) {
  pb::DkgPart part;
  BELFRY_RETURN_IF_ERROR(
      threshold::internal::ParseBounded(bytes, kDkgPartBytesMax, &part, "DKG part"));
  return part;
}

absl::StatusOr<pb::DkgAck> ParseAck(ByteSpan bytes) {
  pb::DkgAck ack;
  BELFRY_RETURN_IF_ERROR(
      threshold::internal::ParseBounded(bytes, kDkgAckBytesMax, &ack, "DKG ack"));
  return ack;
}

KeyGeneration::KeyGeneration(Config config)
    : config_(std::move(config)), dealings_(config_.n_dealers) {}

absl::StatusOr<KeyGeneration> KeyGeneration::Create(Config config) {
  BELFRY_RETURN_IF_ERROR(ValidateConfig(config));
  return KeyGeneration(std::move(config));
}

const KeyGeneration::Dealing* KeyGeneration::FindDealing(uint32_t dealer) const {
  if (dealer < 1 || dealer > config_.n_dealers || !dealings_[dealer - 1].has_value())
    return nullptr;
  return &*dealings_[dealer - 1];
}

uint32_t KeyGeneration::ack_count(uint32_t dealer) const {
  const Dealing* d = FindDealing(dealer);
  return d == nullptr ? 0 : static_cast<uint32_t>(d->acks.size());
}

absl::Status KeyGeneration::AddPart(uint32_t dealer, const pb::DkgPart& part) {
  BELFRY_RETURN_IF_ERROR(CheckIndex(dealer, config_.n_dealers, "dealer"));
  if (dealings_[dealer - 1].has_value()) {
    return MakeError(ThresholdError::kDuplicateMessage,
                     absl::StrCat("dealer ", dealer, " already has a Part; the first one counts"));
  }
  BELFRY_RETURN_IF_ERROR(threshold::internal::CheckNoUnknownFields(part, "DKG part"));
  BELFRY_RETURN_IF_ERROR(CheckVersion(part.format_version(), "DKG part"));
  const uint32_t t = config_.f;
  const bool refresh = config_.mode == Mode::kRefresh;
  const size_t entries = TriangleSize(t) - (refresh ? 1 : 0);
  if (static_cast<size_t>(part.commitment_size()) != entries) {
    return MakeError(ThresholdError::kMalformed,
                     absl::StrCat("DKG part commits to ", part.commitment_size(),
                                  " coefficients; degree ", t, " in this mode needs ", entries));
  }
  if (static_cast<uint32_t>(part.rows_size()) != config_.n) {
    return MakeError(ThresholdError::kMalformed,
                     absl::StrCat("DKG part has ", part.rows_size(), " rows for n=", config_.n));
  }
  for (int m = 0; m < part.rows_size(); ++m) {
    if (part.rows(m).size() != RowBytes(config_) + kSealTagBytes) {
      return MakeError(ThresholdError::kMalformed,
                       absl::StrCat("DKG part row ", m + 1, " is ", part.rows(m).size(), " bytes"));
    }
  }
  Dealing d;
  BELFRY_ASSIGN_OR_RETURN(d.ephemeral_key, threshold::internal::PointField(
                                               part.ephemeral_key(), "DKG part ephemeral key"));
  d.commitment.reserve(TriangleSize(t));
  if (refresh) d.commitment.push_back(Point());  // C_00: the identity
  for (int k = 0; k < part.commitment_size(); ++k) {
    BELFRY_ASSIGN_OR_RETURN(
        Point c, threshold::internal::PointField(part.commitment(k), "DKG commitment entry"));
    d.commitment.push_back(c);
  }
  if (config_.mode == Mode::kReshare &&
      d.commitment[0] != config_.old_keys->verification_key(dealer)) {
    return MakeError(ThresholdError::kKeyMismatch,
                     absl::StrCat("dealer ", dealer, "'s Part does not share its old key share"));
  }
  if (done_) return absl::OkStatus();  // the decision is fixed; later Parts change nothing
  d.digest = internal::CommitmentDigest(config_, dealer, d.commitment);
  d.rows.assign(part.rows().begin(), part.rows().end());
  d.acked.assign(config_.n + 1, false);
  dealings_[dealer - 1] = std::move(d);
  return absl::OkStatus();
}

absl::Status KeyGeneration::AddAck(uint32_t acker, const pb::DkgAck& ack) {
  BELFRY_RETURN_IF_ERROR(CheckIndex(acker, config_.n, "acker"));
  BELFRY_RETURN_IF_ERROR(CheckIndex(ack.dealer(), config_.n_dealers, "acked dealer"));
  BELFRY_RETURN_IF_ERROR(threshold::internal::CheckNoUnknownFields(ack, "DKG ack"));
  BELFRY_RETURN_IF_ERROR(CheckVersion(ack.format_version(), "DKG ack"));
  if (static_cast<uint32_t>(ack.values_size()) != config_.n) {
    return MakeError(ThresholdError::kMalformed,
                     absl::StrCat("DKG ack has ", ack.values_size(), " values for n=", config_.n));
  }
  for (int j = 0; j < ack.values_size(); ++j) {
    if (ack.values(j).size() != kScalarBytes + kSealTagBytes) {
      return MakeError(ThresholdError::kMalformed, absl::StrCat("DKG ack value ", j + 1, " is ",
                                                                ack.values(j).size(), " bytes"));
    }
  }
  AckRecord record;
  record.acker = acker;
  BELFRY_ASSIGN_OR_RETURN(record.ephemeral_key, threshold::internal::PointField(
                                                    ack.ephemeral_key(), "DKG ack ephemeral key"));
  std::optional<Dealing>& slot = dealings_[ack.dealer() - 1];
  if (!slot.has_value()) {
    return MakeError(
        ThresholdError::kUnknownDealing,
        absl::StrCat("an Ack for dealer ", ack.dealer(), ", whose Part has not been added"));
  }
  Dealing& d = *slot;
  if (d.acked[acker]) {
    return MakeError(ThresholdError::kDuplicateMessage,
                     absl::StrCat("acker ", acker, " already acked dealer ", ack.dealer()));
  }
  if (done_) return absl::OkStatus();  // the decision is fixed; later Acks change nothing
  record.values.assign(ack.values().begin(), ack.values().end());
  d.acked[acker] = true;
  d.acks.push_back(std::move(record));
  if (!d.complete && d.acks.size() == 2 * static_cast<size_t>(config_.f) + 1) {
    d.complete = true;
    completed_.push_back(ack.dealer());
    if (completed_.size() == static_cast<size_t>(config_.f_dealers) + 1) {
      chosen_ = completed_;
      done_ = true;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<PublicKeySet> KeyGeneration::Result() const {
  if (!done_) return MakeError(ThresholdError::kNotDone, "key generation is not done");
  const uint32_t t = config_.f;
  std::vector<Scalar> lambdas(chosen_.size(), Scalar::One());
  if (config_.mode == Mode::kReshare) {
    BELFRY_ASSIGN_OR_RETURN(lambdas, LagrangeCoefficientsAtZero(chosen_));
  }
  Point public_key;
  std::vector<Point> verification_keys(config_.n);
  for (size_t q = 0; q < chosen_.size(); ++q) {
    const Dealing& d = *FindDealing(chosen_[q]);
    // Column 0 of the commitment, C_k0 = C_0k: the commitment to φ(x, 0).
    const std::vector<Point> column = CommitmentAt(t, d.commitment, 0);
    public_key = public_key.Add(column[0].Mul(lambdas[q]));
    for (uint32_t m = 1; m <= config_.n; ++m) {
      verification_keys[m - 1] =
          verification_keys[m - 1].Add(EvaluateInExponent(column, m).Mul(lambdas[q]));
    }
  }
  if (config_.mode == Mode::kRefresh) {
    public_key = config_.old_keys->public_key();
    for (uint32_t m = 1; m <= config_.n; ++m) {
      verification_keys[m - 1] =
          verification_keys[m - 1].Add(config_.old_keys->verification_key(m));
    }
  } else if (config_.mode == Mode::kReshare && public_key != config_.old_keys->public_key()) {
    return MakeError(ThresholdError::kKeyMismatch, "the reshared key is not the old public key");
  }
  return PublicKeySet::Create(config_.f, public_key, std::move(verification_keys));
}

absl::StatusOr<pb::DkgAck> KeyGeneration::MakeAck(uint32_t me, const EncryptionKeyPair& key,
                                                  uint32_t dealer, Rng& rng) const {
  BELFRY_RETURN_IF_ERROR(CheckIndex(me, config_.n, "recipient"));
  BELFRY_RETURN_IF_ERROR(CheckIndex(dealer, config_.n_dealers, "dealer"));
  const Dealing* d = FindDealing(dealer);
  if (d == nullptr) {
    return MakeError(ThresholdError::kUnknownDealing, absl::StrCat("no Part from dealer ", dealer));
  }
  if (key.public_key() != config_.encryption_keys[me - 1]) {
    return MakeError(ThresholdError::kKeyMismatch,
                     absl::StrCat("not recipient ", me, "'s encryption key"));
  }
  const uint32_t t = config_.f;
  BELFRY_ASSIGN_OR_RETURN(Bytes plain,
                          internal::OpenSlot(config_, key, d->ephemeral_key, SlotId{dealer, 0, me},
                                             d->digest, d->rows[me - 1], RowBytes(config_)));
  absl::StatusOr<std::vector<Scalar>> row = ParseRow(plain, t);
  Wipe(plain);
  if (!row.ok()) return row.status();
  const std::vector<Point> expected = CommitmentAt(t, d->commitment, me);
  for (uint32_t l = 0; l <= t; ++l) {
    if (Point::MulBase((*row)[l]) != expected[l]) {
      return MakeError(
          ThresholdError::kCommitmentMismatch,
          absl::StrCat("dealer ", dealer, "'s row for ", me, " is not the committed one"));
    }
  }
  pb::DkgAck ack;
  ack.set_format_version(kDkgFormatVersion);
  ack.set_dealer(dealer);
  const Scalar e = EphemeralSecret(rng);
  const Point ephemeral_key = Point::MulBase(e);
  threshold::internal::AssignBytes(ack.mutable_ephemeral_key(), ephemeral_key.span());
  for (uint32_t j = 1; j <= config_.n; ++j) {
    const Scalar value = internal::Evaluate(*row, j);  // φ(me, j)
    *ack.add_values() =
        internal::SealSlot(config_, e, ephemeral_key, config_.encryption_keys[j - 1],
                           SlotId{dealer, me, j}, d->digest, value.span());
  }
  return ack;
}

absl::StatusOr<KeyShare> KeyGeneration::MyShare(uint32_t me, const EncryptionKeyPair& key,
                                                const KeyShare* old_share,
                                                std::vector<AckFault>* faults) const {
  if (!done_) return MakeError(ThresholdError::kNotDone, "key generation is not done");
  BELFRY_RETURN_IF_ERROR(CheckIndex(me, config_.n, "recipient"));
  if (key.public_key() != config_.encryption_keys[me - 1]) {
    return MakeError(ThresholdError::kKeyMismatch,
                     absl::StrCat("not recipient ", me, "'s encryption key"));
  }
  Scalar secret;
  Point public_key;
  if (config_.mode == Mode::kRefresh) {
    if (old_share == nullptr) {
      return MakeError(ThresholdError::kInvalidParameters,
                       "a refresh needs the node's old key share");
    }
    if (old_share->index() != me) {
      return MakeError(ThresholdError::kKeyMismatch,
                       absl::StrCat("old key share ", old_share->index(), " for node ", me));
    }
    BELFRY_RETURN_IF_ERROR(CheckKeyShareMatches(*old_share, *config_.old_keys));
    secret = threshold::internal::KeyShareAccess::Secret(*old_share);
  }
  std::vector<Scalar> lambdas(chosen_.size(), Scalar::One());
  if (config_.mode == Mode::kReshare) {
    BELFRY_ASSIGN_OR_RETURN(lambdas, LagrangeCoefficientsAtZero(chosen_));
  }
  const uint32_t t = config_.f;
  Point expected_verification_key;
  for (size_t q = 0; q < chosen_.size(); ++q) {
    const uint32_t dealer = chosen_[q];
    const Dealing& d = *FindDealing(dealer);
    const std::vector<Point> at_me = CommitmentAt(t, d.commitment, me);  // φ(x, me) = φ(me, x)
    std::vector<uint32_t> ackers;
    std::vector<Scalar> values;
    for (const AckRecord& a : d.acks) {
      if (values.size() == t + 1) break;
      absl::StatusOr<Bytes> plain =
          internal::OpenSlot(config_, key, a.ephemeral_key, SlotId{dealer, a.acker, me}, d.digest,
                             a.values[me - 1], kScalarBytes);
      absl::StatusOr<Scalar> value =
          plain.ok() ? Scalar::FromCanonicalBytes(*plain) : absl::StatusOr<Scalar>(plain.status());
      if (plain.ok()) Wipe(*plain);
      if (value.ok() && Point::MulBase(*value) != EvaluateInExponent(at_me, a.acker)) {
        value = MakeError(ThresholdError::kCommitmentMismatch,
                          absl::StrCat("acker ", a.acker, "'s value of dealer ", dealer,
                                       " is not on the commitment"));
      }
      if (!value.ok()) {
        if (faults != nullptr) faults->push_back(AckFault{dealer, a.acker, value.status()});
        continue;
      }
      ackers.push_back(a.acker);
      values.push_back(std::move(*value));
    }
    if (values.size() < t + 1) {
      return MakeError(
          ThresholdError::kNotEnoughShares,
          absl::StrCat("only ", values.size(), " good values of dealer ", dealer, "'s Part"));
    }
    BELFRY_ASSIGN_OR_RETURN(const Scalar part_share,
                            InterpolateAtZero(ackers, values));  // φ(me, 0)
    secret = secret.Add(lambdas[q].Mul(part_share));
    expected_verification_key = expected_verification_key.Add(at_me[0].Mul(lambdas[q]));
    if (config_.mode == Mode::kFresh) public_key = public_key.Add(d.commitment[0]);
  }
  if (config_.mode == Mode::kRefresh) {
    expected_verification_key =
        expected_verification_key.Add(config_.old_keys->verification_key(me));
  }
  if (config_.mode != Mode::kFresh) public_key = config_.old_keys->public_key();
  // Good values lie on the committed polynomials, so this holds unless there is a bug.
  if (Point::MulBase(secret) != expected_verification_key) {
    return MakeError(ThresholdError::kKeyMismatch,
                     "the new share does not match its verification key");
  }
  return KeyShare::Create(config_.n, config_.f, me, std::move(secret), public_key);
}

}  // namespace belfry::threshold::dkg
