// client_lib/client.h — the Belfry client library: what an application links to use a
// Belfry cluster as its Secure Shared Store.
//
// How it works. A Client holds one mutual-TLS connection to every replica of the cluster
// named by cluster.conf, authenticated with the user's certificate. Every request is
// signed (a login with the user's long-term key, every later operation with the session
// key the login registered), sent to all replicas, and answered only once 2f+1 replicas
// returned byte-identical, validly signed replies (ReplyQuorum): no f replicas, however
// they lie, can make the client accept a wrong result. A request that has no answer after
// `retransmit_after` is sent again byte for byte to the replicas that have not answered
// (replicas execute it once and return the original result; a request above 64 KiB goes
// again only where a replica said it was overloaded, or over a new connection), and
// everything unanswered is resent whenever a connection is re-established; after
// `deadline` the call gives up with ErrorKind::kNoQuorum. A refusal that f+1 replicas
// signed in their (deterministic) admission check is final.
//
// Confidential documents never leave the client unencrypted: CheckIn seals the data with
// a fresh AES-256-GCM key and encrypts that key under the cluster's threshold (TDH2) key;
// CheckOut verifies each replica's decryption share, combines f+1 valid ones and opens
// the document. Integrity documents come back with f+1 or more replica signatures over
// (document, version, SHA-256, flags): an IntegrityCertificate anyone holding cluster.conf
// can check offline (VerifyIntegrityCertificate).
//
// Errors. Every call returns absl::Status / absl::StatusOr. When the cluster answered
// with a refusal, the Status carries the 3S status (ServiceStatusOf); every error the
// library produces carries an ErrorKind (ErrorKindOf), which ExitCodeFor turns into the
// `belfry` command's exit code. Nothing throws.
//
// Threads. A Client is thread-safe: any number of threads may call it at once, and all
// calls share the per-replica connections. To keep many requests in flight, call from
// several threads (or std::async); each call retransmits and times out on its own. At
// most in_flight_max() session operations are outstanding at once (further calls wait
// for a slot), so that sequence numbers stay inside the replicas' retransmission window.
#ifndef BELFRY_CLIENT_LIB_CLIENT_H_
#define BELFRY_CLIENT_LIB_CLIENT_H_

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/bytes.h"
#include "evidence/timestamp_request.h"
#include "proto/service.pb.h"

namespace belfry {

// ---- errors ----------------------------------------------------------------------------

// ErrorKind: how a failure is reported to a person. Each kind has one exit code of the
// `belfry` command (ExitCodeFor).
enum class ErrorKind : uint8_t {
  kOk = 0,
  kInvalidInput,    // exit 2: bad usage, a bad document name, size, grant or file
  kNotLoggedIn,     // exit 3: no session, login refused, session ended or expired
  kAccessDenied,    // exit 4: 3S 702
  kNoSuchDocument,  // exit 5: 3S 704
  kIntegrity,       // exit 6: 3S 703, or a document or certificate that fails its check
  kNoQuorum,        // exit 7: the cluster did not give 2f+1 matching replies in time
  kOther,           // exit 1: every other failure (3S 700)
};

// The exit code for `kind`: kOk 0, kInvalidInput 2, kNotLoggedIn 3, kAccessDenied 4,
// kNoSuchDocument 5, kIntegrity 6, kNoQuorum 7, kOther 1.
int ExitCodeFor(ErrorKind kind);

// The ErrorKind of a 3S status, one explicit case per value (unknown values: kOther).
ErrorKind ErrorKindOfServiceStatus(pb::Status status);

// The ErrorKind a Status returned by this library carries; kOk for OK, kOther for a
// Status without one (for example from another library).
ErrorKind ErrorKindOf(const absl::Status& status);

// The 3S status inside `status` when the cluster refused the request (2f+1 matching
// replies, or f+1 matching signed admission refusals); nullopt for errors found locally
// or in transport.
std::optional<pb::Status> ServiceStatusOf(const absl::Status& status);

// ---- results ---------------------------------------------------------------------------

// ReplicaReport: what the client noticed about individual replicas while it obtained one
// result. Replicas that simply had not answered yet are not listed as faulty.
struct ReplicaReport {
  std::vector<uint32_t> agreeing;     // signed the accepted reply
  std::vector<uint32_t> disagreeing;  // validly signed a different reply for the request
  // Replica -> what was wrong: a bad signature, a bad decryption share, a bad integrity
  // signature, a malformed reply.
  std::map<uint32_t, std::string> faults;
  // Where the accepted reply says the request was ordered, as 2f+1 replicas signed it.
  // A retransmission ordered again after the request had executed is answered with the
  // original result in the later ordering, so these describe the ordering that answered,
  // which is never earlier than the execution. Fault-injection checks use them (epochs
  // and consensus time never go backwards across calls that follow each other).
  uint64_t epoch = 0;
  uint32_t position = 0;
  int64_t consensus_time_ms = 0;
};

// LoginInfo: an accepted login.
struct LoginInfo {
  std::string uid;
  int64_t session_expires_ms = 0;  // consensus time (ms since the Unix epoch)
  // The first sequence number the session has not used: 1, or 2 when the login had to be
  // confirmed with an operation of its own (see Client::Login). Whoever keeps the
  // session elsewhere continues from here.
  uint64_t next_seq = 1;
  ReplicaReport replicas;
};

// CheckInFlags: how a document is stored.
struct CheckInFlags {
  bool confidential = false;  // encrypted here; replicas hold ciphertext only
  bool integrity = false;     // the service signs (doc, version, SHA-256, flags)
};

// CheckInInfo: an accepted checkin.
struct CheckInInfo {
  std::string doc;
  uint64_t version = 0;
  std::array<uint8_t, 32> sha256{};  // of the stored bytes (the ciphertext if confidential)
  std::string owner;
  bool created = false;
  ReplicaReport replicas;
};

// IntegrityCertificate: the service key's signature over one version of a document, as a
// detached CMS SignedData (RFC 5652) whose signer is the service certificate
// (DIR/service.crt), and what it states. `der` is what `belfry checkout --integrity-cert`
// writes; anyone with ca.crt and service.crt checks it, with Belfry or with
//   openssl cms -verify -binary -inform DER -in CERT -content DOC -CAfile ca.crt
//                -certfile service.crt -purpose any
// `sha256` is the hash of the stored bytes: for a confidential document that is the
// encrypted form, so the plaintext alone cannot be checked against it. A value.
struct IntegrityCertificate {
  std::string der;
  std::string cluster_id;
  std::string doc;
  std::string owner;
  uint64_t version = 0;
  std::array<uint8_t, 32> sha256{};
  int64_t signing_time_ms = 0;  // the consensus time of the checkout, whole seconds
};

// Checks an integrity certificate (DER, at most 64 KiB) offline against `data`, the CA
// certificate at `ca_cert_path` and the service certificate at `service_cert_path`
// (PEM): the signature is the service key's, the service certificate chains to the CA
// and is valid now, and SHA-256(data) is the certified digest. Returns what it states.
// Errors: kInvalidInput for an unreadable file or an undecodable certificate; kIntegrity
// (DATA_LOSS) for any mismatch or a signature that does not verify.
absl::StatusOr<IntegrityCertificate> VerifyIntegrityCertificate(const std::string& ca_cert_path,
                                                                const std::string& service_cert_path,
                                                                const std::string& data,
                                                                const std::string& certificate_der);

// Document: a checked-out document, verified.
struct Document {
  std::string doc;
  std::string data;  // plaintext (decrypted here if confidential); the caller's to keep
  std::string owner;
  uint64_t version = 0;
  bool confidential = false;
  bool integrity = false;
  std::array<uint8_t, 32> sha256{};  // of the stored bytes
  // Present for integrity documents.
  std::optional<IntegrityCertificate> integrity_certificate;
  ReplicaReport replicas;
};

// TimeStampInfo: a granted RFC 3161 time-stamp, made through consensus.
struct TimeStampInfo {
  // DER TimeStampResp, status granted, with the token the service key signed; checked by
  // `openssl ts -verify ... -CAfile ca.crt -untrusted service.crt`.
  Bytes response_der;
  Bytes serial_number;     // the token's serialNumber, big-endian magnitude
  int64_t gen_time_ms = 0;  // the token's genTime: the consensus time of the ordering epoch
  ReplicaReport replicas;
};

// Rights a grant gives.
enum class Rights : uint8_t { kCheckIn, kCheckOut, kBoth };

// GrantTarget: one user, or every user (ALL).
struct GrantTarget {
  bool all_users = false;
  std::string uid;  // when !all_users
  static GrantTarget User(std::string uid) { return GrantTarget{false, std::move(uid)}; }
  static GrantTarget All() { return GrantTarget{true, ""}; }
};

// GrantInfo: an accepted grant.
struct GrantInfo {
  std::string doc;
  GrantTarget target;
  Rights rights = Rights::kBoth;
  int64_t expires_ms = 0;  // consensus time from which the grant no longer applies
  ReplicaReport replicas;
};

// OpInfo: an accepted delete or logout.
struct OpInfo {
  ReplicaReport replicas;
};

// ReplicaState: one replica's own signed view of itself (Client::QueryStatus).
struct ReplicaState {
  uint32_t replica = 0;
  std::string address;       // host:client_port from cluster.conf
  bool reachable = false;    // answered with a validly signed status in time
  std::string error;         // why not, when !reachable
  uint64_t next_epoch = 0;   // epochs committed so far
  int64_t consensus_time_ms = 0;
  uint64_t checkpoint_epoch = 0;
  uint64_t faults_seen = 0;
};

// ---- sessions ----------------------------------------------------------------------------

// SessionCredentials: a session's user, secret and expiry, for keeping a session across
// processes (the `belfry` command stores it in a 0600 file). Holds a secret: move-only,
// wiped on destruction and when moved from. Thread-compatible.
class SessionCredentials {
 public:
  SessionCredentials() = default;
  SessionCredentials(std::string uid, const std::array<uint8_t, 32>& seed, int64_t expires_ms);
  SessionCredentials(SessionCredentials&& other) noexcept;
  SessionCredentials& operator=(SessionCredentials&& other) noexcept;
  SessionCredentials(const SessionCredentials&) = delete;
  SessionCredentials& operator=(const SessionCredentials&) = delete;
  ~SessionCredentials();

  const std::string& uid() const { return uid_; }
  // SECRET: the Ed25519 seed of the session key. Never log it.
  const std::array<uint8_t, 32>& seed() const { return seed_; }
  int64_t expires_ms() const { return expires_ms_; }

 private:
  std::string uid_;
  std::array<uint8_t, 32> seed_{};
  int64_t expires_ms_ = 0;
};

// SequenceSource: hands out the sequence numbers of one session's operations, strictly
// increasing and never repeated (also across processes sharing the session). Called from
// any thread, so it must be thread-safe. An error aborts the operation that asked.
using SequenceSource = std::function<absl::StatusOr<uint64_t>()>;

// ---- the client ----------------------------------------------------------------------------

// Connection events (connect, disconnect, refusal; never payloads or keys) are logged one
// key=value line each, to stderr by default. `sink` receives each line instead; an empty
// function restores stderr. Process-wide; thread-safe.
void SetConnectionLogSink(std::function<void(const std::string&)> sink);

// ClientOptions: where the cluster and the user's identity are, and the time limits.
struct ClientOptions {
  std::string cluster_config_path;  // DIR/cluster.conf
  std::string user_cert_path;       // PEM certificate (TLS client identity, login)
  std::string user_key_path;        // PEM Ed25519 key, 0600
  // A call without 2f+1 matching replies by then fails with ErrorKind::kNoQuorum.
  std::chrono::milliseconds deadline{30000};
  // First retransmission of an unanswered request; the interval doubles up to 8 s.
  std::chrono::milliseconds retransmit_after{1000};
  std::chrono::milliseconds connect_timeout{3000};
};

// Client: see the file comment. Create with Connect; destroy, once no call on it is in
// progress, to close the connections (waits for the connection threads, at most about
// connect_timeout).
class Client {
 public:
  // Loads cluster.conf and the user's certificate and key, and starts connecting to every
  // replica in the background (unreachable replicas are retried; a call needs 2f+1).
  // Errors: kInvalidInput for an unreadable or invalid cluster.conf, certificate or key,
  // or a key that is not the certificate's.
  static absl::StatusOr<std::unique_ptr<Client>> Connect(ClientOptions options);

  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Logs `uid` in: a fresh session key, registered by a login signed with the user's
  // long-term key. `client_time_ms` must be strictly above this user's previous login
  // time and within the cluster's clock skew of consensus time; 0 means the wall clock.
  // On success the client uses the new session (sequence numbers from
  // LoginInfo::next_seq, counted here; see ResumeSession to share them). kNotLoggedIn when
  // the cluster refuses the login or the certificate is not `uid`'s.
  //
  // A copy of a login that reaches a replica after the login was executed may be ordered
  // again and found stale there. When 2f+1 replicas call the login stale, the client
  // therefore asks the cluster whether the new session exists (one checkout of an unused
  // name, sequence number 1) before reporting LOGIN_STALE; the session's expiry is then
  // the one a replica reported, capped at what cluster.conf allows.
  absl::StatusOr<LoginInfo> Login(const std::string& uid, int64_t client_time_ms = 0);

  // Uses an existing session (from ExportSession, possibly in another process), taking
  // sequence numbers from `sequence` (nullptr: a counter here starting at `first_seq`).
  void ResumeSession(SessionCredentials credentials, SequenceSource sequence,
                     uint64_t first_seq = 1);

  // The current session's credentials (a copy of the secret: wipe by destroying it).
  // kNotLoggedIn without a session.
  absl::StatusOr<SessionCredentials> ExportSession() const;

  // The 3S operations. Each checks its input here first (name, size, grant parameters:
  // kInvalidInput), needs a session (kNotLoggedIn), and returns the cluster's answer.
  absl::StatusOr<CheckInInfo> CheckIn(const std::string& doc, const std::string& data,
                                      CheckInFlags flags = {});
  // Verifies what comes back: SHA-256 against the certified hash, f+1 valid decryption
  // shares (confidential), f+1 valid integrity signatures (integrity); kIntegrity when
  // that fails.
  absl::StatusOr<Document> CheckOut(const std::string& doc);
  absl::StatusOr<GrantInfo> Grant(const std::string& doc, const GrantTarget& target,
                                  Rights rights, uint32_t seconds);
  absl::StatusOr<OpInfo> Delete(const std::string& doc);
  // Ends the session at the cluster and forgets it here.
  absl::StatusOr<OpInfo> Logout();
  // Submits an ordered revocation made by `belfry-setup revoke --user` (the bytes of its
  // DIR/revocations/UID.req). Needs a connection, not a session: the cluster CA's signature
  // is what the replicas check. REVOCATION_INVALID if no genesis CA signed it.
  absl::StatusOr<OpInfo> SubmitRevocation(const std::string& request_bytes);

  // Time-stamps `request` (an RFC 3161 request accepted by evidence::ParseTimeStampReq)
  // through consensus: the stamp is ordered like any session operation, every replica
  // signs a share over the token its reply body determines, and f+1 shares combine into
  // the service key's signature. Returns the DER TimeStampResp (granted). Needs a session
  // (kNotLoggedIn) and the service key and certificate cluster.conf names (kInvalidInput);
  // kIntegrity when the shares do not make a valid token (the faulty senders are named in
  // StampWithReport's report). Thread-safe.
  absl::StatusOr<Bytes> Stamp(const evidence::TimeStampRequest& request);
  absl::StatusOr<TimeStampInfo> StampWithReport(const evidence::TimeStampRequest& request);
  // Hashes the file at `path` here (SHA-256; only the hash is sent) and stamps it with a
  // fresh random 64-bit nonce and the service certificate in the token. kInvalidInput
  // when the file cannot be read.
  absl::StatusOr<TimeStampInfo> StampFile(const std::string& path);

  // Asks every replica for its signed status, waiting up to `timeout` in total. Never
  // fails as a whole: each entry says whether that replica answered.
  std::vector<ReplicaState> QueryStatus(std::chrono::milliseconds timeout);

  // Replicas and faults tolerated, from cluster.conf.
  uint32_t n() const;
  uint32_t f() const;
  const std::string& cluster_id() const;
  // Session operations outstanding at once, at most (see the file comment).
  uint32_t in_flight_max() const;

  class Impl;

 private:
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace belfry

#endif  // BELFRY_CLIENT_LIB_CLIENT_H_
