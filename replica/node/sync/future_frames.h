// replica/node/sync/future_frames.h — consensus frames from peers ahead of this replica.
//
// Why. A correct peer that is ahead counts on this replica receiving what it sent, so a
// frame for an epoch beyond the window is kept and handed in when the window gets there.
// Bounded per peer (bytes_per_peer_max): past the bound the frames of the latest epochs
// go first (they are needed last), and the first epoch that lost one is remembered, so
// that the coordinator asks that peer again (JoinEpochs) when the window reaches it. A
// Byzantine peer's far-future flood costs at most the bound.
//
// Pure bookkeeping. Not thread-safe.
#ifndef BELFRY_REPLICA_NODE_SYNC_FUTURE_FRAMES_H_
#define BELFRY_REPLICA_NODE_SYNC_FUTURE_FRAMES_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "replica/node/effects/effects.h"

namespace belfry::replica {

class FutureFrames {
 public:
  FutureFrames(uint64_t bytes_per_peer_max, Effects& effects);

  // Keeps `payload`, `from`'s frame for `epoch`, after the frames already held for it.
  void Hold(uint32_t from, uint64_t epoch, const std::string& payload);

  // The peers with a buffer, in order: the first one after `peer` (nullopt: the first).
  // A buffer, once made, is never removed, so a walk with this sees a peer added meanwhile.
  std::optional<uint32_t> PeerAfter(std::optional<uint32_t> peer) const;
  // The first epoch of `peer` that lost a frame to the bound, if any; and forgetting it.
  std::optional<uint64_t> dropped_from(uint32_t peer) const;
  void ClearDropped(uint32_t peer);
  // The oldest epoch `peer` has a frame for, and taking that frame (oldest epoch first,
  // each epoch's in arrival order).
  std::optional<uint64_t> FrontEpoch(uint32_t peer) const;
  std::string PopFront(uint32_t peer);

  uint64_t frames() const;
  uint64_t bytes() const;

 private:
  struct Held {
    std::multimap<uint64_t, std::string> frames;
    uint64_t bytes = 0;
    std::optional<uint64_t> dropped_from;
  };
  const uint64_t bytes_per_peer_max_;
  Effects& effects_;
  std::map<uint32_t, Held> held_;
};

}  // namespace belfry::replica

#endif  // BELFRY_REPLICA_NODE_SYNC_FUTURE_FRAMES_H_
