#include "threshold/internal/proto_fields.h"

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "threshold/errors.h"
#include "threshold/internal/errors.h"

namespace belfry::threshold::internal {
namespace {

absl::Status Annotate(const absl::Status& status, std::string_view what) {
  absl::Status out(status.code(), absl::StrCat(Absl(what), ": ", status.message()));
  status.ForEachPayload([&out](absl::string_view url, const absl::Cord& payload) {
    out.SetPayload(url, payload);
  });
  return out;
}

}  // namespace

absl::Status CheckNoUnknownFields(const google::protobuf::Message& message, std::string_view what) {
  if (!message.GetReflection()->GetUnknownFields(message).empty()) {
    return MakeError(ThresholdError::kMalformed, absl::StrCat(Absl(what), " has fields this version does not know"));
  }
  return absl::OkStatus();
}

absl::Status ParseBounded(ByteSpan bytes, size_t bytes_max, google::protobuf::Message* message,
                          std::string_view what) {
  if (bytes.size() > bytes_max) {
    return MakeError(ThresholdError::kTooLarge,
                     absl::StrCat(Absl(what), " is ", bytes.size(), " bytes; the limit is ", bytes_max));
  }
  if (!message->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return MakeError(ThresholdError::kMalformed, absl::StrCat(Absl(what), " does not decode"));
  }
  return CheckNoUnknownFields(*message, what);
}

std::string SerializeDeterministic(const google::protobuf::Message& message) {
  // Sized once up front so the buffer is never reallocated: a key share's serialization
  // holds the secret, and a reallocation would leave a copy behind in freed memory.
  const size_t size = message.ByteSizeLong();
  std::string out(size, '\0');
  {
    google::protobuf::io::ArrayOutputStream stream(out.data(), static_cast<int>(size));
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    message.SerializeWithCachedSizes(&coded);
    BELFRY_CHECK(!coded.HadError() && static_cast<size_t>(coded.ByteCount()) == size);
  }
  return out;
}

absl::StatusOr<Point> PointField(const std::string& field, std::string_view what) {
  absl::StatusOr<Point> p = Point::FromBytes(AsBytes(field));
  if (!p.ok()) return Annotate(p.status(), what);
  return p;
}

absl::StatusOr<Scalar> ScalarField(const std::string& field, std::string_view what) {
  absl::StatusOr<Scalar> s = Scalar::FromCanonicalBytes(AsBytes(field));
  if (!s.ok()) return Annotate(s.status(), what);
  return s;
}

}  // namespace belfry::threshold::internal
