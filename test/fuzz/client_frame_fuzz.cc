// Fuzz target: the replica's client admission path (ReplicaCore::CheckClientFrame) —
// a ClientFrame exactly as a client sent it, then for a request
// state::ParseRequest and state::VerifyRequestCrypto (replica/state/precheck.h) with the
// fixed cluster's limits and its TDH2 public keys, as the I/O thread runs them.
//
// Properties: nothing crashes; PrecheckRequest agrees with the two steps it is made of;
// every verdict has a name; a refused request is refused for a reason (non-empty message).
#include <cstddef>
#include <cstdint>
#include <string>

#include "proto/reply.pb.h"
#include "proto/service.pb.h"
#include "replica/state/precheck.h"
#include "replica/state/tdh2_ciphertext_check.h"
#include "test/fuzz/fixtures.h"
#include "wire/request_format.h"

namespace {

namespace state = belfry::state;
namespace wire = belfry::wire;
namespace pb = belfry::pb;
using belfry::fuzz::Require;

const state::Tdh2CiphertextCheck& CiphertextCheck() {
  static const state::Tdh2CiphertextCheck* check =
      new state::Tdh2CiphertextCheck(belfry::fuzz::Tdh2PublicKeys());
  return *check;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const state::Config config = belfry::fuzz::StateConfig();
  pb::ClientFrame frame;
  if (!frame.ParseFromArray(data, static_cast<int>(size))) return 0;
  if (frame.kind_case() != pb::ClientFrame::kRequest) return 0;
  const std::string& request = frame.request();

  state::ParsedRequest parsed;
  state::Verdict verdict = state::ParseRequest(config, request, &parsed);
  if (verdict.ok()) verdict = state::VerifyRequestCrypto(config, CiphertextCheck(), parsed);
  Require(verdict.ok() || !verdict.message.empty(), "a refusal says why");
  Require(wire::StatusName(verdict.status) != nullptr, "every verdict has a name");

  const state::Verdict whole = state::PrecheckRequest(config, CiphertextCheck(), request);
  Require(whole.status == verdict.status && whole.message == verdict.message,
          "PrecheckRequest is ParseRequest then VerifyRequestCrypto");
  return 0;
}

#ifdef BELFRY_FUZZ_MUTATOR
#include "base/rng.h"
#include "test/fuzz/proto_mutator.h"

// The request travels as bytes inside the frame, and its body as bytes inside the
// request, so a mutation picks a level — the frame, the SignedRequest or the RequestBody —
// and re-serializes the levels above it. A mutated body no longer matches its signature,
// which is fine: ParseRequest's checks all come before the signature's.
extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned int seed) {
  belfry::DeterministicRng rng(seed);
  pb::ClientFrame frame;
  pb::SignedRequest request;
  pb::RequestBody body;
  if (rng.Uniform(8) == 0 || !frame.ParseFromArray(data, static_cast<int>(size)) ||
      !request.ParseFromString(frame.request())) {
    return belfry::fuzz::MutateSerialized(pb::ClientFrame::default_instance(), data, size, max_size, seed);
  }
  const size_t bytes_max = max_size / 2;
  if (body.ParseFromString(request.body()) && rng.Uniform(3) != 0) {
    belfry::fuzz::MutateMessage(&body, rng, bytes_max);
    request.set_body(body.SerializeAsString());
  } else {
    belfry::fuzz::MutateMessage(&request, rng, bytes_max);
  }
  frame.set_request(request.SerializeAsString());
  const std::string out = frame.SerializeAsString();
  if (out.size() > max_size) return LLVMFuzzerMutate(data, size, max_size);
  std::copy(out.begin(), out.end(), data);
  return out.size();
}
#endif  // BELFRY_FUZZ_MUTATOR
