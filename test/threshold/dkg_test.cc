// Tests of threshold/dkg/: dealer-free key generation (hbbft's SyncKeyGen over atomic
// broadcast), proactive refresh (Herzberg et al. 1995) and resharing (Desmedt–Jajodia).
// Every test feeds all Parts and Acks to accumulators in one order, as atomic broadcast
// delivers them, and checks the outcome with the coin and TDH2 code that uses the keys.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/cord.h"
#include "base/rng.h"
#include "base/sha256.h"
#include "test/threshold/test_util.h"
#include "threshold/coin.h"
#include "threshold/dkg/encryption_key.h"
#include "threshold/dkg/internal/slot.h"
#include "threshold/dkg/key_generation.h"
#include "threshold/tdh2.h"

namespace belfry::threshold::dkg {
namespace {

using testing::Subsets;

// Recipients' encryption key pairs (entry m-1 for node m) and their public keys.
struct Nodes {
  std::vector<EncryptionKeyPair> keys;
  std::vector<Point> public_keys;
};

Nodes MakeNodes(uint32_t n, uint64_t seed) {
  DeterministicRng rng(seed);
  Nodes nodes;
  for (uint32_t m = 0; m < n; ++m) {
    nodes.keys.push_back(EncryptionKeyPair::Generate(rng));
    nodes.public_keys.push_back(nodes.keys.back().public_key());
  }
  return nodes;
}

Config MakeConfig(Mode mode, uint32_t n, uint32_t f, const Nodes& nodes, std::string context,
                  std::optional<PublicKeySet> old_keys = std::nullopt) {
  Config c;
  c.mode = mode;
  c.n = n;
  c.f = f;
  c.n_dealers = old_keys.has_value() ? old_keys->n() : n;
  c.f_dealers = old_keys.has_value() ? old_keys->f() : f;
  c.context = std::move(context);
  c.encryption_keys = nodes.public_keys;
  c.old_keys = std::move(old_keys);
  return c;
}

KeyGeneration MustCreate(const Config& config) {
  absl::StatusOr<KeyGeneration> kg = KeyGeneration::Create(config);
  REQUIRE(kg.ok());
  return *std::move(kg);
}

// Acks from every recipient for every added Part, dealer by dealer, until done. A recipient
// whose MakeAck fails (no Part, a bad row) sends none.
void AckAll(KeyGeneration& kg, const Nodes& nodes, Rng& rng) {
  for (uint32_t dealer = 1; dealer <= kg.config().n_dealers && !kg.done(); ++dealer) {
    for (uint32_t m = 1; m <= kg.config().n && !kg.done(); ++m) {
      absl::StatusOr<pb::DkgAck> ack = kg.MakeAck(m, nodes.keys[m - 1], dealer, rng);
      if (!ack.ok()) continue;
      REQUIRE_OK(kg.AddAck(m, *ack));
    }
  }
}

struct Outcome {
  PublicKeySet keys;
  std::vector<KeyShare> shares;  // entry m-1 for node m
  std::vector<uint32_t> chosen;
};

// Every node's share of the run `kg` decided.
std::vector<KeyShare> AllShares(const KeyGeneration& kg, const Nodes& nodes,
                                const std::vector<KeyShare>* old_shares) {
  std::vector<KeyShare> shares;
  for (uint32_t m = 1; m <= kg.config().n; ++m) {
    const KeyShare* old = old_shares != nullptr ? &(*old_shares)[m - 1] : nullptr;
    absl::StatusOr<KeyShare> share = kg.MyShare(m, nodes.keys[m - 1], old);
    REQUIRE_OK(share.status());
    shares.push_back(*std::move(share));
  }
  return shares;
}

// An honest run: every dealer's Part in dealer order, then Acks (AckAll).
// `dealer_old_shares` are the dealers' old shares (kReshare), `recipient_old_shares` the
// recipients' (kRefresh).
Outcome HonestRun(const Config& config, const Nodes& nodes, Rng& rng,
                  const std::vector<KeyShare>* dealer_old_shares = nullptr,
                  const std::vector<KeyShare>* recipient_old_shares = nullptr) {
  KeyGeneration kg = MustCreate(config);
  for (uint32_t i = 1; i <= config.n_dealers; ++i) {
    const KeyShare* old = dealer_old_shares != nullptr ? &(*dealer_old_shares)[i - 1] : nullptr;
    absl::StatusOr<pb::DkgPart> part = MakePart(config, i, old, rng);
    REQUIRE_OK(part.status());
    REQUIRE_OK(kg.AddPart(i, *part));
  }
  AckAll(kg, nodes, rng);
  REQUIRE(kg.done());
  REQUIRE(kg.chosen_dealers().size() == config.f_dealers + 1);
  absl::StatusOr<PublicKeySet> keys = kg.Result();
  REQUIRE_OK(keys.status());
  return Outcome{*keys, AllShares(kg, nodes, recipient_old_shares), kg.chosen_dealers()};
}

// One decryption share provider per share, in index order.
std::vector<DecryptionShareProvider> Providers(std::vector<KeyShare> shares,
                                               const PublicKeySet& keys) {
  std::vector<DecryptionShareProvider> out;
  for (KeyShare& s : shares) {
    absl::StatusOr<DecryptionShareProvider> p = DecryptionShareProvider::Create(std::move(s), keys);
    REQUIRE_OK(p.status());
    out.push_back(*std::move(p));
  }
  return out;
}

// Decrypts `ct` with the shares of `subset` (1-based indices into `providers`).
SymmetricKey DecryptWith(const std::vector<DecryptionShareProvider>& providers,
                         const PublicKeySet& keys, const Ciphertext& ct,
                         const std::vector<uint32_t>& subset) {
  std::vector<DecryptionShare> shares;
  for (uint32_t i : subset) {
    absl::StatusOr<DecryptionShare> d = providers[i - 1].MakeShare(ct, ct.label);
    REQUIRE_OK(d.status());
    REQUIRE_OK(VerifyDecryptionShareFrom(keys, i, ct, *d));
    shares.push_back(*d);
  }
  absl::StatusOr<SymmetricKey> key = CombineDecryptionShares(keys, ct, shares);
  REQUIRE_OK(key.status());
  return *key;
}

// The coin and TDH2 both work with the generated key set: each node's coin share verifies,
// every (f+1)-subset (or the first `subsets_max`) gives the same coin, and a fresh TDH2
// ciphertext opens with every such subset.
void CheckKeysWork(Outcome& out, size_t subsets_max) {
  const PublicKeySet& keys = out.keys;
  std::vector<CoinShare> coin_shares;
  for (KeyShare& s : out.shares) {
    REQUIRE_OK(CheckKeyShareMatches(s, keys));
    const uint32_t index = s.index();
    absl::StatusOr<CoinShare> share = CoinSigner(std::move(s)).MakeShare("dkg-test/coin");
    REQUIRE_OK(share.status());
    REQUIRE_OK(VerifyCoinShareFrom(keys, index, "dkg-test/coin", *share));
    coin_shares.push_back(*share);
  }
  out.shares.clear();
  std::optional<CoinValue> coin;
  std::vector<std::vector<uint32_t>> subsets = Subsets(keys.n(), keys.threshold());
  if (subsets.size() > subsets_max) subsets.resize(subsets_max);
  for (const std::vector<uint32_t>& subset : subsets) {
    std::vector<CoinShare> chosen;
    for (uint32_t i : subset) chosen.push_back(coin_shares[i - 1]);
    absl::StatusOr<CoinValue> value = CombineCoin(keys, "dkg-test/coin", chosen);
    REQUIRE_OK(value.status());
    if (!coin.has_value()) coin = *value;
    REQUIRE(*value == *coin);
  }
}

void CheckTdh2Works(std::vector<KeyShare> shares, const PublicKeySet& keys, Rng& rng,
                    size_t subsets_max) {
  const SymmetricKey key = SymmetricKey::Random(rng);
  absl::StatusOr<Ciphertext> ct = Encrypt(keys, "doc=dkg;version=1", key, rng);
  REQUIRE_OK(ct.status());
  const std::vector<DecryptionShareProvider> providers = Providers(std::move(shares), keys);
  std::vector<std::vector<uint32_t>> subsets = Subsets(keys.n(), keys.threshold());
  if (subsets.size() > subsets_max) subsets.resize(subsets_max);
  for (const std::vector<uint32_t>& subset : subsets)
    REQUIRE(DecryptWith(providers, keys, *ct, subset) == key);
}

void FullRun(uint32_t n, uint32_t f, uint64_t seed, size_t subsets_max) {
  DeterministicRng rng(seed);
  const Nodes nodes = MakeNodes(n, seed + 1);
  const Config config = MakeConfig(Mode::kFresh, n, f, nodes, "cluster=test;run=1;key=coin");
  Outcome coin = HonestRun(config, nodes, rng);
  CheckKeysWork(coin, subsets_max);
  const Config tdh2_config = MakeConfig(Mode::kFresh, n, f, nodes, "cluster=test;run=1;key=tdh2");
  Outcome tdh2 = HonestRun(tdh2_config, nodes, rng);
  REQUIRE(tdh2.keys.public_key() != coin.keys.public_key());
  CheckTdh2Works(std::move(tdh2.shares), tdh2.keys, rng, subsets_max);
}

TEST_CASE("DKG: a fresh key at N=4 f=1 works for the coin and TDH2 from every (f+1)-subset",
          "[threshold][dkg]") {
  FullRun(4, 1, 100, 1000);
}

TEST_CASE("DKG: a fresh key at N=7 f=2 works for the coin and TDH2", "[threshold][dkg]") {
  FullRun(7, 2, 200, 12);
}

// ---- Byzantine dealers and ackers ----

using internal::CommitmentDigest;
using internal::SealSlot;
using internal::SlotId;
using internal::TriangleIndex;
using internal::TriangleSize;

// A dealer's polynomial in the open, as a Byzantine dealer holds it.
struct Polynomial {
  uint32_t t = 0;
  std::vector<Scalar> a;  // upper triangle, TriangleIndex order
  Scalar At(uint32_t x, uint32_t y) const {
    Scalar sum;
    Scalar xk = Scalar::One();
    for (uint32_t k = 0; k <= t; ++k) {
      Scalar yl = Scalar::One();
      for (uint32_t l = 0; l <= t; ++l) {
        sum = sum.Add(a[k <= l ? TriangleIndex(t, k, l) : TriangleIndex(t, l, k)].Mul(xk).Mul(yl));
        yl = yl.Mul(Scalar::FromUint64(y));
      }
      xk = xk.Mul(Scalar::FromUint64(x));
    }
    return sum;
  }
};

std::vector<Point> Commit(const Polynomial& p) {
  std::vector<Point> c;
  for (const Scalar& s : p.a) c.push_back(Point::MulBase(s));
  return c;
}

// A fresh-mode Part built by hand, so a test can make row `m` anything it likes:
// plaintext(m) returns the bytes to seal for recipient m.
pb::DkgPart HandmadePartBytes(const Config& config, uint32_t dealer, const Polynomial& p,
                              const std::function<Bytes(uint32_t)>& plaintext, Rng& rng) {
  const std::vector<Point> commitment = Commit(p);
  const std::array<uint8_t, 32> digest = CommitmentDigest(config, dealer, commitment);
  pb::DkgPart part;
  part.set_format_version(kDkgFormatVersion);
  for (const Point& c : commitment) part.add_commitment(testing::ToString(c.span()));
  const Scalar e = Scalar::Random(rng);
  const Point ephemeral = Point::MulBase(e);
  part.set_ephemeral_key(testing::ToString(ephemeral.span()));
  for (uint32_t m = 1; m <= config.n; ++m) {
    *part.add_rows() = SealSlot(config, e, ephemeral, config.encryption_keys[m - 1],
                                SlotId{dealer, 0, m}, digest, plaintext(m));
  }
  return part;
}

// The same with row(m) giving the t+1 coefficients to seal for recipient m.
pb::DkgPart HandmadePart(const Config& config, uint32_t dealer, const Polynomial& p,
                         const std::function<std::vector<Scalar>(uint32_t)>& row, Rng& rng) {
  return HandmadePartBytes(
      config, dealer, p,
      [&](uint32_t m) {
        Bytes plain;
        for (const Scalar& s : row(m))
          plain.insert(plain.end(), s.bytes().begin(), s.bytes().end());
        return plain;
      },
      rng);
}

Polynomial RandomPolynomial(uint32_t t, Rng& rng) {
  Polynomial p;
  p.t = t;
  for (size_t k = 0; k < TriangleSize(t); ++k) p.a.push_back(Scalar::Random(rng));
  return p;
}

// The honest row of recipient m: coefficient l of φ(m, y), by interpolation-free expansion.
std::vector<Scalar> HonestRow(const Polynomial& p, uint32_t m) {
  std::vector<Scalar> row;
  for (uint32_t l = 0; l <= p.t; ++l) {
    Scalar c;
    Scalar mk = Scalar::One();
    for (uint32_t k = 0; k <= p.t; ++k) {
      c = c.Add(p.a[k <= l ? TriangleIndex(p.t, k, l) : TriangleIndex(p.t, l, k)].Mul(mk));
      mk = mk.Mul(Scalar::FromUint64(m));
    }
    row.push_back(c);
  }
  return row;
}

// A Byzantine acker's Ack of `dealer`'s Part whose value for j is value(j), validly sealed.
pb::DkgAck HandmadeAck(const Config& config, uint32_t acker, uint32_t dealer,
                       const std::vector<Point>& commitment,
                       const std::function<Scalar(uint32_t)>& value, Rng& rng) {
  const std::array<uint8_t, 32> digest = CommitmentDigest(config, dealer, commitment);
  pb::DkgAck ack;
  ack.set_format_version(kDkgFormatVersion);
  ack.set_dealer(dealer);
  const Scalar e = Scalar::Random(rng);
  const Point ephemeral = Point::MulBase(e);
  ack.set_ephemeral_key(testing::ToString(ephemeral.span()));
  for (uint32_t j = 1; j <= config.n; ++j) {
    const Scalar v = value(j);
    *ack.add_values() = SealSlot(config, e, ephemeral, config.encryption_keys[j - 1],
                                 SlotId{dealer, acker, j}, digest, v.span());
  }
  return ack;
}

TEST_CASE(
    "DKG: f Byzantine dealers and ackers at N=7 f=2: generation completes and every bad input "
    "gets its status",
    "[threshold][dkg]") {
  DeterministicRng rng(300);
  const Nodes nodes = MakeNodes(7, 301);
  const Config config = MakeConfig(Mode::kFresh, 7, 2, nodes, "cluster=test;run=byzantine");
  KeyGeneration kg = MustCreate(config);
  // Nodes 1 and 2 are Byzantine. Node 2 never sends a Part, and acks before any Part.
  const pb::DkgAck early = HandmadeAck(
      config, 5, 2, Commit(RandomPolynomial(2, rng)), [](uint32_t) { return Scalar::One(); }, rng);
  REQUIRE_THRESHOLD_ERROR(kg.AddAck(5, early), kFailedPrecondition, kUnknownDealing);

  // Dealer 1: recipient 3's row is off the commitment, recipient 4's does not open.
  const Polynomial p1 = RandomPolynomial(2, rng);
  pb::DkgPart part1 = HandmadePart(
      config, 1, p1,
      [&](uint32_t m) {
        std::vector<Scalar> row = HonestRow(p1, m);
        if (m == 3) row[1] = row[1].Add(Scalar::One());
        return row;
      },
      rng);
  (*part1.mutable_rows(3))[5] ^= 0x01;
  REQUIRE_OK(kg.AddPart(1, part1));
  // A second Part from dealer 1 is refused: the first one counts.
  const pb::DkgPart again = HandmadePart(
      config, 1, p1, [&](uint32_t m) { return HonestRow(p1, m); }, rng);
  REQUIRE_THRESHOLD_ERROR(kg.AddPart(1, again), kAlreadyExists, kDuplicateMessage);
  for (uint32_t i = 3; i <= 7; ++i) {
    absl::StatusOr<pb::DkgPart> part = MakePart(config, i, nullptr, rng);
    REQUIRE_OK(part.status());
    REQUIRE_OK(kg.AddPart(i, *part));
  }

  // The recipients with bad rows refuse to ack, each with its reason.
  REQUIRE_THRESHOLD_ERROR(kg.MakeAck(3, nodes.keys[2], 1, rng).status(), kUnauthenticated,
                          kCommitmentMismatch);
  REQUIRE_THRESHOLD_ERROR(kg.MakeAck(4, nodes.keys[3], 1, rng).status(), kDataLoss,
                          kDecryptionFailed);

  for (uint32_t i = 1; i <= 7 && !kg.done(); ++i) {
    if (i == 2) continue;  // withheld
    if (i == 1) {
      // Byzantine acker 1 acks its own Part with validly sealed values off the polynomial.
      REQUIRE_OK(
          kg.AddAck(1, HandmadeAck(
                           config, 1, 1, Commit(p1),
                           [&](uint32_t j) { return p1.At(1, j).Add(Scalar::One()); }, rng)));
    }
    // Byzantine acker 2: garbage where its values should be.
    absl::StatusOr<pb::DkgAck> garbage = kg.MakeAck(2, nodes.keys[1], i, rng);
    REQUIRE_OK(garbage.status());
    for (int j = 0; j < garbage->values_size(); ++j) (*garbage->mutable_values(j))[0] ^= 0x80;
    REQUIRE_OK(kg.AddAck(2, *garbage));
    REQUIRE_THRESHOLD_ERROR(kg.AddAck(2, *garbage), kAlreadyExists, kDuplicateMessage);
    for (uint32_t m = 3; m <= 7 && !kg.done(); ++m) {
      absl::StatusOr<pb::DkgAck> ack = kg.MakeAck(m, nodes.keys[m - 1], i, rng);
      if (i == 1 && (m == 3 || m == 4)) {
        REQUIRE(!ack.ok());
        continue;
      }
      REQUIRE_OK(ack.status());
      REQUIRE_OK(kg.AddAck(m, *ack));
    }
  }
  REQUIRE(kg.done());
  // Dealer 1's Part completed first (acks from 1, 2, 5, 6, 7), then 3's and 4's.
  REQUIRE(kg.chosen_dealers() == std::vector<uint32_t>{1, 3, 4});
  absl::StatusOr<PublicKeySet> keys = kg.Result();
  REQUIRE_OK(keys.status());

  // Later messages change nothing.
  absl::StatusOr<pb::DkgAck> late = kg.MakeAck(3, nodes.keys[2], 5, rng);
  REQUIRE_OK(late.status());
  REQUIRE_OK(kg.AddAck(3, *late));
  REQUIRE(kg.ack_count(5) == 0);

  // Every node gets a share; the honest ones see the Byzantine ackers' bad values.
  std::vector<KeyShare> shares;
  for (uint32_t m = 1; m <= 7; ++m) {
    std::vector<AckFault> faults;
    absl::StatusOr<KeyShare> share = kg.MyShare(m, nodes.keys[m - 1], nullptr, &faults);
    REQUIRE_OK(share.status());
    shares.push_back(*std::move(share));
    // Dealer 1's Acks: 1's value is off the commitment, 2's does not open; 3 and 4's Acks
    // (dealers 3, 4) start with 2's garbage.
    REQUIRE(faults.size() == 4);
    REQUIRE(faults[0].dealer == 1);
    REQUIRE(faults[0].acker == 1);
    REQUIRE_THRESHOLD_ERROR(faults[0].status, kUnauthenticated, kCommitmentMismatch);
    REQUIRE(faults[1].acker == 2);
    REQUIRE_THRESHOLD_ERROR(faults[1].status, kDataLoss, kDecryptionFailed);
    REQUIRE(faults[2].dealer == 3);
    REQUIRE(faults[3].dealer == 4);
  }
  Outcome out{*keys, std::move(shares), kg.chosen_dealers()};
  CheckKeysWork(out, 35);
}

TEST_CASE("DKG: a row that opens to a non-canonical coefficient gets no Ack", "[threshold][dkg]") {
  DeterministicRng rng(350);
  const Nodes nodes = MakeNodes(4, 351);
  const Config config = MakeConfig(Mode::kFresh, 4, 1, nodes, "cluster=test;run=noncanonical");
  KeyGeneration kg = MustCreate(config);
  const Polynomial p = RandomPolynomial(1, rng);
  const pb::DkgPart part = HandmadePartBytes(
      config, 1, p,
      [&](uint32_t m) {
        Bytes plain;
        for (const Scalar& s : HonestRow(p, m))
          plain.insert(plain.end(), s.bytes().begin(), s.bytes().end());
        if (m == 2)
          std::fill(plain.begin() + kScalarBytes, plain.end(), 0xff);  // coefficient 1 >= L
        return plain;
      },
      rng);
  REQUIRE_OK(kg.AddPart(1, part));
  REQUIRE_OK(kg.MakeAck(1, nodes.keys[0], 1, rng).status());
  REQUIRE_THRESHOLD_ERROR(kg.MakeAck(2, nodes.keys[1], 1, rng).status(), kInvalidArgument,
                          kNonCanonicalScalar);
  REQUIRE_OK(kg.MakeAck(3, nodes.keys[2], 1, rng).status());
  // A node's encryption key is checked before anything is opened.
  REQUIRE_THRESHOLD_ERROR(kg.MakeAck(2, nodes.keys[2], 1, rng).status(), kFailedPrecondition,
                          kKeyMismatch);
}

TEST_CASE("DKG: the new ThresholdErrors have names and round-trip through a status",
          "[threshold][dkg]") {
  REQUIRE(ThresholdErrorName(ThresholdError::kDecryptionFailed) == "DecryptionFailed");
  REQUIRE(ThresholdErrorName(ThresholdError::kCommitmentMismatch) == "CommitmentMismatch");
  REQUIRE(ThresholdErrorName(ThresholdError::kUnknownDealing) == "UnknownDealing");
  REQUIRE(ThresholdErrorName(ThresholdError::kDuplicateMessage) == "DuplicateMessage");
  REQUIRE(ThresholdErrorName(ThresholdError::kNotDone) == "NotDone");
  absl::Status beyond = absl::InternalError("x");
  beyond.SetPayload("belfry.threshold/ThresholdError", absl::Cord("23"));  // one past kNotDone
  REQUIRE(!ThresholdErrorOf(beyond).has_value());
}

TEST_CASE("DKG: AddPart refuses malformed Parts with their exact statuses", "[threshold][dkg]") {
  DeterministicRng rng(400);
  const Nodes nodes = MakeNodes(4, 401);
  const Config config = MakeConfig(Mode::kFresh, 4, 1, nodes, "cluster=test;run=parts");
  KeyGeneration kg = MustCreate(config);
  absl::StatusOr<pb::DkgPart> good = MakePart(config, 1, nullptr, rng);
  REQUIRE_OK(good.status());
  REQUIRE(good->commitment_size() == 3);  // C_00, C_01, C_11

  REQUIRE_THRESHOLD_ERROR(kg.AddPart(0, *good), kOutOfRange, kIndexOutOfRange);
  REQUIRE_THRESHOLD_ERROR(kg.AddPart(5, *good), kOutOfRange, kIndexOutOfRange);
  pb::DkgPart p = *good;
  p.set_format_version(2);
  REQUIRE_THRESHOLD_ERROR(kg.AddPart(1, p), kInvalidArgument, kMalformed);
  p = *good;
  p.mutable_commitment()->RemoveLast();  // a commitment of the wrong degree
  REQUIRE_THRESHOLD_ERROR(kg.AddPart(1, p), kInvalidArgument, kMalformed);
  p = *good;
  p.add_commitment(good->commitment(0));  // one coefficient too many
  REQUIRE_THRESHOLD_ERROR(kg.AddPart(1, p), kInvalidArgument, kMalformed);
  p = *good;
  p.mutable_rows()->RemoveLast();
  REQUIRE_THRESHOLD_ERROR(kg.AddPart(1, p), kInvalidArgument, kMalformed);
  p = *good;
  p.mutable_rows(2)->push_back('x');
  REQUIRE_THRESHOLD_ERROR(kg.AddPart(1, p), kInvalidArgument, kMalformed);
  p = *good;
  (*p.mutable_commitment(1))[31] = static_cast<char>(0xff);
  REQUIRE_THRESHOLD_ERROR(kg.AddPart(1, p), kInvalidArgument, kNonCanonicalPoint);
  p = *good;
  p.set_ephemeral_key(std::string(32, '\0'));
  REQUIRE_THRESHOLD_ERROR(kg.AddPart(1, p), kInvalidArgument, kIdentityPoint);
  p = *good;
  p.GetReflection()->MutableUnknownFields(&p)->AddVarint(15, 1);
  REQUIRE_THRESHOLD_ERROR(kg.AddPart(1, p), kInvalidArgument, kMalformed);
  // None of those counted: the good Part is still the first from dealer 1.
  REQUIRE_OK(kg.AddPart(1, *good));
  REQUIRE_THRESHOLD_ERROR(kg.AddPart(1, *good), kAlreadyExists, kDuplicateMessage);

  // Parsing bounds the size before protobuf sees it.
  REQUIRE_THRESHOLD_ERROR(ParsePart(AsBytes(std::string(kDkgPartBytesMax + 1, '\0'))).status(),
                          kResourceExhausted, kTooLarge);
  REQUIRE_THRESHOLD_ERROR(ParsePart(AsBytes(std::string("\xff\xff\xff", 3))).status(),
                          kInvalidArgument, kMalformed);
  absl::StatusOr<pb::DkgPart> round_trip = ParsePart(AsBytes(SerializePart(*good)));
  REQUIRE_OK(round_trip.status());
  REQUIRE(SerializePart(*round_trip) == SerializePart(*good));
}

TEST_CASE("DKG: AddAck refuses malformed, early and duplicate Acks with their exact statuses",
          "[threshold][dkg]") {
  DeterministicRng rng(500);
  const Nodes nodes = MakeNodes(4, 501);
  const Config config = MakeConfig(Mode::kFresh, 4, 1, nodes, "cluster=test;run=acks");
  KeyGeneration kg = MustCreate(config);
  absl::StatusOr<pb::DkgPart> part = MakePart(config, 2, nullptr, rng);
  REQUIRE_OK(part.status());
  REQUIRE_THRESHOLD_ERROR(kg.MakeAck(1, nodes.keys[0], 2, rng).status(), kFailedPrecondition,
                          kUnknownDealing);
  REQUIRE_OK(kg.AddPart(2, *part));
  absl::StatusOr<pb::DkgAck> good = kg.MakeAck(1, nodes.keys[0], 2, rng);
  REQUIRE_OK(good.status());
  REQUIRE_THRESHOLD_ERROR(kg.MakeAck(1, nodes.keys[1], 2, rng).status(), kFailedPrecondition,
                          kKeyMismatch);
  REQUIRE_THRESHOLD_ERROR(kg.MakeAck(5, nodes.keys[0], 2, rng).status(), kOutOfRange,
                          kIndexOutOfRange);

  REQUIRE_THRESHOLD_ERROR(kg.AddAck(0, *good), kOutOfRange, kIndexOutOfRange);
  REQUIRE_THRESHOLD_ERROR(kg.AddAck(5, *good), kOutOfRange, kIndexOutOfRange);
  pb::DkgAck a = *good;
  a.set_dealer(5);
  REQUIRE_THRESHOLD_ERROR(kg.AddAck(1, a), kOutOfRange, kIndexOutOfRange);
  a = *good;
  a.set_dealer(3);  // dealer 3 has sent no Part
  REQUIRE_THRESHOLD_ERROR(kg.AddAck(1, a), kFailedPrecondition, kUnknownDealing);
  a = *good;
  a.set_format_version(0);
  REQUIRE_THRESHOLD_ERROR(kg.AddAck(1, a), kInvalidArgument, kMalformed);
  a = *good;
  a.mutable_values()->RemoveLast();
  REQUIRE_THRESHOLD_ERROR(kg.AddAck(1, a), kInvalidArgument, kMalformed);
  a = *good;
  a.mutable_values(0)->pop_back();
  REQUIRE_THRESHOLD_ERROR(kg.AddAck(1, a), kInvalidArgument, kMalformed);
  a = *good;
  a.set_ephemeral_key("short");
  REQUIRE_THRESHOLD_ERROR(kg.AddAck(1, a), kInvalidArgument, kMalformed);
  a = *good;
  a.set_ephemeral_key(std::string(32, '\xff'));
  REQUIRE_THRESHOLD_ERROR(kg.AddAck(1, a), kInvalidArgument, kNonCanonicalPoint);
  REQUIRE(kg.ack_count(2) == 0);
  REQUIRE_OK(kg.AddAck(1, *good));
  REQUIRE_THRESHOLD_ERROR(kg.AddAck(1, *good), kAlreadyExists, kDuplicateMessage);
  REQUIRE(kg.ack_count(2) == 1);
  REQUIRE_THRESHOLD_ERROR(kg.Result().status(), kFailedPrecondition, kNotDone);
  REQUIRE_THRESHOLD_ERROR(kg.MyShare(1, nodes.keys[0], nullptr).status(), kFailedPrecondition,
                          kNotDone);

  REQUIRE_THRESHOLD_ERROR(ParseAck(AsBytes(std::string(kDkgAckBytesMax + 1, '\0'))).status(),
                          kResourceExhausted, kTooLarge);
}

TEST_CASE("DKG: a Part made for another run or mode does not open", "[threshold][dkg]") {
  DeterministicRng rng(550);
  const Nodes nodes = MakeNodes(4, 551);
  const Config run1 = MakeConfig(Mode::kFresh, 4, 1, nodes, "cluster=test;run=1");
  const Config run2 = MakeConfig(Mode::kFresh, 4, 1, nodes, "cluster=test;run=2");
  absl::StatusOr<pb::DkgPart> part = MakePart(run1, 1, nullptr, rng);
  REQUIRE_OK(part.status());
  KeyGeneration kg = MustCreate(run2);
  REQUIRE_OK(kg.AddPart(1, *part));  // well formed, so it is accepted ...
  // ... but its rows are bound to run 1: nobody in run 2 can ack it.
  for (uint32_t m = 1; m <= 4; ++m) {
    REQUIRE_THRESHOLD_ERROR(kg.MakeAck(m, nodes.keys[m - 1], 1, rng).status(), kDataLoss,
                            kDecryptionFailed);
  }
}

TEST_CASE("DKG: Config validation", "[threshold][dkg]") {
  const Nodes nodes = MakeNodes(4, 600);
  Config c = MakeConfig(Mode::kFresh, 4, 1, nodes, "ctx");
  REQUIRE_OK(ValidateConfig(c));
  Config bad = c;
  bad.f = 2;
  bad.f_dealers = 2;  // 3f >= n
  REQUIRE_THRESHOLD_ERROR(ValidateConfig(bad), kInvalidArgument, kInvalidParameters);
  bad = c;
  bad.n_dealers = 7;  // only a reshare has other dealers
  bad.f_dealers = 2;
  REQUIRE_THRESHOLD_ERROR(ValidateConfig(bad), kInvalidArgument, kInvalidParameters);
  bad = c;
  bad.encryption_keys.pop_back();
  REQUIRE_THRESHOLD_ERROR(ValidateConfig(bad), kInvalidArgument, kInvalidParameters);
  bad = c;
  bad.encryption_keys[2] = Point();
  REQUIRE_THRESHOLD_ERROR(ValidateConfig(bad), kInvalidArgument, kIdentityPoint);
  bad = c;
  bad.context.assign(kDkgContextBytesMax + 1, 'x');
  REQUIRE_THRESHOLD_ERROR(ValidateConfig(bad), kResourceExhausted, kTooLarge);
  bad = c;
  bad.mode = Mode::kRefresh;  // without the old key set
  REQUIRE_THRESHOLD_ERROR(ValidateConfig(bad), kInvalidArgument, kInvalidParameters);
  bad = c;
  bad.mode = static_cast<Mode>(9);
  REQUIRE_THRESHOLD_ERROR(KeyGeneration::Create(bad).status(), kInvalidArgument,
                          kInvalidParameters);
  DeterministicRng rng(601);
  REQUIRE_THRESHOLD_ERROR(MakePart(c, 5, nullptr, rng).status(), kOutOfRange, kIndexOutOfRange);
}

// ---- Refresh ----

TEST_CASE(
    "DKG refresh: same public key, old ciphertexts still open, old and new shares do not mix, "
    "twice in a row (Herzberg et al. 1995)",
    "[threshold][dkg]") {
  DeterministicRng rng(700);
  const Nodes nodes = MakeNodes(4, 701);
  Outcome fresh =
      HonestRun(MakeConfig(Mode::kFresh, 4, 1, nodes, "cluster=test;run=r0;key=tdh2"), nodes, rng);
  const SymmetricKey key = SymmetricKey::Random(rng);
  absl::StatusOr<Ciphertext> ct = Encrypt(fresh.keys, "doc=old;version=1", key, rng);
  REQUIRE_OK(ct.status());

  const Config refresh1 =
      MakeConfig(Mode::kRefresh, 4, 1, nodes, "cluster=test;run=r1;key=tdh2", fresh.keys);
  absl::StatusOr<pb::DkgPart> refresh_part = MakePart(refresh1, 1, nullptr, rng);
  REQUIRE_OK(refresh_part.status());
  REQUIRE(refresh_part->commitment_size() == 2);  // C_00 = identity is not sent
  Outcome r1 = HonestRun(refresh1, nodes, rng, nullptr, &fresh.shares);
  REQUIRE(r1.keys.public_key() == fresh.keys.public_key());
  for (uint32_t m = 1; m <= 4; ++m)
    REQUIRE(r1.keys.verification_key(m) != fresh.keys.verification_key(m));
  REQUIRE_THRESHOLD_ERROR(
      KeyGeneration::Create(refresh1)->MyShare(1, nodes.keys[0], nullptr).status(),
      kFailedPrecondition, kNotDone);

  // Old ciphertext, new shares.
  const std::vector<DecryptionShareProvider> new_providers =
      Providers(std::move(r1.shares), r1.keys);
  for (const std::vector<uint32_t>& subset : Subsets(4, 2)) {
    REQUIRE(DecryptWith(new_providers, r1.keys, *ct, subset) == key);
  }
  // f old shares and one new share: the old share's decryption share fails against the new
  // key set, and combining them anyway gives the wrong key.
  const std::vector<DecryptionShareProvider> old_providers =
      Providers(std::move(fresh.shares), fresh.keys);
  absl::StatusOr<DecryptionShare> old_share = old_providers[0].MakeShare(*ct, ct->label);
  absl::StatusOr<DecryptionShare> new_share = new_providers[1].MakeShare(*ct, ct->label);
  REQUIRE_OK(old_share.status());
  REQUIRE_OK(new_share.status());
  REQUIRE_THRESHOLD_ERROR(VerifyDecryptionShare(r1.keys, *ct, *old_share), kUnauthenticated,
                          kInvalidShareProof);
  REQUIRE_THRESHOLD_ERROR(VerifyDecryptionShare(fresh.keys, *ct, *new_share), kUnauthenticated,
                          kInvalidShareProof);
  const std::vector<DecryptionShare> mixed{*old_share, *new_share};
  absl::StatusOr<SymmetricKey> wrong = CombineDecryptionShares(r1.keys, *ct, mixed);
  REQUIRE_OK(wrong.status());
  REQUIRE(!(*wrong == key));
}

TEST_CASE("DKG refresh: two refreshes in a row keep the key, and a refresh needs the old share",
          "[threshold][dkg]") {
  DeterministicRng rng(750);
  const Nodes nodes = MakeNodes(4, 751);
  Outcome fresh =
      HonestRun(MakeConfig(Mode::kFresh, 4, 1, nodes, "cluster=test;run=s0"), nodes, rng);
  const SymmetricKey key = SymmetricKey::Random(rng);
  absl::StatusOr<Ciphertext> ct = Encrypt(fresh.keys, "doc=old;version=2", key, rng);
  REQUIRE_OK(ct.status());
  const Config c1 = MakeConfig(Mode::kRefresh, 4, 1, nodes, "cluster=test;run=s1", fresh.keys);
  Outcome r1 = HonestRun(c1, nodes, rng, nullptr, &fresh.shares);
  const Config c2 = MakeConfig(Mode::kRefresh, 4, 1, nodes, "cluster=test;run=s2", r1.keys);
  Outcome r2 = HonestRun(c2, nodes, rng, nullptr, &r1.shares);
  REQUIRE(r2.keys.public_key() == fresh.keys.public_key());
  const std::vector<DecryptionShareProvider> providers = Providers(std::move(r2.shares), r2.keys);
  REQUIRE(DecryptWith(providers, r2.keys, *ct, {2, 4}) == key);

  // MyShare in a refresh needs this node's share of the refreshed key set.
  KeyGeneration kg = MustCreate(c2);
  for (uint32_t i = 1; i <= 4; ++i) REQUIRE_OK(kg.AddPart(i, *MakePart(c2, i, nullptr, rng)));
  AckAll(kg, nodes, rng);
  REQUIRE_THRESHOLD_ERROR(kg.MyShare(1, nodes.keys[0], nullptr).status(), kInvalidArgument,
                          kInvalidParameters);
  REQUIRE_THRESHOLD_ERROR(kg.MyShare(1, nodes.keys[0], &r1.shares[1]).status(), kFailedPrecondition,
                          kKeyMismatch);
  REQUIRE_THRESHOLD_ERROR(kg.MyShare(1, nodes.keys[0], &fresh.shares[0]).status(),
                          kFailedPrecondition, kKeyMismatch);
  REQUIRE_OK(kg.MyShare(1, nodes.keys[0], &r1.shares[0]).status());
  // A refresh Part that sends C_00 has the wrong shape.
  absl::StatusOr<pb::DkgPart> part = MakePart(c2, 1, nullptr, rng);
  REQUIRE_OK(part.status());
  const std::string c01 = part->commitment(0);
  part->add_commitment(c01);
  KeyGeneration other = MustCreate(c2);
  REQUIRE_THRESHOLD_ERROR(other.AddPart(1, *part), kInvalidArgument, kMalformed);
}

// ---- Reshare ----

TEST_CASE(
    "DKG reshare 4 -> 7 -> 4 keeps the public key, and old ciphertexts open after both "
    "(Desmedt-Jajodia)",
    "[threshold][dkg]") {
  DeterministicRng rng(800);
  const Nodes old_nodes = MakeNodes(4, 801);
  const Nodes new_nodes = MakeNodes(7, 802);
  Outcome k4 =
      HonestRun(MakeConfig(Mode::kFresh, 4, 1, old_nodes, "cluster=test;run=q0"), old_nodes, rng);
  const SymmetricKey key = SymmetricKey::Random(rng);
  absl::StatusOr<Ciphertext> ct = Encrypt(k4.keys, "doc=kept;version=1", key, rng);
  REQUIRE_OK(ct.status());

  const Config to7 = MakeConfig(Mode::kReshare, 7, 2, new_nodes, "cluster=test;run=q1", k4.keys);
  REQUIRE(to7.n_dealers == 4);
  // A Part whose C_00 is not the dealer's old verification key is refused.
  {
    KeyGeneration kg = MustCreate(to7);
    absl::StatusOr<pb::DkgPart> part1 = MakePart(to7, 1, &k4.shares[0], rng);
    REQUIRE_OK(part1.status());
    REQUIRE_THRESHOLD_ERROR(kg.AddPart(2, *part1), kFailedPrecondition, kKeyMismatch);
    REQUIRE_OK(kg.AddPart(1, *part1));
    REQUIRE_THRESHOLD_ERROR(MakePart(to7, 2, &k4.shares[0], rng).status(), kFailedPrecondition,
                            kKeyMismatch);
    REQUIRE_THRESHOLD_ERROR(MakePart(to7, 2, nullptr, rng).status(), kInvalidArgument,
                            kInvalidParameters);
  }
  Outcome k7 = HonestRun(to7, new_nodes, rng, &k4.shares);
  REQUIRE(k7.keys.n() == 7);
  REQUIRE(k7.keys.f() == 2);
  REQUIRE(k7.keys.public_key() == k4.keys.public_key());
  REQUIRE(k7.chosen.size() == 2);

  const Config to4 = MakeConfig(Mode::kReshare, 4, 1, old_nodes, "cluster=test;run=q2", k7.keys);
  Outcome back = HonestRun(to4, old_nodes, rng, &k7.shares);
  REQUIRE(back.keys.public_key() == k4.keys.public_key());
  REQUIRE(back.chosen.size() == 3);

  const std::vector<DecryptionShareProvider> p7 = Providers(std::move(k7.shares), k7.keys);
  for (const std::vector<uint32_t>& subset :
       std::vector<std::vector<uint32_t>>{{1, 2, 3}, {5, 6, 7}, {2, 4, 7}}) {
    REQUIRE(DecryptWith(p7, k7.keys, *ct, subset) == key);
  }
  const std::vector<DecryptionShareProvider> p4 = Providers(std::move(back.shares), back.keys);
  for (const std::vector<uint32_t>& subset : Subsets(4, 2))
    REQUIRE(DecryptWith(p4, back.keys, *ct, subset) == key);
}

// ---- Determinism and replay ----

TEST_CASE(
    "DKG: the same messages in the same order give the same decision and results, and a replay "
    "of the stored bytes rebuilds the state",
    "[threshold][dkg]") {
  DeterministicRng rng(900);
  const Nodes nodes = MakeNodes(7, 901);
  const Config config = MakeConfig(Mode::kFresh, 7, 2, nodes, "cluster=test;run=determinism");
  // The log as atomic broadcast would deliver it: (is_part, sender, bytes).
  struct Entry {
    bool is_part;
    uint32_t sender;
    std::string bytes;
  };
  std::vector<Entry> log;
  KeyGeneration a = MustCreate(config);
  // Parts of dealers 7..1 (a non-trivial order), acks interleaved dealer by dealer.
  for (uint32_t i = 7; i >= 1; --i) {
    absl::StatusOr<pb::DkgPart> part = MakePart(config, i, nullptr, rng);
    REQUIRE_OK(part.status());
    log.push_back({true, i, SerializePart(*part)});
    REQUIRE_OK(a.AddPart(i, *part));
  }
  for (uint32_t i = 7; i >= 1 && !a.done(); --i) {
    for (uint32_t m = 7; m >= 1 && !a.done(); --m) {
      absl::StatusOr<pb::DkgAck> ack = a.MakeAck(m, nodes.keys[m - 1], i, rng);
      REQUIRE_OK(ack.status());
      log.push_back({false, m, SerializeAck(*ack)});
      REQUIRE_OK(a.AddAck(m, *ack));
    }
  }
  REQUIRE(a.done());
  REQUIRE(a.chosen_dealers() == std::vector<uint32_t>{7, 6, 5});

  KeyGeneration b = MustCreate(config);
  for (const Entry& e : log) {
    if (e.is_part) {
      REQUIRE_OK(b.AddPart(e.sender, *ParsePart(AsBytes(e.bytes))));
    } else {
      REQUIRE_OK(b.AddAck(e.sender, *ParseAck(AsBytes(e.bytes))));
    }
  }
  REQUIRE(b.done());
  REQUIRE(b.chosen_dealers() == a.chosen_dealers());
  REQUIRE(b.Result()->Serialize() == a.Result()->Serialize());
  for (uint32_t m = 1; m <= 7; ++m) {
    absl::StatusOr<KeyShare> sa = a.MyShare(m, nodes.keys[m - 1], nullptr);
    absl::StatusOr<KeyShare> sb = b.MyShare(m, nodes.keys[m - 1], nullptr);
    REQUIRE_OK(sa.status());
    REQUIRE_OK(sb.status());
    REQUIRE(sa->verification_key() == sb->verification_key());
  }
  // A different order may choose differently (order matters), and is still consistent.
  KeyGeneration c = MustCreate(config);
  for (const Entry& e : log) {
    if (e.is_part) REQUIRE_OK(c.AddPart(e.sender, *ParsePart(AsBytes(e.bytes))));
  }
  for (auto it = log.rbegin(); it != log.rend(); ++it) {
    if (!it->is_part) REQUIRE_OK(c.AddAck(it->sender, *ParseAck(AsBytes(it->bytes))));
  }
  REQUIRE(c.done());
  REQUIRE_OK(c.Result().status());
}

// ---- Known answers ----

std::string Sha256Hex(const std::string& bytes) {
  const Sha256Digest d = Sha256Of(bytes.data(), bytes.size());
  return ToHex(ByteSpan(d.data(), d.size()));
}

// Any change to the encodings, a domain string, a hash input or the use of randomness changes
// these digests. After a deliberate format change (bump kDkgFormatVersion or the domain
// strings' version), the failure message prints the new sizes and digests to record here.
TEST_CASE("DKG known answers: a Part's and an Ack's bytes from fixed seeds (N=4 f=1)",
          "[threshold][dkg][kat]") {
  const Nodes nodes = MakeNodes(4, 0x646b6700);  // "dkg\0"
  const Config config =
      MakeConfig(Mode::kFresh, 4, 1, nodes, "belfry-kat/cluster=1/run=1/key=coin");
  DeterministicRng rng(0x646b6701);
  absl::StatusOr<pb::DkgPart> part = MakePart(config, 1, nullptr, rng);
  REQUIRE_OK(part.status());
  KeyGeneration kg = MustCreate(config);
  REQUIRE_OK(kg.AddPart(1, *part));
  absl::StatusOr<pb::DkgAck> ack = kg.MakeAck(2, nodes.keys[1], 1, rng);
  REQUIRE_OK(ack.status());
  const std::string part_bytes = SerializePart(*part);
  const std::string ack_bytes = SerializeAck(*ack);
  INFO("part " << part_bytes.size() << " bytes, sha256 " << Sha256Hex(part_bytes));
  INFO("ack " << ack_bytes.size() << " bytes, sha256 " << Sha256Hex(ack_bytes));
  CHECK(part_bytes.size() == 466);
  CHECK(Sha256Hex(part_bytes) ==
        "11e1b89c26d55e16cf8f8b237fdf90af7597ee2ad21068003ba17bfd5f71dd69");
  CHECK(ack_bytes.size() == 238);
  CHECK(Sha256Hex(ack_bytes) == "5a0eef9373e1abcf473a4e7fd9b86a7d8958921b529e2d99c4fae22067b1b95a");
}

// ---- Encryption key files ----

class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/belfry-dkg-XXXXXX";
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

TEST_CASE(
    "DKG encryption key files: 0600, round trip, refused when readable by others or "
    "mismatched",
    "[threshold][dkg]") {
  TempDir dir;
  DeterministicRng rng(1000);
  const EncryptionKeyPair key = EncryptionKeyPair::Generate(rng);
  const std::string path = dir.File("dkg.key");
  REQUIRE_OK(WriteEncryptionKeyFile(path, key, FileOverwrite::kRefuse));
  struct stat st;
  REQUIRE(::stat(path.c_str(), &st) == 0);
  REQUIRE((st.st_mode & 0777) == 0600);
  absl::StatusOr<EncryptionKeyPair> read = ReadEncryptionKeyFile(path);
  REQUIRE_OK(read.status());
  REQUIRE(read->public_key() == key.public_key());
  REQUIRE(read->secret() == key.secret());
  REQUIRE_THRESHOLD_ERROR(WriteEncryptionKeyFile(path, key, FileOverwrite::kRefuse), kAlreadyExists,
                          kFileIo);

  REQUIRE(::chmod(path.c_str(), 0640) == 0);
  REQUIRE_THRESHOLD_ERROR(ReadEncryptionKeyFile(path).status(), kFailedPrecondition,
                          kInsecureFileMode);

  // A file whose public key is another key's.
  const EncryptionKeyPair other = EncryptionKeyPair::Generate(rng);
  pb::DkgEncryptionKey proto;
  proto.set_format_version(kEncryptionKeyFormatVersion);
  proto.set_secret(testing::ToString(key.secret().span()));
  proto.set_public_key(testing::ToString(other.public_key().span()));
  const std::string mismatched = dir.File("mismatched.key");
  {
    std::string bytes = proto.SerializeAsString();
    FILE* f = std::fopen(mismatched.c_str(), "wb");
    REQUIRE(f != nullptr);
    REQUIRE(std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size());
    std::fclose(f);
    REQUIRE(::chmod(mismatched.c_str(), 0600) == 0);
  }
  REQUIRE_THRESHOLD_ERROR(ReadEncryptionKeyFile(mismatched).status(), kFailedPrecondition,
                          kKeyMismatch);
  REQUIRE_THRESHOLD_ERROR(EncryptionKeyPair::FromSecret(Scalar::Zero()).status(), kInvalidArgument,
                          kMalformed);
  REQUIRE_THRESHOLD_ERROR(ReadEncryptionKeyFile(dir.File("absent.key")).status(), kNotFound,
                          kFileIo);
}

}  // namespace
}  // namespace belfry::threshold::dkg
