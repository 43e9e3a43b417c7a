// test/sim/network.h — the simulated network: every message in flight, and the schedulers
// that choose which one is delivered next.
//
// The network is the adversary's: a scheduler sees every message (its sender, recipient and
// content) and picks the next delivery. The only promise it keeps is the asynchronous
// model's: every message between correct nodes is eventually delivered. Each scheduler
// keeps it with an explicit bound — no message waits more than `fair_delay_steps`
// deliveries once it may be delivered (a partition holds messages at most until it heals).
#ifndef BELFRY_TEST_SIM_NETWORK_H_
#define BELFRY_TEST_SIM_NETWORK_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/rng.h"
#include "consensus/step.h"
#include "proto/consensus.pb.h"

namespace belfry::sim {

using consensus::NodeId;

// Envelope: one message in flight from `from` to `to`. The message is shared between the
// copies a broadcast makes; nobody mutates it once sent.
struct Envelope {
  uint64_t id = 0;             // unique, increasing in the order messages enter a pool
  NodeId from = 0;
  NodeId to = 0;
  uint64_t enqueued_step = 0;  // when it entered the scheduler (fairness is measured from it)
  std::shared_ptr<const pb::ConsensusMessage> msg;
  uint32_t bytes = 0;          // serialized size
};

// Pool: a bag of envelopes with O(1) random removal and O(1) amortized access to the one
// that entered first. Not thread-safe.
class Pool {
 public:
  void Add(Envelope e);
  size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  const Envelope& at(size_t i) const { return items_[i]; }
  Envelope Take(size_t i);
  // Index of the envelope that entered first; the pool must not be empty.
  size_t OldestIndex();
  // Moves every envelope out (in no particular order).
  std::vector<Envelope> TakeAll();

 private:
  std::vector<Envelope> items_;
  std::deque<uint64_t> fifo_;                   // ids in entry order, stale ones skipped
  std::unordered_map<uint64_t, size_t> slot_;   // id -> index in items_ (lookup only)
};

// What a scheduler may learn about the run beyond the messages themselves.
struct SchedulerView {
  uint32_t n = 0;
  uint32_t f = 0;
  std::vector<bool> byzantine;  // by node
  // The bit of the coin of agreement `instance`, round `round`, in `epoch`. The scheduler
  // asks only once it has seen enough correct shares leave that, with the Byzantine nodes'
  // own shares, f+1 exist (aba_split.h): before that the coin is unpredictable to it.
  std::function<bool(uint64_t epoch, uint32_t instance, uint32_t round)> coin_bit;
};

// Scheduler: owns every message in flight and picks the next to deliver.
class Scheduler {
 public:
  virtual ~Scheduler() = default;
  virtual void Add(Envelope e, uint64_t now) = 0;
  // Removes and returns the next message to deliver; nullopt only when empty.
  virtual std::optional<Envelope> Next(uint64_t now, Rng& rng) = 0;
  virtual size_t size() const = 0;
};

enum class SchedulerKind : uint8_t { kRandom, kDelayNode, kAbaMax, kPartition };

const char* SchedulerName(SchedulerKind kind);
std::optional<SchedulerKind> ParseSchedulerKind(const std::string& name);

// Builds a scheduler. `victim` is the correct node DelayNode slows down; `partition_steps`
// is how long Partition keeps its two sides apart (two halves, or f nodes against N−f);
// `rng` picks the sides.
std::unique_ptr<Scheduler> MakeScheduler(SchedulerKind kind, SchedulerView view,
                                         uint64_t fair_delay_steps, NodeId victim,
                                         uint64_t partition_steps, Rng& rng);

}  // namespace belfry::sim

#endif  // BELFRY_TEST_SIM_NETWORK_H_
