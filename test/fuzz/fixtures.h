// test/fuzz/fixtures.h — the fixed keys, configurations and input framing the fuzz targets
// and the seed-corpus generator share.
//
// Every key here derives from a constant seed, so a seed input that make_corpus signed or
// encrypted still verifies when a target runs it, on any machine and in either build
// (regression or libFuzzer). None of this is secret: it exists only for tests.
#ifndef BELFRY_TEST_FUZZ_FIXTURES_H_
#define BELFRY_TEST_FUZZ_FIXTURES_H_

#include <sodium.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/rng.h"
#include "config/cluster_config.h"
#include "consensus/epoch/honey_badger.h"
#include "replica/state/config.h"
#include "threshold/dkg/encryption_key.h"
#include "threshold/dkg/key_generation.h"
#include "threshold/keys.h"
#include "threshold/rsa/keys.h"
#include "threshold/tdh2.h"

namespace belfry::fuzz {

inline constexpr std::string_view kClusterId = "fuzz-cluster";
inline constexpr uint32_t kN = 4;
inline constexpr uint32_t kF = 1;
// The seed every node's stand-in coin shares (consensus/aba/testing/fake_coin.h).
inline constexpr uint64_t kFakeCoinSeed = 42;
// The coin-name prefix of the aba_message target's instance.
inline constexpr std::string_view kAbaCoinPrefix = "belfry-fuzz/aba";
// What node 0 broadcasts when the rbc_message target makes it the proposer.
inline constexpr std::string_view kRbcNode0Value = "the value node 0 broadcasts";
inline constexpr size_t kRbcValueBytesMax = 1024;
// The name of the one coin the coin_share target checks shares of.
inline constexpr std::string_view kCoinName = "belfry-fuzz/coin";
// The time (Unix seconds) at which the key_file target verifies certificates; the seed
// CA and certificates are valid around it.
inline constexpr int64_t kPkiTimeS = 1'700'000'000;
// The request bytes whose replies the reply_quorum target collects (its id is their SHA-256).
inline constexpr std::string_view kQuorumRequest = "belfry-fuzz/request";
// The document an integrity certificate seed certifies.
inline constexpr std::string_view kIntegrityData = "fuzzed document contents\n";

// A key set dealt from `seed` (threshold::Deal with a DeterministicRng): the same set on
// every call. Aborts if dealing fails (it cannot for these parameters).
threshold::DealtKeySet DealFixed(uint64_t seed);
// The coin key set and the TDH2 key set of the fixed cluster (public halves, built once).
const threshold::PublicKeySet& CoinPublicKeys();
const threshold::PublicKeySet& Tdh2PublicKeys();
inline constexpr uint64_t kCoinKeySeed = 11;
inline constexpr uint64_t kTdh2KeySeed = 7;

// The threshold RSA key set of the fixed cluster: a 1024-bit modulus from the fixed safe
// primes p512 and q512 of test/threshold/testdata/rsa_safe_primes.txt, dealt with a
// DeterministicRng of kRsaKeySeed. The same set on every call.
threshold::rsa::DealtKeySet DealRsaFixed();
const threshold::rsa::PublicKeySet& RsaPublicKeys();
inline constexpr uint64_t kRsaKeySeed = 13;
// The message the rsa_share target checks signature shares of.
inline constexpr std::string_view kRsaMessage = "belfry-fuzz/rsa/certificate";

// The 3S limits the admission checks run with: the defaults, for kClusterId.
state::Config StateConfig();

// The epoch driver's configuration for the consensus targets: small bounds, so that a
// fuzz input can reach them, and round 0's coin fixed as replicas run it.
consensus::epoch::Config EpochConfig();

// Node 0's own part in the peer_message target and in the honest runs make_corpus records
// for it (the two must match for a recorded transcript to replay): Node0Start proposes a
// fixed batch at clock 1000; Node0Continue proposes an empty batch whenever the peers have
// started an epoch node 0 has not proposed in, and returns an empty Step otherwise. `rng`
// is a DeterministicRng(1) made for the run.
consensus::epoch::HbStep Node0Start(consensus::epoch::HoneyBadger& hb, Rng& rng);
consensus::epoch::HbStep Node0Continue(consensus::epoch::HoneyBadger& hb, Rng& rng);

// Replica `id`'s reply-signing key pair, from a fixed seed.
struct ReplyKeyPair {
  std::array<uint8_t, crypto_sign_PUBLICKEYBYTES> pk{};
  std::array<uint8_t, crypto_sign_SECRETKEYBYTES> sk{};
};
ReplyKeyPair ReplyKey(uint32_t id);
// Ed25519 signature of `message` with replica `id`'s reply key.
std::string SignAsReplica(uint32_t id, ByteSpan message);

// The fixed cluster as a validated cluster.conf: kN replicas on 127.0.0.1, the reply keys
// above, the coin and TDH2 public keys above. Built once.
const config::ClusterConfig& Cluster();

// The fixed TDH2 ciphertext the tdh2 target checks decryption shares against, and the key
// inside it.
const threshold::Ciphertext& FixedCiphertext();
const threshold::SymmetricKey& FixedSymmetricKey();
inline constexpr std::string_view kFixedLabel = "belfry-fuzz/label";

// The fixed key generation run of the dkg_message target (threshold/dkg/): a fresh key for
// kN nodes tolerating kF, whose encryption key pairs come from kDkgNodeKeySeed (node m's
// is entry m-1), with context kDkgContext. Built once.
const threshold::dkg::Config& DkgConfig();
const std::vector<threshold::dkg::EncryptionKeyPair>& DkgNodeKeys();
inline constexpr uint64_t kDkgNodeKeySeed = 17;
inline constexpr std::string_view kDkgContext = "belfry-fuzz/dkg";

// Several messages in one fuzz input: each record is a tag byte (the sender, or an action)
// followed by a u32 big-endian length and that many bytes. Splitting stops at the first
// record that does not fit, after `records_max` records, so a target's work per input is
// bounded by its input size and this cap.
struct Record {
  uint8_t tag = 0;
  std::string_view bytes;
};
inline constexpr size_t kRecordBytesMax = 1 << 16;
std::vector<Record> SplitRecords(ByteSpan input, size_t records_max);
void AppendRecord(std::string& out, uint8_t tag, std::string_view bytes);

// Length-prefixed pieces (u32 big-endian length, then the bytes), for targets that take
// two inputs at once. Missing pieces are empty.
std::vector<std::string_view> SplitPieces(ByteSpan input, size_t pieces);
std::string JoinPieces(const std::vector<std::string>& pieces);

// Aborts with `what` when `ok` is false: a fuzz target's property failed.
void Require(bool ok, const char* what);

}  // namespace belfry::fuzz

#endif  // BELFRY_TEST_FUZZ_FIXTURES_H_
