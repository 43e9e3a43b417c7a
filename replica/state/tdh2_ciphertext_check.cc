#include "replica/state/tdh2_ciphertext_check.h"

#include "threshold/tdh2.h"

namespace belfry::state {

absl::Status Tdh2CiphertextCheck::Check(std::string_view ciphertext, ByteSpan label) const {
  absl::StatusOr<threshold::Ciphertext> ct = threshold::Ciphertext::Parse(AsBytes(ciphertext));
  if (!ct.ok()) {
    return absl::InvalidArgumentError("the key ciphertext does not parse");
  }
  // The label is compared before the proof is checked: it is cheap, and a valid
  // ciphertext for another document must be refused all the same.
  if (ct->label != AsStringView(label)) {
    return absl::InvalidArgumentError("the key ciphertext carries another label");
  }
  if (!threshold::VerifyCiphertext(keys_, *ct).ok()) {
    return absl::InvalidArgumentError("the key ciphertext's proof does not verify");
  }
  return absl::OkStatus();
}

}  // namespace belfry::state
