// replica/node/sync/catch_up.h — noticing that this replica is behind, and the records
// that bring it back.
//
// How it works. A replica that was down sees peer messages for epochs beyond its window,
// or peers joining consensus after its last committed epoch. Once f+1 peers (so at least
// one correct one) show either, it is behind (PeersAhead): it asks every peer for the
// committed epochs it missed (FetchEpochs, every fetch_interval_ms) and applies epoch e
// once f+1 peers sent byte-identical CommittedEpoch records for it (Agreed). After a few
// fetches that bring nothing, the epochs are pruned everywhere and the coordinator turns
// to a state transfer.
//
// Bounds on what one peer can make this hold or do: one record per peer and epoch, only
// for the fetch_epochs_max epochs after this replica's, each distinct record charged to
// the peer that brought it (bytes_per_peer_max); FetchEpochs answered at most every
// fetch_served_interval_ms per peer.
//
// Pure bookkeeping plus FetchEpochs sent through the Effects sink; touches no store.
// Not thread-safe.
#ifndef BELFRY_REPLICA_NODE_SYNC_CATCH_UP_H_
#define BELFRY_REPLICA_NODE_SYNC_CATCH_UP_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "consensus/epoch/honey_badger.h"
#include "proto/replica.pb.h"
#include "replica/node/effects/effects.h"

namespace belfry::replica {

class CatchUp {
 public:
  struct Limits {
    uint32_t fetch_epochs_max = 64;
    int64_t fetch_interval_ms = 500;
    int64_t fetch_served_interval_ms = 100;
    uint64_t bytes_per_peer_max = 64ull << 20;
  };
  // `f`: the faults tolerated. `effects` is borrowed.
  CatchUp(uint32_t f, Limits limits, Effects& effects);

  bool behind() const { return behind_; }
  void set_behind(bool behind) { behind_ = behind; }

  // Evidence that a peer is ahead: a message for `epoch` beyond the window, or a join at
  // `first_epoch`. Only the latest of each is kept per peer.
  void NoteBeyondWindow(uint32_t peer, uint64_t epoch) { beyond_window_[peer] = epoch; }
  void NoteJoin(uint32_t peer, uint64_t first_epoch) { joined_at_[peer] = first_epoch; }
  // Whether f+1 peers sent messages for epochs beyond `hb`'s window, or joined consensus
  // after `next_epoch`: only then is this replica behind. One Byzantine peer alone must
  // not make it fetch, nor report itself not ready.
  bool PeersAhead(const consensus::epoch::HoneyBadger& hb, uint64_t next_epoch) const;

  enum class Fetch : uint8_t {
    kPaced,   // asked too recently
    kSent,    // FetchEpochs from `next_epoch` sent to every peer
    kGaveUp,  // several fetches brought nothing: the epochs are pruned; no longer behind
  };
  Fetch Request(int64_t now_ms, uint64_t next_epoch);
  // After progress (epochs applied, a state installed): behind until a fetch brings
  // nothing new, and the next fetch goes at once.
  void Resume();
  // Whether a FetchEpochs from `from` may be answered now (per-peer rate).
  bool AllowServing(uint32_t from, int64_t now_ms);

  // Keeps `from`'s record of an epoch in [next_epoch, next_epoch + fetch_epochs_max),
  // replacing its earlier record of that epoch. False when not kept.
  bool Add(uint32_t from, const pb::CommittedEpoch& committed, uint64_t next_epoch);
  // The record of `epoch` f+1 peers sent, if any.
  std::optional<pb::CommittedEpoch> Agreed(uint64_t epoch) const;
  // Whether any peer's record of `epoch` is held.
  bool Holds(uint64_t epoch) const { return votes_.count(epoch) != 0; }
  // The peers whose record of `epoch` is not `own_record` (serialized CommittedEpoch).
  std::vector<uint32_t> SendersOfOtherRecords(uint64_t epoch, const std::string& own_record) const;
  // Forgets the records of every epoch through `epoch`.
  void DropThrough(uint64_t epoch);

  uint64_t bytes_held() const;

 private:
  struct Record {
    std::set<uint32_t> senders;
    uint32_t charged_to = 0;
  };
  void Uncharge(uint32_t peer, uint64_t bytes);
  void CheckAccounting() const;

  const uint32_t f_;
  const Limits limits_;
  Effects& effects_;
  // epoch -> serialized CommittedEpoch -> who sent it.
  std::map<uint64_t, std::map<std::string, Record>> votes_;
  std::map<uint32_t, uint64_t> bytes_by_peer_;
  bool behind_ = false;
  // Peer -> the latest epoch beyond the window it sent a message for (at most N-1 entries).
  std::map<uint32_t, uint64_t> beyond_window_;
  // Peer -> the first epoch of its latest JoinEpochs (at most N-1 entries).
  std::map<uint32_t, uint64_t> joined_at_;
  uint32_t fetches_without_progress_ = 0;  // stop asking once peers have nothing newer
  int64_t last_fetch_ms_ = 0;
  std::map<uint32_t, int64_t> last_fetch_served_ms_;
};

}  // namespace belfry::replica

#endif  // BELFRY_REPLICA_NODE_SYNC_CATCH_UP_H_
