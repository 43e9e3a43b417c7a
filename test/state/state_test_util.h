// test/state/state_test_util.h — a small cluster-of-one harness for the 3S state
// machine: a test CA and users (pki/issuer.h), a deterministic TDH2 key set, request
// builders that sign like a client, and a MemoryStore that commits one epoch per run.
#ifndef BELFRY_TEST_STATE_STATE_TEST_UTIL_H_
#define BELFRY_TEST_STATE_STATE_TEST_UTIL_H_

#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "base/bytes.h"
#include "base/rng.h"
#include "pki/certificate.h"
#include "pki/issuer.h"
#include "proto/service.pb.h"
#include "replica/state/config.h"
#include "replica/state/state_machine.h"
#include "replica/state/state_view.h"
#include "replica/state/tdh2_ciphertext_check.h"
#include "replica/store/memory_store.h"
#include "threshold/keys.h"
#include "threshold/tdh2.h"
#include "wire/request_format.h"

namespace belfry::state::testing {

// Consensus time at the start of every test, in ms (November 2023).
inline constexpr int64_t kT0 = 1'700'000'000'000;
inline constexpr int64_t kT0Seconds = kT0 / 1000;
inline const std::string kCluster = "test-cluster";

template <typename T>
T OrDie(absl::StatusOr<T> v) {
  INFO(v.status().ToString());
  REQUIRE(v.ok());
  return std::move(*v);
}

inline Config TestConfig() {
  Config c;
  c.cluster_id = kCluster;
  return c;
}

// TestPki: a CA valid from a day before kT0 for ten years, and leaf issuance.
class TestPki {
 public:
  TestPki()
      : ca_(OrDie(pki::CertificateAuthority::Create("test-ca", kT0Seconds - 86400,
                                                    kT0Seconds + 10LL * 365 * 86400))),
        bundle_(OrDie(pki::CaBundle::FromPem(ca_.cert_pem()))) {}

  pki::IssuedCertificate Issue(const std::string& cn, pki::Role role = pki::Role::kUser,
                               int64_t not_before_s = kT0Seconds - 3600,
                               int64_t not_after_s = kT0Seconds + 365 * 86400) const {
    return OrDie(ca_.Issue(pki::CertificateRequest{cn, role, not_before_s, not_after_s}));
  }
  const pki::CaBundle& bundle() const { return bundle_; }
  const pki::CertificateAuthority& ca() const { return ca_; }

  // An ordered revocation of `uid` signed by `signer`'s key, naming `signer`'s certificate
  // (service.proto Revocation), as belfry-setup makes it.
  static std::string Revocation(const pki::CertificateAuthority& signer, const std::string& uid,
                                int64_t issued_unix_ms = kT0) {
    pb::RequestBody body;
    body.set_cluster_id(kCluster);
    body.mutable_revocation()->set_uid(uid);
    const Bytes der = OrDie(pki::CertificatePemToDer(signer.cert_pem()));
    body.mutable_revocation()->set_ca_cert_der(std::string(der.begin(), der.end()));
    body.mutable_revocation()->set_issued_unix_ms(issued_unix_ms);
    pb::SignedRequest request;
    request.set_body(body.SerializeAsString());
    const pki::Ed25519Signature sig = OrDie(signer.key().Sign(wire::RequestSigningMessage(request.body())));
    request.set_signature(std::string(sig.begin(), sig.end()));
    return request.SerializeAsString();
  }
  std::string Revocation(const std::string& uid, int64_t issued_unix_ms = kT0) const {
    return Revocation(ca_, uid, issued_unix_ms);
  }

 private:
  pki::CertificateAuthority ca_;
  pki::CaBundle bundle_;
};

// SessionKeyPair: an Ed25519 pair from a seed, so tests are reproducible.
struct SessionKeyPair {
  std::array<uint8_t, crypto_sign_PUBLICKEYBYTES> pk{};
  std::array<uint8_t, crypto_sign_SECRETKEYBYTES> sk{};

  static SessionKeyPair FromSeed(uint64_t seed) {
    std::array<uint8_t, crypto_sign_SEEDBYTES> s{};
    for (int i = 0; i < 8; ++i) s[i] = static_cast<uint8_t>(seed >> (8 * i));
    s[31] = 0x5e;
    SessionKeyPair kp;
    crypto_sign_seed_keypair(kp.pk.data(), kp.sk.data(), s.data());
    return kp;
  }
  std::string Sign(ByteSpan message) const {
    std::string sig(crypto_sign_BYTES, '\0');
    crypto_sign_detached(reinterpret_cast<uint8_t*>(sig.data()), nullptr, message.data(),
                         message.size(), sk.data());
    return sig;
  }
  std::string pk_string() const { return std::string(AsStringView(ByteSpan(pk))); }
};

inline std::string Serialize(const pb::RequestBody& body, const std::string& signature) {
  pb::SignedRequest req;
  req.set_body(body.SerializeAsString());
  req.set_signature(signature);
  return req.SerializeAsString();
}

// TestUser: a user with a certificate, its long-term key, and a current session.
class TestUser {
 public:
  // Copies share the certificate and snapshot the session (key and next seq), so a test
  // can keep an old session around after the user logs in again.
  TestUser(std::string uid, pki::IssuedCertificate cert, uint64_t seed)
      : uid_(std::move(uid)),
        cert_(std::make_shared<const pki::IssuedCertificate>(std::move(cert))),
        seed_(seed) {}

  const std::string& uid() const { return uid_; }
  const pki::IssuedCertificate& cert() const { return *cert_; }
  const SessionKeyPair& session() const { return session_; }

  // A login body for a fresh session key (which becomes current), unsigned.
  pb::RequestBody LoginBody(int64_t client_time_ms) {
    session_ = SessionKeyPair::FromSeed(seed_ * 1000 + ++sessions_);
    next_seq_ = 0;
    pb::RequestBody body;
    body.set_cluster_id(kCluster);
    pb::Login* login = body.mutable_login();
    login->set_uid(uid_);
    login->set_user_cert_der(std::string(AsStringView(cert_->cert_der)));
    login->set_session_public_key(session_.pk_string());
    login->set_client_time_ms(client_time_ms);
    login->set_nonce(std::string(16, static_cast<char>('A' + sessions_ % 26)));
    SignProof(body);
    return body;
  }
  // Recomputes the session-key proof after a test edits a login body.
  void SignProof(pb::RequestBody& body) const {
    pb::Login* login = body.mutable_login();
    login->set_session_key_proof(session_.Sign(wire::SessionKeyProofMessage(
        body.cluster_id(), login->uid(), AsBytes(login->session_public_key()),
        login->client_time_ms(), AsBytes(login->nonce()))));
  }
  // Signs a body with this user's long-term key.
  std::string SignWithUserKey(const pb::RequestBody& body) const {
    const std::string b = body.SerializeAsString();
    auto sig = OrDie(cert_->key.Sign(wire::RequestSigningMessage(b)));
    pb::SignedRequest req;
    req.set_body(b);
    req.set_signature(std::string(AsStringView(ByteSpan(sig))));
    return req.SerializeAsString();
  }
  std::string Login(int64_t client_time_ms = kT0) { return SignWithUserKey(LoginBody(client_time_ms)); }

  // A session op with the next seq (or `seq`), signed with the current session key.
  std::string Op(pb::SessionOp op, std::optional<uint64_t> explicit_seq = std::nullopt) {
    const uint64_t seq = explicit_seq.has_value() ? *explicit_seq : ++next_seq_;
    pb::RequestBody body;
    body.set_cluster_id(kCluster);
    *body.mutable_op() = std::move(op);
    body.mutable_op()->set_session_public_key(session_.pk_string());
    body.mutable_op()->set_seq(seq);
    const std::string b = body.SerializeAsString();
    pb::SignedRequest req;
    req.set_body(b);
    req.set_signature(session_.Sign(wire::RequestSigningMessage(b)));
    return req.SerializeAsString();
  }

  static pb::SessionOp CheckInOp(const std::string& doc, const std::string& data,
                                 bool integrity = false) {
    pb::SessionOp op;
    op.mutable_check_in()->set_doc(doc);
    op.mutable_check_in()->set_data(data);
    op.mutable_check_in()->set_integrity(integrity);
    return op;
  }
  std::string CheckIn(const std::string& doc, const std::string& data, bool integrity = false) {
    return Op(CheckInOp(doc, data, integrity));
  }
  std::string CheckOut(const std::string& doc) {
    pb::SessionOp op;
    op.mutable_check_out()->set_doc(doc);
    op.mutable_check_out()->set_reply_public_key(std::string(32, '\x07'));
    return Op(std::move(op));
  }
  static pb::SessionOp GrantOp(const std::string& doc, const std::string& target,
                               pb::Rights rights, uint32_t seconds) {
    pb::SessionOp op;
    pb::Grant* g = op.mutable_grant();
    g->set_doc(doc);
    if (target == "ALL") {
      g->set_all_users(true);
    } else {
      g->set_target_uid(target);
    }
    g->set_rights(rights);
    g->set_seconds(seconds);
    return op;
  }
  std::string Grant(const std::string& doc, const std::string& target, pb::Rights rights,
                    uint32_t seconds) {
    return Op(GrantOp(doc, target, rights, seconds));
  }
  std::string Delete(const std::string& doc) {
    pb::SessionOp op;
    op.mutable_delete_()->set_doc(doc);
    return Op(std::move(op));
  }
  std::string Logout() {
    pb::SessionOp op;
    op.mutable_logout();
    return Op(std::move(op));
  }
  uint64_t next_seq() const { return next_seq_ + 1; }

 private:
  std::string uid_;
  std::shared_ptr<const pki::IssuedCertificate> cert_;
  uint64_t seed_;
  uint64_t sessions_ = 0;
  SessionKeyPair session_;
  uint64_t next_seq_ = 0;
};

// Outcome: one request's result and what it wrote.
struct Outcome {
  Executed ex;
  std::vector<std::string> written_keys;  // in key order
  wire::Digest digest_before{};
  wire::Digest digest_after{};

  pb::Status status() const { return ex.result.status(); }
  bool unchanged() const { return written_keys.empty() && digest_before == digest_after; }
};

// TestCluster: one replica's state machine over a MemoryStore; each Run is one epoch.
class TestCluster {
 public:
  explicit TestCluster(const TestPki& pki, Config config = TestConfig(), uint64_t tdh2_seed = 7)
      : keys_(DealKeys(tdh2_seed)), check_(keys_),
        machine_(OrDie(StateMachine::Create(std::move(config), pki.bundle(), check_))) {}

  std::vector<Executed> RunBatch(const std::vector<std::string>& requests, int64_t time_ms,
                                 std::vector<std::string>* written = nullptr) {
    StateView view(store_);
    std::vector<Executed> out = OrDie(machine_.ExecuteBatch(view, epoch_, time_ms, requests));
    ByteWriter batch;
    for (const Executed& ex : out) batch.Raw(ByteSpan(ex.request_id));
    if (written != nullptr) {
      for (const auto& [k, v] : view.writes().writes()) written->push_back(k);
    }
    REQUIRE(store_.CommitEpoch(epoch_, time_ms, view.writes(), wire::Sha256(batch.bytes())).ok());
    ++epoch_;
    return out;
  }

  // Runs one request as one epoch, at `time_ms` or, by default, at the last epoch's
  // consensus time (kT0 for the first), so consensus time never goes back.
  Outcome Run(const std::string& request, std::optional<int64_t> time = std::nullopt) {
    const int64_t time_ms = time.has_value() ? *time : now();
    Outcome o;
    o.digest_before = StateDigest();
    std::vector<Executed> out = RunBatch({request}, time_ms, &o.written_keys);
    o.ex = std::move(out.at(0));
    o.digest_after = StateDigest();
    return o;
  }

  int64_t now() const { return std::max(kT0, store_.last_consensus_time_ms()); }
  wire::Digest StateDigest() const { return OrDie(store_.ComputeStateDigest()); }
  store::MemoryStore& store() { return store_; }
  const threshold::PublicKeySet& tdh2_keys() const { return keys_; }
  const StateMachine& machine() const { return machine_; }
  const CiphertextCheck& ciphertext_check() const { return check_; }

  // A serialized TDH2 ciphertext of a fixed key under `label`.
  std::string EncryptKey(const Bytes& label, uint64_t seed = 1) const {
    DeterministicRng rng(seed);
    const threshold::SymmetricKey key = threshold::SymmetricKey::Random(rng);
    return OrDie(threshold::Encrypt(keys_, AsStringView(label), key, rng)).Serialize();
  }

  // Overwrites a state key as disk corruption would, in its own epoch.
  void CorruptKey(const std::string& key, const std::string& value) {
    WriteSet ws;
    ws.Put(key, value);
    REQUIRE(store_.CommitEpoch(epoch_, store_.last_consensus_time_ms(), ws, wire::Digest{}).ok());
    ++epoch_;
  }

 private:
  static threshold::PublicKeySet DealKeys(uint64_t seed) {
    DeterministicRng rng(seed);
    return OrDie(threshold::Deal(4, 1, rng)).public_keys;
  }

  threshold::PublicKeySet keys_;
  Tdh2CiphertextCheck check_;
  StateMachine machine_;
  store::MemoryStore store_;
  uint64_t epoch_ = 0;
};

// A confidential checkin op for `doc` with a ciphertext under the given label.
inline pb::SessionOp ConfidentialCheckInOp(const std::string& doc, const std::string& data,
                                           const std::string& nonce,
                                           const std::string& key_ciphertext) {
  pb::SessionOp op;
  pb::CheckIn* in = op.mutable_check_in();
  in->set_doc(doc);
  in->set_data(data);
  in->set_confidential(true);
  in->set_version_nonce(nonce);
  in->set_key_ciphertext(key_ciphertext);
  return op;
}

}  // namespace belfry::state::testing

#endif  // BELFRY_TEST_STATE_STATE_TEST_UTIL_H_
