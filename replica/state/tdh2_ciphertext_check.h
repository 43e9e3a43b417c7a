// replica/state/tdh2_ciphertext_check.h — the production CiphertextCheck: TDH2 validity
// under the cluster's TDH2 public key set (threshold/tdh2.h).
#ifndef BELFRY_REPLICA_STATE_TDH2_CIPHERTEXT_CHECK_H_
#define BELFRY_REPLICA_STATE_TDH2_CIPHERTEXT_CHECK_H_

#include <string_view>

#include "absl/status/status.h"
#include "replica/state/ciphertext_check.h"
#include "threshold/keys.h"

namespace belfry::state {

// Tdh2CiphertextCheck: parses the serialized threshold::Ciphertext (bounded by
// threshold::kCiphertextBytesMax), requires its label to equal the expected label, and
// runs threshold::VerifyCiphertext. Immutable; thread-safe.
class Tdh2CiphertextCheck final : public CiphertextCheck {
 public:
  explicit Tdh2CiphertextCheck(threshold::PublicKeySet keys) : keys_(std::move(keys)) {}

  absl::Status Check(std::string_view ciphertext, ByteSpan label) const override;

 private:
  threshold::PublicKeySet keys_;
};

}  // namespace belfry::state

#endif  // BELFRY_REPLICA_STATE_TDH2_CIPHERTEXT_CHECK_H_
