// Fuzz target: a replica's handling of what its peers send — pb::PeerMessage parsing, and
// the consensus part fed to node 0's consensus::epoch::HoneyBadger in a 4-node cluster
// (f = 1) as if from peers that may all be Byzantine, with the simulator's fast stand-in
// coin so that an input runs in microseconds.
//
// Input: fixtures.h records; a record's tag picks the sender (1 + tag % 3) and its bytes
// are one PeerMessage. Node 0 first proposes a fixed batch, as make_corpus's recorded
// honest run does, so a recorded transcript replays to a decided epoch. Properties:
// nothing crashes; epochs held stay within 2·epochs_in_flight_max; every fault names a
// peer; output batches come in epoch order and respect batch and request bounds.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "base/rng.h"
#include "consensus/aba/testing/fake_coin.h"
#include "consensus/epoch/honey_badger.h"
#include "proto/replica.pb.h"
#include "test/fuzz/fixtures.h"

namespace {

namespace consensus = belfry::consensus;
namespace fuzz = belfry::fuzz;
using fuzz::Require;

// Messages per input: enough for a few epochs of a 4-node cluster.
constexpr size_t kMessagesMax = 768;

void CheckStep(const consensus::epoch::HbStep& step, const consensus::epoch::Config& config,
               uint64_t* next_epoch) {
  for (const consensus::Fault& fault : step.faults) {
    Require(fault.node >= 1 && fault.node < fuzz::kN, "faults name a peer");
  }
  for (const consensus::epoch::Batch& batch : step.outputs) {
    Require(batch.epoch == *next_epoch, "batches come out in epoch order");
    ++*next_epoch;
    Require(batch.requests.size() <= fuzz::kN * config.batch_requests_max, "batches are bounded");
    for (const std::string& r : batch.requests) {
      Require(r.size() <= config.request_bytes_max, "requests in a batch are bounded");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const consensus::NetworkInfo net{0, fuzz::kN, fuzz::kF};
  const consensus::epoch::Config config = fuzz::EpochConfig();
  consensus::aba::testing::FakeCoin coin(fuzz::kFakeCoinSeed, net);
  consensus::epoch::HoneyBadger hb(net, config, &coin);
  belfry::DeterministicRng rng(1);
  uint64_t next_epoch = 0;
  CheckStep(fuzz::Node0Start(hb, rng), config, &next_epoch);

  for (const fuzz::Record& record : fuzz::SplitRecords(belfry::ByteSpan(data, size), kMessagesMax)) {
    const consensus::NodeId from = 1 + record.tag % 3;
    belfry::pb::PeerMessage msg;
    if (!msg.ParseFromArray(record.bytes.data(), static_cast<int>(record.bytes.size()))) continue;
    if (msg.kind_case() != belfry::pb::PeerMessage::kConsensus) continue;
    CheckStep(hb.HandleMessage(from, msg.consensus()), config, &next_epoch);
    Require(hb.epochs_in_memory() <= 2 * config.epochs_in_flight_max, "epochs held stay bounded");
    // A correct node keeps proposing as epochs finish, so the fuzzer reaches later epochs.
    CheckStep(fuzz::Node0Continue(hb, rng), config, &next_epoch);
  }
  Require(hb.next_epoch_to_output() == next_epoch, "every output epoch was seen");
  return 0;
}

#ifdef BELFRY_FUZZ_MUTATOR
#include "test/fuzz/proto_mutator.h"

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned int seed) {
  return fuzz::MutateRecords(belfry::pb::PeerMessage::default_instance(), data, size, max_size, seed);
}
#endif  // BELFRY_FUZZ_MUTATOR
