// Tests for the replica core's checkpoints and state transfer (replica/node/replica_core.h,
// checkpoints.h): four ReplicaCores with in-memory stores, their outboxes wired to each
// other through a queue the test can drop, delay or tamper with, driven by real signed
// logins from a test CA.
#include <array>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "base/bytes.h"
#include "base/rng.h"
#include "client_lib/internal/requests.h"
#include "consensus/threshold_coin.h"
#include "proto/replica.pb.h"
#include "proto/reply.pb.h"
#include "replica/node/checkpoint/checkpoint_votes.h"
#include "config/genesis.h"
#include "replica/node/consensus_inputs.h"
#include "replica/node/replica_core.h"
#include "replica/state/state_keys.h"
#include "replica/store/memory_store.h"
#include "test/fuzz/fixtures.h"
#include "test/pki/test_ca.h"
#include "threshold/tdh2.h"
#include "wire/statements.h"

namespace belfry::replica {
namespace {

using fuzz::Cluster;
constexpr uint32_t kN = fuzz::kN;

struct PeerMsg {
  uint32_t from;
  uint32_t to;
  std::string payload;
};

class TestNet;

class RoutingOutbox final : public Outbox {
 public:
  RoutingOutbox(TestNet* net, uint32_t self) : net_(net), self_(self) {}
  void SendPeer(uint32_t to, std::string payload) override;
  void SendClient(uint64_t, std::string) override { ++client_frames; }
  uint64_t client_frames = 0;

 private:
  TestNet* net_;
  uint32_t self_;
};

ReplicaKeys KeysFor(uint32_t id) {
  std::array<uint8_t, 32> seed{};
  seed.fill(0x52);
  seed[0] = static_cast<uint8_t>(id);
  threshold::DealtKeySet coin = fuzz::DealFixed(fuzz::kCoinKeySeed);
  threshold::DealtKeySet tdh2 = fuzz::DealFixed(fuzz::kTdh2KeySeed);
  ReplicaKeys keys{.reply = ReplySigner::FromSeed(seed), .coin = nullptr, .decryption = nullptr, .service = nullptr, .service_key_digest = {},
                    .service_cert_der = {}, .key_generation_dir = {}};
  auto scheme = consensus::ThresholdCoinScheme::Create(std::move(coin.shares[id]), coin.public_keys);
  REQUIRE(scheme.ok());
  keys.coin = std::move(*scheme);
  auto provider = threshold::DecryptionShareProvider::Create(std::move(tdh2.shares[id]), tdh2.public_keys);
  REQUIRE(provider.ok());
  keys.decryption = std::make_unique<threshold::DecryptionShareProvider>(std::move(*provider));
  return keys;
}

uint64_t g_sent_log_bytes_max = ReplicaCore::Options{}.sent_log_bytes_max;

ReplicaCore::Options TestOptions() {
  ReplicaCore::Options o;
  o.sent_log_bytes_max = g_sent_log_bytes_max;
  o.checkpoint_interval_epochs = 4;
  o.retained_batches = 8;
  o.fetch_interval_ms = 50;
  o.state_transfer_timeout_ms = 400;
  o.state_chunk_bytes_max = 512;  // many chunks even for a small state
  return o;
}

class TestNet {
 public:
  explicit TestNet(const testing::TestCa& ca) : bundle_(ca.Bundle()) {
    for (uint32_t id = 0; id < kN; ++id) {
      stores_.push_back(std::make_unique<store::MemoryStore>());
      outboxes_.push_back(std::make_unique<RoutingOutbox>(this, id));
      cores_.emplace_back();
      Restart(id, /*wipe=*/false);
    }
  }

  // A new core on the replica's store (or on an empty one), as after a restart.
  void Restart(uint32_t id, bool wipe) {
    cores_[id].reset();
    if (wipe) {
      stores_[id] = std::make_unique<store::MemoryStore>();
      disks_[id] = nullptr;
    }
    store::Store* disk = disks_[id] != nullptr ? disks_[id] : stores_[id].get();
    auto core = ReplicaCore::Create(Cluster(), id, KeysFor(id), disk, &bundle_,
                                    outboxes_[id].get(), TestOptions());
    INFO(core.status().ToString());
    REQUIRE(core.ok());
    cores_[id] = std::move(*core);
  }

  void Send(PeerMsg m) {
    if (on_send) on_send(m);
    queue_.push_back(std::move(m));
  }
  // Drops what is queued for or from `id` (what a killed process loses, or had
  // acknowledged without acting on it).
  void DropQueued(uint32_t id) {
    std::erase_if(queue_, [id](const PeerMsg& m) { return m.to == id || m.from == id; });
  }
  void Step(int rounds) { RunUntil([] { return false; }, rounds); }

  // Every up replica receives the client frame.
  void Submit(const std::string& request_bytes) {
    pb::ClientFrame frame;
    frame.set_request(request_bytes);
    const std::string bytes = frame.SerializeAsString();
    for (uint32_t id = 0; id < kN; ++id) {
      if (!down_[id]) cores_[id]->OnClientFrame(next_connection_++, bytes, now_ms_);
    }
  }

  // Delivers queued messages in order (dropping those to or from down replicas, and
  // those `tamper` drops), ticking every core every round, until `done` or `rounds_max`.
  bool RunUntil(const std::function<bool()>& done, int rounds_max = 20000) {
    for (int round = 0; round < rounds_max; ++round) {
      if (done()) return true;
      for (size_t i = 0, n = std::min<size_t>(queue_.size(), 64); i < n; ++i) {
        PeerMsg m = std::move(queue_.front());
        queue_.pop_front();
        if (down_[m.from] || down_[m.to]) continue;
        if (tamper && !tamper(m)) continue;
        cores_[m.to]->OnPeerMessage(m.from, m.payload, now_ms_);
      }
      now_ms_ += 5;
      if (round % 4 == 0) {
        for (uint32_t id = 0; id < kN; ++id) {
          if (!down_[id]) cores_[id]->OnTick(now_ms_);
        }
      }
    }
    return done();
  }

  // Logs `count` fresh users in (each a new ordered, state-changing request) and runs
  // until every up replica executed them all.
  void Logins(int count, const testing::TestCa& ca) {
    CryptoRng rng;
    for (int i = 0; i < count; ++i) {
      const std::string uid = "user" + std::to_string(users_++);
      pki::IssuedCertificate cert = ca.Issue(uid, pki::Role::kUser);
      client::internal::SessionKey session = client::internal::SessionKey::Generate();
      auto login = client::internal::BuildLogin(Cluster().cluster_id(), uid,
                                                std::string(cert.cert_der.begin(), cert.cert_der.end()),
                                                cert.key, session, now_ms_, rng);
      REQUIRE(login.ok());
      Submit(login->bytes);
      REQUIRE(RunUntil([&] { return Quiet(); }));
    }
  }

  // A few epochs with everybody, then `id` goes down while the others run on far
  // enough to prune every epoch record it would need: it can only come back by state
  // transfer.
  void LeaveBehind(uint32_t id, const testing::TestCa& ca) {
    Logins(6, ca);
    SetDown(id, true);
    Logins(30, ca);
  }

  // Up replicas agree on the next epoch, nothing is queued and no mempool holds work.
  bool Quiet() const {
    if (!queue_.empty()) return false;
    std::optional<uint64_t> next;
    for (uint32_t id = 0; id < kN; ++id) {
      if (down_[id]) continue;
      if (cores_[id]->counters().mempool_requests != 0 || cores_[id]->catching_up()) return false;
      if (next.has_value() && *next != cores_[id]->next_epoch()) return false;
      next = cores_[id]->next_epoch();
    }
    return true;
  }

  store::Digest Digest(uint32_t id) const { return *stores_[id]->ComputeStateDigest(); }
  ReplicaCore& core(uint32_t id) { return *cores_[id]; }
  store::MemoryStore& store(uint32_t id) { return *stores_[id]; }
  void SetDown(uint32_t id, bool down) { down_[id] = down; }
  // From the next Restart on, the replica reads and writes `disk` (which wraps store(id)).
  void SetDisk(uint32_t id, store::Store* disk) { disks_[id] = disk; }
  // One tick of every up core, without delivering anything.
  void TickAll() {
    now_ms_ += 5;
    for (uint32_t id = 0; id < kN; ++id) {
      if (!down_[id]) cores_[id]->OnTick(now_ms_);
    }
  }

  std::function<bool(PeerMsg&)> tamper;
  // Sees every message a core sends, when it sends it.
  std::function<void(const PeerMsg&)> on_send;
  int64_t now_ms() const { return now_ms_; }

 private:
  pki::CaBundle bundle_;
  std::vector<std::unique_ptr<store::MemoryStore>> stores_;
  std::array<store::Store*, kN> disks_{};
  std::vector<std::unique_ptr<RoutingOutbox>> outboxes_;
  std::vector<std::unique_ptr<ReplicaCore>> cores_;
  std::deque<PeerMsg> queue_;
  std::array<bool, kN> down_{};
  int64_t now_ms_ = testing::NowUnixSeconds() * 1000;
  uint64_t next_connection_ = 1;
  int users_ = 0;
};

void RoutingOutbox::SendPeer(uint32_t to, std::string payload) {
  net_->Send(PeerMsg{self_, to, std::move(payload)});
}

TEST_CASE("checkpoints become stable at every replica and the log is pruned", "[node][checkpoint]") {
  testing::TestCa ca;
  TestNet net(ca);
  net.Logins(30, ca);
  const uint64_t next = net.core(0).next_epoch();
  REQUIRE(next >= 30);
  for (uint32_t id = 0; id < kN; ++id) {
    INFO("replica " << id);
    const CoreCounters c = net.core(id).counters();
    CHECK(c.checkpoints_taken == next / 4);
    CHECK(c.checkpoints_stable >= next / 4 - 1);
    REQUIRE(net.core(id).stable_checkpoint_epoch().has_value());
    CHECK(*net.core(id).stable_checkpoint_epoch() + 1 == next / 4 * 4);
    CHECK(c.faults == 0);
    // Records older than the retained window are gone; the chain still verifies.
    CHECK(net.store(id).log_base_epoch() > 0);
    CHECK(net.store(id).log_base_epoch() + 8 + 4 >= next);
    CHECK_FALSE(net.store(id).ReadEpochRecord(0)->has_value());
    CHECK(net.store(id).VerifyChain().ok());
    CHECK(net.Digest(id) == net.Digest(0));
    // The certificate is kept durably and verifies on its own.
    auto cert = net.store(id).ReadCheckpoint();
    REQUIRE(cert.ok());
    REQUIRE(cert->has_value());
    CHECK(VerifyCheckpointCertificate(Cluster(), **cert).ok());
  }
}

TEST_CASE("a replica restarted on a wiped store comes back by state transfer", "[node][checkpoint]") {
  testing::TestCa ca;
  TestNet net(ca);
  net.LeaveBehind(3, ca);
  net.Restart(3, /*wipe=*/true);
  net.SetDown(3, false);
  net.Logins(4, ca);
  REQUIRE(net.RunUntil([&] { return net.Quiet() && net.core(3).next_epoch() == net.core(0).next_epoch(); }));
  const CoreCounters c = net.core(3).counters();
  CHECK(c.state_transfers_completed == 1);
  CHECK(c.state_transfer_source_failures == 0);
  CHECK(net.Digest(3) == net.Digest(0));
  CHECK(net.store(3).log_head() == net.store(0).log_head());
  // It is a full member again: it votes and its checkpoints become stable.
  const uint64_t stable_before = *net.core(3).stable_checkpoint_epoch();
  net.Logins(8, ca);
  CHECK(*net.core(3).stable_checkpoint_epoch() > stable_before);
  CHECK(net.Digest(3) == net.Digest(0));
}

// Replica 3 comes back on a wiped store and transfers state; the first source it asks
// rewrites every state chunk it sends with `lie`. Returns replica 3's counters once it has
// caught up, and that source in `*liar`.
CoreCounters TransferPastALiar(const std::function<void(pb::StateChunk&)>& lie, uint32_t* liar) {
  testing::TestCa ca;
  TestNet net(ca);
  net.LeaveBehind(3, ca);
  net.Restart(3, /*wipe=*/true);
  net.SetDown(3, false);
  *liar = kN;
  net.tamper = [&](PeerMsg& m) {
    pb::PeerMessage msg;
    if (m.to != 3 || !msg.ParseFromString(m.payload) || !msg.has_state_chunk()) return true;
    if (*liar == kN) *liar = m.from;
    if (m.from == *liar) {
      lie(*msg.mutable_state_chunk());
      m.payload = msg.SerializeAsString();
    }
    return true;
  };
  net.Logins(4, ca);
  REQUIRE(net.RunUntil([&] { return net.Quiet() && net.core(3).next_epoch() == net.core(0).next_epoch(); }));
  REQUIRE(*liar < kN);
  CHECK(net.Digest(3) == net.Digest(0));
  return net.core(3).counters();
}

TEST_CASE("a source that sends bad state is blamed and another replica's state is installed",
          "[node][checkpoint]") {
  uint32_t liar = kN;
  const CoreCounters c = TransferPastALiar(
      [](pb::StateChunk& chunk) {  // every value altered, the size kept
        for (pb::StateEntry& e : *chunk.mutable_entries()) {
          std::string v = e.value();
          if (!v.empty()) v[0] = static_cast<char>(v[0] ^ 0x01);
          e.set_value(v);
        }
      },
      &liar);
  CHECK(c.faults_by_kind.count(std::to_string(liar) + "/bad_state_transfer") == 1);
  CHECK(c.state_transfer_source_failures == 1);
  CHECK(c.state_transfers_completed == 1);
}

TEST_CASE("a source that sends more state than the checkpoint certifies is stopped at that chunk",
          "[node][checkpoint][bounds]") {
  uint32_t liar = kN;
  int liar_chunks = 0;
  const CoreCounters c = TransferPastALiar(
      [&](pb::StateChunk& chunk) {
        // Every chunk grows by one entry after its last key, which would go on until the
        // whole state was hashed, or forever if it never said last.
        ++liar_chunks;
        chunk.set_last(false);
        const std::string after =
            chunk.entries_size() > 0 ? chunk.entries(chunk.entries_size() - 1).key() : chunk.after_key();
        pb::StateEntry* extra = chunk.add_entries();
        extra->set_key(after + "~");
        extra->set_value(std::string(64, 'p'));
      },
      &liar);
  // Blamed at a chunk, before the state's end, and never for a digest.
  CHECK(c.faults_by_kind.count(std::to_string(liar) + "/bad_state_chunk") == 1);
  CHECK(c.faults_by_kind.count(std::to_string(liar) + "/bad_state_transfer") == 0);
  CHECK(c.state_transfer_source_failures == 1);
  CHECK(c.state_transfers_completed == 1);
  CHECK(liar_chunks >= 1);
}

TEST_CASE("a source whose last chunk comes short of the certified size is blamed",
          "[node][checkpoint][bounds]") {
  uint32_t liar = kN;
  const CoreCounters c = TransferPastALiar(
      [](pb::StateChunk& chunk) {
        if (chunk.entries_size() > 0) chunk.set_last(true);  // the state ends here, it says
      },
      &liar);
  CHECK(c.faults_by_kind.count(std::to_string(liar) + "/bad_state_transfer") == 1);
  CHECK(c.state_transfer_source_failures == 1);
  CHECK(c.state_transfers_completed == 1);
}

TEST_CASE("a replica whose state was corrupted finds out at the next checkpoint and repairs it",
          "[node][checkpoint]") {
  testing::TestCa ca;
  TestNet net(ca);
  net.Logins(6, ca);
  // Bit rot in replica 2's state: one value changed, the log and epoch untouched.
  store::MemoryStore& s = net.store(2);
  auto state = s.SnapshotState();
  REQUIRE_FALSE(state.empty());
  state.begin()->second += "rot";
  REQUIRE(s.StageEntries({state.begin(), state.end()}).ok());
  REQUIRE(s.InstallStaged(s.next_epoch(), s.log_head(), s.last_consensus_time_ms()).ok());
  REQUIRE(net.Digest(2) != net.Digest(0));
  net.Logins(12, ca);
  REQUIRE(net.RunUntil([&] { return net.Quiet(); }));
  const CoreCounters c = net.core(2).counters();
  CHECK(c.state_divergences >= 1);
  CHECK(c.state_transfers_completed >= 1);
  CHECK(net.Digest(2) == net.Digest(0));
}

TEST_CASE("a replica restarted mid-epoch takes part again, so the next crash does not stop the cluster",
          "[node][join]") {
  testing::TestCa ca;
  TestNet net(ca);
  net.Logins(3, ca);
  // An epoch in flight when replica 1 dies: what its peers sent it is lost with it.
  CryptoRng rng;
  pki::IssuedCertificate cert = ca.Issue("late", pki::Role::kUser);
  client::internal::SessionKey session = client::internal::SessionKey::Generate();
  auto login = client::internal::BuildLogin(Cluster().cluster_id(), "late",
                                            std::string(cert.cert_der.begin(), cert.cert_der.end()),
                                            cert.key, session, testing::NowUnixSeconds() * 1000, rng);
  REQUIRE(login.ok());
  net.Submit(login->bytes);
  net.Step(6);
  net.SetDown(1, true);
  net.DropQueued(1);
  net.Step(20);
  net.Restart(1, /*wipe=*/false);
  net.SetDown(1, false);
  const bool quiet = net.RunUntil([&] { return net.Quiet(); });
  for (uint32_t id = 0; id < kN; ++id) {
    INFO("replica " << id << " next " << net.core(id).next_epoch() << " mempool "
                    << net.core(id).counters().mempool_requests << " catching_up " << net.core(id).catching_up());
    CHECK(quiet);
  }
  REQUIRE(quiet);
  // Now f = 1 other replica fails: replicas 0, 1 and 2 must carry on.
  net.SetDown(3, true);
  net.DropQueued(3);
  net.Logins(4, ca);
  CHECK(net.core(1).next_epoch() == net.core(0).next_epoch());
  CHECK(net.Digest(1) == net.Digest(0));
  CHECK(net.core(0).counters().joins_served >= 1);
}

TEST_CASE("after every replica restarted, a wiped one still comes back by state transfer",
          "[node][checkpoint]") {
  testing::TestCa ca;
  TestNet net(ca);
  net.LeaveBehind(3, ca);
  // The one login below must not make a checkpoint: the stable one from before the
  // restarts must be the only one there is to transfer.
  if ((net.core(0).next_epoch() + 1) % 4 == 0) net.Logins(1, ca);
  const std::optional<uint64_t> stable = net.core(0).stable_checkpoint_epoch();
  REQUIRE(stable.has_value());
  // A power cut: every replica restarts, replica 3 on an empty disk.
  for (uint32_t id = 0; id < 3; ++id) {
    net.DropQueued(id);
    net.Restart(id, /*wipe=*/false);
    CHECK(net.store(id).FrozenEpochs() == std::set<uint64_t>{*stable});
  }
  net.Restart(3, /*wipe=*/true);
  net.SetDown(3, false);
  net.Logins(1, ca);
  const CoreCounters c = net.core(3).counters();
  CHECK(c.state_transfers_completed == 1);
  CHECK(c.state_transfer_source_failures == 0);
  CHECK(net.core(0).stable_checkpoint_epoch() == stable);
  CHECK(net.core(0).counters().frozen_states_refused == 0);
  CHECK(net.Digest(3) == net.Digest(0));
  CHECK(net.store(3).log_head() == net.store(0).log_head());
}

TEST_CASE("a stable state kept on disk that no longer matches its certificate is not served",
          "[node][checkpoint]") {
  testing::TestCa ca;
  TestNet net(ca);
  net.Logins(6, ca);
  const std::optional<uint64_t> stable = net.core(1).stable_checkpoint_epoch();
  REQUIRE(stable.has_value());
  // Replica 1's kept copy of that state rots: here, one frozen from a state with one value
  // changed, after which the live state is put back as it was.
  store::MemoryStore& s = net.store(1);
  const auto good = s.SnapshotState();
  auto rotten = good;
  REQUIRE_FALSE(rotten.empty());
  rotten.begin()->second += "rot";
  const store::Digest head = s.log_head();
  const uint64_t next = s.next_epoch();
  const int64_t time = s.last_consensus_time_ms();
  REQUIRE(s.StageEntries({rotten.begin(), rotten.end()}).ok());
  REQUIRE(s.InstallStaged(next, head, time).ok());
  REQUIRE(s.FreezeStateDurably(*stable).ok());
  REQUIRE(s.StageEntries({good.begin(), good.end()}).ok());
  REQUIRE(s.InstallStaged(next, head, time).ok());
  net.DropQueued(1);
  net.Restart(1, /*wipe=*/false);
  const CoreCounters c = net.core(1).counters();
  CHECK(c.frozen_states_refused == 1);
  CHECK(s.FrozenEpochs().empty());
}

TEST_CASE("a replica that committed an epoch the others then decided otherwise goes back to their log",
          "[node][diverge]") {
  testing::TestCa ca;
  TestNet net(ca);
  net.Logins(6, ca);
  const uint64_t next = net.core(0).next_epoch();
  REQUIRE(net.core(2).stable_checkpoint_epoch().has_value());
  // Replica 2 committed epoch `next` just before every replica lost power; the others
  // forgot the votes that let it decide, and will run that epoch again.
  store::MemoryStore& s = net.store(2);
  pb::StoredBatch stored;
  stored.set_epoch(next);
  stored.set_consensus_time_ms(s.last_consensus_time_ms() + 1);
  state::WriteSet writes;
  writes.Put(state::BatchKey(next), stored.SerializeAsString());
  store::Digest batch_digest{};
  batch_digest.fill(0x42);
  REQUIRE(s.CommitEpoch(next, stored.consensus_time_ms(), writes, batch_digest).ok());
  for (uint32_t id = 0; id < kN; ++id) net.DropQueued(id);
  for (uint32_t id = 0; id < kN; ++id) net.Restart(id, /*wipe=*/false);
  net.Logins(1, ca);  // the others decide epoch `next` with this login in it
  const CoreCounters c = net.core(2).counters();
  CHECK(c.log_divergences == 1);
  CHECK(c.state_transfers_completed == 1);
  for (uint32_t id = 0; id < kN; ++id) {
    INFO("replica " << id);
    CHECK(net.core(id).next_epoch() > next);
    CHECK(net.core(id).next_epoch() == net.core(0).next_epoch());
    CHECK(net.Digest(id) == net.Digest(0));
    CHECK(net.store(id).log_head() == net.store(0).log_head());
    if (id != 2) CHECK(net.core(id).counters().log_divergences == 0);
  }
  // And all four carry on together.
  net.Logins(3, ca);
  CHECK(net.Digest(2) == net.Digest(0));
}

// A signed login of a fresh user, as a client would send it.
std::string FreshLogin(const testing::TestCa& ca, const std::string& uid, int64_t now_ms) {
  CryptoRng rng;
  pki::IssuedCertificate cert = ca.Issue(uid, pki::Role::kUser);
  client::internal::SessionKey session = client::internal::SessionKey::Generate();
  auto login = client::internal::BuildLogin(Cluster().cluster_id(), uid,
                                            std::string(cert.cert_der.begin(), cert.cert_der.end()), cert.key,
                                            session, now_ms, rng);
  REQUIRE(login.ok());
  return login->bytes;
}

std::optional<uint64_t> ConsensusEpochOf(const std::string& payload) {
  pb::PeerMessage msg;
  if (!msg.ParseFromString(payload) || !msg.has_consensus()) return std::nullopt;
  return msg.consensus().epoch();
}

// Finding 3 (votes not durable before they are sent): on the old code a restarted replica
// built a fresh instance that had forgotten its votes, re-drew its proposal and voted anew.
// Now every consensus message it had sent for an undecided epoch is sent again, byte for
// byte, by the replay of its input log, and it sends no other proposal.
TEST_CASE("a restarted replica sends again exactly the votes it had sent (finding 3)", "[node][durable]") {
  testing::TestCa ca;
  TestNet net(ca);
  net.Logins(2, ca);
  std::vector<std::string> before;
  std::vector<std::string> after;
  bool restarted = false;
  net.on_send = [&](const PeerMsg& m) {
    if (m.from != 1 || !ConsensusEpochOf(m.payload).has_value()) return;
    (restarted ? after : before).push_back(m.payload);
  };
  net.Submit(FreshLogin(ca, "mid-epoch", net.now_ms()));
  net.Step(3);
  const uint64_t undecided = net.core(1).next_epoch();
  size_t in_flight = 0;
  for (const std::string& p : before) in_flight += *ConsensusEpochOf(p) >= undecided ? 1 : 0;
  REQUIRE(in_flight > 0);  // it voted in an epoch it has not committed
  net.DropQueued(1);
  restarted = true;
  net.Restart(1, /*wipe=*/false);
  CHECK(net.core(1).counters().consensus_inputs_replayed > 0);
  for (const std::string& p : before) {
    if (*ConsensusEpochOf(p) < undecided) continue;
    CHECK(std::find(after.begin(), after.end(), p) != after.end());
  }
  REQUIRE(net.RunUntil([&] { return net.Quiet(); }));
  for (uint32_t id = 0; id < kN; ++id) {
    CHECK(net.Digest(id) == net.Digest(0));
    CHECK(net.core(id).counters().faults == 0);  // nobody saw a second, different vote
  }
}

// Finding 2 (frames beyond the window dropped): a replica that hears its peers' messages
// for later epochs before it has decided the earlier ones keeps them and decides those
// epochs from them, with no catch-up record to help it.
TEST_CASE("frames beyond the window are held and handed in when the window gets there (finding 2)",
          "[node][window]") {
  testing::TestCa ca;
  TestNet net(ca);
  net.Logins(1, ca);
  std::vector<PeerMsg> held;
  bool holding = true;
  net.tamper = [&](PeerMsg& m) {
    if (m.to != 3) return true;
    pb::PeerMessage msg;
    if (msg.ParseFromString(m.payload) && msg.has_committed_epoch()) return false;  // no catch-up
    if (!holding) return true;
    held.push_back(m);
    return false;
  };
  const uint64_t start = net.core(0).next_epoch();
  for (int i = 0; i < 7; ++i) {
    const uint64_t before = net.core(0).next_epoch();
    net.Submit(FreshLogin(ca, "w" + std::to_string(i), net.now_ms()));
    REQUIRE(net.RunUntil([&] { return net.core(0).next_epoch() > before && net.core(1).next_epoch() > before &&
                                      net.core(2).next_epoch() > before; }));
  }
  const uint64_t target = net.core(0).next_epoch();
  REQUIRE(target >= start + 6);  // further than replica 3's window of 4 epochs
  REQUIRE(net.core(3).next_epoch() == start);
  holding = false;
  // The latest epochs first: most of them are beyond replica 3's window when they arrive.
  for (auto it = held.rbegin(); it != held.rend(); ++it) net.core(3).OnPeerMessage(it->from, it->payload, net.now_ms());
  REQUIRE(net.RunUntil([&] { return net.core(3).next_epoch() >= target; }, 4000));
  const CoreCounters c = net.core(3).counters();
  CHECK(c.future_frames_delivered > 0);
  CHECK(c.epochs_caught_up == 0);
  CHECK(c.future_frames_held == 0);
  CHECK(net.store(3).log_head() == net.store(0).log_head());
}

// Finding 4 (commit before the log-head check): f+1 matching records whose head this
// replica's execution does not reproduce show that its own state is off. Nothing of that
// epoch may become durable; it goes back to a certified state instead of failing (and,
// on the old code, committing the epoch again at every restart).
TEST_CASE("a caught-up epoch whose log head differs is never committed (finding 4)", "[node][catchup]") {
  testing::TestCa ca;
  TestNet net(ca);
  net.Logins(6, ca);
  const uint64_t next = net.core(0).next_epoch();
  const store::Digest head_before = net.store(0).log_head();
  pb::PeerMessage forged;
  pb::CommittedEpoch* c = forged.mutable_committed_epoch();
  c->set_epoch(next);
  c->set_consensus_time_ms(net.store(0).last_consensus_time_ms() + 1);
  c->set_log_head(std::string(32, '\x5a'));
  const std::string bytes = forged.SerializeAsString();
  net.core(0).OnPeerMessage(1, bytes, net.now_ms());
  net.core(0).OnPeerMessage(2, bytes, net.now_ms());
  CHECK(net.core(0).fatal().ok());
  CHECK(net.core(0).next_epoch() == next);
  CHECK(net.store(0).log_head() == head_before);
  CHECK_FALSE(net.store(0).ReadEpochRecord(next)->has_value());
  CHECK(net.core(0).counters().catchup_head_mismatches == 1);
  CHECK(net.core(0).counters().log_divergences == 1);
}

// A catch-up message can apply epochs and then meet a head mismatch at the next one. The
// applied epochs are committed, so the running consensus instance must move past them
// then and there; before 108813a it stayed on them, its window stuck behind the store,
// until a state transfer happened to restart it.
TEST_CASE("epochs caught up before a head mismatch still move consensus past them", "[node][catchup]") {
  testing::TestCa ca;
  TestNet net(ca);
  net.Logins(2, ca);
  const uint64_t e = net.core(3).next_epoch();
  REQUIRE(net.core(0).next_epoch() == e);
  net.tamper = [](PeerMsg& m) { return m.to != 3; };  // replica 3 hears nothing
  net.Submit(FreshLogin(ca, "behind", net.now_ms()));
  REQUIRE(net.RunUntil([&] { return net.core(0).next_epoch() > e && net.core(1).next_epoch() > e; }));
  REQUIRE(net.core(3).next_epoch() == e);

  // Replicas 0 and 1 answer replica 3's fetch with their true records of epoch e.
  std::map<uint32_t, std::string> record_of;
  bool joined_past_e = false;
  net.on_send = [&](const PeerMsg& m) {
    pb::PeerMessage msg;
    if (!msg.ParseFromString(m.payload)) return;
    if (m.to == 3 && msg.has_committed_epoch() && msg.committed_epoch().epoch() == e) record_of[m.from] = m.payload;
    if (m.from == 3 && msg.has_join_epochs() && msg.join_epochs().first_epoch() == e + 1) joined_past_e = true;
  };
  pb::PeerMessage fetch;
  fetch.mutable_fetch_epochs()->set_first_epoch(e);
  fetch.mutable_fetch_epochs()->set_count(1);
  net.core(0).OnPeerMessage(3, fetch.SerializeAsString(), net.now_ms());
  net.core(1).OnPeerMessage(3, fetch.SerializeAsString(), net.now_ms());
  REQUIRE(record_of.size() == 2);

  // f+1 matching records for epoch e+1 whose head replica 3's execution cannot reach.
  pb::PeerMessage forged;
  pb::CommittedEpoch* c = forged.mutable_committed_epoch();
  c->set_epoch(e + 1);
  c->set_consensus_time_ms(net.store(0).last_consensus_time_ms() + 1);
  c->set_log_head(std::string(32, '\x5a'));
  net.core(3).OnPeerMessage(0, record_of[0], net.now_ms());
  net.core(3).OnPeerMessage(0, forged.SerializeAsString(), net.now_ms());
  net.core(3).OnPeerMessage(1, forged.SerializeAsString(), net.now_ms());
  REQUIRE(net.core(3).next_epoch() == e);
  // The second record of e applies it, and in the same message e+1 mismatches.
  net.core(3).OnPeerMessage(1, record_of[1], net.now_ms());
  CHECK(net.core(3).fatal().ok());
  CHECK(net.core(3).next_epoch() == e + 1);
  CHECK(net.core(3).counters().epochs_caught_up == 1);
  CHECK(net.core(3).counters().catchup_head_mismatches == 1);
  // The instance moved to e+1: it asks its peers for what they sent it from there on.
  CHECK(joined_past_e);
}

// Finding 5 (execution depends on local configuration): a genesis setting changed under
// a replica's store is refused at start, naming the setting.
TEST_CASE("a replica started with other genesis settings refuses to start", "[node][genesis]") {
  testing::TestCa ca;
  TestNet net(ca);
  net.Logins(1, ca);
  static config::ClusterConfig edited = Cluster();
  edited.limits.session_seconds += 60;
  pki::CaBundle bundle = ca.Bundle();
  auto core = ReplicaCore::Create(edited, 0, KeysFor(0), &net.store(0), &bundle, nullptr, TestOptions());
  REQUIRE_FALSE(core.ok());
  CHECK(core.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK_THAT(std::string(core.status().message()), Catch::Contains("limits.session_seconds"));
  // Another CA bundle is refused the same way.
  testing::TestCa other;
  pki::CaBundle other_bundle = other.Bundle();
  auto core2 = ReplicaCore::Create(Cluster(), 0, KeysFor(0), &net.store(0), &other_bundle, nullptr, TestOptions());
  REQUIRE_FALSE(core2.ok());
  CHECK_THAT(std::string(core2.status().message()), Catch::Contains("ca:"));
  // The original settings still start.
  net.Restart(0, /*wipe=*/false);
  CHECK(net.core(0).fatal().ok());
}

// Finding 6 (unbounded work from one peer): fetches and joins are served at a bounded
// rate per peer whatever their fields say.
TEST_CASE("FetchEpochs and JoinEpochs floods are served at a bounded rate (finding 6)", "[node][bounds]") {
  testing::TestCa ca;
  TestNet net(ca);
  net.Logins(3, ca);
  uint64_t records_to_1 = 0;
  net.on_send = [&](const PeerMsg& m) {
    pb::PeerMessage msg;
    if (m.to == 1 && msg.ParseFromString(m.payload) && msg.has_committed_epoch()) ++records_to_1;
  };
  const uint64_t joins_before = net.core(0).counters().joins_served;
  for (int i = 0; i < 20; ++i) {
    pb::PeerMessage fetch;
    fetch.mutable_fetch_epochs()->set_first_epoch(0);
    fetch.mutable_fetch_epochs()->set_count(64);
    net.core(0).OnPeerMessage(1, fetch.SerializeAsString(), net.now_ms());
    pb::PeerMessage join;
    join.mutable_join_epochs()->set_first_epoch(static_cast<uint64_t>(i));  // rising
    net.core(0).OnPeerMessage(1, join.SerializeAsString(), net.now_ms());
  }
  const CoreCounters c = net.core(0).counters();
  CHECK(c.fetches_refused == 19);
  CHECK(c.joins_served - joins_before <= 1);
  CHECK(c.joins_served - joins_before + c.joins_deferred == 20);
  CHECK(records_to_1 <= 2 * net.core(0).next_epoch());  // one fetch and one join answered
  // The deferred joins are one join, served once the interval is over, from the earliest
  // first epoch asked for: a peer that asked too soon still gets what it asked for.
  records_to_1 = 0;
  net.core(0).OnTick(net.now_ms() + ReplicaCore::Options{}.join_interval_ms);
  CHECK(net.core(0).counters().joins_served - c.joins_served == 1);
  CHECK(records_to_1 == net.core(0).next_epoch());  // from epoch 0: every record it holds
  net.core(0).OnTick(net.now_ms() + 2 * ReplicaCore::Options{}.join_interval_ms);
  CHECK(net.core(0).counters().joins_served - c.joins_served == 1);  // nothing more was asked
}

// Finding 6: catch-up records are bounded in bytes per peer.
TEST_CASE("one peer's catch-up records are bounded in bytes (finding 6)", "[node][bounds]") {
  testing::TestCa ca;
  TestNet net(ca);
  net.Logins(1, ca);
  const uint64_t next = net.core(0).next_epoch();
  for (uint64_t e = next; e < next + 60; ++e) {
    pb::PeerMessage m;
    m.mutable_committed_epoch()->set_epoch(e);
    m.mutable_committed_epoch()->add_requests(std::string(2 << 20, 'r'));
    m.mutable_committed_epoch()->set_log_head(std::string(32, 'h'));
    net.core(0).OnPeerMessage(1, m.SerializeAsString(), net.now_ms());
  }
  const CoreCounters c = net.core(0).counters();
  CHECK(c.catchup_records_refused > 0);
  CHECK(c.catchup_bytes_held <= ReplicaCore::Options{}.catchup_bytes_per_peer_max);
}

TEST_CASE("consensus input records round-trip and corrupt ones are refused", "[node][durable]") {
  ConsensusInput msg;
  msg.kind = ConsensusInput::Kind::kPeerMessage;
  msg.from = 3;
  msg.payload = std::string("\x00\x01peer", 6);
  auto m = ConsensusInput::Decode(msg.Encode());
  REQUIRE(m.ok());
  CHECK(m->from == 3);
  CHECK(m->payload == msg.payload);
  ConsensusInput prop;
  prop.kind = ConsensusInput::Kind::kProposal;
  prop.clock_reading = 1234;
  prop.requests = {"a", "", std::string(300, 'b')};
  auto p = ConsensusInput::Decode(prop.Encode());
  REQUIRE(p.ok());
  CHECK(p->requests == prop.requests);
  CHECK(p->clock_reading == 1234);
  std::string bytes = prop.Encode();
  CHECK(ConsensusInput::Decode(bytes.substr(0, bytes.size() - 1)).status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(ConsensusInput::Decode(bytes + "x").status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(ConsensusInput::Decode("").status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(ConsensusInput::Decode(std::string(1, '\x07')).status().code() == absl::StatusCode::kInvalidArgument);
}

// A replica's disk on which the stored record of one epoch reads back with another head
// (rot that the store's own checks do not catch, as the rotten state value above), while
// the chain tip, the state and every other record are intact. Everything else is passed
// to the MemoryStore it wraps.
class RottenRecordStore final : public store::Store {
 public:
  explicit RottenRecordStore(store::MemoryStore& disk) : disk_(disk) {}
  // From now on the record of `epoch` reads back rotten, until a state transfer replaces
  // the log.
  void Rot(uint64_t epoch) { rotten_epoch_ = epoch; }

  absl::StatusOr<std::optional<pb::EpochRecord>> ReadEpochRecord(uint64_t epoch) const override {
    absl::StatusOr<std::optional<pb::EpochRecord>> record = disk_.ReadEpochRecord(epoch);
    if (rotten_epoch_ == epoch && record.ok() && record->has_value() && !(*record)->head().empty()) {
      std::string head = (*record)->head();
      head[0] = static_cast<char>(head[0] ^ 0x01);
      (*record)->set_head(head);
    }
    return record;
  }
  absl::Status InstallStaged(uint64_t next_epoch, const store::Digest& head, int64_t consensus_time_ms) override {
    rotten_epoch_.reset();  // every epoch record is dropped, the rotten one with them
    return disk_.InstallStaged(next_epoch, head, consensus_time_ms);
  }

  absl::StatusOr<std::optional<std::string>> Get(std::string_view key) const override { return disk_.Get(key); }
  absl::Status CommitEpoch(uint64_t epoch, int64_t consensus_time_ms, const state::WriteSet& writes,
                           const store::Digest& batch_digest) override {
    return disk_.CommitEpoch(epoch, consensus_time_ms, writes, batch_digest);
  }
  uint64_t next_epoch() const override { return disk_.next_epoch(); }
  store::Digest log_head() const override { return disk_.log_head(); }
  int64_t last_consensus_time_ms() const override { return disk_.last_consensus_time_ms(); }
  absl::StatusOr<store::Digest> ComputeStateDigest() const override { return disk_.ComputeStateDigest(); }
  absl::StatusOr<store::Digest> ComputePrefixDigest(std::string_view prefix) const override {
    return disk_.ComputePrefixDigest(prefix);
  }
  absl::StatusOr<std::shared_ptr<const store::StateSnapshot>> FreezeState() const override {
    return disk_.FreezeState();
  }
  absl::StatusOr<std::shared_ptr<const store::StateSnapshot>> FreezeStateDurably(uint64_t epoch) override {
    return disk_.FreezeStateDurably(epoch);
  }
  absl::StatusOr<std::shared_ptr<const store::StateSnapshot>> OpenFrozen(uint64_t epoch) const override {
    return disk_.OpenFrozen(epoch);
  }
  absl::Status DropFrozenExcept(const std::set<uint64_t>& keep) override { return disk_.DropFrozenExcept(keep); }
  absl::Status WriteCheckpoint(const pb::CheckpointCertificate& certificate) override {
    return disk_.WriteCheckpoint(certificate);
  }
  absl::StatusOr<std::optional<pb::CheckpointCertificate>> ReadCheckpoint() const override {
    return disk_.ReadCheckpoint();
  }
  absl::Status PruneLogBefore(uint64_t epoch) override { return disk_.PruneLogBefore(epoch); }
  uint64_t log_base_epoch() const override { return disk_.log_base_epoch(); }
  absl::Status ClearStaging() override { return disk_.ClearStaging(); }
  absl::Status StageEntries(const std::vector<std::pair<std::string, std::string>>& entries) override {
    return disk_.StageEntries(entries);
  }
  absl::StatusOr<store::Digest> ComputeStagedDigest() const override { return disk_.ComputeStagedDigest(); }
  absl::Status AppendConsensusInputs(const std::vector<store::ConsensusInput>& inputs) override {
    return disk_.AppendConsensusInputs(inputs);
  }
  absl::StatusOr<std::vector<store::ConsensusInput>> ReadConsensusInputs() const override {
    return disk_.ReadConsensusInputs();
  }
  absl::Status PruneConsensusInputsBefore(uint64_t epoch) override { return disk_.PruneConsensusInputsBefore(epoch); }
  absl::Status PutMeta(std::string_view name, std::string_view value) override { return disk_.PutMeta(name, value); }
  absl::StatusOr<std::optional<std::string>> GetMeta(std::string_view name) const override {
    return disk_.GetMeta(name);
  }
 private:
  store::MemoryStore& disk_;
  std::optional<uint64_t> rotten_epoch_;
};

// Finding 7: on ce68edb MaybeCheckpoint handed the replica's own checkpoint vote to
// HandleCheckpointVote with now_ms = 0. When that vote is the one that completes a
// certificate and adopting it starts a state transfer (AdoptCertificate -> StartTransfer
// -> RequestNextChunk), the first chunk request was stamped at time 0, so the next tick
// found the source silent since 0: it was replaced and counted as a failed source
// although it is correct. The own vote now carries the time of the latest input.
//
// The path to that transfer: a replica flagged as diverged whose stable checkpoint is at
// or past the diverging epoch waits for the next certificate and installs it
// (AdoptCertificate's diverged_ branch). Replica 3 restarts on a disk on which the record
// of epoch 6 later rots; its JoinEpochs(6) reaches the peers late, after epochs 6 and 7,
// so all three answer with their record of epoch 6, which no longer matches its own:
// 2f+1 evidence of divergence, with checkpoint 7 already stable. Then replica 3 is the
// last to decide checkpoint epoch 11, after two peers' votes (a slow link), so its own
// vote is the third signature.
//
// Why a rotten record: the own vote is one of the 2f+1 matching signatures, so the
// digest-mismatch branch cannot start the transfer, and its epoch is below next_epoch, so
// the rollback branch cannot either. Only diverged_ remains, and a replica whose log
// really differs from 2f+1 peers' cannot sign the same checkpoint as f+1 correct ones
// (the log head is a chain): the evidence must be wrong about its log, as a record that
// rotted on its disk makes it.
TEST_CASE("a transfer started by the replica's own checkpoint vote does not blame a correct source (finding 7)",
          "[node][checkpoint]") {
  testing::TestCa ca;
  TestNet net(ca);
  constexpr uint32_t kLate = 3;
  const uint64_t interval = TestOptions().checkpoint_interval_epochs;
  net.Logins(6, ca);
  const uint64_t rotten = net.core(0).next_epoch();
  RottenRecordStore disk(net.store(kLate));
  net.SetDisk(kLate, &disk);
  net.DropQueued(kLate);
  net.Restart(kLate, /*wipe=*/false);
  std::vector<PeerMsg> held;
  net.tamper = [&](PeerMsg& m) {
    pb::PeerMessage msg;
    if (m.from != kLate || !msg.ParseFromString(m.payload) || !msg.has_join_epochs()) return true;
    held.push_back(m);
    return false;
  };
  // Epochs until a checkpoint at or past `rotten` is stable (with the numbers here:
  // epochs 6 and 7, checkpoint 7).
  for (int i = 0; i < 8 && net.core(kLate).stable_checkpoint_epoch().value_or(0) < rotten; ++i) net.Logins(1, ca);
  REQUIRE(net.core(kLate).stable_checkpoint_epoch().value_or(0) >= rotten);
  REQUIRE(held.size() >= kN - 1);
  disk.Rot(rotten);
  net.tamper = nullptr;
  for (PeerMsg& m : held) net.Send(std::move(m));
  held.clear();
  REQUIRE(net.RunUntil([&] { return net.Quiet() && net.core(kLate).counters().log_divergences == 1; }));
  // Its stable checkpoint is past the diverging epoch: it waits for the next certificate.
  REQUIRE(net.core(kLate).counters().state_transfers_started == 0);
  // Up to the epoch before the next checkpoint (epochs 8, 9 and 10).
  for (int i = 0; i < 8 && (net.core(0).next_epoch() + 1) % interval != 0; ++i) net.Logins(1, ca);
  const uint64_t checkpoint_epoch = net.core(0).next_epoch();
  REQUIRE((checkpoint_epoch + 1) % interval == 0);
  REQUIRE(net.core(kLate).next_epoch() == checkpoint_epoch);

  // That epoch (11): replica 3's consensus messages are slow until two peers' checkpoint
  // votes reached it; the third vote and the peers' certificates come after its own vote.
  std::vector<PeerMsg> slow;
  std::vector<PeerMsg> after_own_vote;
  int votes_delivered = 0;
  net.tamper = [&](PeerMsg& m) {
    pb::PeerMessage msg;
    if (m.to != kLate || net.core(kLate).next_epoch() > checkpoint_epoch || !msg.ParseFromString(m.payload)) {
      return true;
    }
    if (msg.has_consensus() && msg.consensus().epoch() == checkpoint_epoch && votes_delivered < 2) {
      slow.push_back(m);
      return false;
    }
    if (msg.has_checkpoint_vote() && msg.checkpoint_vote().epoch() == checkpoint_epoch) {
      if (votes_delivered == 2) {
        after_own_vote.push_back(m);
        return false;
      }
      if (++votes_delivered == 2) {
        for (PeerMsg& s : slow) net.Send(std::move(s));
        slow.clear();
      }
      return true;
    }
    if (msg.has_checkpoint()) {
      after_own_vote.push_back(m);
      return false;
    }
    return true;
  };
  net.Submit(FreshLogin(ca, "checkpoint-login", net.now_ms()));
  REQUIRE(net.RunUntil([&] { return net.core(kLate).next_epoch() > checkpoint_epoch; }));
  net.tamper = nullptr;
  for (PeerMsg& m : after_own_vote) net.Send(std::move(m));
  REQUIRE(net.core(kLate).counters().state_transfers_started == 1);
  // A tick before the source's first chunk is back, as the daemon ticks every 20 ms.
  net.TickAll();
  REQUIRE(net.RunUntil([&] {
    return net.Quiet() && net.core(kLate).counters().state_transfers_completed == 1 &&
           net.core(kLate).next_epoch() == net.core(0).next_epoch();
  }));
  const CoreCounters c = net.core(kLate).counters();
  CHECK(c.log_divergences == 1);
  CHECK(c.state_transfers_started == 1);
  CHECK(c.state_transfer_source_failures == 0);
  CHECK(c.faults == 0);
  CHECK(c.faults_by_kind.empty());
  CHECK(c.state_transfers_completed == 1);
  CHECK(net.core(kLate).stable_checkpoint_epoch() == checkpoint_epoch);
  CHECK(net.Digest(kLate) == net.Digest(0));
  CHECK(net.store(kLate).log_head() == net.store(0).log_head());
}

TEST_CASE("checkpoint votes: bad signatures, equivocation and forged certificates are refused",
          "[node][checkpoint]") {
  const config::ClusterConfig& cfg = Cluster();
  CheckpointVotes votes(cfg, /*window_epochs=*/16);
  auto vote_of = [&](uint32_t replica, uint64_t epoch, char digest_fill) {
    pb::CheckpointVote v;
    v.set_epoch(epoch);
    v.set_state_digest(std::string(32, digest_fill));
    v.set_log_head(std::string(32, 'h'));
    v.set_consensus_time_ms(1000);
    v.set_state_entries(7);
    v.set_state_bytes(700);
    v.set_signature(fuzz::SignAsReplica(replica, CheckpointStatementOf(cfg, v)));
    return v;
  };
  // Replica 1 signs as itself, but the vote is presented as replica 2's.
  CHECK(votes.Add(2, vote_of(1, 3, 'd'), std::nullopt).status().code() == absl::StatusCode::kInvalidArgument);
  REQUIRE(votes.Add(0, vote_of(0, 3, 'd'), std::nullopt).ok());
  REQUIRE(votes.Add(1, vote_of(1, 3, 'd'), std::nullopt).ok());
  // Replica 1 votes again for epoch 3 with another digest: a fault.
  CHECK(votes.Add(1, vote_of(1, 3, 'e'), std::nullopt).status().code() == absl::StatusCode::kInvalidArgument);
  // A vote for another digest does not count toward the quorum.
  auto other = votes.Add(2, vote_of(2, 3, 'e'), std::nullopt);
  REQUIRE(other.ok());
  CHECK_FALSE(other->has_value());
  auto made = votes.Add(3, vote_of(3, 3, 'd'), std::nullopt);
  REQUIRE(made.ok());
  REQUIRE(made->has_value());
  const pb::CheckpointCertificate cert = **made;
  CHECK(cert.signatures_size() == 3);
  CHECK(VerifyCheckpointCertificate(cfg, cert).ok());
  // Outside the window above a stable checkpoint: ignored, not a fault.
  CHECK(votes.Add(0, vote_of(0, 3, 'd'), 3).status().code() == absl::StatusCode::kOutOfRange);
  CHECK(votes.Add(0, vote_of(0, 100, 'd'), 3).status().code() == absl::StatusCode::kOutOfRange);

  CHECK(cert.state_entries() == 7);
  CHECK(cert.state_bytes() == 700);

  pb::CheckpointCertificate forged = cert;
  forged.set_state_digest(std::string(32, 'x'));
  CHECK(VerifyCheckpointCertificate(cfg, forged).code() == absl::StatusCode::kPermissionDenied);
  // The size is signed too: a source cannot make a transfer of its own allow more.
  pb::CheckpointCertificate larger = cert;
  larger.set_state_bytes(cert.state_bytes() * 1000);
  CHECK(VerifyCheckpointCertificate(cfg, larger).code() == absl::StatusCode::kPermissionDenied);
  pb::CheckpointCertificate short_one = cert;
  short_one.mutable_signatures()->RemoveLast();
  CHECK(VerifyCheckpointCertificate(cfg, short_one).code() == absl::StatusCode::kPermissionDenied);
  pb::CheckpointCertificate repeated = cert;
  *repeated.mutable_signatures(2) = repeated.signatures(1);
  CHECK(VerifyCheckpointCertificate(cfg, repeated).code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("OptionsFor takes the log and checkpoint bounds from cluster.conf", "[node][checkpoint]") {
  config::ClusterConfig cfg = Cluster();
  cfg.limits.log_retained_epochs = 16;
  cfg.limits.checkpoint_interval_epochs = 8;
  const ReplicaCore::Options o = ReplicaCore::OptionsFor(cfg);
  CHECK(o.retained_batches == 16);
  CHECK(o.checkpoint_interval_epochs == 8);
  CHECK(ReplicaCore::OptionsFor(Cluster()).retained_batches == 4096);
}

}  // namespace
}  // namespace belfry::replica
