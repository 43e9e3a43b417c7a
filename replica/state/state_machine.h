// replica/state/state_machine.h — the 3S rules as a deterministic state machine.
//
// How it works. Consensus hands every replica the same ordered batch of request bytes and
// the same consensus time. ExecuteBatch runs them one after another against a StateView
// and returns one Executed per request, in order. The outcome depends only on (state,
// epoch, consensus time, request bytes): no clock, randomness, thread timing or unordered
// iteration is read, and every message text is fixed, so every correct replica produces
// byte-identical results and writes. Each request is checked in three stages:
//   1. stateless (precheck.h): size, shape, cluster id, names, limits, signatures and
//      ciphertext proofs. A refusal here changes nothing;
//   2. authentication against state: a login's certificate and signature at consensus
//      time, or the session's existence, sequence window, liveness and expiry. A refusal
//      here changes nothing either;
//   3. the operation itself (3S rights, document existence, grant limits, label reuse).
//      Its outcome, success or refusal, is recorded in the session's window under its seq,
//      so a byte-identical retransmission gets the original result and a replay of a
//      refused request can never succeed later.
// The rules, statuses and key layout are documented in README.md beside this file.
#ifndef BELFRY_REPLICA_STATE_STATE_MACHINE_H_
#define BELFRY_REPLICA_STATE_STATE_MACHINE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "base/bytes.h"
#include "pki/certificate.h"
#include "proto/service.pb.h"
#include "replica/state/ciphertext_check.h"
#include "replica/state/config.h"
#include "replica/state/state_view.h"
#include "wire/request_format.h"

namespace belfry::state {

// DecryptionAuthorization: the state machine's permission for this replica to produce its
// decryption share for exactly this (label, ciphertext) — emitted only by an authorized
// checkout of a confidential document that still exists. The reply stage makes the share.
struct DecryptionAuthorization {
  Bytes label;
  std::string ciphertext;
  Bytes recipient_key;  // the checkout's reply_public_key: the share is sealed to it
};

// Which operation a request asked for, as far as it could be parsed (for counters).
enum class Operation : uint8_t {
  kUnparsed, kLogin, kCheckIn, kCheckOut, kGrant, kDelete, kLogout, kRevoke, kStamp,
  kReplica, kKeys
};
// "unparsed", "login", "checkin", "checkout", "grant", "delete", "logout", "revoke",
// "stamp", "replica", "keys".
const char* OperationName(Operation op);

// Executed: the outcome of one ordered request.
struct Executed {
  wire::Digest request_id{};  // SHA-256 of the request bytes
  Operation op = Operation::kUnparsed;
  pb::Result result;
  std::string uid;           // the authenticated user; empty if authentication failed
  bool retransmission = false;  // result is the stored original of an earlier execution
  uint64_t original_epoch = 0;  // epoch of the first execution (this one if not retransmitted)
  std::optional<DecryptionAuthorization> decryption;
};

// StateMachine: immutable after creation; ExecuteBatch is const and may run on any
// thread, provided the CaBundle and CiphertextCheck it borrows are thread-safe and
// outlive it.
class StateMachine {
 public:
  // INVALID_ARGUMENT when config.Validate() fails.
  static absl::StatusOr<StateMachine> Create(Config config, const pki::CaBundle& ca,
                                             const CiphertextCheck& ciphertexts);

  // Executes `requests` in order at `consensus_time_ms` (milliseconds since the Unix
  // epoch, non-negative and below 2^53), reading and writing through `view`. Client
  // mistakes become Result statuses. A non-OK Status means local trouble — an unreadable
  // or corrupt record (DATA_LOSS), an I/O error, or a bad argument — and the view must
  // then be discarded, not committed.
  //
  // `crypto_verified`, when given, names requests whose VerifyRequestCrypto already passed
  // on these exact bytes (the replica's admission check, keyed by request id = SHA-256 of
  // the bytes): their signature and ciphertext checks are not repeated. The check is a
  // pure function of the bytes, so results are identical with or without it.
  absl::StatusOr<std::vector<Executed>> ExecuteBatch(
      StateView& view, uint64_t epoch, int64_t consensus_time_ms,
      const std::vector<std::string>& requests,
      const std::function<bool(const wire::Digest& request_id)>& crypto_verified = {}) const;

  const Config& config() const { return config_; }

 private:
  StateMachine(Config config, const pki::CaBundle& ca, const CiphertextCheck& ciphertexts)
      : config_(std::move(config)), ca_(&ca), ciphertexts_(&ciphertexts) {}

  Config config_;
  const pki::CaBundle* ca_;
  const CiphertextCheck* ciphertexts_;
};

}  // namespace belfry::state

#endif  // BELFRY_REPLICA_STATE_STATE_MACHINE_H_
