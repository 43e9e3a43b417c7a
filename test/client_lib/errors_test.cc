// Exit codes (issue 4, "Programs"): every 3S status maps to exactly one documented exit
// code, and the mapping agrees with the class table of replica/state/README.md.
#include <catch2/catch.hpp>

#include "client_lib/client.h"
#include "client_lib/internal/errors.h"
#include "wire/request_format.h"

namespace belfry {
namespace {

int ExpectedExitCode(wire::StatusClass c) {
  switch (c) {
    case wire::StatusClass::kOk:
      return 0;
    case wire::StatusClass::kInvalidInput:
      return 2;
    case wire::StatusClass::kNotLoggedIn:
      return 3;
    case wire::StatusClass::kAccessDenied:
      return 4;
    case wire::StatusClass::kNoSuchDocument:
      return 5;
    case wire::StatusClass::kIntegrity:
      return 6;
    case wire::StatusClass::kOther:
      return 1;
  }
  return -1;
}

TEST_CASE("exit codes: the documented table", "[client][errors]") {
  CHECK(ExitCodeFor(ErrorKind::kOk) == 0);
  CHECK(ExitCodeFor(ErrorKind::kOther) == 1);
  CHECK(ExitCodeFor(ErrorKind::kInvalidInput) == 2);
  CHECK(ExitCodeFor(ErrorKind::kNotLoggedIn) == 3);
  CHECK(ExitCodeFor(ErrorKind::kAccessDenied) == 4);
  CHECK(ExitCodeFor(ErrorKind::kNoSuchDocument) == 5);
  CHECK(ExitCodeFor(ErrorKind::kIntegrity) == 6);
  CHECK(ExitCodeFor(ErrorKind::kNoQuorum) == 7);
}

TEST_CASE("exit codes: every 3S status, explicitly", "[client][errors]") {
  const std::map<pb::Status, int> expected = {
      {pb::STATUS_UNSPECIFIED, 1},
      {pb::STATUS_OK, 0},
      {pb::STATUS_ACCESS_DENIED, 4},
      {pb::STATUS_NO_SUCH_DOCUMENT, 5},
      {pb::STATUS_INTEGRITY_FAILURE, 6},
      {pb::STATUS_MALFORMED_REQUEST, 2},
      {pb::STATUS_WRONG_CLUSTER, 1},
      {pb::STATUS_LOGIN_BAD_CERTIFICATE, 3},
      {pb::STATUS_LOGIN_WRONG_ROLE, 3},
      {pb::STATUS_LOGIN_UID_MISMATCH, 3},
      {pb::STATUS_LOGIN_BAD_SIGNATURE, 3},
      {pb::STATUS_LOGIN_BAD_SESSION_PROOF, 3},
      {pb::STATUS_LOGIN_STALE, 3},
      {pb::STATUS_SESSION_KEY_REUSED, 3},
      {pb::STATUS_SESSION_UNKNOWN, 3},
      {pb::STATUS_SESSION_EXPIRED, 3},
      {pb::STATUS_SESSION_ENDED, 3},
      {pb::STATUS_BAD_SIGNATURE, 1},
      {pb::STATUS_REPLAYED_SEQUENCE, 1},
      {pb::STATUS_RESULT_UNAVAILABLE, 1},
      {pb::STATUS_NOT_REQUESTER, 4},
      {pb::STATUS_INVALID_DOCUMENT_NAME, 2},
      {pb::STATUS_DOCUMENT_TOO_LARGE, 2},
      {pb::STATUS_INVALID_CIPHERTEXT, 2},
      {pb::STATUS_LABEL_REUSED, 1},
      {pb::STATUS_INVALID_GRANT, 2},
      {pb::STATUS_TOO_MANY_GRANTS, 1},
      {pb::STATUS_LOGIN_REVOKED, 3},
      {pb::STATUS_USER_REVOKED, 3},
      {pb::STATUS_REVOCATION_INVALID, 1},
      {pb::STATUS_STAMP_BAD_ALGORITHM, 2},
      {pb::STATUS_STAMP_BAD_HASH, 2},
      {pb::STATUS_STAMP_BAD_NONCE, 2},
      {pb::STATUS_KEYS_NOT_READY, 1},
      {pb::STATUS_REPLICA_MESSAGE_INVALID, 2},
      {pb::STATUS_DKG_REFUSED, 2},
  };
  // The table covers every value the protocol defines.
  const google::protobuf::EnumDescriptor* descriptor = pb::Status_descriptor();
  REQUIRE(static_cast<size_t>(descriptor->value_count()) == expected.size());
  for (int i = 0; i < descriptor->value_count(); ++i) {
    const auto status = static_cast<pb::Status>(descriptor->value(i)->number());
    INFO(descriptor->value(i)->name());
    REQUIRE(expected.count(status) == 1);
    CHECK(ExitCodeFor(ErrorKindOfServiceStatus(status)) == expected.at(status));
    // ... and agrees with the replicas' own classification.
    if (status != pb::STATUS_UNSPECIFIED) {
      CHECK(ExitCodeFor(ErrorKindOfServiceStatus(status)) ==
            ExpectedExitCode(wire::ClassifyStatus(status)));
    }
    if (status != pb::STATUS_OK) {
      // A refusal carries its status and kind through absl::Status.
      const absl::Status error = client::internal::ServiceError(status, "refused");
      CHECK_FALSE(error.ok());
      CHECK(ServiceStatusOf(error) == status);
      CHECK(ExitCodeFor(ErrorKindOf(error)) == expected.at(status));
      CHECK(std::string(error.message()).find(wire::StatusName(status)) != std::string::npos);
    }
  }
  // A status value from a newer build is "other".
  CHECK(ExitCodeFor(ErrorKindOfServiceStatus(static_cast<pb::Status>(999))) == 1);
}

TEST_CASE("exit codes: local errors carry their kind", "[client][errors]") {
  CHECK(ErrorKindOf(absl::OkStatus()) == ErrorKind::kOk);
  CHECK(ErrorKindOf(absl::InternalError("x")) == ErrorKind::kOther);
  CHECK_FALSE(ServiceStatusOf(absl::InternalError("x")).has_value());
  const absl::Status no_quorum = client::internal::MakeError(ErrorKind::kNoQuorum, "slow");
  CHECK(ExitCodeFor(ErrorKindOf(no_quorum)) == 7);
  CHECK(no_quorum.code() == absl::StatusCode::kDeadlineExceeded);
  CHECK_FALSE(ServiceStatusOf(no_quorum).has_value());
  CHECK(ErrorKindOf(client::internal::MakeError(ErrorKind::kInvalidInput, "bad")) ==
        ErrorKind::kInvalidInput);
  const absl::Status marked =
      client::internal::WithKind(absl::NotFoundError("x"), ErrorKind::kNotLoggedIn);
  CHECK(ErrorKindOf(marked) == ErrorKind::kNotLoggedIn);
  // WithKind never overrides a kind already present.
  CHECK(ErrorKindOf(client::internal::WithKind(no_quorum, ErrorKind::kOther)) ==
        ErrorKind::kNoQuorum);
}

}  // namespace
}  // namespace belfry
