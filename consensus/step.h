// consensus/step.h — what every consensus protocol returns.
//
// The protocols in consensus/ are pure state machines (sans-IO, as etcd's raft and the
// hbbft crate): each input — HandleMessage(from, msg), Propose(...) — returns a Step
// holding the messages to send with their targets, the outputs decided, and the faults
// observed. Nothing is sent, stored or timed from inside: the caller (the replica, or the
// simulator) carries the Step out. A parent protocol merges a child's Step into its own,
// wrapping each child message in the parent's envelope.
#ifndef BELFRY_CONSENSUS_STEP_H_
#define BELFRY_CONSENSUS_STEP_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace belfry::consensus {

// Replicas are numbered 0..N-1 in the order of the cluster configuration.
using NodeId = uint32_t;

// NetworkInfo: the fixed membership a protocol instance runs in. N >= 3f+1.
struct NetworkInfo {
  NodeId self = 0;
  uint32_t n = 0;
  uint32_t f = 0;

  uint32_t quorum() const { return n - f; }          // N-f: enough to proceed
  uint32_t one_correct() const { return f + 1; }     // f+1: at least one correct among them
  uint32_t two_f_plus_one() const { return 2 * f + 1; }
  bool valid_node(NodeId id) const { return id < n; }
};

// Target: who a message goes to. The sender itself is never a recipient of its own
// message over the wire; protocols handle their own contribution locally.
struct Target {
  enum class Kind : uint8_t { kAll, kAllExcept, kNodes };
  Kind kind = Kind::kAll;
  std::vector<NodeId> nodes;  // excluded (kAllExcept) or included (kNodes)

  static Target All() { return Target{}; }
  static Target AllExcept(std::vector<NodeId> excluded) {
    return Target{Kind::kAllExcept, std::move(excluded)};
  }
  static Target Node(NodeId id) { return Target{Kind::kNodes, {id}}; }
  static Target Nodes(std::vector<NodeId> ids) { return Target{Kind::kNodes, std::move(ids)}; }

  // Whether `id` is a recipient (the sender still skips itself).
  bool Contains(NodeId id) const;
};

// FaultKind: evidence that a peer misbehaved. Misbehaviour is data, not an error.
enum class FaultKind : uint16_t {
  kMalformedMessage,        // a field out of range, missing, or undecodable
  kUnexpectedSender,        // a message only the proposer (or someone else) may send
  kInvalidMerkleProof,      // an RBC stripe whose branch does not lead to its root
  kConflictingEcho,         // two different ECHOs from one sender
  kConflictingReady,        // two different READYs from one sender
  kDuplicateValue,          // a VALUE sent twice with different content
  kInvalidEncoding,         // a proposer whose stripes decode inconsistently
  kConflictingVote,         // a BVAL/AUX/CONF/TERM contradicting an earlier one
  kInvalidCoinShare,        // a coin share whose proof fails
  kDuplicateCoinShare,      // two different coin shares for one coin
  kEpochOutOfWindow,        // a message for an epoch beyond the accepted window
  kInvalidProposal,         // a decided proposal that does not parse or is out of bounds
  kInvalidDecryptionShare,  // a threshold decryption share whose proof fails
};

const char* FaultKindName(FaultKind kind);

// Fault: one observed misbehaviour, attributed to the peer whose message proved it.
struct Fault {
  NodeId node = 0;
  FaultKind kind = FaultKind::kMalformedMessage;
  std::string detail;  // short, for logs; never secret material
};

template <typename M>
struct TargetedMessage {
  Target target;
  M message;
};

// Step<M, O>: the result of one input to a protocol whose messages are M and whose
// outputs are O. [[nodiscard]]: dropping a Step drops messages the protocol needs sent.
template <typename M, typename O>
struct [[nodiscard]] Step {
  std::vector<TargetedMessage<M>> messages;
  std::vector<O> outputs;
  std::vector<Fault> faults;

  void Send(Target target, M message) {
    messages.push_back(TargetedMessage<M>{std::move(target), std::move(message)});
  }
  void AddFault(NodeId node, FaultKind kind, std::string detail = {}) {
    faults.push_back(Fault{node, kind, std::move(detail)});
  }
  bool empty() const { return messages.empty() && outputs.empty() && faults.empty(); }

  // Moves a child's messages (wrapped by `wrap`, M2 -> M) and faults into this Step and
  // returns the child's outputs for the parent to act on.
  template <typename M2, typename O2, typename Wrap>
  std::vector<O2> Absorb(Step<M2, O2>&& child, Wrap&& wrap) {
    for (auto& tm : child.messages) {
      messages.push_back(TargetedMessage<M>{std::move(tm.target), wrap(std::move(tm.message))});
    }
    for (auto& fault : child.faults) faults.push_back(std::move(fault));
    return std::move(child.outputs);
  }
  // Appends everything of a Step of the same type.
  void Extend(Step&& other) {
    for (auto& tm : other.messages) messages.push_back(std::move(tm));
    for (auto& o : other.outputs) outputs.push_back(std::move(o));
    for (auto& fault : other.faults) faults.push_back(std::move(fault));
  }
};

}  // namespace belfry::consensus

#endif  // BELFRY_CONSENSUS_STEP_H_
