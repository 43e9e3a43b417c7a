// Fuzz target: one consensus::aba::BinaryAgreement instance (node 0 of 4, f = 1) fed
// pb::AbaMessage votes, coin shares and TERMs as if from Byzantine peers, with the
// stand-in coin. Cheaper than peer_message, so it goes deeper into the rounds.
//
// Input: fixtures.h records. A tag with the top bit set is node 0's own input
// (Propose(tag & 1)); any other tag sends the record's AbaMessage from peer 1 + tag % 3.
// The first byte of the input, if it is below 2, chooses whether round 0's coin is fixed.
// Properties: nothing crashes; rounds held stay within rounds_ahead_max + 1; a decision,
// once made, never changes; faults name a peer.
#include <cstddef>
#include <cstdint>
#include <optional>

#include "consensus/aba/binary_agreement.h"
#include "consensus/aba/testing/fake_coin.h"
#include "proto/aba.pb.h"
#include "test/fuzz/fixtures.h"

namespace {

namespace consensus = belfry::consensus;
namespace fuzz = belfry::fuzz;
using fuzz::Require;

constexpr size_t kMessagesMax = 1024;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const consensus::NetworkInfo net{0, fuzz::kN, fuzz::kF};
  consensus::aba::testing::FakeCoin coin(fuzz::kFakeCoinSeed, net);
  consensus::aba::Config config;
  config.round0_coin_fixed = size > 0 && data[0] == 1;
  consensus::aba::BinaryAgreement aba(net, &coin, std::string(fuzz::kAbaCoinPrefix), config);
  std::optional<bool> decided;
  size_t outputs = 0;

  const auto check = [&](const consensus::aba::AbaStep& step) {
    for (const consensus::Fault& fault : step.faults) {
      Require(fault.node >= 1 && fault.node < fuzz::kN, "faults name a peer");
    }
    outputs += step.outputs.size();
    Require(outputs <= 1, "a decision is output once");
    if (decided.has_value()) {
      Require(aba.decision() == decided, "a decision never changes");
    } else {
      decided = aba.decision();
    }
    Require(aba.rounds_held() <= config.rounds_ahead_max + 1, "rounds held stay bounded");
  };

  const size_t skip = (size > 0 && data[0] < 2) ? 1 : 0;
  for (const fuzz::Record& record :
       fuzz::SplitRecords(belfry::ByteSpan(data + skip, size - skip), kMessagesMax)) {
    if ((record.tag & 0x80) != 0) {
      check(aba.Propose((record.tag & 1) != 0));
      continue;
    }
    belfry::pb::AbaMessage msg;
    if (!msg.ParseFromArray(record.bytes.data(), static_cast<int>(record.bytes.size()))) continue;
    check(aba.HandleMessage(1 + record.tag % 3, msg));
  }
  return 0;
}

#ifdef BELFRY_FUZZ_MUTATOR
#include "test/fuzz/proto_mutator.h"

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned int seed) {
  // The leading coin-mode byte is kept out of the records.
  if (size > 0 && data[0] < 2 && max_size > 1) {
    return 1 + fuzz::MutateRecords(belfry::pb::AbaMessage::default_instance(), data + 1, size - 1,
                                   max_size - 1, seed);
  }
  return fuzz::MutateRecords(belfry::pb::AbaMessage::default_instance(), data, size, max_size, seed);
}
#endif  // BELFRY_FUZZ_MUTATOR
