// replica/node/replies/replies.h — the replica's answers to clients.
//
// How it works. A client frame that passed admission leaves a ReplyWaiter here, keyed by
// the request's id (one per frame: the client port expects one answer per request
// frame). When the request's epoch is durably committed the coordinator builds its
// signed reply (BuildReplyFrame) and hands it here (OnExecuted): it goes to every waiter
// whose certificate names the request's user (reply_guard.h), and into a bounded cache,
// so that a copy of the request arriving after its execution is answered from the cache
// instead of being ordered a second time. Refusals (Reject, RejectOverloaded) and signed
// status answers are signed with the same reply key.
//
// Bounds: waiting_requests_max request ids wait, each with at most
// waiting_frames_per_request_max frames; the cache keeps executed_remembered_max ids and
// executed_reply_bytes_max bytes of frames (a frame larger than a sixteenth of that is
// remembered without its bytes).
//
// Sends and counts only through the Effects sink; touches no store. Not thread-safe.
#ifndef BELFRY_REPLICA_NODE_REPLIES_REPLIES_H_
#define BELFRY_REPLICA_NODE_REPLIES_REPLIES_H_

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "config/cluster_config.h"
#include "proto/reply.pb.h"
#include "replica/node/effects/effects.h"
#include "replica/node/replies/reply_guard.h"
#include "replica/node/reply_signer.h"
#include "replica/state/precheck.h"
#include "replica/state/state_machine.h"
#include "replica/store/store.h"
#include "threshold/rsa/signature.h"
#include "threshold/tdh2.h"

namespace belfry::replica {

class Replies {
 public:
  struct Limits {
    size_t waiting_requests_max = 100000;
    size_t waiting_frames_per_request_max = 8;
    size_t executed_remembered_max = 100000;
    uint64_t executed_reply_bytes_max = 64ull << 20;
  };
  // `config`, `signer`, `decryption` (may be null: no shares attached) and `effects` are
  // borrowed and must outlive this.
  // `service` signs integrity certificates and time-stamp tokens; without it (tests of
  // other parts) an integrity checkout's reply carries no share. `service_cert_der` (borrowed)
  // is the service certificate tokens name; empty, a stamp's reply carries no share.
  Replies(const config::ClusterConfig& config, const ReplySigner& signer,
          const threshold::DecryptionShareProvider* decryption, const threshold::rsa::ShareSigner* service,
          ByteSpan service_cert_der, Limits limits, Effects& effects);

  // Replaces the decryption share maker (borrowed; null: none): a key the replicas
  // generate arrives after start-up (replica/node/keys/).
  void set_decryption(const threshold::DecryptionShareProvider* decryption) {
    decryption_ = decryption;
  }

  // ---- before ordering ----
  // When `request_id` was executed already: answers `waiter` from the cache (or says
  // the reply is no longer cached) and returns true.
  bool AnswerIfExecuted(const ReplyWaiter& waiter, const std::string& request_id);
  // Whether `request_id` may not wait: too many ids wait already and it is not one.
  bool WaitingFull(const std::string& request_id) const;
  // Makes `waiter` wait for `request_id`; false (and an overloaded refusal) when too many
  // copies of it wait already.
  bool AddWaiter(const std::string& request_id, ReplyWaiter waiter);
  // A request refused at admission: counted by status and answered.
  void RefuseAdmission(uint64_t connection, const std::string& request_id, const state::Verdict& verdict);

  // ---- after commit ----
  // The signed reply frame of `executed`, the request at `position` of `epoch`, whose
  // log head after commit is `head`.
  std::string BuildReplyFrame(const state::Executed& executed, uint64_t epoch, uint32_t position,
                              int64_t consensus_time_ms, const store::Digest& head) const;
  // Hands `frame`, the reply of `request_id` (of user `uid`) executed in `epoch`, to its
  // waiters when `send`, forgets them and caches the frame. `durable_next_epoch` is the
  // store's next epoch: a reply leaves only once its epoch is durable.
  void OnExecuted(const std::string& request_id, const std::string& uid, uint64_t epoch, std::string frame,
                  bool send, uint64_t durable_next_epoch);
  // Forgets every waiter: their requests' epochs were skipped by a state transfer, and
  // other replicas answer them.
  void ForgetWaiting() { waiting_.clear(); }

  // ---- refusals and status ----
  void Reject(uint64_t connection, const std::string& request_id, uint32_t code, const std::string& message);
  // Code 0: the one refusal that is not final (see replies.cc). `reason` names the bound.
  void RejectOverloaded(uint64_t connection, const std::string& request_id, const char* reason,
                        const std::string& message);
  // Signs `status` (every field but the signature set) and sends it.
  void SendStatus(uint64_t connection, pb::ReplicaStatus status);

  size_t waiting() const { return waiting_.size(); }

 private:
  // Sends `frame`, the reply to request `request_id` of user `uid`, to `waiter` if its
  // certificate names that user, else a NOT_REQUESTER rejection (reply_guard.h).
  void DeliverReply(const ReplyWaiter& waiter, const std::string& uid, const std::string& request_id,
                    const std::string& frame);
  void RememberExecuted(const std::string& request_id, const std::string& uid, std::string reply_frame);

  const config::ClusterConfig& config_;
  const ReplySigner& signer_;
  const threshold::DecryptionShareProvider* decryption_;
  const threshold::rsa::ShareSigner* const service_;
  const ByteSpan service_cert_der_;
  const Limits limits_;
  Effects& effects_;
  // request id -> client connections waiting for its reply, one entry per frame received.
  std::map<std::string, std::vector<ReplyWaiter>> waiting_;
  // Recently executed requests, oldest first, with this replica's signed reply frame
  // (empty once evicted for size).
  std::map<std::string, CachedReply> executed_replies_;
  std::deque<std::string> executed_order_;
  uint64_t executed_reply_bytes_ = 0;
};

}  // namespace belfry::replica

#endif  // BELFRY_REPLICA_NODE_REPLIES_REPLIES_H_
