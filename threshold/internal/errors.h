// threshold/internal/errors.h — building the statuses described in threshold/errors.h.
#ifndef BELFRY_THRESHOLD_INTERNAL_ERRORS_H_
#define BELFRY_THRESHOLD_INTERNAL_ERRORS_H_

#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "threshold/errors.h"

namespace belfry::threshold::internal {

// Debian 12's Abseil has its own string_view type; this converts at the boundary.
inline absl::string_view Absl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// A status with the code that `error` documents, `message`, and `error` as its payload.
absl::Status MakeError(ThresholdError error, std::string_view message);

// `status` (a failed system call on a file, base/files.h) marked kFileIo, keeping its code
// and message.
absl::Status WithFileIoPayload(absl::Status status);

}  // namespace belfry::threshold::internal

#endif  // BELFRY_THRESHOLD_INTERNAL_ERRORS_H_
