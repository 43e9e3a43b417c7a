// test/node/parts_test.cc — the replica core's parts on their own (replica/node/README.md,
// "Layout"): typed faults and their views, the per-peer bounds of catch-up records and
// beyond-window frames, the sent log's bound, join pacing, and the injectable logger.
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "replica/node/effects/effects.h"
#include "replica/node/sync/catch_up.h"
#include "replica/node/sync/future_frames.h"
#include "replica/node/sync/joins.h"
#include "replica/node/sync/sent_log.h"

namespace belfry::replica {
namespace {

struct RecordingOutbox final : Outbox {
  void SendPeer(uint32_t to, std::string payload) override { peer.emplace_back(to, std::move(payload)); }
  void SendClient(uint64_t connection, std::string frame) override { client.emplace_back(connection, std::move(frame)); }
  std::vector<std::pair<uint32_t, std::string>> peer;
  std::vector<std::pair<uint64_t, std::string>> client;
};

struct CapturingLogger final : CoreLogger {
  bool Enabled(LogLevel level) const override { return level >= LogLevel::kInfo; }
  void Log(LogLevel, std::string_view component, std::string_view event, std::vector<LogField> fields) override {
    std::string line = std::string(component) + "/" + std::string(event);
    for (const LogField& f : fields) line += " " + f.key + "=" + f.value;
    lines.push_back(line);
  }
  std::vector<std::string> lines;
};

TEST_CASE("typed faults keep the metric names and decide the penalty by kind", "[node][parts][faults]") {
  RecordingOutbox outbox;
  CapturingLogger logger;
  Effects effects(0, 4, &outbox, &logger);
  effects.Fault({.peer = 1, .kind = PeerFaultKind::kConsensus, .consensus_kind = consensus::FaultKind::kConflictingEcho});
  effects.Fault({.peer = 1, .kind = PeerFaultKind::kConsensus, .consensus_kind = consensus::FaultKind::kEpochOutOfWindow});
  effects.Fault({.peer = 2, .kind = PeerFaultKind::kFrameBeyondWindow});
  effects.Fault({.peer = 2, .kind = PeerFaultKind::kFrameBeyondWindow});
  effects.Fault({.peer = 3, .kind = PeerFaultKind::kMalformedPeerMessage});
  effects.Fault({.peer = 3, .kind = PeerFaultKind::kBadStateChunk}, "keys not ascending");
  CoreCounters c = effects.counters();
  c.DeriveFaultViews(4);
  // Out-of-window messages and held frames are not protocol faults.
  CHECK(c.faults == 3);
  CHECK(c.faults_by_kind["1/conflicting_echo"] == 1);
  CHECK(c.faults_by_kind["1/epoch_out_of_window"] == 1);
  CHECK(c.faults_by_kind["2/epoch_out_of_window"] == 2);
  CHECK(c.faults_by_kind["3/malformed_peer_message"] == 1);
  CHECK(c.faults_by_kind["3/bad_state_chunk"] == 1);
  // The penalty counts held frames, not consensus's out-of-window reports or unparsable bytes.
  CHECK(c.faults_by_peer == std::vector<uint64_t>{0, 1, 2, 1});
  // Only the kinds an operator acts on are logged, through the injected logger.
  REQUIRE(logger.lines.size() == 2);
  CHECK(logger.lines[0] == "consensus/peer_fault peer=1 kind=conflicting_echo");
  CHECK(logger.lines[1] == "replica/peer_fault peer=3 kind=bad_state_chunk detail=keys not ascending");
}

TEST_CASE("peer messages leave only after the step, client frames at once", "[node][parts][effects]") {
  RecordingOutbox outbox;
  Effects effects(0, 4, &outbox, nullptr);
  effects.BeginStep();
  effects.SendOtherPeers("m");
  effects.SendConsensus(2, "c");
  effects.SendClient(7, "r");
  CHECK(outbox.peer.empty());
  CHECK(outbox.client.size() == 1);
  CHECK(effects.held_consensus());
  REQUIRE(effects.EndStep());
  effects.ReleasePeerSends();
  CHECK(outbox.peer.size() == 4);
  CHECK_FALSE(effects.held_consensus());
}

TEST_CASE("catch-up records are charged to the peer that brought them", "[node][parts][catchup]") {
  RecordingOutbox outbox;
  Effects effects(0, 4, &outbox, nullptr);
  pb::CommittedEpoch record;
  record.set_epoch(10);
  record.set_log_head(std::string(32, 'h'));
  record.add_requests(std::string(100, 'r'));
  const uint64_t size = record.SerializeAsString().size();
  CatchUp catch_up(/*f=*/1, CatchUp::Limits{.fetch_epochs_max = 4, .bytes_per_peer_max = size + 10}, effects);
  REQUIRE(catch_up.Add(1, record, 10));
  CHECK(catch_up.bytes_held() == size);
  CHECK_FALSE(catch_up.Agreed(10).has_value());
  // The same record from another peer costs nothing more, and f+1 make it agreed.
  REQUIRE(catch_up.Add(2, record, 10));
  CHECK(catch_up.bytes_held() == size);
  REQUIRE(catch_up.Agreed(10).has_value());
  // Another record from peer 1 replaces its first; one over its bound is refused.
  pb::CommittedEpoch other = record;
  other.set_epoch(11);
  CHECK_FALSE(catch_up.Add(1, other, 10));
  CHECK(effects.counters().catchup_records_refused == 1);
  // Beyond the fetch size: not kept.
  other.set_epoch(14);
  CHECK_FALSE(catch_up.Add(3, other, 10));
  catch_up.DropThrough(10);
  CHECK(catch_up.bytes_held() == 0);
}

TEST_CASE("beyond-window frames are bounded per peer, the latest epochs going first", "[node][parts][window]") {
  RecordingOutbox outbox;
  Effects effects(0, 4, &outbox, nullptr);
  FutureFrames future(/*bytes_per_peer_max=*/10, effects);
  future.Hold(1, 7, "aaaa");
  future.Hold(1, 5, "bbbb");
  future.Hold(1, 9, "cccc");  // over the bound: epoch 9's frame goes
  CHECK(future.bytes() == 8);
  CHECK(future.dropped_from(1) == std::optional<uint64_t>(9));
  CHECK(future.FrontEpoch(1) == std::optional<uint64_t>(5));
  CHECK(future.PopFront(1) == "bbbb");
  CHECK(future.PopFront(1) == "aaaa");
  CHECK(future.bytes() == 0);
  CHECK(effects.counters().future_frames_dropped == 1);
  CHECK(future.PeerAfter(std::nullopt) == std::optional<uint32_t>(1));
  CHECK_FALSE(future.PeerAfter(1).has_value());
}

TEST_CASE("the sent log keeps its byte bound and resends by recipient", "[node][parts][join]") {
  SentLog log(/*bytes_max=*/10);
  log.Add(3, consensus::Target::All(), "aaaa");
  log.Add(4, consensus::Target::Node(2), "bbbb");
  log.Add(5, consensus::Target::All(), "cccc");  // over: epoch 5, the newest, goes
  CHECK(log.bytes() == 8);
  CHECK(log.SentTo(1, 0).size() == 1);
  CHECK(log.SentTo(2, 0).size() == 2);
  CHECK(log.SentTo(2, 4).size() == 1);
  log.PruneBefore(4);
  CHECK(log.bytes() == 4);
}

TEST_CASE("a join within the interval is deferred, keeping its earliest epoch", "[node][parts][join]") {
  Joins joins(/*interval_ms=*/500);
  REQUIRE(joins.Admit(1, 10, 1000));
  joins.Served(1, 10, 1000);
  CHECK_FALSE(joins.Admit(1, 12, 1100));
  CHECK_FALSE(joins.Admit(1, 11, 1200));
  CHECK(joins.TakeDue(1400).empty());
  const std::vector<std::pair<uint32_t, uint64_t>> due = joins.TakeDue(1500);
  REQUIRE(due.size() == 1);
  CHECK(due[0] == std::make_pair(uint32_t{1}, uint64_t{11}));
  CHECK(joins.deferred() == 0);
}

}  // namespace
}  // namespace belfry::replica
