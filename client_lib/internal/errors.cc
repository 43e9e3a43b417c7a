#include "client_lib/internal/errors.h"

#include <cstdint>
#include <optional>

#include "absl/strings/cord.h"
#include "absl/types/optional.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "wire/request_format.h"

namespace belfry {
namespace {

absl::StatusCode CodeFor(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kOk:
      return absl::StatusCode::kOk;
    case ErrorKind::kInvalidInput:
      return absl::StatusCode::kInvalidArgument;
    case ErrorKind::kNotLoggedIn:
      return absl::StatusCode::kUnauthenticated;
    case ErrorKind::kAccessDenied:
      return absl::StatusCode::kPermissionDenied;
    case ErrorKind::kNoSuchDocument:
      return absl::StatusCode::kNotFound;
    case ErrorKind::kIntegrity:
      return absl::StatusCode::kDataLoss;
    case ErrorKind::kNoQuorum:
      return absl::StatusCode::kDeadlineExceeded;
    case ErrorKind::kOther:
      return absl::StatusCode::kFailedPrecondition;
  }
  return absl::StatusCode::kUnknown;
}

std::optional<int64_t> IntPayload(const absl::Status& status, const char* url) {
  absl::optional<absl::Cord> payload = status.GetPayload(url);
  if (!payload.has_value()) return std::nullopt;
  int64_t value = 0;
  if (!absl::SimpleAtoi(std::string(*payload), &value)) return std::nullopt;
  return value;
}

}  // namespace

int ExitCodeFor(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kOk:
      return 0;
    case ErrorKind::kInvalidInput:
      return 2;
    case ErrorKind::kNotLoggedIn:
      return 3;
    case ErrorKind::kAccessDenied:
      return 4;
    case ErrorKind::kNoSuchDocument:
      return 5;
    case ErrorKind::kIntegrity:
      return 6;
    case ErrorKind::kNoQuorum:
      return 7;
    case ErrorKind::kOther:
      return 1;
  }
  return 1;
}

// One case per value on purpose (no default grouping), so a new status cannot slip into
// a class by accident; the table is replica/state/README.md's "class" column.
ErrorKind ErrorKindOfServiceStatus(pb::Status status) {
  switch (status) {
    case pb::STATUS_OK:
      return ErrorKind::kOk;
    case pb::STATUS_ACCESS_DENIED:
      return ErrorKind::kAccessDenied;
    case pb::STATUS_NO_SUCH_DOCUMENT:
      return ErrorKind::kNoSuchDocument;
    case pb::STATUS_INTEGRITY_FAILURE:
      return ErrorKind::kIntegrity;
    case pb::STATUS_MALFORMED_REQUEST:
      return ErrorKind::kInvalidInput;
    case pb::STATUS_WRONG_CLUSTER:
      return ErrorKind::kOther;
    case pb::STATUS_LOGIN_BAD_CERTIFICATE:
      return ErrorKind::kNotLoggedIn;
    case pb::STATUS_LOGIN_WRONG_ROLE:
      return ErrorKind::kNotLoggedIn;
    case pb::STATUS_LOGIN_UID_MISMATCH:
      return ErrorKind::kNotLoggedIn;
    case pb::STATUS_LOGIN_BAD_SIGNATURE:
      return ErrorKind::kNotLoggedIn;
    case pb::STATUS_LOGIN_BAD_SESSION_PROOF:
      return ErrorKind::kNotLoggedIn;
    case pb::STATUS_LOGIN_STALE:
      return ErrorKind::kNotLoggedIn;
    case pb::STATUS_SESSION_KEY_REUSED:
      return ErrorKind::kNotLoggedIn;
    case pb::STATUS_LOGIN_REVOKED:
      return ErrorKind::kNotLoggedIn;
    case pb::STATUS_USER_REVOKED:
      return ErrorKind::kNotLoggedIn;
    case pb::STATUS_REVOCATION_INVALID:
      return ErrorKind::kOther;
    case pb::STATUS_SESSION_UNKNOWN:
      return ErrorKind::kNotLoggedIn;
    case pb::STATUS_SESSION_EXPIRED:
      return ErrorKind::kNotLoggedIn;
    case pb::STATUS_SESSION_ENDED:
      return ErrorKind::kNotLoggedIn;
    case pb::STATUS_BAD_SIGNATURE:
      return ErrorKind::kOther;
    case pb::STATUS_REPLAYED_SEQUENCE:
      return ErrorKind::kOther;
    case pb::STATUS_RESULT_UNAVAILABLE:
      return ErrorKind::kOther;
    case pb::STATUS_NOT_REQUESTER:
      return ErrorKind::kAccessDenied;
    case pb::STATUS_INVALID_DOCUMENT_NAME:
      return ErrorKind::kInvalidInput;
    case pb::STATUS_DOCUMENT_TOO_LARGE:
      return ErrorKind::kInvalidInput;
    case pb::STATUS_INVALID_CIPHERTEXT:
      return ErrorKind::kInvalidInput;
    case pb::STATUS_LABEL_REUSED:
      return ErrorKind::kOther;
    case pb::STATUS_INVALID_GRANT:
      return ErrorKind::kInvalidInput;
    case pb::STATUS_TOO_MANY_GRANTS:
      return ErrorKind::kOther;
    case pb::STATUS_STAMP_BAD_ALGORITHM:
      return ErrorKind::kInvalidInput;
    case pb::STATUS_STAMP_BAD_HASH:
      return ErrorKind::kInvalidInput;
    case pb::STATUS_STAMP_BAD_NONCE:
      return ErrorKind::kInvalidInput;
    case pb::STATUS_KEYS_NOT_READY:
      return ErrorKind::kOther;
    case pb::STATUS_REPLICA_MESSAGE_INVALID:
      return ErrorKind::kInvalidInput;
    case pb::STATUS_DKG_REFUSED:
      return ErrorKind::kInvalidInput;
    case pb::STATUS_UNSPECIFIED:
      return ErrorKind::kOther;
    default:
      return ErrorKind::kOther;
  }
}

ErrorKind ErrorKindOf(const absl::Status& status) {
  if (status.ok()) return ErrorKind::kOk;
  std::optional<int64_t> kind = IntPayload(status, client::internal::kErrorKindPayload);
  if (!kind.has_value() || *kind <= static_cast<int64_t>(ErrorKind::kOk) ||
      *kind > static_cast<int64_t>(ErrorKind::kOther)) {
    return ErrorKind::kOther;
  }
  return static_cast<ErrorKind>(*kind);
}

std::optional<pb::Status> ServiceStatusOf(const absl::Status& status) {
  std::optional<int64_t> value = IntPayload(status, client::internal::kServiceStatusPayload);
  if (!value.has_value() || !pb::Status_IsValid(static_cast<int>(*value))) return std::nullopt;
  return static_cast<pb::Status>(*value);
}

namespace client::internal {

absl::Status MakeError(ErrorKind kind, const std::string& message) {
  absl::Status status(CodeFor(kind == ErrorKind::kOk ? ErrorKind::kOther : kind), message);
  status.SetPayload(kErrorKindPayload, absl::Cord(absl::StrCat(static_cast<int>(kind))));
  return status;
}

absl::Status ServiceError(pb::Status status, const std::string& message) {
  absl::Status out = MakeError(
      ErrorKindOfServiceStatus(status),
      absl::StrCat(message.empty() ? wire::StatusName(status) : message, " (",
                   wire::StatusName(status), ", 3S ", wire::ThreeSCode(status), ")"));
  out.SetPayload(kServiceStatusPayload, absl::Cord(absl::StrCat(static_cast<int>(status))));
  return out;
}

absl::Status WithKind(absl::Status status, ErrorKind kind) {
  if (status.ok() || status.GetPayload(kErrorKindPayload).has_value()) return status;
  status.SetPayload(kErrorKindPayload, absl::Cord(absl::StrCat(static_cast<int>(kind))));
  return status;
}

}  // namespace client::internal
}  // namespace belfry
