// transport/tls.h — the TLS profile every Belfry connection uses, and who the peer is.
//
// Profile: TLS 1.3 only (1.2 and lower fail in the handshake), no session resumption and
// no 0-RTT (no tickets are issued, no session cache, early data 0 — so nothing a network
// attacker records can be replayed into a new connection), mutual authentication required
// (a peer without a certificate fails the handshake), and the only trust anchor is the
// cluster CA (plus its CRLs, if the bundle carries them). OpenSSL verifies the chain and
// validity during the handshake against the wall clock; the network layer is the one place
// where the local clock is the right judge.
//
// After the handshake, PeerIdentity re-reads the peer's certificate through
// pki::CaBundle::Verify to get its name, role and key. Which role may use which port is
// the caller's decision (peers: replica; clients: user), made right after the handshake.
#ifndef BELFRY_TRANSPORT_TLS_H_
#define BELFRY_TRANSPORT_TLS_H_

#include <openssl/ssl.h>

#include <asio.hpp>
#include <asio/ssl.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "pki/certificate.h"
#include "pki/key.h"

namespace belfry::transport {

// TlsCredentials: what this node presents (its certificate and key) and whom it trusts
// (the cluster CA bundle). Cheap to copy (shared, immutable parts); thread-safe to share.
struct TlsCredentials {
  std::shared_ptr<const pki::CaBundle> ca;
  std::string cert_pem;
  std::shared_ptr<const pki::Ed25519PrivateKey> key;

  // Loads the three PEM files and, when `crl_path` is not empty, the cluster's PEM CRL:
  // certificates it lists are then refused, and so is every certificate once the CRL is
  // past its nextUpdate (revocation fails closed). Errors name the file that failed.
  static absl::StatusOr<TlsCredentials> FromFiles(const std::string& ca_path,
                                                  const std::string& cert_path,
                                                  const std::string& key_path,
                                                  const std::string& crl_path = "");
};

enum class TlsSide : uint8_t { kServer, kClient };

// A TLS context with the profile above, holding `credentials`' certificate and key and
// trusting only its CA bundle. Every SSL object made from it shares those. The context is
// immutable once built and may be shared by any number of connections on any thread.
// INVALID_ARGUMENT if the certificate is malformed or does not match the key; INTERNAL on
// other OpenSSL failures. Never throws.
absl::StatusOr<std::shared_ptr<asio::ssl::context>> MakeTlsContext(
    const TlsCredentials& credentials, TlsSide side);

// The verified identity in the certificate the peer of `ssl` presented, checked again
// against `ca` at `now_unix_s`. PERMISSION_DENIED if there is no peer certificate or it
// does not verify. Call only after a successful handshake.
absl::StatusOr<pki::CertIdentity> PeerIdentity(SSL* ssl, const pki::CaBundle& ca,
                                               int64_t now_unix_s);

// The wall clock in seconds since the Unix epoch (the network layer's notion of "now").
int64_t WallClockUnixSeconds();

// "replica-K" for replica id K.
std::string ReplicaName(uint32_t id);

// K from "replica-K" (decimal, no sign, no leading zeros). INVALID_ARGUMENT otherwise.
absl::StatusOr<uint32_t> ParseReplicaName(std::string_view common_name);

}  // namespace belfry::transport

#endif  // BELFRY_TRANSPORT_TLS_H_
