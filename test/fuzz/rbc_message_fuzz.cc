// Fuzz target: one consensus::rbc::Broadcast instance (node 0 of 4, f = 1) fed
// pb::RbcMessage VALs, ECHOs and READYs as if from Byzantine peers.
//
// Input: a first byte choosing the proposer (byte % 4; when it is node 0, node 0 first
// proposes a fixed value), then fixtures.h records whose tag picks the sender
// (1 + tag % 3). Properties: nothing crashes; at most one output; a valid output is within
// value_bytes_max; faults name a peer. (The input speaks for all three peers, more than
// the f = 1 the protocol tolerates, so agreement and validity are not properties here.)
#include <cstddef>
#include <cstdint>
#include <string>

#include "consensus/rbc/broadcast.h"
#include "proto/rbc.pb.h"
#include "test/fuzz/fixtures.h"

namespace {

namespace consensus = belfry::consensus;
namespace fuzz = belfry::fuzz;
using fuzz::Require;

constexpr size_t kMessagesMax = 512;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const consensus::NetworkInfo net{0, fuzz::kN, fuzz::kF};
  const consensus::NodeId proposer = data[0] % fuzz::kN;
  consensus::rbc::Broadcast rbc(net, proposer, fuzz::kRbcValueBytesMax);
  size_t outputs = 0;

  const auto check = [&](const consensus::rbc::RbcStep& step) {
    for (const consensus::Fault& fault : step.faults) {
      Require(fault.node >= 1 && fault.node < fuzz::kN, "faults name a peer");
    }
    for (const consensus::rbc::Output& out : step.outputs) {
      Require(++outputs <= 1, "at most one output");
      Require(out.valid || out.value.empty(), "an invalid output carries no value");
      Require(out.value.size() <= fuzz::kRbcValueBytesMax, "outputs respect value_bytes_max");
    }
  };

  if (proposer == 0) check(rbc.Propose(std::string(fuzz::kRbcNode0Value)));
  for (const fuzz::Record& record :
       fuzz::SplitRecords(belfry::ByteSpan(data + 1, size - 1), kMessagesMax)) {
    belfry::pb::RbcMessage msg;
    if (!msg.ParseFromArray(record.bytes.data(), static_cast<int>(record.bytes.size()))) continue;
    check(rbc.HandleMessage(1 + record.tag % 3, msg));
  }
  return 0;
}

#ifdef BELFRY_FUZZ_MUTATOR
#include "test/fuzz/proto_mutator.h"

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned int seed) {
  if (size == 0 || max_size < 2) return LLVMFuzzerMutate(data, size, max_size);
  return 1 + fuzz::MutateRecords(belfry::pb::RbcMessage::default_instance(), data + 1, size - 1,
                                 max_size - 1, seed);
}
#endif  // BELFRY_FUZZ_MUTATOR
