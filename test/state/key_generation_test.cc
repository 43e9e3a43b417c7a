// The distributed key generation as the state machine runs it (replica/state/
// key_generation.h): four replicas' signed messages, executed in log order, make a TDH2 key
// no party ever held; a confidential checkin waits for it; every refusal is exact and
// changes nothing.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "proto/dkg.pb.h"
#include "replica/state/key_generation.h"
#include "test/state/state_test_util.h"
#include "threshold/dkg/key_generation.h"
#include "threshold/tdh2.h"

namespace belfry::state::testing {
namespace {

constexpr uint32_t kN = 4;
constexpr uint32_t kF = 1;

Config DistributedConfig(const std::vector<SessionKeyPair>& replicas) {
  Config c = TestConfig();
  c.replicas = kN;
  c.f = kF;
  for (const SessionKeyPair& r : replicas) c.replica_keys.push_back(r.pk);
  c.distributed_encryption_key = true;
  c.dkg_announce_grace_ms = 10'000;
  return c;
}

// Four replicas: their reply keys (which sign their messages) and their encryption keys.
struct Replicas {
  std::vector<SessionKeyPair> signing;
  std::vector<threshold::dkg::EncryptionKeyPair> encryption;
  DeterministicRng rng{99};

  Replicas() {
    for (uint32_t i = 0; i < kN; ++i) {
      signing.push_back(SessionKeyPair::FromSeed(500 + i));
      encryption.push_back(threshold::dkg::EncryptionKeyPair::Generate(rng));
    }
  }

  std::string Sign(uint32_t replica, pb::ReplicaMessage m, uint32_t signer) const {
    m.set_replica(replica);
    pb::RequestBody body;
    body.set_cluster_id(kCluster);
    *body.mutable_replica_message() = std::move(m);
    return Serialize(body, signing[signer].Sign(wire::RequestSigningMessage(body.SerializeAsString())));
  }
  std::string Sign(uint32_t replica, pb::ReplicaMessage m) const { return Sign(replica, std::move(m), replica); }

  std::string Announce(uint32_t replica) const {
    pb::ReplicaMessage m;
    m.mutable_dkg_key()->set_run(kEncryptionKeyRun);
    const auto& pk = encryption[replica].public_key().bytes();
    m.mutable_dkg_key()->set_public_key(pk.data(), pk.size());
    return Sign(replica, std::move(m));
  }
  std::string Poke(uint32_t replica, int64_t sent_ms) const {
    pb::ReplicaMessage m;
    m.mutable_dkg_poke()->set_run(kEncryptionKeyRun);
    m.mutable_dkg_poke()->set_sent_ms(sent_ms);
    return Sign(replica, std::move(m));
  }
  std::string PartMessage(uint32_t replica, const pb::DkgPart& part) const {
    pb::ReplicaMessage m;
    m.mutable_dkg_part()->set_run(kEncryptionKeyRun);
    m.mutable_dkg_part()->set_part(threshold::dkg::SerializePart(part));
    return Sign(replica, std::move(m));
  }
  std::string AckMessage(uint32_t replica, uint32_t dealer, const pb::DkgAck& ack) const {
    pb::ReplicaMessage m;
    m.mutable_dkg_ack()->set_run(kEncryptionKeyRun);
    m.mutable_dkg_ack()->set_dealer(dealer);
    m.mutable_dkg_ack()->set_ack(threshold::dkg::SerializeAck(ack));
    return Sign(replica, std::move(m));
  }
};

pb::DkgRunRecord Run(TestCluster& cluster) {
  std::optional<pb::DkgRunRecord> r = OrDie(ReadDkgRun(cluster.store(), kEncryptionKeyRun));
  REQUIRE(r.has_value());
  return *r;
}

threshold::dkg::KeyGeneration Replay(TestCluster& cluster) {
  return OrDie(ReplayDkgRun(cluster.machine().config(), cluster.store(), kEncryptionKeyRun, Run(cluster)));
}

pb::DkgPart MakePart(TestCluster& cluster, Replicas& r, uint32_t dealer) {
  const threshold::dkg::Config c =
      OrDie(DkgConfigOf(cluster.machine().config(), kEncryptionKeyRun, Run(cluster)));
  return OrDie(threshold::dkg::MakePart(c, dealer + 1, nullptr, r.rng));
}

// Every replica in `dealers` deals, then every replica with a key acks every Part whose
// row opens, one epoch each, until the run finishes.
void DealAndAck(TestCluster& cluster, Replicas& r, const std::vector<uint32_t>& dealers,
                const std::vector<uint32_t>& ackers) {
  for (uint32_t d : dealers) {
    REQUIRE(cluster.Run(r.PartMessage(d, MakePart(cluster, r, d))).status() == pb::STATUS_OK);
  }
  for (uint32_t d : dealers) {
    for (uint32_t a : ackers) {
      if (Run(cluster).finished()) return;
      absl::StatusOr<pb::DkgAck> ack = Replay(cluster).MakeAck(a + 1, r.encryption[a], d + 1, r.rng);
      if (!ack.ok()) continue;
      REQUIRE(cluster.Run(r.AckMessage(a, d, *ack)).status() == pb::STATUS_OK);
    }
  }
}

std::string KeysQuery(TestUser& user) {
  pb::SessionOp op;
  op.mutable_keys();
  return user.Op(std::move(op));
}

std::string ConfidentialCheckIn(TestUser& user, const threshold::PublicKeySet& keys,
                                const std::string& doc, const std::string& nonce) {
  const Bytes label = wire::DocumentLabel(kCluster, doc, AsBytes(nonce));
  DeterministicRng rng(5);
  const threshold::SymmetricKey key = threshold::SymmetricKey::Random(rng);
  const std::string ct = OrDie(threshold::Encrypt(keys, AsStringView(label), key, rng)).Serialize();
  return user.Op(ConfidentialCheckInOp(doc, "sealed-bytes", nonce, ct));
}

TEST_CASE("key generation: the replicas make the TDH2 key in the state, and confidential "
          "checkins wait for it", "[key_generation]") {
  TestPki pki;
  Replicas r;
  TestCluster cluster(pki, DistributedConfig(r.signing));
  TestUser alice("alice", pki.Issue("alice"), 1);
  REQUIRE(cluster.Run(alice.Login()).status() == pb::STATUS_OK);

  // Before the key exists: refused, with nothing written.
  const Outcome early = cluster.Run(ConfidentialCheckIn(alice, cluster.tdh2_keys(), "doc", "0123456789abcdef"));
  CHECK(early.status() == pb::STATUS_KEYS_NOT_READY);
  CHECK(cluster.Run(KeysQuery(alice)).status() == pb::STATUS_KEYS_NOT_READY);

  for (uint32_t i = 0; i < kN; ++i) {
    const Outcome o = cluster.Run(r.Announce(i));
    REQUIRE(o.status() == pb::STATUS_OK);
    CHECK(o.ex.result.key_generation().started() == (i == kN - 1));
    CHECK(o.ex.op == Operation::kReplica);
  }
  DealAndAck(cluster, r, {0, 1, 2, 3}, {0, 1, 2, 3});
  const pb::DkgRunRecord run = Run(cluster);
  REQUIRE(run.finished());
  CHECK(run.chosen_dealers_size() == static_cast<int>(kF + 1));

  const Outcome keys_answer = cluster.Run(KeysQuery(alice));
  REQUIRE(keys_answer.status() == pb::STATUS_OK);
  const threshold::PublicKeySet keys =
      OrDie(threshold::PublicKeySet::Parse(AsBytes(keys_answer.ex.result.keys().encryption_keys())));
  CHECK(keys == OrDie(Replay(cluster).Result()));
  CHECK_FALSE(keys.public_key() == cluster.tdh2_keys().public_key());

  // Every replica's own share, from the state alone, decrypts with f others.
  const threshold::dkg::KeyGeneration generation = Replay(cluster);
  const Bytes label = wire::DocumentLabel(kCluster, "doc", AsBytes(std::string("0123456789abcdef")));
  DeterministicRng rng(77);
  const threshold::SymmetricKey secret = threshold::SymmetricKey::Random(rng);
  const threshold::Ciphertext ct = OrDie(threshold::Encrypt(keys, AsStringView(label), secret, rng));
  std::vector<threshold::DecryptionShare> shares;
  for (uint32_t i = 0; i < kN; ++i) {
    threshold::KeyShare share = OrDie(generation.MyShare(i + 1, r.encryption[i], nullptr));
    const threshold::DecryptionShareProvider provider =
        OrDie(threshold::DecryptionShareProvider::Create(std::move(share), keys));
    shares.push_back(OrDie(provider.MakeShare(ct, AsStringView(label))));
  }
  for (uint32_t skip = 0; skip < kN; ++skip) {
    std::vector<threshold::DecryptionShare> subset;
    for (uint32_t i = 0; i < kN && subset.size() < kF + 1; ++i) {
      if (i != skip) subset.push_back(shares[i]);
    }
    CHECK(OrDie(threshold::CombineDecryptionShares(keys, ct, subset)) == secret);
  }

  // A ciphertext under the generated key is accepted; one under any other key is not.
  CHECK(cluster.Run(ConfidentialCheckIn(alice, keys, "doc", "0123456789abcdef")).status() == pb::STATUS_OK);
  const Outcome foreign = cluster.Run(ConfidentialCheckIn(alice, cluster.tdh2_keys(), "doc2", "fedcba9876543210"));
  CHECK(foreign.status() == pb::STATUS_INVALID_CIPHERTEXT);
}

TEST_CASE("key generation: forged, misplaced and repeated messages are refused exactly and "
          "change nothing", "[key_generation]") {
  TestPki pki;
  Replicas r;
  TestCluster cluster(pki, DistributedConfig(r.signing));

  SECTION("a message signed with another replica's key") {
    pb::ReplicaMessage m;
    m.mutable_dkg_poke()->set_run(kEncryptionKeyRun);
    const Outcome o = cluster.Run(r.Sign(0, m, /*signer=*/1));
    CHECK(o.status() == pb::STATUS_REPLICA_MESSAGE_INVALID);
    CHECK(o.ex.result.message() == "replica message: the signature does not verify under the replica's key");
    CHECK(o.unchanged());
  }
  SECTION("a signer that is no replica") {
    pb::ReplicaMessage m;
    m.mutable_dkg_poke()->set_run(kEncryptionKeyRun);
    const Outcome o = cluster.Run(r.Sign(kN, m, 0));
    CHECK(o.status() == pb::STATUS_REPLICA_MESSAGE_INVALID);
    CHECK(o.unchanged());
  }
  SECTION("an unknown run") {
    pb::ReplicaMessage m;
    m.mutable_dkg_poke()->set_run(kEncryptionKeyRun + 1);
    const Outcome o = cluster.Run(r.Sign(0, m));
    CHECK(o.status() == pb::STATUS_DKG_REFUSED);
    CHECK(o.ex.result.message() == "key generation: no such run");
    CHECK(o.unchanged());
  }
  SECTION("a second announcement, a part before the start, a second part, an ack of no part") {
    REQUIRE(cluster.Run(r.Announce(0)).status() == pb::STATUS_OK);
    Outcome o = cluster.Run(r.Announce(0));
    CHECK(o.status() == pb::STATUS_DKG_REFUSED);
    CHECK(o.ex.result.message() == "key generation: this replica announced its key already");
    CHECK(o.unchanged());
    for (uint32_t i = 1; i < kN; ++i) REQUIRE(cluster.Run(r.Announce(i)).status() == pb::STATUS_OK);
    o = cluster.Run(r.Announce(1));
    CHECK(o.ex.result.message() == "key generation: the recipients are fixed already");
    CHECK(o.unchanged());

    const pb::DkgPart part = MakePart(cluster, r, 2);
    REQUIRE(cluster.Run(r.PartMessage(2, part)).status() == pb::STATUS_OK);
    o = cluster.Run(r.PartMessage(2, MakePart(cluster, r, 2)));
    CHECK(o.status() == pb::STATUS_DKG_REFUSED);
    CHECK(o.ex.result.message() == "key generation: part refused: a second message for the same slot");
    CHECK(o.unchanged());

    const pb::DkgAck ack = OrDie(Replay(cluster).MakeAck(1, r.encryption[0], 3, r.rng));
    o = cluster.Run(r.AckMessage(0, 1, ack));  // names dealer 1, carries an ack of dealer 2
    CHECK(o.status() == pb::STATUS_DKG_REFUSED);
    CHECK(o.unchanged());
    pb::DkgAck orphan = ack;
    orphan.set_dealer(1);
    o = cluster.Run(r.AckMessage(0, 0, orphan));
    CHECK(o.status() == pb::STATUS_DKG_REFUSED);
    CHECK(o.ex.result.message() == "key generation: ack refused: an ack of a part not in the log");
    CHECK(o.unchanged());
  }
  SECTION("a dealt cluster takes no key generation message") {
    TestCluster dealt(pki, [&] {
      Config c = DistributedConfig(r.signing);
      c.distributed_encryption_key = false;
      return c;
    }());
    const Outcome o = dealt.Run(r.Announce(0));
    CHECK(o.status() == pb::STATUS_DKG_REFUSED);
    CHECK(o.ex.result.message() == "key generation: this cluster's encryption key was dealt");
    CHECK(o.unchanged());
  }
}

TEST_CASE("key generation: a replica that never announces is left out once consensus time "
          "passes the grace, and a Byzantine dealer's bad row does not stop the run",
          "[key_generation]") {
  TestPki pki;
  Replicas r;
  TestCluster cluster(pki, DistributedConfig(r.signing));
  for (uint32_t i = 0; i < 3; ++i) REQUIRE(cluster.Run(r.Announce(i), kT0).status() == pb::STATUS_OK);
  CHECK_FALSE(Run(cluster).started());
  CHECK_FALSE(cluster.Run(r.Poke(0, kT0 + 9'999), kT0 + 9'999).ex.result.key_generation().started());
  CHECK(cluster.Run(r.Poke(0, kT0 + 10'000), kT0 + 10'000).ex.result.key_generation().started());
  // Too late now: the recipients are fixed.
  CHECK(cluster.Run(r.Announce(3)).status() == pb::STATUS_DKG_REFUSED);

  // Replica 3 deals a Part whose row for replica 0 is garbage; replica 0 refuses to ack it.
  pb::DkgPart bad = MakePart(cluster, r, 3);
  std::string& row0 = *bad.mutable_rows(0);
  row0[row0.size() / 2] ^= 0x5a;
  REQUIRE(cluster.Run(r.PartMessage(3, bad)).status() == pb::STATUS_OK);
  CHECK_FALSE(Replay(cluster).MakeAck(1, r.encryption[0], 4, r.rng).ok());

  DealAndAck(cluster, r, {0, 1, 2}, {0, 1, 2});
  REQUIRE(Run(cluster).finished());
  const threshold::PublicKeySet keys = OrDie(Replay(cluster).Result());
  // Replica 0 still gets its share of every chosen Part from the others' Acks; replica 3,
  // with no announced key, gets none.
  const threshold::dkg::KeyGeneration generation = Replay(cluster);
  for (uint32_t i = 0; i < 3; ++i) {
    const threshold::KeyShare share = OrDie(generation.MyShare(i + 1, r.encryption[i], nullptr));
    CHECK(threshold::CheckKeyShareMatches(share, keys).ok());
  }
  CHECK_FALSE(generation.MyShare(4, r.encryption[3], nullptr).ok());
  // After the run: refused.
  const Outcome late = cluster.Run(r.Poke(1, kT0 + 20'000));
  CHECK(late.status() == pb::STATUS_DKG_REFUSED);
  CHECK(late.ex.result.message() == "key generation: the run has finished");
  CHECK(late.unchanged());
}

}  // namespace
}  // namespace belfry::state::testing
