// threshold/errors.h — the specific reasons threshold/ refuses an input.
//
// Every failure in threshold/ is an absl::Status whose code is the coarse category and
// whose payload names one ThresholdError, so a caller (or a test) can tell a forged proof
// from a duplicated share even where two reasons share a code. Peers' bad shares and
// ciphertexts are expected input, never a crash; threshold/README.md lists each reason.
#ifndef BELFRY_THRESHOLD_ERRORS_H_
#define BELFRY_THRESHOLD_ERRORS_H_

#include <cstdint>
#include <optional>
#include <string_view>

#include "absl/status/status.h"

namespace belfry::threshold {

// ThresholdError: why an input was refused. The status code each reason carries is given
// beside it; both are stable API (tests assert them).
enum class ThresholdError : uint8_t {
  kMalformed = 1,       // INVALID_ARGUMENT: undecodable bytes, missing/wrong-sized/unknown field
  kNonCanonicalPoint,   // INVALID_ARGUMENT: not a canonical ristretto255 encoding
  kIdentityPoint,       // INVALID_ARGUMENT: the identity where a real group element belongs
  kNonCanonicalScalar,  // INVALID_ARGUMENT: scalar encoding not below the group order
  kInvalidParameters,   // INVALID_ARGUMENT: (n, f) outside 0 <= f < n <= kParticipantsMax
  kTooLarge,            // RESOURCE_EXHAUSTED: a name, label or file beyond its limit
  kIndexOutOfRange,     // OUT_OF_RANGE: share index 0 or greater than n
  kDuplicateIndex,      // INVALID_ARGUMENT: the same share index twice in one set
  kNotEnoughShares,     // FAILED_PRECONDITION: fewer than f+1 distinct shares
  kSenderMismatch,      // PERMISSION_DENIED: a share claims an index its sender does not own
  kLabelMismatch,       // PERMISSION_DENIED: ciphertext label is not the authorized label
  kInvalidShareProof,   // UNAUTHENTICATED: a share's DLEQ proof fails (forged, other name/label)
  kInvalidCiphertext,   // UNAUTHENTICATED: a TDH2 ciphertext's validity proof fails
  kKeyMismatch,         // FAILED_PRECONDITION: key material that does not fit together
  kInsecureFileMode,    // FAILED_PRECONDITION: a secret key file readable by group/others
  kFileIo,              // code from errno: a key file cannot be opened, read or written
  kInvalidSignature,    // UNAUTHENTICATED: a threshold RSA signature that does not verify
  kDecryptionFailed,    // DATA_LOSS: a DKG row or value that does not open with the node's key
  kCommitmentMismatch,  // UNAUTHENTICATED: a DKG row or value off the dealer's commitment
  kUnknownDealing,      // FAILED_PRECONDITION: a DKG Ack for a Part not (yet) added
  kDuplicateMessage,    // ALREADY_EXISTS: a second DKG Part from a dealer, or Ack for one Part
  kNotDone,             // FAILED_PRECONDITION: a DKG result asked for before it is decided
};

// The ThresholdError attached to `status`, or nullopt if it carries none (OK statuses,
// statuses from elsewhere). Thread-safe.
std::optional<ThresholdError> ThresholdErrorOf(const absl::Status& status);

// The enumerator's name without the leading 'k' ("InvalidShareProof"), for logs.
std::string_view ThresholdErrorName(ThresholdError error);

}  // namespace belfry::threshold

#endif  // BELFRY_THRESHOLD_ERRORS_H_
