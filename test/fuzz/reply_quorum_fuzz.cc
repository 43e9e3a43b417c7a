// Fuzz target: what a client does with the frames replicas send back — ClientFrame
// parsing, then replies and signed refusals through the client library's PendingCall
// (client_lib/internal/pending_call.h, one ReplyQuorum per epoch), and for an accepted
// checkout its attachments: service signature shares (CollectIntegrityCertificate) and TDH2
// decryption shares (OpenConfidential). Replica reply keys and threshold keys are the
// fixed cluster's, so seeds carry valid signatures.
//
// Input: fixtures.h records; a record's tag picks the replica of the connection (tag % 4)
// and its bytes are one ClientFrame. Properties: nothing crashes; an accepted reply has
// 2f+1 distinct signers and none of them is listed as disagreeing; a final refusal has
// f+1 signers.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "base/bytes.h"
#include "client_lib/internal/pending_call.h"
#include "client_lib/internal/requests.h"
#include "proto/reply.pb.h"
#include "proto/service.pb.h"
#include "test/fuzz/fixtures.h"
#include "threshold/sealed_share.h"
#include "wire/statements.h"

namespace {

namespace fuzz = belfry::fuzz;
namespace pb = belfry::pb;
namespace internal = belfry::client::internal;
using fuzz::Require;

constexpr size_t kFramesMax = 256;

// The client's handling of an accepted checkout's attachments (client.cc CheckOut).
void OpenCheckOut(const internal::AcceptedReply& accepted) {
  pb::Result result;
  if (!result.ParseFromString(accepted.body.result()) || !result.has_check_out()) return;
  const pb::CheckOutResult& co = result.check_out();
  const belfry::config::ClusterConfig& cluster = fuzz::Cluster();
  std::map<uint32_t, std::string> faults;
  if (co.integrity()) {
    // The fixed key set with no certificate: shares are parsed, counted and combined as a
    // client does, and nothing may assemble without the service certificate.
    static const internal::ServiceKey kService{fuzz::RsaPublicKeys(), {}};
    std::map<uint32_t, std::string> shares;
    for (const auto& [replica, a] : accepted.agreeing) shares[replica] = a.service_signature_share();
    (void)internal::CountServiceShares(shares);
    auto cert = internal::CollectIntegrityCertificate(cluster, kService, co, accepted.body.consensus_time_ms(), shares,
                                                      &faults);
    Require(!cert.ok(), "no certificate assembles without the service certificate");
  }
  if (co.confidential()) {
    // One key for the whole run: the boxes in the input never open under it, but Open's
    // handling of arbitrary box bytes is what is fuzzed here.
    static const belfry::threshold::ShareRecipientKey kKey = belfry::threshold::ShareRecipientKey::Generate();
    std::map<uint32_t, std::string> sealed;
    for (const auto& [replica, a] : accepted.agreeing) sealed[replica] = a.sealed_decryption_share();
    std::map<uint32_t, std::string> shares =
        internal::OpenSealedShares(cluster.cluster_id(), co, kKey, sealed, &faults);
    (void)internal::CountValidShares(cluster.cluster_id(), co, fuzz::Tdh2PublicKeys(), shares);
    // Whether it opens depends on the input; only that it returns matters here.
    (void)internal::OpenConfidential(cluster.cluster_id(), co, fuzz::Tdh2PublicKeys(), shares, &faults);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const belfry::config::ClusterConfig& cluster = fuzz::Cluster();
  internal::BuiltRequest request;
  request.bytes = std::string(fuzz::kQuorumRequest);
  request.id = belfry::wire::Sha256(belfry::AsBytes(request.bytes));
  internal::PendingCall call(cluster, request);

  for (const fuzz::Record& record : fuzz::SplitRecords(belfry::ByteSpan(data, size), kFramesMax)) {
    const uint32_t replica = record.tag % fuzz::kN;
    pb::ClientFrame frame;
    if (!frame.ParseFromArray(record.bytes.data(), static_cast<int>(record.bytes.size()))) continue;
    // As Client::OnLinkFrame routes them: by the request id the frame names.
    if (frame.kind_case() == pb::ClientFrame::kReply) {
      pb::ReplyBody body;
      if (!body.ParseFromString(frame.reply().body()) || body.request_id() != call.id_bytes()) continue;
      call.OnReply(replica, frame.reply());
    } else if (frame.kind_case() == pb::ClientFrame::kRejection) {
      if (frame.rejection().request_id() != call.id_bytes()) continue;
      call.OnRejection(replica, frame.rejection());
    }
  }

  if (std::optional<internal::AcceptedReply> accepted = call.Accepted()) {
    Require(accepted->agreeing.size() >= 2 * fuzz::kF + 1, "an accepted reply has 2f+1 signers");
    for (uint32_t r : accepted->disagreeing) {
      Require(accepted->agreeing.count(r) == 0, "a signer of the accepted body does not disagree");
    }
    OpenCheckOut(*accepted);
  }
  if (std::optional<internal::FinalRejection> rejected = call.Rejected()) {
    Require(rejected->replicas.size() >= fuzz::kF + 1, "a final refusal has f+1 signers");
  }
  (void)call.Disagreeing();
  (void)call.LargestGroup();
  (void)call.Overloaded();
  (void)call.EarliestGroup(fuzz::kF + 1, [](const pb::ReplyBody&) { return true; });
  return 0;
}

#ifdef BELFRY_FUZZ_MUTATOR
#include "test/fuzz/proto_mutator.h"

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned int seed) {
  return fuzz::MutateRecords(pb::ClientFrame::default_instance(), data, size, max_size, seed);
}
#endif  // BELFRY_FUZZ_MUTATOR
