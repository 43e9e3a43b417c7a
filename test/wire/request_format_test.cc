// The signed-message and label encodings, and the status tables (README.md).
#include <catch2/catch.hpp>

#include <set>
#include <string>

#include "wire/request_format.h"

namespace belfry::wire {
namespace {

TEST_CASE("format: labels are unambiguous and bound to cluster, document and nonce", "[format]") {
  const std::string n(16, 'n');
  const Bytes base = DocumentLabel("c", "doc", AsBytes(n));
  CHECK(DocumentLabel("c", "doc", AsBytes(n)) == base);
  CHECK(DocumentLabel("c2", "doc", AsBytes(n)) != base);
  CHECK(DocumentLabel("c", "doc2", AsBytes(n)) != base);
  CHECK(DocumentLabel("c", "doc", AsBytes(std::string(16, 'm'))) != base);
  // Moving bytes between fields changes the encoding (length prefixes).
  CHECK(DocumentLabel("cd", "oc", AsBytes(n)) != DocumentLabel("c", "doc", AsBytes(n)));
}

TEST_CASE("format: request signing message is the domain followed by the body", "[format]") {
  const Bytes m = RequestSigningMessage("body");
  CHECK(std::string(AsStringView(m)) == std::string(kRequestDomain) + "body");
}

// Known answer: a checkout's signed message carries its reply key, so the key cannot be
// swapped for another without breaking the session signature. The bytes are fixed by the
// proto field numbers (service.proto) and kRequestDomain; a change here is a wire change.
TEST_CASE("format: known answer for a signed checkout with its reply key", "[format][kat]") {
  pb::RequestBody body;
  body.set_cluster_id("c");
  pb::SessionOp* op = body.mutable_op();
  op->set_session_public_key(std::string(32, '\x01'));
  op->set_seq(1);
  op->mutable_check_out()->set_doc("d");
  op->mutable_check_out()->set_reply_public_key(std::string(32, '\x02'));
  CHECK(ToHex(RequestSigningMessage(body.SerializeAsString())) ==
        "62656c6672792f726571756573742f76310a01631a4b0a200101010101010101010101010101010101010101010101010101010101010101100122250a016412200202020202020202020202020202020202020202020202020202020202020202");
  // Another reply key is another signed message.
  op->mutable_check_out()->set_reply_public_key(std::string(32, '\x03'));
  CHECK(ToHex(RequestSigningMessage(body.SerializeAsString())).find("0202020202020202020202020202020202020202020202020202020202020202") == std::string::npos);
}

TEST_CASE("format: session key proof binds every login field", "[format]") {
  const std::string pk(32, 'k');
  const std::string nonce(16, 'n');
  const Bytes m = SessionKeyProofMessage("c", "alice", AsBytes(pk), 5, AsBytes(nonce));
  CHECK(SessionKeyProofMessage("c", "bob", AsBytes(pk), 5, AsBytes(nonce)) != m);
  CHECK(SessionKeyProofMessage("c", "alice", AsBytes(pk), 6, AsBytes(nonce)) != m);
  CHECK(SessionKeyProofMessage("d", "alice", AsBytes(pk), 5, AsBytes(nonce)) != m);
}

TEST_CASE("format: request id is SHA-256 of the request bytes", "[format]") {
  // SHA-256("abc"), FIPS 180-2 example.
  CHECK(ToHex(ByteSpan(RequestId("abc"))) ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("format: every status has a distinct name, a 3S code and a class", "[format]") {
  std::set<std::string> names;
  const auto* desc = pb::Status_descriptor();
  for (int i = 0; i < desc->value_count(); ++i) {
    const auto status = static_cast<pb::Status>(desc->value(i)->number());
    const std::string name = StatusName(status);
    CHECK(("STATUS_" + name) == desc->value(i)->name());
    names.insert(name);
  }
  CHECK(names.size() == static_cast<size_t>(desc->value_count()));
  CHECK(ThreeSCode(pb::STATUS_OK) == 200);
  CHECK(ThreeSCode(pb::STATUS_ACCESS_DENIED) == 702);
  CHECK(ThreeSCode(pb::STATUS_INTEGRITY_FAILURE) == 703);
  CHECK(ThreeSCode(pb::STATUS_NO_SUCH_DOCUMENT) == 704);
  CHECK(ThreeSCode(pb::STATUS_REPLAYED_SEQUENCE) == 700);
  CHECK(ClassifyStatus(pb::STATUS_SESSION_EXPIRED) == StatusClass::kNotLoggedIn);
  CHECK(ClassifyStatus(pb::STATUS_LOGIN_STALE) == StatusClass::kNotLoggedIn);
  CHECK(ClassifyStatus(pb::STATUS_INVALID_DOCUMENT_NAME) == StatusClass::kInvalidInput);
  CHECK(ClassifyStatus(pb::STATUS_TOO_MANY_GRANTS) == StatusClass::kOther);
  CHECK(std::string(StatusName(static_cast<pb::Status>(999))) == "UNKNOWN");
}

}  // namespace
}  // namespace belfry::wire
