#include "test/fuzz/fixtures.h"

#include <cstdio>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/rng.h"
#include "config/threshold_keys.h"
#include "test/config/test_cluster.h"

namespace belfry::fuzz {

void Require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz property failed: %s\n", what);
    std::abort();
  }
}

threshold::DealtKeySet DealFixed(uint64_t seed) {
  DeterministicRng rng(seed);
  absl::StatusOr<threshold::DealtKeySet> dealt = threshold::Deal(kN, kF, rng);
  Require(dealt.ok(), "dealing the fixed key set");
  return std::move(*dealt);
}

const threshold::PublicKeySet& CoinPublicKeys() {
  static const threshold::PublicKeySet* keys =
      new threshold::PublicKeySet(DealFixed(kCoinKeySeed).public_keys);
  return *keys;
}

threshold::rsa::DealtKeySet DealRsaFixed() {
  // p512 and q512 of test/threshold/testdata/rsa_safe_primes.txt (safe primes; public).
  static constexpr std::string_view kP =
      "e8286826beec1b43d1e499ea041f456b15926e0c70097dabcef3e97ae6f0cde3"
      "9cd2358af3912830acca93b0631ce00a1c63eb9f21f7c82dba35d7898ae3d8cf";
  static constexpr std::string_view kQ =
      "ef802305a20487b03d3439b1ede47485447f2151164326fa3fe520a417a33b8b"
      "b7dded554ba0a976e997c2f27917955e204708f4cddaaaa0bceda179b163f9d7";
  const absl::StatusOr<Bytes> p = FromHex(kP);
  const absl::StatusOr<Bytes> q = FromHex(kQ);
  Require(p.ok() && q.ok(), "decoding the fixed RSA primes");
  DeterministicRng rng(kRsaKeySeed);
  absl::StatusOr<threshold::rsa::DealtKeySet> dealt = threshold::rsa::DealFromPrimes(kN, kF, *p, *q, rng);
  Require(dealt.ok(), "dealing the fixed RSA key set");
  return std::move(*dealt);
}

const threshold::rsa::PublicKeySet& RsaPublicKeys() {
  static const threshold::rsa::PublicKeySet* keys =
      new threshold::rsa::PublicKeySet(DealRsaFixed().public_keys);
  return *keys;
}

const std::vector<threshold::dkg::EncryptionKeyPair>& DkgNodeKeys() {
  static const auto* keys = [] {
    auto* out = new std::vector<threshold::dkg::EncryptionKeyPair>();
    DeterministicRng rng(kDkgNodeKeySeed);
    for (uint32_t m = 0; m < kN; ++m) out->push_back(threshold::dkg::EncryptionKeyPair::Generate(rng));
    return out;
  }();
  return *keys;
}

const threshold::dkg::Config& DkgConfig() {
  static const auto* config = [] {
    auto* c = new threshold::dkg::Config();
    c->mode = threshold::dkg::Mode::kFresh;
    c->n = c->n_dealers = kN;
    c->f = c->f_dealers = kF;
    c->context = std::string(kDkgContext);
    for (const threshold::dkg::EncryptionKeyPair& k : DkgNodeKeys()) c->encryption_keys.push_back(k.public_key());
    Require(threshold::dkg::ValidateConfig(*c).ok(), "the fixed key generation config");
    return c;
  }();
  return *config;
}

const threshold::PublicKeySet& Tdh2PublicKeys() {
  static const threshold::PublicKeySet* keys =
      new threshold::PublicKeySet(DealFixed(kTdh2KeySeed).public_keys);
  return *keys;
}

state::Config StateConfig() {
  state::Config c;
  c.cluster_id = std::string(kClusterId);
  return c;
}

consensus::epoch::Config EpochConfig() {
  consensus::epoch::Config c;
  c.cluster_id = std::string(kClusterId);
  c.epochs_in_flight_max = 3;
  c.batch_requests_max = 8;
  c.proposal_bytes_max = 4096;
  c.request_bytes_max = 256;
  c.aba.round0_coin_fixed = true;
  return c;
}

consensus::epoch::HbStep Node0Start(consensus::epoch::HoneyBadger& hb, Rng& rng) {
  return hb.Propose({"request-a", "request-b"}, 1000, rng);
}

consensus::epoch::HbStep Node0Continue(consensus::epoch::HoneyBadger& hb, Rng& rng) {
  if (hb.can_propose() && hb.peers_started(hb.next_epoch_to_propose())) {
    return hb.Propose({}, 1000 + hb.next_epoch_to_output(), rng);
  }
  return {};
}

ReplyKeyPair ReplyKey(uint32_t id) {
  Require(sodium_init() >= 0, "sodium_init");
  std::array<uint8_t, crypto_sign_SEEDBYTES> seed{};
  seed.fill(0x52);
  seed[0] = static_cast<uint8_t>(id);
  ReplyKeyPair kp;
  crypto_sign_seed_keypair(kp.pk.data(), kp.sk.data(), seed.data());
  return kp;
}

std::string SignAsReplica(uint32_t id, ByteSpan message) {
  const ReplyKeyPair kp = ReplyKey(id);
  std::string sig(crypto_sign_BYTES, '\0');
  crypto_sign_detached(reinterpret_cast<uint8_t*>(sig.data()), nullptr, message.data(),
                       message.size(), kp.sk.data());
  return sig;
}

const config::ClusterConfig& Cluster() {
  static const config::ClusterConfig* cluster = [] {
    std::vector<std::string> reply_keys;
    for (uint32_t i = 0; i < kN; ++i) reply_keys.push_back(ToHex(ReplyKey(i).pk));
    pb::ClusterConfig p = config::testing::ClusterProto(std::string(kClusterId), kF, reply_keys);
    *p.mutable_coin_keys() = config::PublicKeySetToConfig(CoinPublicKeys());
    *p.mutable_encryption_keys() = config::PublicKeySetToConfig(Tdh2PublicKeys());
    absl::StatusOr<config::ClusterConfig> parsed =
        config::ParseClusterConfig(config::FormatClusterConfig(p), "cluster.conf", "/nonexistent");
    Require(parsed.ok(), "the fixed cluster.conf validates");
    return new config::ClusterConfig(std::move(*parsed));
  }();
  return *cluster;
}

const threshold::SymmetricKey& FixedSymmetricKey() {
  static const threshold::SymmetricKey* key = [] {
    DeterministicRng rng(3);
    return new threshold::SymmetricKey(threshold::SymmetricKey::Random(rng));
  }();
  return *key;
}

const threshold::Ciphertext& FixedCiphertext() {
  static const threshold::Ciphertext* ct = [] {
    DeterministicRng rng(4);
    absl::StatusOr<threshold::Ciphertext> c =
        threshold::Encrypt(Tdh2PublicKeys(), kFixedLabel, FixedSymmetricKey(), rng);
    Require(c.ok(), "encrypting the fixed key");
    return new threshold::Ciphertext(std::move(*c));
  }();
  return *ct;
}

std::vector<Record> SplitRecords(ByteSpan input, size_t records_max) {
  std::vector<Record> out;
  ByteReader reader(input);
  while (out.size() < records_max && !reader.empty()) {
    absl::StatusOr<uint8_t> tag = reader.ReadU8();
    if (!tag.ok()) break;
    absl::StatusOr<ByteSpan> bytes = reader.ReadLengthPrefixed(kRecordBytesMax);
    if (!bytes.ok()) break;
    out.push_back(Record{*tag, AsStringView(*bytes)});
  }
  return out;
}

void AppendRecord(std::string& out, uint8_t tag, std::string_view bytes) {
  ByteWriter w;
  w.U8(tag).LengthPrefixed(bytes);
  out.append(AsStringView(ByteSpan(w.bytes())));
}

std::vector<std::string_view> SplitPieces(ByteSpan input, size_t pieces) {
  std::vector<std::string_view> out(pieces);
  ByteReader reader(input);
  for (size_t i = 0; i < pieces; ++i) {
    absl::StatusOr<ByteSpan> bytes = reader.ReadLengthPrefixed(input.size());
    if (!bytes.ok()) break;
    out[i] = AsStringView(*bytes);
  }
  return out;
}

std::string JoinPieces(const std::vector<std::string>& pieces) {
  ByteWriter w;
  for (const std::string& p : pieces) w.LengthPrefixed(p);
  return std::string(AsStringView(ByteSpan(w.bytes())));
}

}  // namespace belfry::fuzz
