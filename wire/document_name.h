// wire/document_name.h — the syntax of document names and user ids.
//
// Names are checked by the client before it sends a request and again by every replica
// (in the mempool pre-check and at execution), so this header depends on nothing but
// Abseil and is linked through belfry_wire_format, which both sides link. The rules are
// part of the 3S contract (replica/state/README.md): a name that passes here is safe as a
// file name on the client's disk, as a log field and as a storage key.
#ifndef BELFRY_WIRE_DOCUMENT_NAME_H_
#define BELFRY_WIRE_DOCUMENT_NAME_H_

#include <cstddef>
#include <string_view>

#include "absl/status/status.h"

namespace belfry::wire {

// Longest document name, in bytes of UTF-8.
inline constexpr size_t kDocumentNameBytesMax = 255;
// Longest user id (the certificate's common name), in bytes of UTF-8; X.509 caps a
// common name at 64 characters.
inline constexpr size_t kUserIdBytesMax = 64;
// The grant target word that means "every user"; no user may be called this.
inline constexpr std::string_view kAllUsersWord = "ALL";

// ValidateDocumentName: OK when `name` is 1..kDocumentNameBytesMax bytes of valid UTF-8
// (shortest form, no surrogates, at most U+10FFFF) containing no '/', '\\', NUL, C0 or C1
// control character, DEL, line or paragraph separator, or bidirectional formatting
// character, and is neither "." nor "..". INVALID_ARGUMENT naming the first problem
// otherwise. Pure; thread-safe.
absl::Status ValidateDocumentName(std::string_view name);

// ValidateUserId: the same character rules as document names, 1..kUserIdBytesMax bytes,
// and not kAllUsersWord (which would make a grant target ambiguous on the command line).
// INVALID_ARGUMENT otherwise. Pure; thread-safe.
absl::Status ValidateUserId(std::string_view uid);

}  // namespace belfry::wire

#endif  // BELFRY_WIRE_DOCUMENT_NAME_H_
