#include "test/replica_sim/cluster.h"

#include <map>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/bytes.h"
#include "base/check.h"
#include "base/rng.h"
#include "config/threshold_keys.h"
#include "consensus/threshold_coin.h"
#include "pki/issuer.h"
#include "test/config/test_cluster.h"
#include "threshold/keys.h"
#include "threshold/tdh2.h"

namespace belfry::rsim {
namespace {

#if __has_include("test/replica_sim/users.inc")
#include "test/replica_sim/users.inc"
#define BELFRY_RSIM_HAVE_USERS 1
#endif

constexpr uint64_t kCoinSeed = 0xC011;
constexpr uint64_t kTdh2Seed = 0x7D42;

struct Dealt {
  threshold::DealtKeySet coin;
  threshold::DealtKeySet tdh2;
};

threshold::DealtKeySet DealSeeded(uint32_t n, uint64_t seed) {
  DeterministicRng rng(seed * 131 + n);
  absl::StatusOr<threshold::DealtKeySet> dealt = threshold::Deal(n, (n - 1) / 3, rng);
  BELFRY_CHECK(dealt.ok());
  return *std::move(dealt);
}

const Dealt& DealtFor(uint32_t n) {
  static std::map<uint32_t, std::unique_ptr<Dealt>>* cache = new std::map<uint32_t, std::unique_ptr<Dealt>>();
  auto it = cache->find(n);
  if (it == cache->end()) {
    auto d = std::make_unique<Dealt>(Dealt{DealSeeded(n, kCoinSeed), DealSeeded(n, kTdh2Seed)});
    it = cache->emplace(n, std::move(d)).first;
  }
  return *it->second;
}

std::array<uint8_t, 32> ReplySeed(uint32_t n, uint32_t id) {
  std::array<uint8_t, 32> seed{};
  seed.fill(0x5A);
  seed[0] = static_cast<uint8_t>(id);
  seed[1] = static_cast<uint8_t>(n);
  return seed;
}

}  // namespace

std::string UserName(uint32_t user) { return absl::StrCat("simuser", user); }

std::array<uint8_t, 32> UserKeySeed(uint32_t user) {
  std::array<uint8_t, 32> seed{};
  seed.fill(0x75);
  seed[0] = static_cast<uint8_t>(user);
  return seed;
}

const config::ClusterConfig& SimCluster(uint32_t n) {
  static std::map<uint32_t, std::unique_ptr<config::ClusterConfig>>* cache =
      new std::map<uint32_t, std::unique_ptr<config::ClusterConfig>>();
  auto it = cache->find(n);
  if (it != cache->end()) return *it->second;
  BELFRY_CHECK(n == 4 || n == 7);
  std::vector<std::string> reply_keys;
  for (uint32_t i = 0; i < n; ++i) reply_keys.push_back(ToHex(replica::ReplySigner::FromSeed(ReplySeed(n, i)).public_key()));
  pb::ClusterConfig p = config::testing::ClusterProto(absl::StrCat("sim-cluster-", n), (n - 1) / 3, reply_keys);
  *p.mutable_coin_keys() = config::PublicKeySetToConfig(DealtFor(n).coin.public_keys);
  *p.mutable_encryption_keys() = config::PublicKeySetToConfig(DealtFor(n).tdh2.public_keys);
  pb::Limits* l = p.mutable_limits();
  // Small enough that short runs reach every bound the replica layer has.
  l->set_epochs_in_flight_max(3);
  l->set_batch_requests_max(2);
  l->set_checkpoint_interval_epochs(4);
  l->set_log_retained_epochs(16);
  absl::StatusOr<config::ClusterConfig> parsed =
      config::ParseClusterConfig(config::FormatClusterConfig(p), "cluster.conf", "/nonexistent");
  BELFRY_CHECK(parsed.ok());
  it = cache->emplace(n, std::make_unique<config::ClusterConfig>(*std::move(parsed))).first;
  return *it->second;
}

replica::ReplicaKeys SimKeys(uint32_t n, uint32_t id) {
  // Shares are consumed by the schemes: deal again (cheap at these sizes, and fixed).
  threshold::DealtKeySet coin = DealSeeded(n, kCoinSeed);
  threshold::DealtKeySet tdh2 = DealSeeded(n, kTdh2Seed);
  replica::ReplicaKeys keys{.reply = replica::ReplySigner::FromSeed(ReplySeed(n, id)),
                            .coin = nullptr,
                            .decryption = nullptr,
                            .service = nullptr,
                            .service_key_digest = {},
                            .service_cert_der = {},
                            .key_generation_dir = {}};
  auto scheme = consensus::ThresholdCoinScheme::Create(std::move(coin.shares[id]), coin.public_keys);
  BELFRY_CHECK(scheme.ok());
  keys.coin = std::move(*scheme);
  auto provider = threshold::DecryptionShareProvider::Create(std::move(tdh2.shares[id]), tdh2.public_keys);
  BELFRY_CHECK(provider.ok());
  keys.decryption = std::make_unique<threshold::DecryptionShareProvider>(std::move(*provider));
  return keys;
}

#ifdef BELFRY_RSIM_HAVE_USERS
const pki::CaBundle& SimCaBundle() {
  static const pki::CaBundle* bundle = [] {
    absl::StatusOr<pki::CaBundle> b = pki::CaBundle::FromPem(kCaPem);
    BELFRY_CHECK(b.ok());
    return new pki::CaBundle(*std::move(b));
  }();
  return *bundle;
}

const std::string& UserCertDer(uint32_t user) {
  static const std::vector<std::string>* ders = [] {
    auto* out = new std::vector<std::string>();
    for (const char* pem : kUserPems) {
      absl::StatusOr<Bytes> der = pki::CertificatePemToDer(pem);
      BELFRY_CHECK(der.ok());
      out->emplace_back(der->begin(), der->end());
    }
    return out;
  }();
  BELFRY_CHECK(user < ders->size());
  return (*ders)[user];
}
#endif

const pki::Ed25519PrivateKey& UserKey(uint32_t user) {
  static std::vector<std::unique_ptr<pki::Ed25519PrivateKey>>* keys = [] {
    auto* out = new std::vector<std::unique_ptr<pki::Ed25519PrivateKey>>();
    for (uint32_t u = 0; u < kUsers; ++u) {
      const auto seed = UserKeySeed(u);
      absl::StatusOr<pki::Ed25519PrivateKey> k = pki::Ed25519PrivateKey::FromSeed(seed);
      BELFRY_CHECK(k.ok());
      out->push_back(std::make_unique<pki::Ed25519PrivateKey>(*std::move(k)));
    }
    return out;
  }();
  BELFRY_CHECK(user < keys->size());
  return *(*keys)[user];
}

}  // namespace belfry::rsim
