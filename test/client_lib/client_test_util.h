// test/client_lib/client_test_util.h — an in-memory cluster description with real reply
// keys, so tests can sign replies, refusals and integrity statements as replicas would.
#ifndef BELFRY_TEST_CLIENT_LIB_CLIENT_TEST_UTIL_H_
#define BELFRY_TEST_CLIENT_LIB_CLIENT_TEST_UTIL_H_

#include <sodium.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "base/bytes.h"
#include "config/cluster_config.h"
#include "proto/reply.pb.h"
#include "wire/statements.h"

namespace belfry::client::testing {

struct FakeCluster {
  config::ClusterConfig config;
  std::vector<std::array<uint8_t, crypto_sign_SECRETKEYBYTES>> secret_keys;

  std::string Sign(uint32_t replica, ByteSpan message) const {
    std::string sig(crypto_sign_BYTES, '\0');
    crypto_sign_detached(reinterpret_cast<uint8_t*>(sig.data()), nullptr, message.data(),
                         message.size(), secret_keys.at(replica).data());
    return sig;
  }
};

inline FakeCluster MakeFakeCluster(uint32_t n, uint32_t f, const std::string& id = "test-cluster") {
  REQUIRE(sodium_init() >= 0);
  FakeCluster c;
  c.config.proto.set_cluster_id(id);
  c.config.proto.set_f(f);
  for (uint32_t i = 0; i < n; ++i) {
    std::array<uint8_t, crypto_sign_PUBLICKEYBYTES> pk{};
    std::array<uint8_t, crypto_sign_SECRETKEYBYTES> sk{};
    crypto_sign_keypair(pk.data(), sk.data());
    auto* r = c.config.proto.add_replicas();
    r->set_id(i);
    r->set_reply_public_key_hex(ToHex(pk));
    c.secret_keys.push_back(sk);
  }
  return c;
}

// A signed reply of `replica` to request `request_id` (raw 32 bytes).
inline pb::SignedReply SignedReply(const FakeCluster& c, uint32_t replica,
                                   const std::string& request_id, const std::string& result,
                                   uint64_t epoch, pb::ReplyAttachments attachments = {}) {
  pb::ReplyBody body;
  body.set_cluster_id(c.config.cluster_id());
  body.set_request_id(request_id);
  body.set_result(result);
  body.set_epoch(epoch);
  pb::SignedReply reply;
  reply.set_replica(replica);
  reply.set_body(body.SerializeAsString());
  *reply.mutable_attachments() = std::move(attachments);
  reply.set_signature(
      c.Sign(replica, wire::ReplyStatement(replica, AsBytes(reply.body()), reply.attachments())));
  return reply;
}

// A fresh private temporary folder, removed with its contents at scope exit.
class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/belfry-client-test-XXXXXX";
    const char* made = ::mkdtemp(pattern);
    REQUIRE(made != nullptr);
    path_ = made;
  }
  ~TempDir() {
    const std::string command = "rm -rf '" + path_ + "'";
    // Best effort cleanup of a folder this test created.
    (void)std::system(command.c_str());
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace belfry::client::testing

#endif  // BELFRY_TEST_CLIENT_LIB_CLIENT_TEST_UTIL_H_
