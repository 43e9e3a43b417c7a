// replica/state/ciphertext_check.h — the validity check of a confidential document's key
// ciphertext, as an injected dependency of the state machine.
//
// The state machine accepts a TDH2 ciphertext only if it is valid (its proof verifies,
// so no replica will later be asked to decrypt garbage or a re-labelled ciphertext) and
// carries exactly the document's label. The check is a narrow interface so that the
// state machine stays independent of the key material's loading, and tests of the 3S
// rules can run without a dealt key set. Production uses Tdh2CiphertextCheck.
#ifndef BELFRY_REPLICA_STATE_CIPHERTEXT_CHECK_H_
#define BELFRY_REPLICA_STATE_CIPHERTEXT_CHECK_H_

#include <string_view>

#include "absl/status/status.h"
#include "base/bytes.h"

namespace belfry::state {

// CiphertextCheck: decides whether a serialized ciphertext is valid for a label.
// Implementations must be deterministic (the same answer at every replica, always) and
// thread-safe.
class CiphertextCheck {
 public:
  virtual ~CiphertextCheck() = default;
  // OK when `ciphertext` parses, its validity proof verifies and its label equals
  // `label` byte for byte; INVALID_ARGUMENT otherwise.
  virtual absl::Status Check(std::string_view ciphertext, ByteSpan label) const = 0;
};

}  // namespace belfry::state

#endif  // BELFRY_REPLICA_STATE_CIPHERTEXT_CHECK_H_
