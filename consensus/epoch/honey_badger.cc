// consensus/epoch/honey_badger.cc
//
// How it works (HoneyBadgerBFT, Miller et al. CCS 2016, Figure 1, without the threshold
// encryption of proposals, which Belfry adds later):
//
//  * Epoch e: every node proposes a random slice of its pending requests plus its clock
//    reading (the random slice is the paper's "choose a random subset of B/N requests":
//    nodes seldom propose the same requests, so a batch carries up to N·B distinct ones).
//    One CommonSubset instance (consensus/acs/) agrees on at least N−f proposals.
//  * When the subset is decided, each node releases its share of the epoch's ordering coin
//    (name = cluster, epoch, "order"). The set is fixed before any correct node releases
//    a share, and no f nodes can compute the coin alone, so nobody can choose proposals
//    knowing the order they would get. f+1 valid shares give 32 bytes that key a hash; the
//    union of the accepted requests (duplicates removed) is sorted by that keyed hash.
//  * consensus_time = max(previous, lower median of the accepted valid proposals' clock
//    readings). At least N−2f ≥ f+1 accepted proposals are correct (and all correct ones
//    parse), at most f are Byzantine, so the lower median lies between two correct
//    readings.
//  * Several epochs run at once: next_epoch_to_output() .. +epochs_in_flight_max−1. A
//    node proposes no further ahead, and refuses messages for later epochs (a counted
//    kEpochOutOfWindow fault; nothing is buffered, so a flood of future-epoch messages
//    costs no memory). Batches are handed out strictly in epoch order.
//
// Validity of a proposal. The RBC delivers the same bytes (or the same "invalid encoding"
// verdict) everywhere, and DecodeProposal is a pure function of the bytes and the shared
// Config, so a proposal that does not parse or breaks a bound is dropped — kInvalidProposal
// naming its proposer — identically at every correct node. An RBC-invalid proposal counts
// as empty. Neither contributes a clock reading.
//
// Duplicates across epochs. A correct node removes a request from its pending set once it
// has seen it output, and proposes only inside its window. If request r is output in
// epoch e and a correct node proposed it again in epoch e', that node had not yet output
// e, so e' < e + epochs_in_flight_max (and symmetrically). Remembering the digests of the
// last epochs_in_flight_max batches therefore removes every duplicate a correct proposer
// can cause, with bounded memory. Replays by Byzantine proposers of requests older than
// that are the state machine's to refuse (each request carries a client sequence number).
//
// Garbage collection, and why a node that is behind can still finish. The caller
// delivers every message between correct nodes eventually (it holds frames beyond the
// window and hands them in once the window moved: replica/node/README.md). So a
// slow node receives everything a faster node ever sent for an epoch; what it must not
// miss is something the faster node would only send later, in reaction to new messages.
// A node therefore keeps an epoch after outputting it until its CommonSubset reports
// terminated(): every agreement has terminated (sent its TERM and all it ever will) and
// every broadcast whose value was accepted has terminated (sent its ECHO and READY). The
// broadcasts of rejected proposals are dropped as soon as their agreement decides 0:
// nobody needs those values. From then on the epoch's messages are ignored. As a backstop
// for memory, an output epoch is dropped anyway once epochs_in_flight_max later epochs
// have been output; a correct peer that is that far behind catches up by state transfer
// (replica/ checkpoints), not from this epoch's messages. Memory per node is thus at most
// 2·epochs_in_flight_max epoch states, each bounded by N instances.
#include "consensus/epoch/honey_badger.h"

#include <sodium.h>

#include <algorithm>
#include <optional>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/bytes.h"
#include "base/check.h"
#include "consensus/epoch/proposal.h"

namespace belfry::consensus::epoch {
namespace {

using Digest = std::string;  // 32 raw bytes

// Unkeyed BLAKE2b-256 of a request: its identity for de-duplication across epochs.
Digest RequestDigest(const std::string& request) {
  Digest out(crypto_generichash_BYTES, '\0');
  crypto_generichash(reinterpret_cast<uint8_t*>(out.data()), out.size(),
                     reinterpret_cast<const uint8_t*>(request.data()), request.size(), nullptr, 0);
  return out;
}

// BLAKE2b-256 keyed with the epoch's coin: the sort key of a request within its batch.
Digest OrderKey(const CoinValue& coin, const std::string& request) {
  Digest out(crypto_generichash_BYTES, '\0');
  crypto_generichash(reinterpret_cast<uint8_t*>(out.data()), out.size(),
                     reinterpret_cast<const uint8_t*>(request.data()), request.size(),
                     coin.bytes.data(), coin.bytes.size());
  return out;
}

pb::ConsensusMessage WrapAcs(uint64_t epoch, pb::AcsMessage m) {
  pb::ConsensusMessage out;
  out.set_epoch(epoch);
  *out.mutable_acs() = std::move(m);
  return out;
}

}  // namespace

// EpochState: everything one epoch needs, from proposal to batch.
struct HoneyBadger::EpochState {
  EpochState(NetworkInfo net, CoinScheme* coin, std::string prefix, acs::Config config)
      : acs(net, coin, std::move(prefix), std::move(config)) {}

  acs::CommonSubset acs;
  bool peer_seen = false;  // some peer sent a message for this epoch
  bool acs_done = false;
  // Filled at the subset output: the accepted proposers and what their proposals hold.
  std::vector<NodeId> accepted;
  std::vector<std::string> requests;  // union of valid accepted proposals, de-duplicated
  std::vector<uint64_t> clock_readings;
  // Ordering coin: valid shares by sender, and senders whose share has been looked at
  // (a second, different share from them is a fault, an identical one is ignored).
  std::map<NodeId, std::string> order_shares;
  std::set<NodeId> order_share_seen;
  std::optional<CoinValue> order;
  bool output = false;
};

HoneyBadger::HoneyBadger(NetworkInfo net, Config config, CoinScheme* coin)
    : net_(net), config_(std::move(config)), coin_(coin) {
  next_output_ = config_.first_epoch;
  last_consensus_time_ = config_.first_consensus_time;
  BELFRY_CHECK(net_.n >= 3 * net_.f + 1);
  BELFRY_CHECK(net_.valid_node(net_.self));
  BELFRY_CHECK(coin_ != nullptr);
  BELFRY_CHECK(config_.epochs_in_flight_max >= 1);
  BELFRY_CHECK(config_.batch_requests_max >= 1);
  BELFRY_CHECK(sodium_init() >= 0);
}

HoneyBadger::~HoneyBadger() = default;
HoneyBadger::HoneyBadger(HoneyBadger&&) noexcept = default;
HoneyBadger& HoneyBadger::operator=(HoneyBadger&&) noexcept = default;

std::string AcsCoinPrefix(std::string_view cluster_id, uint64_t epoch) {
  // Length-prefixed cluster id, fixed-width epoch: injective in (cluster, epoch).
  ByteWriter w;
  w.LengthPrefixed(cluster_id);
  w.U64(epoch);
  const Bytes& b = w.bytes();
  return std::string(b.begin(), b.end());
}

std::string OrderCoinName(std::string_view cluster_id, uint64_t epoch) {
  // Its own domain tag, so it can never equal an agreement's coin name (aba::CoinName
  // starts with a different tag).
  ByteWriter w;
  w.LengthPrefixed(std::string_view("belfry/epoch/order/v1"));
  w.LengthPrefixed(cluster_id);
  w.U64(epoch);
  const Bytes& b = w.bytes();
  return std::string(b.begin(), b.end());
}

std::string HoneyBadger::CoinPrefix(uint64_t epoch) const {
  return AcsCoinPrefix(config_.cluster_id, epoch);
}

std::string HoneyBadger::OrderName(uint64_t epoch) const {
  return OrderCoinName(config_.cluster_id, epoch);
}

EpochPosition HoneyBadger::Classify(uint64_t epoch) const {
  if (epoch >= next_output_ && epoch - next_output_ >= config_.epochs_in_flight_max) {
    return EpochPosition::kBeyondWindow;
  }
  if (epoch < next_output_ && epochs_.find(epoch) == epochs_.end()) {
    return EpochPosition::kFinished;
  }
  return EpochPosition::kInWindow;
}

uint64_t HoneyBadger::next_epoch_to_propose() const {
  uint64_t e = next_output_;
  for (;;) {
    if (proposed_.count(e) != 0) {
      ++e;
      continue;
    }
    // A subset already decided without us: proposing into it would be read by nobody.
    auto s = epochs_.find(e);
    if (s != epochs_.end() && s->second->acs.has_output()) {
      ++e;
      continue;
    }
    return e;
  }
}

bool HoneyBadger::can_propose() const {
  return next_epoch_to_propose() - next_output_ < config_.epochs_in_flight_max;
}

bool HoneyBadger::peers_started(uint64_t epoch) const {
  auto it = epochs_.find(epoch);
  return it != epochs_.end() && it->second->peer_seen;
}

size_t HoneyBadger::epochs_in_memory() const { return epochs_.size(); }

std::string HoneyBadger::DebugString() const {
  std::string out = absl::StrCat("next_output=", next_output_,
                                 " next_propose=", next_epoch_to_propose(),
                                 " epochs_held=", epochs_.size());
  for (const auto& [e, st] : epochs_) {
    absl::StrAppend(&out, "\n epoch ", e, ": acs_done=", st->acs_done,
                    " order_shares=", st->order_shares.size(), " order=", st->order.has_value(),
                    " output=", st->output, "\n ", st->acs.DebugString());
  }
  return out;
}

std::vector<uint32_t> HoneyBadger::TakeAbaRounds() { return std::exchange(aba_rounds_, {}); }

HoneyBadger::EpochState& HoneyBadger::GetOrCreate(uint64_t epoch) {
  auto it = epochs_.find(epoch);
  if (it != epochs_.end()) return *it->second;
  BELFRY_CHECK(Classify(epoch) == EpochPosition::kInWindow && epoch >= next_output_);
  acs::Config acs_config;
  acs_config.value_bytes_max = config_.proposal_bytes_max;
  acs_config.aba = config_.aba;
  auto state = std::make_unique<EpochState>(net_, coin_, CoinPrefix(epoch), acs_config);
  EpochState& ref = *state;
  epochs_.emplace(epoch, std::move(state));
  return ref;
}

HbStep HoneyBadger::Propose(const std::vector<std::string>& pending, uint64_t clock_reading,
                            Rng& rng) {
  return ProposeExact(SelectProposal(pending, rng), clock_reading);
}

std::vector<std::string> HoneyBadger::SelectProposal(const std::vector<std::string>& pending,
                                                     Rng& rng) const {
  // A random slice: a partial Fisher–Yates shuffle of the candidate indices, stopping at
  // batch_requests_max or when the next request would not fit.
  std::vector<size_t> candidates;
  candidates.reserve(pending.size());
  for (size_t i = 0; i < pending.size(); ++i) {
    if (!pending[i].empty() && pending[i].size() <= config_.request_bytes_max) {
      candidates.push_back(i);
    }
  }
  std::vector<std::string> chosen;
  size_t bytes = EncodedProposalBytes({});
  for (size_t k = 0; k < candidates.size() && chosen.size() < config_.batch_requests_max; ++k) {
    const size_t pick = k + static_cast<size_t>(rng.Uniform(candidates.size() - k));
    std::swap(candidates[k], candidates[pick]);
    const std::string& r = pending[candidates[k]];
    if (bytes + EncodedRequestBytes(r.size()) > config_.proposal_bytes_max) continue;
    bytes += EncodedRequestBytes(r.size());
    chosen.push_back(r);
  }
  return chosen;
}

HbStep HoneyBadger::ProposeExact(const std::vector<std::string>& requests, uint64_t clock_reading) {
  BELFRY_CHECK(can_propose());
  const uint64_t epoch = next_epoch_to_propose();
  proposed_.insert(epoch);

  Proposal proposal;
  proposal.clock_reading = clock_reading;
  size_t bytes = EncodedProposalBytes({});
  for (const std::string& r : requests) {
    if (proposal.requests.size() >= config_.batch_requests_max) break;
    if (r.empty() || r.size() > config_.request_bytes_max) continue;
    if (bytes + EncodedRequestBytes(r.size()) > config_.proposal_bytes_max) continue;
    bytes += EncodedRequestBytes(r.size());
    proposal.requests.push_back(r);
  }

  HbStep step;
  EpochState& state = GetOrCreate(epoch);
  AbsorbAcs(epoch, state, state.acs.Propose(EncodeProposal(proposal)), step);
  DeliverReadyBatches(step);
  CollectGarbage();
  return step;
}

HbStep HoneyBadger::AdvanceTo(uint64_t first_epoch, uint64_t consensus_time,
                              const std::vector<std::vector<std::string>>& recent_outputs) {
  BELFRY_CHECK(first_epoch >= next_output_);
  HbStep step;
  // Epochs before the new window are decided elsewhere; whatever this node held of them
  // can no longer change what it outputs.
  epochs_.erase(epochs_.begin(), epochs_.lower_bound(first_epoch));
  next_output_ = first_epoch;
  last_consensus_time_ = std::max(last_consensus_time_, consensus_time);
  recent_digests_.clear();
  for (const std::vector<std::string>& batch : recent_outputs) RememberOutput(batch);
  DeliverReadyBatches(step);
  CollectGarbage();
  return step;
}

void HoneyBadger::RememberOutput(const std::vector<std::string>& requests) {
  std::vector<Digest> digests;
  digests.reserve(requests.size());
  for (const std::string& r : requests) digests.push_back(RequestDigest(r));
  PushRecentDigests(std::move(digests));
}

void HoneyBadger::PushRecentDigests(std::vector<std::string> digests) {
  std::sort(digests.begin(), digests.end());
  recent_digests_.push_back(std::move(digests));
  while (recent_digests_.size() > config_.epochs_in_flight_max) recent_digests_.pop_front();
}

HbStep HoneyBadger::HandleMessage(NodeId from, const pb::ConsensusMessage& msg) {
  HbStep step;
  if (!net_.valid_node(from) || from == net_.self) return step;  // transport bug: not a peer
  const uint64_t epoch = msg.epoch();
  switch (Classify(epoch)) {
    case EpochPosition::kBeyondWindow:
      ++counters_.messages_refused_out_of_window;
      step.AddFault(from, FaultKind::kEpochOutOfWindow, absl::StrCat("epoch ", epoch));
      return step;
    case EpochPosition::kFinished:
      ++counters_.messages_ignored_finished;
      return step;
    case EpochPosition::kInWindow:
      break;
  }
  EpochState& state = GetOrCreate(epoch);
  state.peer_seen = true;
  switch (msg.kind_case()) {
    case pb::ConsensusMessage::kAcs:
      AbsorbAcs(epoch, state, state.acs.HandleMessage(from, msg.acs()), step);
      break;
    case pb::ConsensusMessage::kOrderShare:
      HandleOrderShare(epoch, state, from, msg.order_share().share(), step);
      break;
    case pb::ConsensusMessage::KIND_NOT_SET:
      step.AddFault(from, FaultKind::kMalformedMessage, "consensus message without a body");
      break;
  }
  DeliverReadyBatches(step);
  CollectGarbage();
  return step;
}

void HoneyBadger::AbsorbAcs(uint64_t epoch, EpochState& state, acs::AcsStep&& child,
                            HbStep& step) {
  std::vector<acs::Output> outs = step.Absorb(
      std::move(child), [epoch](pb::AcsMessage m) { return WrapAcs(epoch, std::move(m)); });
  for (acs::Output& out : outs) {
    if (state.acs_done) continue;
    state.acs_done = true;
    const ProposalLimits limits{config_.proposal_bytes_max, config_.batch_requests_max,
                                config_.request_bytes_max};
    std::set<std::string> unique;
    for (auto& [proposer, delivered] : out.accepted) {
      state.accepted.push_back(proposer);
      if (!delivered.valid) continue;  // agreed as inconsistently encoded: empty
      absl::StatusOr<Proposal> p = DecodeProposal(delivered.value, limits);
      if (!p.ok()) {
        ++counters_.invalid_proposals;
        step.AddFault(proposer, FaultKind::kInvalidProposal, std::string(p.status().message()));
        continue;
      }
      state.clock_readings.push_back(p->clock_reading);
      for (std::string& r : p->requests) unique.insert(std::move(r));
    }
    state.requests.assign(std::make_move_iterator(unique.begin()),
                          std::make_move_iterator(unique.end()));
    OnAcsOutput(epoch, state, step);
  }
}

void HoneyBadger::OnAcsOutput(uint64_t epoch, EpochState& state, HbStep& step) {
  // Only now, with the subset fixed, may this node's ordering share leave.
  std::string share = coin_->MakeShare(OrderName(epoch));
  pb::ConsensusMessage msg;
  msg.set_epoch(epoch);
  msg.mutable_order_share()->set_share(share);
  step.Send(Target::All(), std::move(msg));
  state.order_share_seen.insert(net_.self);
  state.order_shares[net_.self] = std::move(share);
  MaybeCombineOrderCoin(epoch, state);
}

void HoneyBadger::HandleOrderShare(uint64_t epoch, EpochState& state, NodeId from,
                                   const std::string& share, HbStep& step) {
  if (state.order.has_value()) return;  // enough shares already: skip the verification cost
  if (state.order_share_seen.count(from) != 0) {
    auto it = state.order_shares.find(from);
    if (it != state.order_shares.end() && it->second != share) {
      step.AddFault(from, FaultKind::kDuplicateCoinShare, "second ordering share");
    }
    return;  // a repeat (or anything after an invalid share) changes nothing
  }
  state.order_share_seen.insert(from);
  if (!coin_->VerifyShare(from, OrderName(epoch), share)) {
    ++counters_.invalid_order_shares;
    step.AddFault(from, FaultKind::kInvalidCoinShare, "ordering share");
    return;
  }
  state.order_shares[from] = share;
  MaybeCombineOrderCoin(epoch, state);
}

void HoneyBadger::MaybeCombineOrderCoin(uint64_t epoch, EpochState& state) {
  if (!state.acs_done || state.order.has_value()) return;
  if (state.order_shares.size() < net_.one_correct()) return;
  // Any f+1 valid shares give the same value; taking the lowest ids keeps it reproducible.
  std::vector<std::pair<NodeId, std::string>> shares;
  for (const auto& [node, share] : state.order_shares) {
    if (shares.size() == net_.one_correct()) break;
    shares.emplace_back(node, share);
  }
  std::optional<CoinValue> value = coin_->Combine(OrderName(epoch), shares);
  BELFRY_CHECK(value.has_value());  // f+1 verified shares always combine
  state.order = *value;
  state.order_shares.clear();
}

void HoneyBadger::DeliverReadyBatches(HbStep& step) {
  for (;;) {
    auto it = epochs_.find(next_output_);
    if (it == epochs_.end() || !it->second->order.has_value()) return;
    EpochState& state = *it->second;

    Batch batch;
    batch.epoch = next_output_;
    batch.accepted_proposers = state.accepted;
    // Lower median of the clock readings; at least f+1 exist when the run is correct.
    if (!state.clock_readings.empty()) {
      std::vector<uint64_t> readings = state.clock_readings;
      std::sort(readings.begin(), readings.end());
      const uint64_t median = readings[(readings.size() - 1) / 2];
      last_consensus_time_ = std::max(last_consensus_time_, median);
    }
    batch.consensus_time = last_consensus_time_;

    std::vector<std::pair<Digest, std::string>> keyed;
    std::vector<Digest> digests;
    for (std::string& r : state.requests) {
      Digest d = RequestDigest(r);
      bool seen = false;
      for (const std::vector<Digest>& old : recent_digests_) {
        if (std::binary_search(old.begin(), old.end(), d)) {
          seen = true;
          break;
        }
      }
      if (seen) continue;
      digests.push_back(std::move(d));
      Digest key = OrderKey(*state.order, r);
      keyed.emplace_back(std::move(key), std::move(r));
    }
    // Ties only on a keyed-hash collision; the request bytes then break them.
    std::sort(keyed.begin(), keyed.end());
    for (auto& [key, r] : keyed) batch.requests.push_back(std::move(r));
    PushRecentDigests(std::move(digests));

    for (uint32_t rounds : state.acs.aba_rounds()) aba_rounds_.push_back(rounds);
    state.requests.clear();
    state.clock_readings.clear();
    state.output = true;
    ++counters_.epochs_output;
    ++next_output_;
    step.outputs.push_back(std::move(batch));
  }
}

void HoneyBadger::CollectGarbage() {
  for (auto it = epochs_.begin(); it != epochs_.end();) {
    const uint64_t e = it->first;
    if (e >= next_output_) break;  // ordered map: the rest is in the window
    const bool backstop = next_output_ - e > config_.epochs_in_flight_max;
    if (it->second->acs.terminated() || backstop) {
      it = epochs_.erase(it);
    } else {
      ++it;
    }
  }
  proposed_.erase(proposed_.begin(), proposed_.lower_bound(next_output_));
}

}  // namespace belfry::consensus::epoch
