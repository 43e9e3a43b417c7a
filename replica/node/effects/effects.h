// replica/node/effects/effects.h — the one way the replica core's effects leave it.
//
// How it works. The core is sans-IO: every input is a call, and whatever it causes —
// peer messages, client frames, a peer's fault, a log line, a counter — goes through the
// Effects sink the coordinator (ReplicaCore) owns and hands to each of its parts. Peer
// messages are held until the outermost step ends (BeginStep/EndStep), because a
// consensus message may leave only once the inputs it depends on are durable: the
// coordinator syncs its input log, then releases them (or drops them, when the sync
// failed: nothing leaves that the log does not back). Client frames leave at once: a
// reply is built only after its epoch's commit, which is synced, so it has nothing to
// wait for. Faults are typed events (peer_fault.h) counted by peer and kind.
//
// Not thread-safe: the core's thread only. The Outbox and logger are borrowed.
#ifndef BELFRY_REPLICA_NODE_EFFECTS_EFFECTS_H_
#define BELFRY_REPLICA_NODE_EFFECTS_EFFECTS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "replica/node/effects/core_counters.h"
#include "replica/node/effects/core_log.h"
#include "replica/node/effects/peer_fault.h"

namespace belfry::replica {

// Outbox: where the core's effects go. Implementations must not call back into the core.
class Outbox {
 public:
  virtual ~Outbox() = default;
  // A serialized PeerMessage for replica `to`.
  virtual void SendPeer(uint32_t to, std::string payload) = 0;
  // A serialized ClientFrame for client connection `connection`.
  virtual void SendClient(uint64_t connection, std::string frame) = 0;
};

class Effects {
 public:
  // `logger` may be null (LogLine, core_log.h).
  Effects(uint32_t self, uint32_t n, Outbox* outbox, CoreLogger* logger);
  Effects(const Effects&) = delete;
  Effects& operator=(const Effects&) = delete;

  // Steps nest; EndStep returns true when the outermost one ended, and the coordinator
  // must then release or drop what is held.
  void BeginStep();
  [[nodiscard]] bool EndStep();
  bool in_step() const { return step_depth_ > 0; }

  // Held until the step ends. Only inside a step.
  void SendPeer(uint32_t to, std::string payload);
  // A consensus message: releasing it needs a synced input log (held_consensus()).
  void SendConsensus(uint32_t to, std::string payload);
  // To every replica but this one.
  void SendOtherPeers(const std::string& payload);
  bool held_consensus() const { return held_consensus_; }
  void ReleasePeerSends();
  void DropPeerSends();

  // Leaves at once.
  void SendClient(uint64_t connection, std::string frame);

  // Counts `fault` and, for the kinds an operator acts on, logs it with `detail` (short,
  // never secret material).
  void Fault(const PeerFault& fault, absl::string_view detail = {});

  CoreLogLine Log(LogLevel level, std::string_view component, std::string_view event) {
    return CoreLogLine(logger_, level, component, event);
  }

  CoreCounters& counters() { return counters_; }
  const CoreCounters& counters() const { return counters_; }
  uint32_t self() const { return self_; }
  uint32_t n() const { return n_; }

 private:
  const uint32_t self_;
  const uint32_t n_;
  Outbox* const outbox_;
  CoreLogger* const logger_;
  int step_depth_ = 0;
  std::vector<std::pair<uint32_t, std::string>> held_sends_;
  bool held_consensus_ = false;
  CoreCounters counters_;
};

}  // namespace belfry::replica

#endif  // BELFRY_REPLICA_NODE_EFFECTS_EFFECTS_H_
