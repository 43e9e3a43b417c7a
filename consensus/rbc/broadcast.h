// consensus/rbc/broadcast.h — erasure-coded reliable broadcast (one instance = one proposer).
//
// How it works: see the comment at the top of broadcast.cc (Bracha's echo/ready with
// Cachin–Tessaro AVID stripes and Merkle proofs, as in HoneyBadgerBFT, Miller et al. 2016,
// Figure 2).
#ifndef BELFRY_CONSENSUS_RBC_BROADCAST_H_
#define BELFRY_CONSENSUS_RBC_BROADCAST_H_

#include <cstddef>
#include <memory>
#include <string>

#include "consensus/step.h"
#include "proto/rbc.pb.h"

namespace belfry::consensus::rbc {

// Output: what every correct node delivers for this instance, identically. `valid` is
// false when the proposer's stripes were inconsistent (the decoded value does not
// re-encode to the agreed Merkle root); `value` is then empty.
struct Output {
  bool valid = false;
  std::string value;
};

using RbcStep = Step<pb::RbcMessage, Output>;

// Broadcast: one node's state for the RBC instance of `proposer`. Not thread-safe.
// Delivers at most one Output. Messages that prove misbehaviour become Faults.
class Broadcast {
 public:
  // value_bytes_max bounds the proposer's value; larger proposals and stripes that could
  // only belong to a larger value are refused.
  Broadcast(NetworkInfo net, NodeId proposer, size_t value_bytes_max);

  // Starts the broadcast of `value`. Only the proposer calls it, at most once
  // (a second call, or a call on another node, is a local bug: BELFRY_CHECK).
  RbcStep Propose(std::string value);

  // Handles one message from `from` (whose identity the transport authenticated).
  RbcStep HandleMessage(NodeId from, const pb::RbcMessage& msg);

  NodeId proposer() const;
  bool delivered() const;
  // Delivered and has no further messages to send: its state can be dropped.
  bool terminated() const;

  Broadcast(Broadcast&&) noexcept;
  Broadcast& operator=(Broadcast&&) noexcept;
  ~Broadcast();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace belfry::consensus::rbc

#endif  // BELFRY_CONSENSUS_RBC_BROADCAST_H_
