// threshold/internal/proto_fields.h — decoding protobuf fields into checked group values.
//
// Every reader of a threshold message goes through these, so each field gets the same
// checks: exact size, canonical encoding, not the identity, no unknown fields, and a size
// cap on the whole message before protobuf parses it.
#ifndef BELFRY_THRESHOLD_INTERNAL_PROTO_FIELDS_H_
#define BELFRY_THRESHOLD_INTERNAL_PROTO_FIELDS_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/bytes.h"
#include "google/protobuf/message.h"
#include "threshold/group.h"

namespace belfry::threshold::internal {

// kMalformed if `message` holds fields this build's schema does not know.
absl::Status CheckNoUnknownFields(const google::protobuf::Message& message, std::string_view what);

// Parses `bytes` into `message` after checking it is at most `bytes_max` long (kTooLarge),
// then refuses undecodable input or unknown fields (kMalformed).
absl::Status ParseBounded(ByteSpan bytes, size_t bytes_max, google::protobuf::Message* message,
                          std::string_view what);

// Serializes deterministically (no map-order dependence), so equal values give equal bytes.
std::string SerializeDeterministic(const google::protobuf::Message& message);

// Sets a bytes field (protobuf 3.21's setters take no std::string_view); no reallocation
// beyond the one assign, so it is also used for the secret field.
inline void AssignBytes(std::string* field, ByteSpan bytes) {
  field->assign(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

// A field holding a point or a scalar; errors name the field (`what`).
absl::StatusOr<Point> PointField(const std::string& field, std::string_view what);
absl::StatusOr<Scalar> ScalarField(const std::string& field, std::string_view what);

}  // namespace belfry::threshold::internal

#endif  // BELFRY_THRESHOLD_INTERNAL_PROTO_FIELDS_H_
