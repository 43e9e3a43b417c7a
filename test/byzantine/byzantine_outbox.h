// test/byzantine/byzantine_outbox.h — the misbehaviour of belfry-replica-byzantine.
//
// How it works. The test-only replica binary is the ordinary daemon (replica/node/main.cc
// built with BELFRY_BYZANTINE) whose ReplicaCore sends everything through this Outbox
// instead of the transport's. The core stays correct; this layer rewrites, drops, repeats
// or adds to what leaves it, so the replica lies with its real keys and certificate
// exactly as a compromised replica could: every strategy is a mutation of outgoing
// messages (plus, for `clock`, an offset on the clock handed to the core). Which peer,
// epoch or byte is touched is drawn from a seeded DeterministicRng, so (strategies, seed)
// name one behaviour up to the order in which the core happens to send.
//
// Strategies (several may be combined; they apply in the order listed here):
//   silent          send nothing to peers or clients
//   equivocate      its own broadcasts: real stripes, ECHOs and READYs to half the peers,
//                   stripes of a different value with valid Merkle proofs (another root)
//                   to the other half
//   phantom-echo    with each RBC message, an ECHO and a READY for a root it never sent
//   flip-votes      BVAL, AUX, CONF and TERM with the opposite value
//   bad-shares      coin shares (ABA and ordering), decryption shares and service
//                   signature shares that do not verify; replies carrying them are signed
//                   again, so only the share is bad
//   withhold-shares no coin shares, no decryption shares, no service signature shares
//   wrong-replies   replies with another result, validly signed with its reply key
//   replay-old      sends again consensus messages of epochs it has moved past
//   flood-future    copies of its consensus messages for epochs far beyond any window, and
//                   now and then one frame of nearly the maximum size
//   clock           its clock reads hours ahead or behind (see clock_offset_ms)
//   leak-requests   sends nothing wrong, but writes every request it orders to the folder
//                   --leak-dir names (request_leak.h), as a compromised replica could
//   bad-dkg         as a key generation dealer, seals the row of the next replica
//                   ((self+1) mod N) so that it does not open (replica/state/key_generation.h)
//   withhold-dkg    puts no key generation message into the log: no key, Part or Ack
// The last two act on what the core puts into its own proposals, through
// KeyGenerationTamper, not on what leaves through the Outbox.
//
// Thread-safety: called only from the core thread, like any Outbox. Not thread-safe.
#ifndef BELFRY_TEST_BYZANTINE_BYZANTINE_OUTBOX_H_
#define BELFRY_TEST_BYZANTINE_BYZANTINE_OUTBOX_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/rng.h"
#include "consensus/internal/merkle.h"
#include "proto/replica.pb.h"
#include "proto/reply.pb.h"
#include "replica/node/replica_core.h"
#include "replica/node/reply_signer.h"

namespace belfry::byzantine {

enum class Strategy {
  kSilent,
  kEquivocate,
  kPhantomEcho,
  kFlipVotes,
  kBadShares,
  kWithholdShares,
  kWrongReplies,
  kReplayOld,
  kFloodFuture,
  kClock,
  kLeakRequests,
  kBadDkg,
  kWithholdDkg,
};

// "silent,flip-votes" -> the strategies; INVALID_ARGUMENT naming an unknown one. Empty
// input is an error too: a Byzantine replica with no strategy is a correct one.
absl::StatusOr<std::vector<Strategy>> ParseStrategies(const std::string& text);
const char* StrategyName(Strategy s);
// Every strategy name, comma-separated, for usage text.
std::string StrategyNames();

struct ByzantineOptions {
  uint32_t self = 0;
  uint32_t n = 4;
  uint32_t f = 1;
  std::string cluster_id;
  std::vector<Strategy> strategies;
  uint64_t seed = 1;
  // flood-future: the largest frame the peers accept (limits.frame_bytes_max); the padded
  // frame is a little smaller, so it is parsed and judged rather than cut off.
  uint64_t frame_bytes_max = 24ull << 20;
};

// Counters, logged at exit by the daemon and read by the unit test.
struct ByzantineCounters {
  uint64_t peer_dropped = 0;
  uint64_t peer_mutated = 0;
  uint64_t peer_added = 0;
  uint64_t client_dropped = 0;
  uint64_t client_mutated = 0;
};

// ByzantineOutbox: wraps the daemon's real Outbox (not owned; must outlive it) and owns
// a second copy of the replica's reply key, to sign the replies it forges.
class ByzantineOutbox final : public replica::Outbox {
 public:
  // INVALID_ARGUMENT for no strategy, n < 1 or self >= n.
  static absl::StatusOr<std::unique_ptr<ByzantineOutbox>> Create(ByzantineOptions options,
                                                                  replica::Outbox* inner,
                                                                  replica::ReplySigner signer);

  void SendPeer(uint32_t to, std::string payload) override;
  void SendClient(uint64_t connection, std::string frame) override;

  // What to add to the real clock before handing it to the core: 0 unless `clock` is on,
  // then 1..6 hours ahead or behind, fixed for the run by the seed.
  int64_t clock_offset_ms() const { return clock_offset_ms_; }
  const ByzantineCounters& counters() const { return counters_; }
  bool Has(Strategy s) const;
  // The key generation tamperer for ReplicaCore::Options (null without bad-dkg or
  // withhold-dkg). Stateless: safe on the core thread beside SendPeer.
  std::function<bool(pb::ReplicaMessage&)> KeyGenerationTamper() const;

 private:
  // An alternative encoding of this replica's own proposal in one epoch (equivocate).
  struct AltTree {
    std::vector<Bytes> stripes;
    std::optional<consensus::internal::MerkleTree> tree;
  };

  ByzantineOutbox(ByzantineOptions options, replica::Outbox* inner, replica::ReplySigner signer);

  void Emit(uint32_t to, const pb::PeerMessage& msg);
  // Each returns false when the message must not be sent at all.
  bool Equivocate(uint32_t to, pb::ConsensusMessage& msg);
  bool FlipVotes(pb::ConsensusMessage& msg);
  bool Shares(pb::ConsensusMessage& msg);
  void PhantomEcho(uint32_t to, const pb::ConsensusMessage& msg);
  void ReplayOld(uint32_t to, const pb::ConsensusMessage& msg);
  void FloodFuture(uint32_t to, const pb::ConsensusMessage& msg);
  const AltTree& AltTreeFor(uint64_t epoch, size_t stripe_bytes);
  bool ToSecondHalf(uint32_t to) const;
  std::string CorruptShare(const std::string& share);
  std::string RandomBytes(size_t len);
  // Rewrites one SignedReply; false when it must be dropped.
  bool MutateReply(pb::SignedReply& reply);

  const ByzantineOptions options_;
  replica::Outbox* const inner_;
  const replica::ReplySigner signer_;
  DeterministicRng rng_;
  int64_t clock_offset_ms_ = 0;
  std::vector<bool> second_half_;  // by peer: sees the other value (equivocate)
  std::map<uint64_t, AltTree> alt_trees_;  // by epoch; only the newest few kept
  uint64_t highest_epoch_ = 0;
  std::deque<pb::ConsensusMessage> sent_;  // replay-old: recent consensus messages
  int64_t last_big_frame_ms_ = 0;
  uint64_t messages_seen_ = 0;
  ByzantineCounters counters_;
};

}  // namespace belfry::byzantine

#endif  // BELFRY_TEST_BYZANTINE_BYZANTINE_OUTBOX_H_
