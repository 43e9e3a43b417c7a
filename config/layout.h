// config/layout.h — where belfry-setup puts each file of a cluster folder.
//
//   DIR/cluster.conf                      public: the cluster's description (protobuf text)
//   DIR/ca.crt                            public: the cluster CA certificate
//   DIR/crl.pem                           public, optional: the cluster CRL (`belfry-setup
//                                         revoke`); replicas load it at start and on SIGHUP
//   DIR/revoked.pem                       public: the certificates that CRL lists
//   DIR/service.crt                       public: the service key's certificate (RSA, EKU
//                                         timeStamping), with ca.crt all a verifier needs
//   DIR/service-key.pub                   public: the service key's threshold key set
//   DIR/ca.key                            SECRET (0600): the CA key; only `add-user` needs it —
//                                         keep it offline in a real deployment
//   DIR/replicas/replica-K/tls.crt|.key   replica K's TLS identity (key 0600)
//   DIR/replicas/replica-K/reply.key      replica K's Ed25519 reply-signing seed (0600)
//   DIR/replicas/replica-K/coin.share     replica K's threshold coin key share (0600)
//   DIR/replicas/replica-K/tdh2.share     replica K's threshold decryption key share (0600)
//   DIR/replicas/replica-K/service.share  replica K's share of the service key (0600)
//   DIR/users/NAME/NAME.crt|.key          user NAME's certificate and key (key 0600)
//
// Each replica needs only its own folder plus cluster.conf and ca.crt, so a deployment
// can hand each trust domain exactly its own secrets. Replicas and tools find their files
// through these functions only.
#ifndef BELFRY_CONFIG_LAYOUT_H_
#define BELFRY_CONFIG_LAYOUT_H_

#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"

namespace belfry::config {

inline std::string ClusterConfigPath(const std::string& dir) { return dir + "/cluster.conf"; }
inline std::string CaCertPath(const std::string& dir) { return dir + "/ca.crt"; }
inline std::string CaKeyPath(const std::string& dir) { return dir + "/ca.key"; }
inline std::string ServiceCertPath(const std::string& dir) { return dir + "/service.crt"; }
inline std::string ServiceKeyPath(const std::string& dir) { return dir + "/service-key.pub"; }
inline std::string CrlPath(const std::string& dir) { return dir + "/crl.pem"; }
// Every certificate revoked so far (PEM, concatenated), from which crl.pem is remade.
inline std::string RevokedCertsPath(const std::string& dir) { return dir + "/revoked.pem"; }
inline std::string ReplicaDir(const std::string& dir, uint32_t id) {
  return absl::StrCat(dir, "/replicas/replica-", id);
}
inline std::string UserDir(const std::string& dir, const std::string& name) {
  return absl::StrCat(dir, "/users/", name);
}

// The files of one replica, relative to its folder.
struct ReplicaFiles {
  std::string tls_cert;
  std::string tls_key;
  std::string reply_key;
  std::string coin_share;
  std::string tdh2_share;
  std::string service_share;

  static ReplicaFiles In(const std::string& replica_dir) {
    return ReplicaFiles{replica_dir + "/tls.crt",    replica_dir + "/tls.key",
                        replica_dir + "/reply.key",  replica_dir + "/coin.share",
                        replica_dir + "/tdh2.share", replica_dir + "/service.share"};
  }
};

}  // namespace belfry::config

#endif  // BELFRY_CONFIG_LAYOUT_H_
