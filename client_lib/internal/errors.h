// client_lib/internal/errors.h — building the Statuses client.h documents.
//
// Every error the library returns carries its ErrorKind as a payload, and a refusal by the
// cluster also carries the 3S status, so callers classify errors by what happened rather
// than by parsing messages. The absl code is chosen to match the kind (INVALID_ARGUMENT,
// UNAUTHENTICATED, PERMISSION_DENIED, NOT_FOUND, DATA_LOSS, DEADLINE_EXCEEDED), so code
// that only looks at absl codes still does something sensible.
#ifndef BELFRY_CLIENT_LIB_INTERNAL_ERRORS_H_
#define BELFRY_CLIENT_LIB_INTERNAL_ERRORS_H_

#include <string>

#include "absl/status/status.h"
#include "client_lib/client.h"
#include "proto/service.pb.h"

namespace belfry::client::internal {

// Payload type URLs.
inline constexpr char kErrorKindPayload[] = "type.belfry.dev/belfry.ErrorKind";
inline constexpr char kServiceStatusPayload[] = "type.belfry.dev/belfry.pb.Status";

// An error of `kind` with `message`, marked so ErrorKindOf finds the kind.
absl::Status MakeError(ErrorKind kind, const std::string& message);

// The cluster's refusal `status` (with the 3S code and the replicas' message), marked
// with its kind and the status value.
absl::Status ServiceError(pb::Status status, const std::string& message);

// `status` with its kind set to `kind` when it has none yet (keeps code and message).
absl::Status WithKind(absl::Status status, ErrorKind kind);

}  // namespace belfry::client::internal

#endif  // BELFRY_CLIENT_LIB_INTERNAL_ERRORS_H_
