// consensus/epoch/honey_badger.h — the epoch driver: atomic broadcast of request batches.
//
// Each epoch every node proposes a batch of requests, one common-subset instance agrees on
// which proposals count, and every correct node outputs the same batch for the epoch, in
// epoch order, stamped with a consensus time. How it works: see the comment at the top of
// honey_badger.cc (HoneyBadgerBFT, Miller et al. CCS 2016, Figure 1).
#ifndef BELFRY_CONSENSUS_EPOCH_HONEY_BADGER_H_
#define BELFRY_CONSENSUS_EPOCH_HONEY_BADGER_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/rng.h"
#include "consensus/aba/binary_agreement.h"
#include "consensus/acs/common_subset.h"
#include "consensus/coin.h"
#include "consensus/step.h"
#include "proto/consensus.pb.h"

namespace belfry::consensus::epoch {

// Config: the bounds of the epoch driver. Every correct node of a cluster uses the same
// values (they come from the cluster configuration): the validity of a proposal depends on
// them and must be the same verdict everywhere.
struct Config {
  // Bound into every coin name, so no two clusters (or key sets) share a coin.
  std::string cluster_id;
  // Epochs next_epoch_to_output() .. +epochs_in_flight_max−1 may run at once; messages for
  // later epochs are refused, and a node proposes no further ahead.
  uint32_t epochs_in_flight_max = 3;
  // Requests in one proposal.
  uint32_t batch_requests_max = 64;
  // One proposal's encoding (also the bound of each reliable broadcast).
  size_t proposal_bytes_max = 1 << 20;
  // One request.
  size_t request_bytes_max = 64 << 10;
  // Handed to every binary agreement; only the simulator's attack demonstration changes it.
  aba::Config aba;
  // Where this instance starts: a replica restarting on its store (or after catching up)
  // resumes at the first epoch it has not executed, with that store's consensus time, so
  // epochs and consensus time continue rather than restart at zero.
  uint64_t first_epoch = 0;
  uint64_t first_consensus_time = 0;
};

// Batch: the output of one epoch, identical at every correct node.
struct Batch {
  uint64_t epoch = 0;
  // max(previous consensus_time, lower median of the valid accepted proposals' clock
  // readings): never decreases, and lies between two correct nodes' readings because at
  // most f of the at least f+1 readings are Byzantine.
  uint64_t consensus_time = 0;
  // The union of the accepted proposals, duplicates (within the epoch, and of requests
  // output in the last epochs_in_flight_max epochs) removed, in the order of the epoch's
  // coin: sorted by a hash keyed with the coin value.
  std::vector<std::string> requests;
  // The proposers whose proposal the common subset accepted, ascending (including ones
  // whose proposal turned out invalid and counted as empty).
  std::vector<NodeId> accepted_proposers;
};

using HbStep = Step<pb::ConsensusMessage, Batch>;

// The coin names of an epoch, exposed so the simulator's adversary can name the coins it
// learns: AcsCoinPrefix is handed to the epoch's CommonSubset (see acs::AbaCoinPrefix and
// aba::CoinName for the rest), OrderCoinName names the coin that orders the batch.
std::string AcsCoinPrefix(std::string_view cluster_id, uint64_t epoch);
std::string OrderCoinName(std::string_view cluster_id, uint64_t epoch);

// Where an epoch number falls relative to this node's window.
enum class EpochPosition : uint8_t {
  kFinished,      // before the window and garbage-collected: messages are ignored
  kInWindow,      // accepted (including finished epochs still kept)
  kBeyondWindow,  // refused: the transport should keep the message and retry later
};

// Counters: what a node has seen, for metrics and the simulator's bounds checks.
struct Counters {
  uint64_t messages_refused_out_of_window = 0;
  uint64_t messages_ignored_finished = 0;
  uint64_t invalid_proposals = 0;
  uint64_t invalid_order_shares = 0;
  uint64_t epochs_output = 0;
};

// HoneyBadger: one node's epoch driver. Not thread-safe. `coin` must outlive it and is
// used for every binary agreement and for the ordering coin of every epoch.
class HoneyBadger {
 public:
  HoneyBadger(NetworkInfo net, Config config, CoinScheme* coin);
  ~HoneyBadger();
  HoneyBadger(HoneyBadger&&) noexcept;
  HoneyBadger& operator=(HoneyBadger&&) noexcept;

  // Proposes for next_epoch_to_propose(): a random slice (drawn with `rng`) of `pending`
  // of at most batch_requests_max requests and proposal_bytes_max encoded bytes; requests
  // longer than request_bytes_max are skipped. Calling it while !can_propose() is a local
  // bug (BELFRY_CHECK). An empty slice is a valid proposal: it lets the epoch progress.
  HbStep Propose(const std::vector<std::string>& pending, uint64_t clock_reading, Rng& rng);

  // The random slice Propose would take: SelectProposal then ProposeExact is Propose. A
  // caller that must be able to make the very same proposal again after a restart (the
  // replica's durable consensus inputs) records the slice and proposes it exactly.
  std::vector<std::string> SelectProposal(const std::vector<std::string>& pending, Rng& rng) const;
  // Proposes exactly `requests`, in this order, for next_epoch_to_propose(). No randomness:
  // the same requests and clock reading give the same broadcast, byte for byte. The same
  // preconditions as Propose; requests beyond the bounds are skipped as there.
  HbStep ProposeExact(const std::vector<std::string>& requests, uint64_t clock_reading);

  // Moves the window to `first_epoch` without outputting the epochs before it: their
  // batches were learnt some other way (a replica catching up applies epochs that f+1
  // peers committed, or installs a certified state). Unlike building a new instance, it
  // keeps every epoch at or after `first_epoch` as it is — the votes this node already
  // sent there stay its votes — and drops the earlier ones. `consensus_time` is the time
  // of the last epoch before `first_epoch`; `recent_outputs` are the batches of the
  // epochs just before it, oldest first, as in RememberOutput (they replace what was
  // remembered). Epochs at or after `first_epoch` that are already complete are output
  // in the returned step. A `first_epoch` below next_epoch_to_output() is a local bug.
  HbStep AdvanceTo(uint64_t first_epoch, uint64_t consensus_time,
                   const std::vector<std::vector<std::string>>& recent_outputs);

  // Tells a node that starts at config.first_epoch > 0 what the epochs before it output,
  // oldest first (the last epochs_in_flight_max of them count): the requests that its
  // peers' nodes, which output those epochs themselves, will drop as duplicates from the
  // epochs to come. A node that skips this outputs those copies again, and its batch, and
  // so its replica's state, differs from the others'. Call before any other method.
  void RememberOutput(const std::vector<std::string>& requests);

  // Handles one message from `from` (authenticated by the transport). A message for an
  // epoch beyond the window is refused — a kEpochOutOfWindow fault and a counter, nothing
  // kept — and one for a garbage-collected epoch is ignored.
  HbStep HandleMessage(NodeId from, const pb::ConsensusMessage& msg);

  // The epoch the next Propose goes to: the first epoch at or after next_epoch_to_output()
  // this node has not proposed in and whose subset is not already decided.
  uint64_t next_epoch_to_propose() const;
  // The epoch whose batch is output next (all earlier ones have been output).
  uint64_t next_epoch_to_output() const { return next_output_; }
  // Whether next_epoch_to_propose() is inside the window.
  bool can_propose() const;
  // Whether some peer has already sent a message for `epoch`: a node with nothing to
  // propose should still propose (an empty batch) so that the peers' epoch can finish.
  bool peers_started(uint64_t epoch) const;

  // What HandleMessage would do with a message for `epoch`. A transport checks it before
  // handing a frame in, to keep (and later resend) frames beyond the window instead of
  // losing them.
  EpochPosition Classify(uint64_t epoch) const;
  // Refusals, ignored messages, invalid proposals and shares, epochs output so far.
  const Counters& counters() const { return counters_; }
  // Epoch states held in memory (at most 2·epochs_in_flight_max).
  size_t epochs_in_memory() const;
  // The window, every epoch held and its subset's state, for replaying a failing
  // simulation by hand.
  std::string DebugString() const;
  // For measurements: the rounds each agreement of every epoch output so far took, in
  // output order; cleared by the call.
  std::vector<uint32_t> TakeAbaRounds();

 private:
  struct EpochState;

  EpochState& GetOrCreate(uint64_t epoch);
  void AbsorbAcs(uint64_t epoch, EpochState& state, acs::AcsStep&& child, HbStep& step);
  void OnAcsOutput(uint64_t epoch, EpochState& state, HbStep& step);
  void HandleOrderShare(uint64_t epoch, EpochState& state, NodeId from, const std::string& share,
                        HbStep& step);
  void MaybeCombineOrderCoin(uint64_t epoch, EpochState& state);
  // One output epoch's request digests into recent_digests_ (sorted; the oldest dropped).
  void PushRecentDigests(std::vector<std::string> digests);
  std::string OrderName(uint64_t epoch) const;
  void DeliverReadyBatches(HbStep& step);
  void CollectGarbage();
  std::string CoinPrefix(uint64_t epoch) const;

  NetworkInfo net_;
  Config config_;
  CoinScheme* coin_;
  uint64_t next_output_ = 0;
  uint64_t last_consensus_time_ = 0;
  // Ordered by epoch, so every walk over the states is deterministic.
  std::map<uint64_t, std::unique_ptr<EpochState>> epochs_;
  // Epochs this node has proposed in (only those at or after next_output_ matter).
  std::set<uint64_t> proposed_;
  // Digests of the requests of the last epochs_in_flight_max output epochs, oldest first:
  // a correct node can only re-propose a request it has not yet seen output, which bounds
  // how far apart two copies of it can land (see honey_badger.cc).
  std::deque<std::vector<std::string>> recent_digests_;
  std::vector<uint32_t> aba_rounds_;
  Counters counters_;
};

}  // namespace belfry::consensus::epoch

#endif  // BELFRY_CONSENSUS_EPOCH_HONEY_BADGER_H_
