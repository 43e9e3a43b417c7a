#include "transport/tls.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <chrono>
#include <exception>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/files.h"
#include "base/openssl.h"

namespace belfry::transport {

using openssl::OpenSslError;

namespace {

// Highest replica id accepted in a name; far above any real cluster, and it keeps the
// parse free of overflow.
constexpr uint32_t kReplicaIdMax = 1u << 20;
constexpr int kVerifyDepthMax = 2;

absl::Status ConfigureProfile(SSL_CTX* ctx, TlsSide side) {
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "cannot restrict TLS to version 1.3");
  }
  // No resumption at all: no tickets, no cache, no early data. A resumed or 0-RTT
  // connection would skip the certificate check that names the peer.
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION |
                               SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  if (SSL_CTX_set_max_early_data(ctx, 0) != 1 || SSL_CTX_set_recv_max_early_data(ctx, 0) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "cannot disable early data");
  }
  if (side == TlsSide::kServer && SSL_CTX_set_num_tickets(ctx, 0) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "cannot disable session tickets");
  }
  // Both sides must present a certificate; the handshake fails otherwise.
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  SSL_CTX_set_verify_depth(ctx, kVerifyDepthMax);
  return absl::OkStatus();
}

absl::Status InstallCredentials(SSL_CTX* ctx, const TlsCredentials& credentials) {
  if (!credentials.ca || !credentials.key || credentials.ca->x509_store() == nullptr) {
    return absl::InvalidArgumentError("TLS credentials lack a CA bundle or a key");
  }
  openssl::BioPtr bio = openssl::MemoryBio(credentials.cert_pem);
  if (!bio) {
    return absl::InvalidArgumentError("certificate PEM is too large");
  }
  openssl::X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) {
    return OpenSslError(absl::StatusCode::kInvalidArgument, "cannot parse own certificate");
  }
  if (SSL_CTX_use_certificate(ctx, cert.get()) != 1) {
    return OpenSslError(absl::StatusCode::kInvalidArgument, "cannot use own certificate");
  }
  if (SSL_CTX_use_PrivateKey(ctx, credentials.key->native_handle()) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    return OpenSslError(absl::StatusCode::kInvalidArgument,
                        "own key does not match own certificate");
  }
  // Trust exactly the cluster bundle (shared, reference-counted), never system roots.
  SSL_CTX_set1_cert_store(ctx, static_cast<X509_STORE*>(credentials.ca->x509_store()));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<TlsCredentials> TlsCredentials::FromFiles(const std::string& ca_path,
                                                         const std::string& cert_path,
                                                         const std::string& key_path,
                                                         const std::string& crl_path) {
  absl::StatusOr<pki::CaBundle> ca = pki::CaBundle::FromFile(ca_path);
  if (!crl_path.empty() && ca.ok()) {
    absl::StatusOr<std::string> ca_pem = ReadFileBounded(ca_path, kPemFileBytesMax);
    absl::StatusOr<std::string> crl_pem = ReadFileBounded(crl_path, kPemFileBytesMax);
    if (!ca_pem.ok()) return ca_pem.status();
    if (!crl_pem.ok()) return crl_pem.status();
    ca = pki::CaBundle::FromPemWithCrls(*ca_pem, *crl_pem);
    if (!ca.ok()) {
      return absl::Status(ca.status().code(), absl::StrCat(crl_path, ": ", ca.status().message()));
    }
  }
  if (!ca.ok()) {
    return ca.status();
  }
  absl::StatusOr<std::string> cert = ReadFileBounded(cert_path, kPemFileBytesMax);
  if (!cert.ok()) {
    return cert.status();
  }
  absl::StatusOr<pki::Ed25519PrivateKey> key = pki::Ed25519PrivateKey::FromFile(key_path);
  if (!key.ok()) {
    return key.status();
  }
  TlsCredentials out;
  out.ca = std::make_shared<const pki::CaBundle>(std::move(*ca));
  out.cert_pem = std::move(*cert);
  out.key = std::make_shared<const pki::Ed25519PrivateKey>(std::move(*key));
  return out;
}

absl::StatusOr<std::shared_ptr<asio::ssl::context>> MakeTlsContext(
    const TlsCredentials& credentials, TlsSide side) {
  std::shared_ptr<asio::ssl::context> context;
  // asio's context constructor reports OpenSSL failures by throwing; keep that inside.
  try {
    context = std::make_shared<asio::ssl::context>(side == TlsSide::kServer
                                                       ? asio::ssl::context::tls_server
                                                       : asio::ssl::context::tls_client);
  } catch (const std::exception& e) {
    openssl::DrainOpenSslErrors();
    return absl::InternalError(absl::StrCat("cannot create a TLS context: ", e.what()));
  }
  SSL_CTX* ctx = context->native_handle();
  absl::Status status = ConfigureProfile(ctx, side);
  if (status.ok()) {
    status = InstallCredentials(ctx, credentials);
  }
  if (!status.ok()) {
    return status;
  }
  return context;
}

absl::StatusOr<pki::CertIdentity> PeerIdentity(SSL* ssl, const pki::CaBundle& ca,
                                               int64_t now_unix_s) {
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr) {
    return absl::PermissionDeniedError("peer presented no certificate");
  }
  const int len = i2d_X509(cert, nullptr);
  if (len <= 0) {
    return OpenSslError(absl::StatusCode::kPermissionDenied,
                        "cannot encode the peer certificate");
  }
  Bytes der(static_cast<size_t>(len));
  unsigned char* p = der.data();
  if (i2d_X509(cert, &p) != len) {
    return OpenSslError(absl::StatusCode::kPermissionDenied,
                        "cannot encode the peer certificate");
  }
  return ca.Verify(der, now_unix_s);
}

int64_t WallClockUnixSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string ReplicaName(uint32_t id) { return absl::StrCat("replica-", id); }

absl::StatusOr<uint32_t> ParseReplicaName(std::string_view common_name) {
  constexpr std::string_view kPrefix = "replica-";
  if (common_name.substr(0, kPrefix.size()) != kPrefix) {
    return absl::InvalidArgumentError("not a replica name");
  }
  const std::string_view digits = common_name.substr(kPrefix.size());
  if (digits.empty() || digits.size() > 7 || (digits.size() > 1 && digits[0] == '0')) {
    return absl::InvalidArgumentError("malformed replica number");
  }
  uint32_t id = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') {
      return absl::InvalidArgumentError("malformed replica number");
    }
    id = id * 10 + static_cast<uint32_t>(c - '0');
  }
  if (id > kReplicaIdMax) {
    return absl::InvalidArgumentError("replica number out of range");
  }
  return id;
}

}  // namespace belfry::transport
