// test/sim/adversary.h — the Byzantine nodes of a simulation.
//
// Adversary powers, written down (the simulator grants exactly these):
//  * It controls f nodes completely. Each runs a real HoneyBadger (so it takes part
//    convincingly), and every message that node would send passes through its strategy,
//    which may drop, alter, duplicate, redirect or replay it, or craft new messages.
//  * It reads every message sent to its nodes and, through the scheduler, sees every
//    message in flight and chooses the delivery order (network.h).
//  * It cannot forge a correct node's messages (the transport authenticates senders), and
//    cannot compute a coin before f+1 shares exist — its own f plus one a correct node sent.
//  * It cannot stop messages between correct nodes forever (schedulers are fair).
#ifndef BELFRY_TEST_SIM_ADVERSARY_H_
#define BELFRY_TEST_SIM_ADVERSARY_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/rng.h"
#include "consensus/step.h"
#include "proto/consensus.pb.h"

namespace belfry::sim {

using consensus::NodeId;

// Strategy: what the Byzantine nodes do. kNone means the run has no Byzantine node at all.
enum class Strategy : uint8_t {
  kNone,
  kHonest,         // f nodes counted as faulty that behave correctly
  kSilent,         // send nothing, propose nothing
  kEquivocate,     // RBC proposer sending different roots, or inconsistent stripes
  kBadMerkle,      // VAL/ECHO with corrupted branches, stripes or roots
  kFakeEchoReady,  // ECHO/READY for values never sent, conflicting ECHOs
  kFlipVotes,      // flipped and doubled BVAL/AUX/CONF votes, false TERMs
  kBadCoin,        // invalid, replayed and withheld coin shares (ABA and ordering coin)
  kReplay,         // replayed old messages and duplicated new ones
  kFlood,          // messages for far-future epochs (and the last epoch of the window)
  kMixed,          // each Byzantine node picks one of the above, and switches
  kAbaSplit,       // votes that help the aba-max scheduler keep agreements split
};

const char* StrategyName(Strategy s);
std::optional<Strategy> ParseStrategy(const std::string& name);
// Every strategy a Byzantine node can run (everything but kNone), for test matrices.
std::vector<Strategy> AllByzantineStrategies();

// Parameters the adversary needs to craft plausible messages.
struct AdversaryParams {
  uint32_t n = 0;
  uint32_t f = 0;
  std::vector<bool> byzantine;
  uint32_t window = 0;
  size_t proposal_bytes_max = 0;
  uint32_t flood_budget = 0;  // far-future messages per Byzantine node
};

// One crafted message to one recipient.
struct Outgoing {
  NodeId to = 0;
  pb::ConsensusMessage msg;
};

// Adversary: the strategies of all Byzantine nodes. Not thread-safe.
class Adversary {
 public:
  Adversary(AdversaryParams params, Strategy strategy, uint64_t seed);
  ~Adversary();

  Strategy strategy_of(NodeId byz) const;
  // Whether `byz` proposes at all (a silent node does not).
  bool proposes(NodeId byz) const;
  // The clock reading `byz` reports (Byzantine clocks lie).
  uint64_t ClockReading(NodeId byz, uint64_t honest_reading);

  // Turns the messages node `byz`'s own HoneyBadger wants to send into what it actually
  // sends. `next_output` is that HoneyBadger's next epoch to output.
  std::vector<Outgoing> Emit(NodeId byz,
                             std::vector<consensus::TargetedMessage<pb::ConsensusMessage>> msgs,
                             uint64_t next_output);
  // Sees a message delivered to `byz` (kept for replays and crafted votes).
  void Observe(NodeId byz, NodeId from, const pb::ConsensusMessage& msg);

  // Requests that appear only in crafted proposals (for the integrity checker: these were
  // "proposed" by a Byzantine node).
  const std::set<std::string>& crafted_requests() const { return crafted_requests_; }

 private:
  struct NodeState;

  void EmitOne(NodeId byz, NodeState& st, Strategy s, NodeId to, pb::ConsensusMessage msg,
               uint64_t next_output, std::vector<Outgoing>& out);
  void Equivocate(NodeId byz, NodeState& st, uint64_t epoch, std::vector<Outgoing>& out);
  void CorruptStripe(pb::ConsensusMessage& msg);
  void FakeEchoReady(NodeId byz, NodeState& st, uint64_t epoch, uint32_t instance,
                     std::vector<Outgoing>& out);
  void Flood(NodeId byz, NodeState& st, const pb::ConsensusMessage& msg, uint64_t next_output,
             std::vector<Outgoing>& out);
  std::string RandomBytes(size_t n);
  NodeId RandomPeer(NodeId byz);

  AdversaryParams params_;
  Strategy strategy_;
  DeterministicRng rng_;
  std::map<NodeId, std::unique_ptr<NodeState>> nodes_;
  std::set<std::string> crafted_requests_;
};

}  // namespace belfry::sim

#endif  // BELFRY_TEST_SIM_ADVERSARY_H_
