// threshold-bench: how fast the threshold coin, TDH2 and threshold RSA run on this machine.
//
// For N = 4 (f = 1) and N = 16 (f = 5) it times each operation a node or client performs
// — coin share create/verify/combine, TDH2 encrypt, ciphertext check, decryption share
// create (which includes the ciphertext check)/verify/combine — single-threaded, for at
// least kMeasureSeconds of CPU time each, and prints a Markdown table of operations per second.
// A second table does the same for Shoup's threshold RSA (N = 4, f = 1) with 2048- and
// 3072-bit moduli, dealt from the fixed safe primes of test/threshold/testdata (finding
// 1536-bit safe primes can take minutes, which would measure luck rather than signing).
// With --dkg it prints instead one table for dealer-free key generation (threshold/dkg/) at
// N = 4, 7 and 16: a dealer's Part, a recipient's Ack, a node's share once the run is
// decided, and the public result.
// Progress goes to stderr, the tables to stdout. Not a test: numbers vary by machine.
#include <openssl/crypto.h>
#include <sodium.h>
#include <time.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "base/check.h"
#include "base/rng.h"
#include "threshold/coin.h"
#include "threshold/dkg/key_generation.h"
#include "threshold/keys.h"
#include "threshold/rsa/keys.h"
#include "threshold/rsa/signature.h"
#include "threshold/tdh2.h"

namespace belfry::threshold {
namespace {

constexpr double kMeasureSeconds = 0.5;

// This thread's CPU time in seconds. CPU time rather than wall time, so that other
// processes competing for the cores do not count against the operation being measured.
double ThreadCpuSeconds() {
  timespec ts;
  BELFRY_CHECK(::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Calls `op` repeatedly for at least kMeasureSeconds of CPU time; returns operations per
// CPU-second.
double OpsPerSecond(const std::function<void()>& op) {
  op();  // warm up caches and lazily built constants
  const double start = ThreadCpuSeconds();
  uint64_t count = 0;
  double elapsed = 0;
  do {
    for (int i = 0; i < 8; ++i) op();
    count += 8;
    elapsed = ThreadCpuSeconds() - start;
  } while (elapsed < kMeasureSeconds);
  return static_cast<double>(count) / elapsed;
}

struct Row {
  std::string operation;
  std::vector<double> ops_per_second;  // one per cluster size
};

// Keeps results observable so the optimizer cannot drop the work.
volatile uint8_t g_sink = 0;

std::vector<Row> Measure(uint32_t n, uint32_t f) {
  CryptoRng rng;
  DealtKeySet coin_keys = *Deal(n, f, rng);
  DealtKeySet tdh2_keys = *Deal(n, f, rng);
  const PublicKeySet coin_public = coin_keys.public_keys;
  const PublicKeySet tdh2_public = tdh2_keys.public_keys;
  std::vector<CoinSigner> signers;
  for (KeyShare& s : coin_keys.shares) signers.emplace_back(std::move(s));
  std::vector<DecryptionShareProvider> providers;
  for (KeyShare& s : tdh2_keys.shares) {
    providers.push_back(*DecryptionShareProvider::Create(std::move(s), tdh2_public));
  }

  const std::string name = "cluster/1/epoch/42/aba/3/round/0";
  std::vector<CoinShare> coin_shares;
  for (uint32_t i = 0; i <= f; ++i) coin_shares.push_back(*signers[i].MakeShare(name));
  const SymmetricKey key = SymmetricKey::Random(rng);
  const std::string label = "doc/benchmark-document/version/7";
  const Ciphertext ct = *Encrypt(tdh2_public, label, key, rng);
  std::vector<DecryptionShare> shares;
  for (uint32_t i = 0; i <= f; ++i) shares.push_back(*providers[i].MakeShare(ct, label));

  std::vector<Row> rows;
  auto run = [&](const std::string& what, const std::function<void()>& op) {
    std::fprintf(stderr, "  N=%u: %s...\n", n, what.c_str());
    rows.push_back(Row{what, {OpsPerSecond(op)}});
  };
  run("coin share create", [&] { g_sink = g_sink ^ signers[0].MakeShare(name)->value.bytes()[0]; });
  run("coin share verify", [&] { BELFRY_CHECK(VerifyCoinShare(coin_public, name, coin_shares[0]).ok()); });
  run("coin combine (f+1 shares)",
      [&] { g_sink = g_sink ^ CombineCoin(coin_public, name, coin_shares)->bytes[0]; });
  run("TDH2 encrypt", [&] { g_sink = g_sink ^ Encrypt(tdh2_public, label, key, rng)->masked_key[0]; });
  run("TDH2 ciphertext check", [&] { BELFRY_CHECK(VerifyCiphertext(tdh2_public, ct).ok()); });
  run("TDH2 decryption share create (incl. check)",
      [&] { g_sink = g_sink ^ providers[0].MakeShare(ct, label)->value.bytes()[0]; });
  run("TDH2 decryption share verify",
      [&] { BELFRY_CHECK(VerifyDecryptionShare(tdh2_public, ct, shares[0]).ok()); });
  run("TDH2 combine (f+1 shares)",
      [&] { BELFRY_CHECK(*CombineDecryptionShares(tdh2_public, ct, shares) == key); });
  return rows;
}

// The safe primes named in test/threshold/testdata/rsa_safe_primes.txt.
std::map<std::string, Bytes> ReadSafePrimes() {
  std::ifstream in(std::string(BELFRY_THRESHOLD_TESTDATA_DIR) + "/rsa_safe_primes.txt");
  BELFRY_CHECK(in.good());
  std::map<std::string, Bytes> primes;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string name, equals, hex;
    fields >> name >> equals >> hex;
    if (hex.size() % 2 != 0) hex = "0" + hex;
    absl::StatusOr<Bytes> bytes = FromHex(hex);
    BELFRY_CHECK(bytes.ok());
    primes[name] = *bytes;
  }
  return primes;
}

// Threshold RSA at one modulus size (N = 4, f = 1): the per-node share, a peer's check of
// it, the combiner's optimistic path, the combiner when one of the f+1 shares is bad (it
// then checks every proof), and a plain signature check as a client makes it.
std::vector<Row> MeasureRsa(uint32_t modulus_bits, const std::map<std::string, Bytes>& primes) {
  const uint32_t n = 4;
  const uint32_t f = 1;
  const std::string half = std::to_string(modulus_bits / 2);
  CryptoRng rng;
  absl::StatusOr<rsa::DealtKeySet> dealt = rsa::DealFromPrimes(n, f, primes.at("p" + half), primes.at("q" + half), rng);
  BELFRY_CHECK(dealt.ok());
  const rsa::PublicKeySet keys = dealt->public_keys;
  BELFRY_CHECK(keys.modulus_bits() == modulus_bits);
  std::vector<rsa::ShareSigner> signers;
  for (rsa::KeyShare& s : dealt->shares) signers.emplace_back(std::move(s));

  const std::string message(1024, 'c');  // about a certificate's to-be-signed part
  const ByteSpan m = AsBytes(message);
  std::vector<rsa::SignatureShare> shares;
  for (uint32_t i = 0; i <= f + 1; ++i) shares.push_back(*signers[i].MakeShare(m));
  const std::vector<rsa::SignatureShare> first = {shares[0], shares[1]};
  rsa::SignatureShare bad = shares[0];
  bad.value.back() ^= 1;
  const std::vector<rsa::SignatureShare> with_bad = {bad, shares[1], shares[2]};
  const Bytes signature = *rsa::CombineSignatureShares(keys, m, first).signature;

  std::vector<Row> rows;
  auto run = [&](const std::string& what, const std::function<void()>& op) {
    std::fprintf(stderr, "  RSA %u bits: %s...\n", modulus_bits, what.c_str());
    rows.push_back(Row{what, {OpsPerSecond(op)}});
  };
  run("RSA signature share create (incl. proof)", [&] { g_sink = g_sink ^ signers[0].MakeShare(m)->value[0]; });
  run("RSA signature share verify", [&] { BELFRY_CHECK(rsa::VerifySignatureShare(keys, m, shares[0]).ok()); });
  run("RSA combine, optimistic (f+1 valid shares)",
      [&] { g_sink = g_sink ^ (*rsa::CombineSignatureShares(keys, m, first).signature)[0]; });
  run("RSA combine, one bad share (all proofs checked)", [&] {
    const rsa::CombineResult r = rsa::CombineSignatureShares(keys, m, with_bad);
    BELFRY_CHECK(r.signature.ok() && r.faulty_indices.size() == 1);
  });
  run("RSA signature verify (e = 65537)", [&] { BELFRY_CHECK(rsa::VerifySignature(keys, m, signature).ok()); });
  return rows;
}

void PrintTable(const std::string& header, const std::vector<Row>& table);

// Key generation at one size: MakePart for dealer 1, MakeAck of dealer 1's Part by node 1,
// and, on a run decided with honest messages, MyShare of node 1 and Result.
std::vector<Row> MeasureDkg(uint32_t n, uint32_t f) {
  CryptoRng rng;
  std::vector<dkg::EncryptionKeyPair> keys;
  dkg::Config config;
  config.mode = dkg::Mode::kFresh;
  config.n = config.n_dealers = n;
  config.f = config.f_dealers = f;
  config.context = "bench/dkg";
  for (uint32_t m = 0; m < n; ++m) {
    keys.push_back(dkg::EncryptionKeyPair::Generate(rng));
    config.encryption_keys.push_back(keys.back().public_key());
  }
  absl::StatusOr<dkg::KeyGeneration> kg = dkg::KeyGeneration::Create(config);
  BELFRY_CHECK(kg.ok());
  for (uint32_t i = 1; i <= n; ++i) BELFRY_CHECK(kg->AddPart(i, *dkg::MakePart(config, i, nullptr, rng)).ok());
  for (uint32_t i = 1; i <= n && !kg->done(); ++i) {
    for (uint32_t m = 1; m <= n && !kg->done(); ++m) {
      BELFRY_CHECK(kg->AddAck(m, *kg->MakeAck(m, keys[m - 1], i, rng)).ok());
    }
  }
  BELFRY_CHECK(kg->done());

  std::vector<Row> rows;
  auto run = [&](const std::string& what, const std::function<void()>& op) {
    std::fprintf(stderr, "  DKG N=%u: %s...\n", n, what.c_str());
    rows.push_back(Row{what, {OpsPerSecond(op)}});
  };
  run("MakePart (a dealer's Part)", [&] { g_sink = g_sink ^ dkg::MakePart(config, 1, nullptr, rng)->rows(0)[0]; });
  run("MakeAck (open, check, seal n values)",
      [&] { g_sink = g_sink ^ kg->MakeAck(1, keys[0], 1, rng)->values(0)[0]; });
  run("MyShare (f+1 dealings, t+1 values each)",
      [&] { g_sink = g_sink ^ kg->MyShare(1, keys[0], nullptr)->verification_key().bytes()[0]; });
  run("Result (public key set from commitments)",
      [&] { g_sink = g_sink ^ kg->Result()->public_key().bytes()[0]; });
  return rows;
}

int MainDkg() {
  const std::vector<std::pair<uint32_t, uint32_t>> sizes = {{4, 1}, {7, 2}, {16, 5}};
  std::vector<Row> table;
  for (const auto& [n, f] : sizes) {
    std::fprintf(stderr, "measuring key generation, N=%u f=%u\n", n, f);
    std::vector<Row> rows = MeasureDkg(n, f);
    if (table.empty()) {
      table = std::move(rows);
    } else {
      for (size_t r = 0; r < rows.size(); ++r) table[r].ops_per_second.push_back(rows[r].ops_per_second[0]);
    }
  }
  std::printf("libsodium %s, single thread, operations per CPU-second (µs of CPU per operation)\n\n",
              sodium_version_string());
  PrintTable("| operation | N=4, f=1 | N=7, f=2 | N=16, f=5 |\n|---|---:|---:|---:|\n", table);
  return 0;
}

void PrintTable(const std::string& header, const std::vector<Row>& table) {
  std::printf("%s", header.c_str());
  for (const Row& row : table) {
    std::printf("| %s |", row.operation.c_str());
    for (double ops : row.ops_per_second) std::printf(" %.0f/s (%.0f µs) |", ops, 1e6 / ops);
    std::printf("\n");
  }
}

int Main(bool dkg_only) {
  BELFRY_CHECK(sodium_init() >= 0);
  if (dkg_only) return MainDkg();
  const std::vector<std::pair<uint32_t, uint32_t>> sizes = {{4, 1}, {16, 5}};
  std::vector<Row> table;
  for (const auto& [n, f] : sizes) {
    std::fprintf(stderr, "measuring N=%u f=%u\n", n, f);
    std::vector<Row> rows = Measure(n, f);
    if (table.empty()) {
      table = std::move(rows);
    } else {
      for (size_t r = 0; r < rows.size(); ++r) table[r].ops_per_second.push_back(rows[r].ops_per_second[0]);
    }
  }
  std::printf("libsodium %s, single thread, operations per CPU-second (µs of CPU per operation)\n\n",
              sodium_version_string());
  PrintTable("| operation | N=4, f=1 | N=16, f=5 |\n|---|---:|---:|\n", table);

  const std::map<std::string, Bytes> primes = ReadSafePrimes();
  std::vector<Row> rsa_table;
  for (const uint32_t bits : {2048u, 3072u}) {
    std::fprintf(stderr, "measuring threshold RSA, %u-bit modulus\n", bits);
    std::vector<Row> rows = MeasureRsa(bits, primes);
    if (rsa_table.empty()) {
      rsa_table = std::move(rows);
    } else {
      for (size_t r = 0; r < rows.size(); ++r) rsa_table[r].ops_per_second.push_back(rows[r].ops_per_second[0]);
    }
  }
  std::printf("\n%s, N=4, f=1, single thread, operations per CPU-second\n\n", OpenSSL_version(OPENSSL_VERSION));
  PrintTable("| operation | 2048-bit modulus | 3072-bit modulus |\n|---|---:|---:|\n", rsa_table);
  return 0;
}

}  // namespace
}  // namespace belfry::threshold

int main(int argc, char** argv) {
  const bool dkg_only = argc == 2 && std::string(argv[1]) == "--dkg";
  if (argc > 2 || (argc == 2 && !dkg_only)) {
    std::fprintf(stderr, "usage: %s [--dkg]\n", argv[0]);
    return 2;
  }
  return belfry::threshold::Main(dkg_only);
}
