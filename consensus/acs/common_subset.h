// consensus/acs/common_subset.h — asynchronous common subset (ACS) of one epoch.
//
// Every node proposes a value; every correct node outputs the same set of at least N−f
// (proposer, value) pairs, including every correct node's value that arrived in time.
// How it works: see the comment at the top of common_subset.cc (Ben-Or, Kelmer and Rabin
// 1994, as used by HoneyBadgerBFT, Miller et al. CCS 2016, Figure 4).
#ifndef BELFRY_CONSENSUS_ACS_COMMON_SUBSET_H_
#define BELFRY_CONSENSUS_ACS_COMMON_SUBSET_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "consensus/aba/binary_agreement.h"
#include "consensus/coin.h"
#include "consensus/rbc/broadcast.h"
#include "consensus/step.h"
#include "proto/consensus.pb.h"

namespace belfry::consensus::acs {

// Config: the knobs of one ACS instance.
struct Config {
  // Bound on each proposer's value (handed to every RBC instance).
  size_t value_bytes_max = 0;
  // Handed to every ABA instance (the CONF phase stays on outside the simulator's
  // demonstration of the attack it prevents).
  aba::Config aba;
};

// Output: the agreed subset, identical at every correct node. `accepted` holds exactly
// the proposers whose agreement decided 1, in ascending NodeId order, each with what its
// RBC delivered (`valid` false when the proposer encoded its stripes inconsistently: the
// parent treats that proposal as empty). At least N−f entries.
struct Output {
  std::map<NodeId, rbc::Output> accepted;
};

using AcsStep = Step<pb::AcsMessage, Output>;

// AbaCoinPrefix: the coin-name prefix of agreement `instance` of the ACS whose prefix is
// `acs_prefix` (the prefix followed by the instance as a fixed-width number; the agreement
// adds its round, see aba::CoinName). Exposed so the simulator can name the coins.
std::string AbaCoinPrefix(std::string_view acs_prefix, NodeId instance);

// CommonSubset: one node's state for one ACS instance (one epoch). Not thread-safe.
// Outputs exactly once. `coin` must outlive the instance. `coin_name_prefix` must be
// unique per (cluster, epoch); agreement j gets AbaCoinPrefix(coin_name_prefix, j).
class CommonSubset {
 public:
  CommonSubset(NetworkInfo net, CoinScheme* coin, std::string coin_name_prefix, Config config);

  // Starts this node's reliable broadcast of `value` (at most value_bytes_max bytes).
  // At most once: a second call is a local bug (BELFRY_CHECK).
  AcsStep Propose(std::string value);

  // Handles one message from `from`. A message naming an instance outside 0..N−1 or
  // carrying neither an RBC nor an ABA message is a kMalformedMessage fault. Messages for
  // sub-instances that have finished (and been dropped) are ignored.
  AcsStep HandleMessage(NodeId from, const pb::AcsMessage& msg);

  bool has_proposed() const { return proposed_; }
  bool has_output() const { return output_done_; }
  // Output, and every sub-instance whose messages another correct node could still need
  // has terminated: from here on this node would never send anything for this epoch.
  bool terminated() const;

  // One line per sub-instance state, for replaying a failing simulation by hand.
  std::string DebugString() const;

  // For measurements: the number of rounds each decided agreement took (index = instance,
  // 0 while undecided).
  const std::vector<uint32_t>& aba_rounds() const { return aba_rounds_; }

 private:
  // Carries the outputs of RBC j and ABA j into the ACS rules; appends to `step`.
  void OnRbcOutput(NodeId j, rbc::Output out, AcsStep& step);
  void OnAbaDecision(NodeId j, bool decision, AcsStep& step);
  void ProposeToAba(NodeId j, bool value, AcsStep& step);
  void AbsorbRbc(NodeId j, rbc::RbcStep&& child, AcsStep& step);
  void AbsorbAba(NodeId j, aba::AbaStep&& child, AcsStep& step);
  void MaybeOutput(AcsStep& step);
  void DropFinishedChildren();

  NetworkInfo net_;
  Config config_;
  bool proposed_ = false;
  bool output_done_ = false;
  uint32_t ones_decided_ = 0;
  uint32_t decided_count_ = 0;
  // Sub-instances; an entry is reset once nobody can need it any more (memory bound).
  std::vector<std::optional<rbc::Broadcast>> rbc_;
  std::vector<std::optional<aba::BinaryAgreement>> aba_;
  std::vector<std::optional<rbc::Output>> delivered_;  // RBC outputs kept until ACS output
  std::vector<std::optional<bool>> decision_;
  std::vector<uint32_t> aba_rounds_;
};

}  // namespace belfry::consensus::acs

#endif  // BELFRY_CONSENSUS_ACS_COMMON_SUBSET_H_
