// consensus/acs/common_subset.cc
//
// How it works (Ben-Or, Kelmer and Rabin, "Asynchronous secure computations with optimal
// resilience", PODC 1994; in the form of HoneyBadgerBFT, Miller et al. CCS 2016, Figure 4):
//
// One epoch runs N reliable broadcasts RBC_0..RBC_{N−1} (RBC_j carries proposer j's value)
// and N binary agreements ABA_0..ABA_{N−1} (ABA_j decides whether j's value is in the set).
//   1. A node broadcasts its own value with RBC_self.
//   2. When RBC_j delivers, the node inputs 1 to ABA_j (if it has not input yet).
//   3. Once N−f agreements have decided 1, the node inputs 0 to every agreement it has not
//      yet input to. Every correct node eventually inputs to every agreement, which is what
//      each agreement needs to terminate.
//   4. When all N agreements have decided, the output is {(j, value_j) : ABA_j decided 1}.
//      An agreement decides 1 only if some correct node input 1, i.e. saw RBC_j deliver,
//      so by RBC totality every correct node eventually delivers value_j too: the node
//      waits for those deliveries before it outputs.
// Agreement of the output follows from ABA agreement plus RBC agreement; at least N−f
// agreements decide 1 because the N−f correct nodes' broadcasts deliver everywhere, and
// no correct node inputs 0 before N−f ones have been decided.
//
// Memory: RBC_j is dropped as soon as ABA_j decides 0 (nobody will ever need value_j), and
// every other sub-instance once it reports terminated() — it has sent all it ever will, so
// dropping it cannot starve a slower peer. Later messages for dropped instances are ignored.
#include "consensus/acs/common_subset.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "base/bytes.h"
#include "base/check.h"

namespace belfry::consensus::acs {
namespace {

pb::AcsMessage WrapRbc(NodeId instance, pb::RbcMessage m) {
  pb::AcsMessage out;
  out.set_instance(instance);
  *out.mutable_rbc() = std::move(m);
  return out;
}

pb::AcsMessage WrapAba(NodeId instance, pb::AbaMessage m) {
  pb::AcsMessage out;
  out.set_instance(instance);
  *out.mutable_aba() = std::move(m);
  return out;
}

}  // namespace

std::string AbaCoinPrefix(std::string_view acs_prefix, NodeId instance) {
  // A fixed-width instance number after the caller's prefix: injective as long as the
  // prefixes of different epochs are (the epoch driver's are: fixed-width epoch number
  // after a length-prefixed cluster id). BinaryAgreement length-prefixes the whole thing.
  ByteWriter w;
  w.Raw(acs_prefix);
  w.U32(instance);
  const Bytes& b = w.bytes();
  return std::string(b.begin(), b.end());
}

CommonSubset::CommonSubset(NetworkInfo net, CoinScheme* coin, std::string coin_name_prefix,
                           Config config)
    : net_(net), config_(config) {
  BELFRY_CHECK(net_.n >= 3 * net_.f + 1);
  BELFRY_CHECK(net_.valid_node(net_.self));
  BELFRY_CHECK(coin != nullptr);
  rbc_.reserve(net_.n);
  aba_.reserve(net_.n);
  for (NodeId j = 0; j < net_.n; ++j) {
    rbc_.emplace_back(std::in_place, net_, j, config_.value_bytes_max);
    aba_.emplace_back(std::in_place, net_, coin, AbaCoinPrefix(coin_name_prefix, j), config_.aba);
  }
  delivered_.resize(net_.n);
  decision_.resize(net_.n);
  aba_rounds_.assign(net_.n, 0);
}

AcsStep CommonSubset::Propose(std::string value) {
  BELFRY_CHECK(!proposed_);
  proposed_ = true;
  AcsStep step;
  // Our own RBC may already be gone if ABA_self decided 0 before we got round to proposing;
  // broadcasting then would be wasted work nobody reads.
  if (rbc_[net_.self].has_value()) {
    AbsorbRbc(net_.self, rbc_[net_.self]->Propose(std::move(value)), step);
  }
  DropFinishedChildren();
  return step;
}

AcsStep CommonSubset::HandleMessage(NodeId from, const pb::AcsMessage& msg) {
  AcsStep step;
  if (!net_.valid_node(from)) return step;  // the transport only hands in known peers
  const uint32_t j = msg.instance();
  if (!net_.valid_node(j)) {
    step.AddFault(from, FaultKind::kMalformedMessage, "acs instance out of range");
    return step;
  }
  switch (msg.kind_case()) {
    case pb::AcsMessage::kRbc:
      if (rbc_[j].has_value()) AbsorbRbc(j, rbc_[j]->HandleMessage(from, msg.rbc()), step);
      break;
    case pb::AcsMessage::kAba:
      if (aba_[j].has_value()) AbsorbAba(j, aba_[j]->HandleMessage(from, msg.aba()), step);
      break;
    case pb::AcsMessage::KIND_NOT_SET:
      step.AddFault(from, FaultKind::kMalformedMessage, "acs message without a body");
      break;
  }
  DropFinishedChildren();
  return step;
}

bool CommonSubset::terminated() const {
  if (!output_done_) return false;
  for (NodeId j = 0; j < net_.n; ++j) {
    if (aba_[j].has_value() || rbc_[j].has_value()) return false;
  }
  return true;
}

std::string CommonSubset::DebugString() const {
  std::string out = absl::StrCat("acs proposed=", proposed_, " output=", output_done_,
                                 " ones=", ones_decided_, " decided=", decided_count_);
  for (NodeId j = 0; j < net_.n; ++j) {
    absl::StrAppend(&out, "\n  [", j, "] rbc=",
                    rbc_[j].has_value() ? (rbc_[j]->delivered() ? "delivered" : "running")
                                        : "dropped",
                    " value=", delivered_[j].has_value() ? "held" : "-", " aba=");
    if (aba_[j].has_value()) {
      absl::StrAppend(&out, "round ", aba_[j]->round(), " input_open=", aba_[j]->accepts_input(),
                      " decision=",
                      aba_[j]->decision().has_value() ? (*aba_[j]->decision() ? "1" : "0") : "-",
                      " terminated=", aba_[j]->terminated());
    } else {
      absl::StrAppend(&out, "dropped decision=",
                      decision_[j].has_value() ? (*decision_[j] ? "1" : "0") : "-");
    }
  }
  return out;
}

void CommonSubset::AbsorbRbc(NodeId j, rbc::RbcStep&& child, AcsStep& step) {
  std::vector<rbc::Output> outs =
      step.Absorb(std::move(child), [j](pb::RbcMessage m) { return WrapRbc(j, std::move(m)); });
  for (rbc::Output& out : outs) OnRbcOutput(j, std::move(out), step);
}

void CommonSubset::AbsorbAba(NodeId j, aba::AbaStep&& child, AcsStep& step) {
  std::vector<bool> decisions =
      step.Absorb(std::move(child), [j](pb::AbaMessage m) { return WrapAba(j, std::move(m)); });
  for (bool d : decisions) OnAbaDecision(j, d, step);
}

void CommonSubset::OnRbcOutput(NodeId j, rbc::Output out, AcsStep& step) {
  if (delivered_[j].has_value()) return;  // an RBC delivers once; be robust anyway
  delivered_[j] = std::move(out);
  // An inconsistently encoded value still counts as delivered: every correct node agrees
  // it is "invalid", and the epoch treats it as an empty proposal.
  ProposeToAba(j, true, step);
  MaybeOutput(step);
}

void CommonSubset::OnAbaDecision(NodeId j, bool decision, AcsStep& step) {
  if (decision_[j].has_value()) return;
  decision_[j] = decision;
  // Rounds are 0-based; a decision in round r took r+1 rounds.
  aba_rounds_[j] = aba_[j].has_value() ? aba_[j]->decision_round().value_or(aba_[j]->round()) + 1
                                       : 0;
  ++decided_count_;
  if (decision) {
    ++ones_decided_;
    if (ones_decided_ == net_.quorum()) {
      for (NodeId k = 0; k < net_.n; ++k) ProposeToAba(k, false, step);
    }
  } else {
    // Nobody will ever read value_j: stop taking part in RBC_j and free its stripes.
    rbc_[j].reset();
    delivered_[j].reset();
  }
  MaybeOutput(step);
}

void CommonSubset::ProposeToAba(NodeId j, bool value, AcsStep& step) {
  if (!aba_[j].has_value() || !aba_[j]->accepts_input()) return;
  AbsorbAba(j, aba_[j]->Propose(value), step);
}

void CommonSubset::MaybeOutput(AcsStep& step) {
  if (output_done_ || decided_count_ < net_.n) return;
  for (NodeId j = 0; j < net_.n; ++j) {
    if (*decision_[j] && !delivered_[j].has_value()) return;  // RBC totality: it will come
  }
  Output out;
  for (NodeId j = 0; j < net_.n; ++j) {
    if (*decision_[j]) out.accepted.emplace(j, std::move(*delivered_[j]));
    delivered_[j].reset();
  }
  output_done_ = true;
  step.outputs.push_back(std::move(out));
}

void CommonSubset::DropFinishedChildren() {
  for (NodeId j = 0; j < net_.n; ++j) {
    if (aba_[j].has_value() && aba_[j]->terminated() && decision_[j].has_value()) {
      aba_[j].reset();
    }
    // A delivered RBC whose value may still be needed stays until it has terminated; its
    // value is already copied into delivered_.
    if (rbc_[j].has_value() && rbc_[j]->terminated() && delivered_[j].has_value()) {
      rbc_[j].reset();
    }
  }
  // After the output the copies of delivered values are moved out; a terminated RBC whose
  // agreement decided 1 has nothing left to do either.
  if (output_done_) {
    for (NodeId j = 0; j < net_.n; ++j) {
      if (rbc_[j].has_value() && rbc_[j]->terminated()) rbc_[j].reset();
    }
  }
}

}  // namespace belfry::consensus::acs
