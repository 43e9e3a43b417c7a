#include "test/byzantine/byzantine_outbox.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/check.h"
#include "consensus/internal/erasure.h"
#include "proto/service.pb.h"
#include "proto/threshold.pb.h"
#include "base/log.h"
#include "threshold/dkg/key_generation.h"
#include "threshold/rsa/signature.h"
#include "wire/statements.h"

namespace belfry::byzantine {
namespace {

constexpr std::pair<Strategy, const char*> kNames[] = {
    {Strategy::kSilent, "silent"},
    {Strategy::kEquivocate, "equivocate"},
    {Strategy::kPhantomEcho, "phantom-echo"},
    {Strategy::kFlipVotes, "flip-votes"},
    {Strategy::kBadShares, "bad-shares"},
    {Strategy::kWithholdShares, "withhold-shares"},
    {Strategy::kWrongReplies, "wrong-replies"},
    {Strategy::kReplayOld, "replay-old"},
    {Strategy::kFloodFuture, "flood-future"},
    {Strategy::kClock, "clock"},
    {Strategy::kLeakRequests, "leak-requests"},
    {Strategy::kBadDkg, "bad-dkg"},
    {Strategy::kWithholdDkg, "withhold-dkg"},
};

// Far enough ahead that no window (epochs_in_flight_max is a handful) ever reaches it.
constexpr uint64_t kFutureEpochsMin = 1'000'000;
// replay-old: how many recent consensus messages are kept to be sent again, and how far
// behind the newest epoch a message must be before it counts as old.
constexpr size_t kReplayMessagesMax = 4096;
constexpr uint64_t kReplayEpochsBehind = 2;
// equivocate: alternative encodings are kept for this many recent epochs.
constexpr size_t kAltTreesMax = 8;
// flood-future: one near-maximum frame to every peer at most this often, and its margin
// below frame_bytes_max for the framing and the message's own fields.
constexpr int64_t kBigFrameIntervalMs = 10'000;
constexpr uint64_t kBigFrameMarginBytes = 64 << 10;

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string ToString(ByteSpan b) { return std::string(AsStringView(b)); }
std::string ToString(const consensus::internal::Digest& d) {
  return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

}  // namespace

absl::StatusOr<std::vector<Strategy>> ParseStrategies(const std::string& text) {
  std::vector<Strategy> out;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    bool found = false;
    for (const auto& [strategy, name] : kNames) {
      if (part == name) {
        if (std::find(out.begin(), out.end(), strategy) == out.end()) out.push_back(strategy);
        found = true;
      }
    }
    if (!found) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown Byzantine strategy \"", part, "\"; known: ", StrategyNames()));
    }
  }
  if (out.empty()) return absl::InvalidArgumentError(absl::StrCat("no strategy; known: ", StrategyNames()));
  return out;
}

const char* StrategyName(Strategy s) {
  for (const auto& [strategy, name] : kNames) {
    if (strategy == s) return name;
  }
  return "?";
}

std::string StrategyNames() {
  std::vector<std::string> names;
  for (const auto& entry : kNames) names.push_back(entry.second);
  return absl::StrJoin(names, ",");
}

absl::StatusOr<std::unique_ptr<ByzantineOutbox>> ByzantineOutbox::Create(ByzantineOptions options,
                                                                         replica::Outbox* inner,
                                                                         replica::ReplySigner signer) {
  if (options.strategies.empty() || options.n < 1 || options.self >= options.n || 3 * options.f >= options.n) {
    return absl::InvalidArgumentError("Byzantine outbox: no strategy, or an impossible membership");
  }
  std::unique_ptr<ByzantineOutbox> out(new ByzantineOutbox(std::move(options), inner, std::move(signer)));
  std::vector<std::string> names;
  for (Strategy s : out->options_.strategies) names.push_back(StrategyName(s));
  LogLine(LogLevel::kWarn, "byzantine", "misbehaving")
      .Add("replica", out->options_.self)
      .Add("strategies", absl::StrJoin(names, ","))
      .Add("seed", out->options_.seed)
      .Add("clock_offset_ms", out->clock_offset_ms_);
  return out;
}

ByzantineOutbox::ByzantineOutbox(ByzantineOptions options, replica::Outbox* inner, replica::ReplySigner signer)
    : options_(std::move(options)),
      inner_(inner),
      signer_(std::move(signer)),
      rng_(options_.seed * 0x9E3779B97F4A7C15ull + options_.self) {
  if (Has(Strategy::kClock)) {
    const int64_t hours = 1 + static_cast<int64_t>(rng_.Uniform(6));
    clock_offset_ms_ = (rng_.Uniform(2) == 0 ? 1 : -1) * hours * 3'600'000;
  }
  // Equivocation splits the peers in two halves chosen by the seed.
  std::vector<uint32_t> peers;
  for (uint32_t r = 0; r < options_.n; ++r) {
    if (r != options_.self) peers.push_back(r);
  }
  for (size_t i = 0; i + 1 < peers.size(); ++i) {
    std::swap(peers[i], peers[i + rng_.Uniform(peers.size() - i)]);
  }
  second_half_.assign(options_.n, false);
  for (size_t i = 0; i < peers.size() / 2; ++i) second_half_[peers[i]] = true;
}

bool ByzantineOutbox::Has(Strategy s) const {
  return std::find(options_.strategies.begin(), options_.strategies.end(), s) != options_.strategies.end();
}

std::function<bool(pb::ReplicaMessage&)> ByzantineOutbox::KeyGenerationTamper() const {
  if (Has(Strategy::kWithholdDkg)) {
    return [](pb::ReplicaMessage&) { return false; };
  }
  if (!Has(Strategy::kBadDkg)) return nullptr;
  const uint32_t victim = (options_.self + 1) % options_.n;
  return [victim](pb::ReplicaMessage& m) {
    if (!m.has_dkg_part()) return true;
    absl::StatusOr<pb::DkgPart> part = threshold::dkg::ParsePart(AsBytes(m.dkg_part().part()));
    if (!part.ok() || part->rows_size() <= static_cast<int>(victim)) return true;
    std::string& row = *part->mutable_rows(static_cast<int>(victim));
    if (!row.empty()) row[row.size() / 2] = static_cast<char>(row[row.size() / 2] ^ 0x5a);
    m.mutable_dkg_part()->set_part(threshold::dkg::SerializePart(*part));
    return true;
  };
}

bool ByzantineOutbox::ToSecondHalf(uint32_t to) const { return to < second_half_.size() && second_half_[to]; }

std::string ByzantineOutbox::RandomBytes(size_t len) {
  std::string out(len, '\0');
  rng_.Fill(std::span<uint8_t>(reinterpret_cast<uint8_t*>(out.data()), out.size()));
  return out;
}

void ByzantineOutbox::Emit(uint32_t to, const pb::PeerMessage& msg) { inner_->SendPeer(to, msg.SerializeAsString()); }

void ByzantineOutbox::SendPeer(uint32_t to, std::string payload) {
  if (Has(Strategy::kSilent)) {
    ++counters_.peer_dropped;
    return;
  }
  pb::PeerMessage msg;
  if (!msg.ParseFromString(payload) || msg.kind_case() != pb::PeerMessage::kConsensus) {
    // Catch-up, checkpoints and state transfer go out untouched: these strategies are
    // about the agreement protocol and the replies.
    inner_->SendPeer(to, std::move(payload));
    return;
  }
  ++messages_seen_;
  const pb::ConsensusMessage original = msg.consensus();
  highest_epoch_ = std::max(highest_epoch_, original.epoch());
  pb::ConsensusMessage& c = *msg.mutable_consensus();
  bool keep = true;
  if (Has(Strategy::kEquivocate)) keep = Equivocate(to, c);
  if (keep && Has(Strategy::kFlipVotes)) keep = FlipVotes(c);
  if (keep) keep = Shares(c);
  if (!keep) {
    ++counters_.peer_dropped;
  } else if (c.SerializeAsString() != original.SerializeAsString()) {
    ++counters_.peer_mutated;
    Emit(to, msg);
  } else {
    inner_->SendPeer(to, std::move(payload));
  }
  if (Has(Strategy::kPhantomEcho)) PhantomEcho(to, original);
  if (Has(Strategy::kReplayOld)) ReplayOld(to, original);
  if (Has(Strategy::kFloodFuture)) FloodFuture(to, original);
}

const ByzantineOutbox::AltTree& ByzantineOutbox::AltTreeFor(uint64_t epoch, size_t stripe_bytes) {
  auto it = alt_trees_.find(epoch);
  if (it != alt_trees_.end() && !it->second.stripes.empty() && it->second.stripes[0].size() == stripe_bytes) {
    return it->second;
  }
  const uint32_t k = options_.n - 2 * options_.f;
  absl::StatusOr<consensus::internal::ErasureCoder> coder = consensus::internal::ErasureCoder::Create(k, options_.n);
  BELFRY_CHECK(coder.ok());
  // A different value of exactly the real one's stripe size, properly encoded: the
  // stripes of each half are consistent, only the roots differ.
  const std::string value = RandomBytes(k * stripe_bytes);
  AltTree alt;
  alt.stripes = coder->Encode(AsBytes(value));
  absl::StatusOr<consensus::internal::MerkleTree> tree = consensus::internal::MerkleTree::Build(alt.stripes);
  BELFRY_CHECK(tree.ok());
  alt.tree = std::move(*tree);
  alt_trees_[epoch] = std::move(alt);
  while (alt_trees_.size() > kAltTreesMax) alt_trees_.erase(alt_trees_.begin());
  return alt_trees_[epoch];
}

bool ByzantineOutbox::Equivocate(uint32_t to, pb::ConsensusMessage& c) {
  if (c.kind_case() != pb::ConsensusMessage::kAcs || c.acs().instance() != options_.self ||
      c.acs().kind_case() != pb::AcsMessage::kRbc || !ToSecondHalf(to)) {
    return true;
  }
  pb::RbcMessage& rbc = *c.mutable_acs()->mutable_rbc();
  auto rewrite = [&](pb::RbcMessage::StripeProof& proof, uint32_t index) {
    if (proof.stripe().empty() || index >= options_.n) return;
    const AltTree& alt = AltTreeFor(c.epoch(), proof.stripe().size());
    proof.set_root(ToString(alt.tree->root()));
    proof.clear_branch();
    for (const consensus::internal::Digest& d : alt.tree->Branch(index)) proof.add_branch(ToString(d));
    proof.set_stripe(ToString(alt.stripes[index]));
  };
  switch (rbc.kind_case()) {
    case pb::RbcMessage::kValue:
      rewrite(*rbc.mutable_value(), to);  // VAL carries the receiver's stripe
      break;
    case pb::RbcMessage::kEcho:
      rewrite(*rbc.mutable_echo(), options_.self);  // ECHO carries the sender's own
      break;
    case pb::RbcMessage::kReady: {
      auto it = alt_trees_.find(c.epoch());
      if (it != alt_trees_.end()) rbc.mutable_ready()->set_root(ToString(it->second.tree->root()));
      break;
    }
    default:
      break;
  }
  return true;
}

bool ByzantineOutbox::FlipVotes(pb::ConsensusMessage& c) {
  if (c.kind_case() != pb::ConsensusMessage::kAcs || c.acs().kind_case() != pb::AcsMessage::kAba) return true;
  pb::AbaMessage& aba = *c.mutable_acs()->mutable_aba();
  switch (aba.content_case()) {
    case pb::AbaMessage::kBval:
      aba.set_bval(!aba.bval());
      break;
    case pb::AbaMessage::kAux:
      aba.set_aux(!aba.aux());
      break;
    case pb::AbaMessage::kConf:
      switch (aba.conf()) {
        case pb::ABA_VALUE_SET_ZERO:
          aba.set_conf(pb::ABA_VALUE_SET_ONE);
          break;
        case pb::ABA_VALUE_SET_ONE:
          aba.set_conf(pb::ABA_VALUE_SET_ZERO);
          break;
        default:
          aba.set_conf(rng_.Uniform(2) == 0 ? pb::ABA_VALUE_SET_ZERO : pb::ABA_VALUE_SET_ONE);
          break;
      }
      break;
    case pb::AbaMessage::kTerm:
      aba.mutable_term()->set_value(!aba.term().value());
      break;
    default:
      break;
  }
  return true;
}

std::string ByzantineOutbox::CorruptShare(const std::string& share) {
  // Coin and decryption shares have the same shape (index, value, DLEQ proof); which
  // part lies is drawn, so both the proof check and the index check are exercised.
  pb::ThresholdCoinShare parsed;
  if (share.empty() || !parsed.ParseFromString(share)) {
    std::string out = share.empty() ? RandomBytes(1) : share;
    out[rng_.Uniform(out.size())] ^= static_cast<char>(1 + rng_.Uniform(255));
    return out;
  }
  switch (rng_.Uniform(4)) {
    case 0:
      if (!parsed.value().empty()) {
        std::string v = parsed.value();
        v[rng_.Uniform(v.size())] ^= static_cast<char>(1 + rng_.Uniform(255));
        parsed.set_value(v);
      }
      break;
    case 1:
      parsed.mutable_proof()->set_response(RandomBytes(32));
      break;
    case 2:
      parsed.set_index(1 + static_cast<uint32_t>((options_.self + 1 + rng_.Uniform(options_.n - 1)) % options_.n));
      break;
    default:
      parsed.set_value(RandomBytes(parsed.value().size()));
      break;
  }
  return parsed.SerializeAsString();
}

bool ByzantineOutbox::Shares(pb::ConsensusMessage& c) {
  std::string* share = nullptr;
  if (c.kind_case() == pb::ConsensusMessage::kOrderShare) {
    share = c.mutable_order_share()->mutable_share();
  } else if (c.kind_case() == pb::ConsensusMessage::kAcs && c.acs().kind_case() == pb::AcsMessage::kAba &&
             c.acs().aba().content_case() == pb::AbaMessage::kCoinShare) {
    share = c.mutable_acs()->mutable_aba()->mutable_coin_share();
  }
  if (share == nullptr) return true;
  if (Has(Strategy::kWithholdShares)) return false;
  if (Has(Strategy::kBadShares)) *share = CorruptShare(*share);
  return true;
}

void ByzantineOutbox::PhantomEcho(uint32_t to, const pb::ConsensusMessage& c) {
  if (c.kind_case() != pb::ConsensusMessage::kAcs || c.acs().kind_case() != pb::AcsMessage::kRbc) return;
  // One phantom root per (epoch, instance), the same to every peer, as a colluding
  // group would use to try to reach a READY threshold for a value nobody proposed.
  DeterministicRng phantom(options_.seed ^ (c.epoch() * 1'000'003ull) ^ (uint64_t{c.acs().instance()} << 48));
  std::string root(consensus::internal::kDigestBytes, '\0');
  phantom.Fill(std::span<uint8_t>(reinterpret_cast<uint8_t*>(root.data()), root.size()));
  pb::PeerMessage out;
  pb::ConsensusMessage& m = *out.mutable_consensus();
  m.set_epoch(c.epoch());
  m.mutable_acs()->set_instance(c.acs().instance());
  pb::RbcMessage::StripeProof& echo = *m.mutable_acs()->mutable_rbc()->mutable_echo();
  echo.set_root(root);
  for (uint32_t i = 0; i < consensus::internal::MerkleDepth(options_.n); ++i) {
    echo.add_branch(RandomBytes(consensus::internal::kDigestBytes));
  }
  const pb::RbcMessage& rbc = c.acs().rbc();
  size_t stripe_bytes = 32;
  if (rbc.kind_case() == pb::RbcMessage::kValue) stripe_bytes = std::max<size_t>(1, rbc.value().stripe().size());
  if (rbc.kind_case() == pb::RbcMessage::kEcho) stripe_bytes = std::max<size_t>(1, rbc.echo().stripe().size());
  echo.set_stripe(RandomBytes(stripe_bytes));
  Emit(to, out);
  m.mutable_acs()->mutable_rbc()->mutable_ready()->set_root(root);
  Emit(to, out);
  counters_.peer_added += 2;
}

void ByzantineOutbox::ReplayOld(uint32_t to, const pb::ConsensusMessage& c) {
  sent_.push_back(c);
  while (sent_.size() > kReplayMessagesMax) sent_.pop_front();
  if (rng_.Uniform(4) != 0) return;
  // A few tries to find one old enough; most of the buffer is, once epochs go by.
  for (int attempt = 0; attempt < 4; ++attempt) {
    const pb::ConsensusMessage& old = sent_[rng_.Uniform(sent_.size())];
    if (old.epoch() + kReplayEpochsBehind > highest_epoch_) continue;
    pb::PeerMessage out;
    *out.mutable_consensus() = old;
    Emit(to, out);
    ++counters_.peer_added;
    return;
  }
}

void ByzantineOutbox::FloodFuture(uint32_t to, const pb::ConsensusMessage& c) {
  if (rng_.Uniform(4) == 0) {
    pb::PeerMessage out;
    *out.mutable_consensus() = c;
    out.mutable_consensus()->set_epoch(c.epoch() + kFutureEpochsMin + rng_.Uniform(kFutureEpochsMin));
    Emit(to, out);
    ++counters_.peer_added;
  }
  const int64_t now = SteadyMs();
  if (now - last_big_frame_ms_ < kBigFrameIntervalMs || options_.frame_bytes_max <= 2 * kBigFrameMarginBytes) return;
  last_big_frame_ms_ = now;
  // An ECHO whose stripe is far beyond any proposal's: the frame is accepted by the
  // transport and must be refused by the message's own bounds.
  pb::PeerMessage big;
  pb::ConsensusMessage& m = *big.mutable_consensus();
  m.set_epoch(highest_epoch_);
  m.mutable_acs()->set_instance(options_.self);
  pb::RbcMessage::StripeProof& echo = *m.mutable_acs()->mutable_rbc()->mutable_echo();
  echo.set_root(RandomBytes(consensus::internal::kDigestBytes));
  echo.set_stripe(std::string(options_.frame_bytes_max - kBigFrameMarginBytes, 'B'));
  const std::string bytes = big.SerializeAsString();
  for (uint32_t r = 0; r < options_.n; ++r) {
    if (r == options_.self) continue;
    inner_->SendPeer(r, bytes);
    ++counters_.peer_added;
  }
}

bool ByzantineOutbox::MutateReply(pb::SignedReply& reply) {
  bool changed = false;
  if (Has(Strategy::kWrongReplies)) {
    pb::ReplyBody body;
    pb::Result result;
    if (body.ParseFromString(reply.body()) && result.ParseFromString(body.result())) {
      if (result.status() == pb::STATUS_OK) {
        result.Clear();
        result.set_status(pb::STATUS_ACCESS_DENIED);
      } else {
        result.set_status(pb::STATUS_OK);
      }
      result.set_message("forged");
      body.set_result(result.SerializeAsString());
      reply.set_body(body.SerializeAsString());
      changed = true;
    }
  }
  if (!reply.attachments().sealed_decryption_share().empty()) {
    if (Has(Strategy::kWithholdShares)) {
      reply.mutable_attachments()->clear_sealed_decryption_share();
      changed = true;
    } else if (Has(Strategy::kBadShares)) {
      reply.mutable_attachments()->set_sealed_decryption_share(CorruptShare(reply.attachments().sealed_decryption_share()));
      changed = true;
    }
  }
  if (!reply.attachments().service_signature_share().empty()) {
    if (Has(Strategy::kWithholdShares)) {
      reply.mutable_attachments()->clear_service_signature_share();
      changed = true;
    } else if (Has(Strategy::kBadShares)) {
      // Well formed and under its own index, but not a share of this signature: only the
      // proof, checked once the combined signature fails, gives it away.
      absl::StatusOr<threshold::rsa::SignatureShare> share =
          threshold::rsa::SignatureShare::Parse(AsBytes(reply.attachments().service_signature_share()));
      if (share.ok() && !share->value.empty()) {
        share->value.back() ^= 0x01;
        reply.mutable_attachments()->set_service_signature_share(share->Serialize());
        changed = true;
      }
    }
  }
  if (changed) {
    // Signed again with the replica's real key: the client cannot tell the lie by its
    // signature, only by comparing with the other replicas.
    reply.set_signature(
        signer_.Sign(wire::ReplyStatement(options_.self, AsBytes(reply.body()), reply.attachments())));
  }
  return true;
}

void ByzantineOutbox::SendClient(uint64_t connection, std::string frame) {
  if (Has(Strategy::kSilent)) {
    ++counters_.client_dropped;
    return;
  }
  pb::ClientFrame parsed;
  if (!parsed.ParseFromString(frame) || parsed.kind_case() != pb::ClientFrame::kReply) {
    inner_->SendClient(connection, std::move(frame));
    return;
  }
  const std::string before = parsed.reply().SerializeAsString();
  if (!MutateReply(*parsed.mutable_reply())) {
    ++counters_.client_dropped;
    return;
  }
  if (parsed.reply().SerializeAsString() == before) {
    inner_->SendClient(connection, std::move(frame));
    return;
  }
  ++counters_.client_mutated;
  inner_->SendClient(connection, parsed.SerializeAsString());
}

}  // namespace belfry::byzantine
