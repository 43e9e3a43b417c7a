// replica/state/precheck.h — the stateless half of request validation.
//
// Everything about a request that does not depend on replica state is checked here:
// size (before any parsing), protobuf shape with no unknown fields, the cluster id, every
// field's length, document and user names, grant parameters, the session-op signature,
// the login's proof of the session key, and a confidential checkin's ciphertext. The
// mempool runs PrecheckRequest so that garbage never reaches consensus; the state machine
// runs the same checks again at execution, because a Byzantine replica may propose
// anything. A request refused here changes no state.
#ifndef BELFRY_REPLICA_STATE_PRECHECK_H_
#define BELFRY_REPLICA_STATE_PRECHECK_H_

#include <string>
#include <string_view>

#include "proto/service.pb.h"
#include "replica/state/ciphertext_check.h"
#include "replica/state/config.h"

namespace belfry::state {

// The largest stamp nonce: 160 bits, as evidence::kNonceBitsMax.
inline constexpr size_t kStampNonceBytesMax = 20;

// Verdict: a status from service.proto and a deterministic one-line reason.
struct Verdict {
  pb::Status status = pb::STATUS_OK;
  std::string message;
  bool ok() const { return status == pb::STATUS_OK; }
};

// ParsedRequest: a request whose shape ParseRequest accepted.
struct ParsedRequest {
  pb::SignedRequest signed_request;
  pb::RequestBody body;
};

// ParseRequest: size bound, parse, unknown fields, cluster id, field shapes, names and
// grant parameters; fills *out on success. Cheap (no signature or group operation).
// Statuses: MALFORMED_REQUEST, WRONG_CLUSTER, INVALID_DOCUMENT_NAME, DOCUMENT_TOO_LARGE,
// INVALID_CIPHERTEXT (length only), INVALID_GRANT, STAMP_BAD_ALGORITHM, STAMP_BAD_HASH,
// STAMP_BAD_NONCE. Thread-safe.
Verdict ParseRequest(const Config& config, std::string_view request_bytes, ParsedRequest* out);

// VerifyRequestCrypto: the stateless cryptographic checks of a parsed request: a session
// op's signature (BAD_SIGNATURE), a login's session-key proof (LOGIN_BAD_SESSION_PROOF),
// and a confidential checkin's ciphertext against its label (INVALID_CIPHERTEXT). A
// login's signature needs its certificate verified at consensus time, so only the state
// machine checks it. Thread-safe when `ciphertexts` is.
Verdict VerifyRequestCrypto(const Config& config, const CiphertextCheck& ciphertexts,
                            const ParsedRequest& request);

// PrecheckRequest: ParseRequest then VerifyRequestCrypto — the mempool's admission test.
Verdict PrecheckRequest(const Config& config, const CiphertextCheck& ciphertexts,
                        std::string_view request_bytes);

}  // namespace belfry::state

#endif  // BELFRY_REPLICA_STATE_PRECHECK_H_
