// replica/node/keys/key_generation_driver.h — this replica's side of the distributed
// generation of the cluster's TDH2 key (replica/state/key_generation.h).
//
// How it works. The state machine decides, in log order, what every replica's messages do;
// this part decides what this replica says, from the committed state alone, so it needs no
// memory of its own that a crash could lose or a state transfer could contradict:
//   - its encryption key is made here on the first start and kept in `dir` (0600); only
//     its public half leaves, in a DkgKeyAnnouncement;
//   - once the run started it deals one Part, and Acks every Part whose row for it checks
//     out; a row that does not is logged and never acked (the state's 2f+1-ack rule then
//     leaves that dealer out unless enough others vouch for it);
//   - while 2f+1 keys are announced and the grace has passed on its own clock, it pokes;
//   - once the run finished it computes its share from the Acks in the state, writes it to
//     `dir`/tdh2.share (0600) and from then on makes decryption shares with it.
// Each message goes through the ordered log like a client request (its own mempool), signed
// with the reply key. Reconcile is idempotent: it resends a message that has not reached
// the state after resend_interval_ms and is no longer pending here, and does nothing once
// the state has it. Core thread only; not thread-safe.
#ifndef BELFRY_REPLICA_NODE_KEYS_KEY_GENERATION_DRIVER_H_
#define BELFRY_REPLICA_NODE_KEYS_KEY_GENERATION_DRIVER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/rng.h"
#include "proto/service.pb.h"
#include "replica/node/effects/core_log.h"
#include "replica/node/reply_signer.h"
#include "replica/state/config.h"
#include "replica/state/state_view.h"
#include "threshold/dkg/encryption_key.h"
#include "threshold/tdh2.h"

namespace belfry::replica {

class KeyGenerationDriver {
 public:
  struct Options {
    int64_t resend_interval_ms = 3000;  // a message not in the state by then goes again
    // Test-only (belfry-replica-byzantine): rewrites each message before it is signed;
    // returning false withholds it. Null in production.
    std::function<bool(pb::ReplicaMessage&)> tamper;
  };
  // A request to put into the log: its id (DigestString) and bytes.
  struct Submission {
    std::string id;
    std::string bytes;
  };

  // Reads `dir`/dkg.key, or makes it (0600) on the first start. `config`, `signer` and
  // `rng` are borrowed and must outlive the driver. Fails when the key file is unreadable,
  // has a bad mode or does not parse, or `dir` cannot be written.
  static absl::StatusOr<std::unique_ptr<KeyGenerationDriver>> Create(
      const state::Config& config, uint32_t self, std::string dir, const ReplySigner& signer,
      Rng& rng, CoreLogger* logger, Options options);

  // What this replica should put into the log now, given the committed state. `pending`
  // says whether a request id is still waiting here (mempool or a running epoch). A
  // non-OK status is local trouble (unreadable state, key file not writable).
  absl::StatusOr<std::vector<Submission>> Reconcile(
      const state::StateReader& state, int64_t now_ms,
      const std::function<bool(const std::string& id)>& pending);

  // This replica's decryption share maker once it holds its share; null before, and for
  // good when the run finished without a share for it (it announced no key in time).
  const threshold::DecryptionShareProvider* decryption() const { return decryption_.get(); }
  // Whether the run finished and this replica is done with it (share or not).
  bool done() const { return done_; }

 private:
  KeyGenerationDriver(const state::Config& config, uint32_t self, std::string dir,
                      const ReplySigner& signer, Rng& rng, CoreLogger* logger, Options options,
                      threshold::dkg::EncryptionKeyPair key)
      : config_(config), self_(self), dir_(std::move(dir)), signer_(signer), rng_(rng),
        logger_(logger), options_(options), key_(std::move(key)) {}

  // The signed request bytes of `message` from this replica.
  std::string Sign(pb::ReplicaMessage message) const;
  // Queues `bytes` under `slot` unless it is pending or was sent recently.
  void Offer(const std::string& slot, const std::function<std::string()>& make, int64_t now_ms,
             const std::function<bool(const std::string&)>& pending,
             std::vector<Submission>* out);
  absl::Status InstallShare(const state::StateReader& state);

  const state::Config& config_;
  const uint32_t self_;
  const std::string dir_;
  const ReplySigner& signer_;
  Rng& rng_;
  CoreLogger* const logger_;
  const Options options_;
  threshold::dkg::EncryptionKeyPair key_;

  struct Sent {
    Submission submission;
    int64_t at_ms = 0;
  };
  std::map<std::string, Sent> sent_;     // by slot: "key", "poke", "part", "ack/<dealer>"
  std::set<uint32_t> bad_rows_;          // dealers whose row for us failed its check
  std::unique_ptr<threshold::DecryptionShareProvider> decryption_;
  bool done_ = false;
};

}  // namespace belfry::replica

#endif  // BELFRY_REPLICA_NODE_KEYS_KEY_GENERATION_DRIVER_H_
