#include "threshold/errors.h"

#include <cstring>
#include <string>
#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "threshold/internal/errors.h"

namespace belfry::threshold {
namespace {

// The payload's type URL; its value is the enumerator's decimal number.
constexpr absl::string_view kPayloadUrl = "belfry.threshold/ThresholdError";

absl::StatusCode CodeOf(ThresholdError error) {
  switch (error) {
    case ThresholdError::kMalformed:
    case ThresholdError::kNonCanonicalPoint:
    case ThresholdError::kIdentityPoint:
    case ThresholdError::kNonCanonicalScalar:
    case ThresholdError::kInvalidParameters:
    case ThresholdError::kDuplicateIndex:
      return absl::StatusCode::kInvalidArgument;
    case ThresholdError::kTooLarge:
      return absl::StatusCode::kResourceExhausted;
    case ThresholdError::kIndexOutOfRange:
      return absl::StatusCode::kOutOfRange;
    case ThresholdError::kNotEnoughShares:
    case ThresholdError::kKeyMismatch:
    case ThresholdError::kInsecureFileMode:
    case ThresholdError::kUnknownDealing:
    case ThresholdError::kNotDone:
      return absl::StatusCode::kFailedPrecondition;
    case ThresholdError::kDuplicateMessage:
      return absl::StatusCode::kAlreadyExists;
    case ThresholdError::kDecryptionFailed:
      return absl::StatusCode::kDataLoss;
    case ThresholdError::kSenderMismatch:
    case ThresholdError::kLabelMismatch:
      return absl::StatusCode::kPermissionDenied;
    case ThresholdError::kInvalidShareProof:
    case ThresholdError::kInvalidCiphertext:
    case ThresholdError::kInvalidSignature:
    case ThresholdError::kCommitmentMismatch:
      return absl::StatusCode::kUnauthenticated;
    case ThresholdError::kFileIo:
      return absl::StatusCode::kInternal;
  }
  return absl::StatusCode::kInternal;
}

absl::Status WithPayload(absl::Status status, ThresholdError error) {
  status.SetPayload(kPayloadUrl, absl::Cord(absl::StrCat(static_cast<int>(error))));
  return status;
}

}  // namespace

std::optional<ThresholdError> ThresholdErrorOf(const absl::Status& status) {
  if (status.ok()) return std::nullopt;
  absl::optional<absl::Cord> payload = status.GetPayload(kPayloadUrl);
  if (!payload.has_value()) return std::nullopt;
  int value = 0;
  if (!absl::SimpleAtoi(std::string(*payload), &value)) return std::nullopt;
  if (value < static_cast<int>(ThresholdError::kMalformed) ||
      value > static_cast<int>(ThresholdError::kNotDone)) {
    return std::nullopt;
  }
  return static_cast<ThresholdError>(value);
}

std::string_view ThresholdErrorName(ThresholdError error) {
  switch (error) {
    case ThresholdError::kMalformed: return "Malformed";
    case ThresholdError::kNonCanonicalPoint: return "NonCanonicalPoint";
    case ThresholdError::kIdentityPoint: return "IdentityPoint";
    case ThresholdError::kNonCanonicalScalar: return "NonCanonicalScalar";
    case ThresholdError::kInvalidParameters: return "InvalidParameters";
    case ThresholdError::kTooLarge: return "TooLarge";
    case ThresholdError::kIndexOutOfRange: return "IndexOutOfRange";
    case ThresholdError::kDuplicateIndex: return "DuplicateIndex";
    case ThresholdError::kNotEnoughShares: return "NotEnoughShares";
    case ThresholdError::kSenderMismatch: return "SenderMismatch";
    case ThresholdError::kLabelMismatch: return "LabelMismatch";
    case ThresholdError::kInvalidShareProof: return "InvalidShareProof";
    case ThresholdError::kInvalidCiphertext: return "InvalidCiphertext";
    case ThresholdError::kKeyMismatch: return "KeyMismatch";
    case ThresholdError::kInsecureFileMode: return "InsecureFileMode";
    case ThresholdError::kFileIo: return "FileIo";
    case ThresholdError::kInvalidSignature: return "InvalidSignature";
    case ThresholdError::kDecryptionFailed: return "DecryptionFailed";
    case ThresholdError::kCommitmentMismatch: return "CommitmentMismatch";
    case ThresholdError::kUnknownDealing: return "UnknownDealing";
    case ThresholdError::kDuplicateMessage: return "DuplicateMessage";
    case ThresholdError::kNotDone: return "NotDone";
  }
  return "Unknown";
}

namespace internal {

absl::Status MakeError(ThresholdError error, std::string_view message) {
  return WithPayload(absl::Status(CodeOf(error), Absl(message)), error);
}

absl::Status WithFileIoPayload(absl::Status status) {
  return WithPayload(std::move(status), ThresholdError::kFileIo);
}

}  // namespace internal
}  // namespace belfry::threshold
