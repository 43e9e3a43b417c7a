// test/fuzz/make_corpus.cc — writes the seed corpora of the fuzz targets (fuzz-make-corpus).
//
//   fuzz-make-corpus OUT_DIR
//
// Writes OUT_DIR/<target>/<first 16 hex digits of the SHA-256 of the input>: real inputs
// made with the project's own code (frames, signed requests, recorded honest consensus
// runs, coin and decryption shares, ciphertexts, signed replies, certificates, config and
// key files) over the fixed keys of fixtures.h, so that each target starts deep inside
// its parser, plus a few malformed edge cases. Certificates and user keys are fresh on
// every run, so regenerating changes those files; the rest is deterministic. The files
// that crashed a target once are kept beside the seeds and are not written here.
#include <sodium.h>

#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/bytes.h"
#include "base/rng.h"
#include "base/sha256.h"
#include "client_lib/client.h"
#include "client_lib/session_file.h"
#include "config/cluster_config.h"
#include "consensus/aba/binary_agreement.h"
#include "consensus/aba/testing/fake_coin.h"
#include "consensus/epoch/honey_badger.h"
#include "consensus/rbc/broadcast.h"
#include "consensus/threshold_coin.h"
#include "evidence/integrity_certificate.h"
#include "evidence/internal/der.h"
#include "evidence/service_certificate.h"
#include "evidence/oids.h"
#include "pki/issuer.h"
#include "test/pki/test_service_key.h"
#include "threshold/rsa/signature.h"
#include "proto/reply.pb.h"
#include "proto/replica.pb.h"
#include "proto/service.pb.h"
#include "test/fuzz/fixtures.h"
#include "threshold/coin.h"
#include "threshold/key_file.h"
#include "threshold/sealed_share.h"
#include "threshold/rsa/internal/key_share_access.h"
#include "threshold/rsa/signature.h"
#include "threshold/tdh2.h"
#include "transport/frame.h"
#include "wire/request_format.h"
#include "wire/statements.h"

namespace belfry::fuzz {
namespace {

namespace consensus = belfry::consensus;

template <typename T>
T OrDie(absl::StatusOr<T> v, const char* what) {
  if (!v.ok()) {
    std::fprintf(stderr, "make_corpus: %s: %s\n", what, v.status().ToString().c_str());
    std::exit(1);
  }
  return std::move(*v);
}

class CorpusWriter {
 public:
  explicit CorpusWriter(std::filesystem::path root) : root_(std::move(root)) {}

  void Add(const std::string& target, std::string_view bytes) {
    const std::filesystem::path dir = root_ / target;
    std::filesystem::create_directories(dir);
    std::array<uint8_t, crypto_hash_sha256_BYTES> digest{};
    crypto_hash_sha256(digest.data(), reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    const std::string name = ToHex(ByteSpan(digest)).substr(0, 16);
    std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) {
      std::fprintf(stderr, "make_corpus: cannot write %s\n", (dir / name).c_str());
      std::exit(1);
    }
    ++counts_[target];
  }
  void Report() const {
    for (const auto& [target, n] : counts_) std::printf("%-16s %zu inputs\n", target.c_str(), n);
  }

 private:
  std::filesystem::path root_;
  std::map<std::string, size_t> counts_;
};

std::string Byte(uint8_t b) { return std::string(1, static_cast<char>(b)); }

// ---- frames --------------------------------------------------------------------------

void Frames(CorpusWriter& w) {
  const std::string small = OrDie(transport::EncodeFrame("hello", 4096), "frame");
  const std::string empty = OrDie(transport::EncodeFrame("", 4096), "frame");
  const std::string body(200, 'b');
  const std::string big = OrDie(transport::EncodeFrame(body, 4096), "frame");
  w.Add("frame", Byte(255) + Byte(0) + small + empty + big);
  w.Add("frame", Byte(16) + Byte(3) + small + small.substr(0, 6));  // a frame cut short
  w.Add("frame", Byte(1) + Byte(1) + big);                          // above a 16-byte bound
  w.Add("frame", Byte(0) + Byte(0x85) + std::string("\xff\xff\xff\xff", 4));  // 4 GiB announced
  w.Add("frame", Byte(8) + Byte(2) + std::string("\x00\x00", 2));    // a header cut short
}

// ---- client requests -----------------------------------------------------------------

struct User {
  std::string uid;
  pki::IssuedCertificate cert;  // issued before the User is made (no default key)
  std::array<uint8_t, crypto_sign_PUBLICKEYBYTES> session_pk{};
  std::array<uint8_t, crypto_sign_SECRETKEYBYTES> session_sk{};
  uint64_t seq = 0;
};

std::string SessionSign(const User& u, ByteSpan message) {
  std::string sig(crypto_sign_BYTES, '\0');
  crypto_sign_detached(reinterpret_cast<uint8_t*>(sig.data()), nullptr, message.data(), message.size(),
                       u.session_sk.data());
  return sig;
}

std::string RequestFrame(const std::string& signed_request) {
  pb::ClientFrame f;
  f.set_request(signed_request);
  return f.SerializeAsString();
}

std::string Login(const User& u) {
  pb::RequestBody body;
  body.set_cluster_id(std::string(kClusterId));
  pb::Login* login = body.mutable_login();
  login->set_uid(u.uid);
  login->set_user_cert_der(std::string(AsStringView(ByteSpan(u.cert.cert_der))));
  login->set_session_public_key(std::string(AsStringView(ByteSpan(u.session_pk))));
  login->set_client_time_ms(kPkiTimeS * 1000);
  login->set_nonce(std::string(16, 'n'));
  login->set_session_key_proof(SessionSign(
      u, wire::SessionKeyProofMessage(body.cluster_id(), login->uid(), AsBytes(login->session_public_key()),
                                       login->client_time_ms(), AsBytes(login->nonce()))));
  const std::string b = body.SerializeAsString();
  const auto sig = OrDie(u.cert.key.Sign(wire::RequestSigningMessage(b)), "signing a login");
  pb::SignedRequest req;
  req.set_body(b);
  req.set_signature(std::string(AsStringView(ByteSpan(sig))));
  return req.SerializeAsString();
}

std::string Op(User& u, pb::SessionOp op) {
  pb::RequestBody body;
  body.set_cluster_id(std::string(kClusterId));
  *body.mutable_op() = std::move(op);
  body.mutable_op()->set_session_public_key(std::string(AsStringView(ByteSpan(u.session_pk))));
  body.mutable_op()->set_seq(++u.seq);
  const std::string b = body.SerializeAsString();
  pb::SignedRequest req;
  req.set_body(b);
  req.set_signature(SessionSign(u, wire::RequestSigningMessage(b)));
  return req.SerializeAsString();
}

void ClientFrames(CorpusWriter& w, const pki::CertificateAuthority& ca) {
  User u{"alice",
         OrDie(ca.Issue(pki::CertificateRequest{"alice", pki::Role::kUser, kPkiTimeS - 3600,
                                                kPkiTimeS + 365 * 86400}),
               "issuing alice")};
  std::array<uint8_t, crypto_sign_SEEDBYTES> seed{};
  seed.fill(0x33);
  crypto_sign_seed_keypair(u.session_pk.data(), u.session_sk.data(), seed.data());

  w.Add("client_frame", RequestFrame(Login(u)));
  pb::SessionOp in;
  in.mutable_check_in()->set_doc("plans.txt");
  in.mutable_check_in()->set_data("the plans");
  in.mutable_check_in()->set_integrity(true);
  w.Add("client_frame", RequestFrame(Op(u, in)));
  pb::SessionOp out;
  out.mutable_check_out()->set_doc("plans.txt");
  out.mutable_check_out()->set_reply_public_key(std::string(32, '\x07'));
  w.Add("client_frame", RequestFrame(Op(u, out)));
  pb::SessionOp grant;
  grant.mutable_grant()->set_doc("plans.txt");
  grant.mutable_grant()->set_target_uid("bob");
  grant.mutable_grant()->set_rights(pb::RIGHTS_BOTH);
  grant.mutable_grant()->set_seconds(3600);
  w.Add("client_frame", RequestFrame(Op(u, grant)));
  pb::SessionOp grant_all = grant;
  grant_all.mutable_grant()->clear_target_uid();
  grant_all.mutable_grant()->set_all_users(true);
  grant_all.mutable_grant()->set_rights(pb::RIGHTS_CHECKOUT);
  w.Add("client_frame", RequestFrame(Op(u, grant_all)));
  pb::SessionOp del;
  del.mutable_delete_()->set_doc("plans.txt");
  w.Add("client_frame", RequestFrame(Op(u, del)));
  pb::SessionOp logout;
  logout.mutable_logout();
  w.Add("client_frame", RequestFrame(Op(u, logout)));

  // A confidential checkin whose key ciphertext is valid under its document label.
  const std::string nonce(wire::kVersionNonceBytes, 'v');
  const Bytes label = wire::DocumentLabel(kClusterId, "secret.txt", AsBytes(nonce));
  DeterministicRng rng(5);
  const threshold::SymmetricKey key = threshold::SymmetricKey::Random(rng);
  const threshold::Ciphertext ct =
      OrDie(threshold::Encrypt(Tdh2PublicKeys(), AsStringView(ByteSpan(label)), key, rng), "encrypting");
  pb::SessionOp conf;
  conf.mutable_check_in()->set_doc("secret.txt");
  conf.mutable_check_in()->set_data(std::string(48, 'c'));
  conf.mutable_check_in()->set_confidential(true);
  conf.mutable_check_in()->set_version_nonce(nonce);
  conf.mutable_check_in()->set_key_ciphertext(ct.Serialize());
  w.Add("client_frame", RequestFrame(Op(u, conf)));

  // Edge cases: a bad signature, a wrong cluster, a bad name, a status query, no request.
  pb::SignedRequest bad;
  if (!bad.ParseFromString(Op(u, out))) std::exit(1);
  bad.set_signature(std::string(64, 'x'));
  w.Add("client_frame", RequestFrame(bad.SerializeAsString()));
  pb::SessionOp bad_name;
  bad_name.mutable_check_out()->set_doc("../etc/passwd");
  w.Add("client_frame", RequestFrame(Op(u, bad_name)));
  pb::ClientFrame status;
  status.set_status_query(std::string(16, 'n'));
  w.Add("client_frame", status.SerializeAsString());
  w.Add("client_frame", RequestFrame(""));
}

// ---- consensus -----------------------------------------------------------------------

// A FIFO network of n protocol nodes. `deliver(to, from, msg)` hands a message to a node
// and returns its Step; messages to node 0 are also recorded (sender, serialized).
template <typename Msg, typename StepT>
class Network {
 public:
  using Deliver = std::function<StepT(consensus::NodeId to, consensus::NodeId from, const Msg&)>;

  Network(uint32_t n, Deliver deliver) : n_(n), deliver_(std::move(deliver)) {}

  void Route(consensus::NodeId from, StepT&& step) {
    for (auto& tm : step.messages) {
      for (consensus::NodeId to = 0; to < n_; ++to) {
        if (to != from && tm.target.Contains(to)) queue_.push_back({from, to, tm.message});
      }
    }
  }
  // Delivers until quiet (or `messages_max`), calling `to_node0` for each message node 0 gets.
  void Run(size_t messages_max, const std::function<void(consensus::NodeId, const Msg&)>& to_node0) {
    size_t delivered = 0;
    while (!queue_.empty() && delivered++ < messages_max) {
      auto [from, to, msg] = std::move(queue_.front());
      queue_.pop_front();
      if (to == 0) to_node0(from, msg);
      Route(to, deliver_(to, from, msg));
    }
  }

 private:
  struct InFlight {
    consensus::NodeId from;
    consensus::NodeId to;
    Msg msg;
  };
  uint32_t n_;
  Deliver deliver_;
  std::deque<InFlight> queue_;
};

uint8_t TagOf(consensus::NodeId from) { return static_cast<uint8_t>(from - 1); }

void HoneyBadgerRun(CorpusWriter& w) {
  const consensus::epoch::Config config = EpochConfig();
  std::vector<std::unique_ptr<consensus::aba::testing::FakeCoin>> coins;
  std::vector<std::unique_ptr<consensus::epoch::HoneyBadger>> nodes;
  std::vector<std::unique_ptr<DeterministicRng>> rngs;
  for (consensus::NodeId i = 0; i < kN; ++i) {
    coins.push_back(std::make_unique<consensus::aba::testing::FakeCoin>(kFakeCoinSeed,
                                                                        consensus::NetworkInfo{i, kN, kF}));
    nodes.push_back(std::make_unique<consensus::epoch::HoneyBadger>(consensus::NetworkInfo{i, kN, kF}, config,
                                                                    coins.back().get()));
    rngs.push_back(std::make_unique<DeterministicRng>(i == 0 ? 1 : 100 + i));
  }
  Network<pb::ConsensusMessage, consensus::epoch::HbStep> net(kN, [&](consensus::NodeId to, consensus::NodeId from, const pb::ConsensusMessage& m) {
    consensus::epoch::HbStep step = nodes[to]->HandleMessage(from, m);
    // Every node keeps proposing as node 0 does in the target, so epochs keep finishing.
    consensus::epoch::HbStep more = Node0Continue(*nodes[to], *rngs[to]);
    step.Extend(std::move(more));
    return step;
  });
  net.Route(0, Node0Start(*nodes[0], *rngs[0]));
  for (consensus::NodeId i = 1; i < kN; ++i) {
    net.Route(i, nodes[i]->Propose({absl::StrCat("request-from-", i), "request-a"}, 1000 + i, *rngs[i]));
  }
  std::string transcript;
  std::string first_epoch;
  net.Run(4000, [&](consensus::NodeId from, const pb::ConsensusMessage& m) {
    pb::PeerMessage pm;
    *pm.mutable_consensus() = m;
    AppendRecord(transcript, TagOf(from), pm.SerializeAsString());
    if (nodes[0]->next_epoch_to_output() == 0) AppendRecord(first_epoch, TagOf(from), pm.SerializeAsString());
  });
  std::printf("honey badger run: node 0 output %llu epochs, transcript %zu bytes\n",
              static_cast<unsigned long long>(nodes[0]->next_epoch_to_output()), transcript.size());
  w.Add("peer_message", first_epoch);
  if (transcript.size() <= 256 * 1024) w.Add("peer_message", transcript);

  // Single messages that take other paths: catch-up requests and answers, a far epoch.
  pb::PeerMessage fetch;
  fetch.mutable_fetch_epochs()->set_first_epoch(0);
  fetch.mutable_fetch_epochs()->set_count(4);
  std::string one;
  AppendRecord(one, 0, fetch.SerializeAsString());
  pb::PeerMessage committed;
  committed.mutable_committed_epoch()->set_epoch(0);
  committed.mutable_committed_epoch()->add_requests("request-a");
  AppendRecord(one, 1, committed.SerializeAsString());
  pb::PeerMessage far;
  far.mutable_consensus()->set_epoch(1'000'000);
  far.mutable_consensus()->mutable_order_share()->set_share(std::string(16, 's'));
  AppendRecord(one, 2, far.SerializeAsString());
  w.Add("peer_message", one);
}

void AbaRun(CorpusWriter& w, bool round0_fixed, const std::vector<bool>& inputs) {
  std::vector<std::unique_ptr<consensus::aba::testing::FakeCoin>> coins;
  std::vector<std::unique_ptr<consensus::aba::BinaryAgreement>> nodes;
  consensus::aba::Config config;
  config.round0_coin_fixed = round0_fixed;
  for (consensus::NodeId i = 0; i < kN; ++i) {
    coins.push_back(std::make_unique<consensus::aba::testing::FakeCoin>(kFakeCoinSeed,
                                                                        consensus::NetworkInfo{i, kN, kF}));
    nodes.push_back(std::make_unique<consensus::aba::BinaryAgreement>(
        consensus::NetworkInfo{i, kN, kF}, coins.back().get(), std::string(kAbaCoinPrefix), config));
  }
  Network<pb::AbaMessage, consensus::aba::AbaStep> net(
      kN, [&](consensus::NodeId to, consensus::NodeId from, const pb::AbaMessage& m) {
        return nodes[to]->HandleMessage(from, m);
      });
  std::string transcript = Byte(round0_fixed ? 1 : 0);
  AppendRecord(transcript, static_cast<uint8_t>(0x80 | (inputs[0] ? 1 : 0)), "");
  for (consensus::NodeId i = 0; i < kN; ++i) net.Route(i, nodes[i]->Propose(inputs[i]));
  net.Run(4000, [&](consensus::NodeId from, const pb::AbaMessage& m) {
    AppendRecord(transcript, TagOf(from), m.SerializeAsString());
  });
  w.Add("aba_message", transcript);
}

void RbcRun(CorpusWriter& w, consensus::NodeId proposer, const std::string& value) {
  std::vector<std::unique_ptr<consensus::rbc::Broadcast>> nodes;
  for (consensus::NodeId i = 0; i < kN; ++i) {
    nodes.push_back(std::make_unique<consensus::rbc::Broadcast>(consensus::NetworkInfo{i, kN, kF}, proposer,
                                                               kRbcValueBytesMax));
  }
  Network<pb::RbcMessage, consensus::rbc::RbcStep> net(
      kN, [&](consensus::NodeId to, consensus::NodeId from, const pb::RbcMessage& m) {
        return nodes[to]->HandleMessage(from, m);
      });
  std::string transcript = Byte(static_cast<uint8_t>(proposer));
  net.Route(proposer, nodes[proposer]->Propose(value));
  net.Run(4000, [&](consensus::NodeId from, const pb::RbcMessage& m) {
    AppendRecord(transcript, TagOf(from), m.SerializeAsString());
  });
  w.Add("rbc_message", transcript);
}

// ---- threshold -----------------------------------------------------------------------

void CoinShares(CorpusWriter& w) {
  for (uint32_t i = 0; i < kN; ++i) {
    threshold::DealtKeySet dealt = DealFixed(kCoinKeySeed);
    threshold::CoinSigner signer(std::move(dealt.shares[i]));
    const threshold::CoinShare share = OrDie(signer.MakeShare(kCoinName), "coin share");
    w.Add("coin_share", Byte(static_cast<uint8_t>(i)) + share.Serialize());
    if (i == 1) {
      w.Add("coin_share", Byte(2) + share.Serialize());  // claimed by another sender
      const std::string s = share.Serialize();
      w.Add("coin_share", Byte(1) + s.substr(0, s.size() / 2));  // truncated
    }
  }
  w.Add("coin_share", Byte(0));
}

// Key generation transcripts of the fixed run (fixtures.h DkgConfig) as the dkg_message
// target reads them: a record per message, tag = sender << 1 | (1 for an Ack).
void DkgMessages(CorpusWriter& w) {
  const threshold::dkg::Config& config = DkgConfig();
  DeterministicRng rng(23);
  std::vector<std::string> parts;
  for (uint32_t i = 1; i <= kN; ++i) {
    parts.push_back(threshold::dkg::SerializePart(OrDie(threshold::dkg::MakePart(config, i, nullptr, rng), "DKG part")));
  }
  auto part_tag = [](uint32_t sender) { return static_cast<uint8_t>(sender << 1); };
  auto ack_tag = [](uint32_t sender) { return static_cast<uint8_t>(sender << 1 | 1); };
  threshold::dkg::KeyGeneration kg = OrDie(threshold::dkg::KeyGeneration::Create(config), "DKG run");
  std::string honest;
  for (uint32_t i = 1; i <= kN; ++i) {
    AppendRecord(honest, part_tag(i), parts[i - 1]);
    if (!kg.AddPart(i, OrDie(threshold::dkg::ParsePart(AsBytes(parts[i - 1])), "parsing a part")).ok()) std::exit(1);
  }
  std::string first_ack;
  for (uint32_t i = 1; i <= kN && !kg.done(); ++i) {
    for (uint32_t m = 1; m <= kN && !kg.done(); ++m) {
      const std::string ack = threshold::dkg::SerializeAck(
          OrDie(kg.MakeAck(m, DkgNodeKeys()[m - 1], i, rng), "DKG ack"));
      if (first_ack.empty()) first_ack = ack;
      AppendRecord(honest, ack_tag(m), ack);
      if (!kg.AddAck(m, OrDie(threshold::dkg::ParseAck(AsBytes(ack)), "parsing an ack")).ok()) std::exit(1);
    }
  }
  if (!kg.done()) std::exit(1);
  w.Add("dkg_message", honest);
  // Out of order and repeated: an Ack before its Part, a Part twice, an Ack twice.
  std::string disorderly;
  AppendRecord(disorderly, ack_tag(1), first_ack);
  AppendRecord(disorderly, part_tag(1), parts[0]);
  AppendRecord(disorderly, part_tag(1), parts[1]);
  AppendRecord(disorderly, ack_tag(1), first_ack);
  AppendRecord(disorderly, ack_tag(1), first_ack);
  AppendRecord(disorderly, ack_tag(5), first_ack);
  w.Add("dkg_message", disorderly);
  std::string one_part;
  AppendRecord(one_part, part_tag(2), parts[1]);
  w.Add("dkg_message", one_part);
  std::string truncated;
  AppendRecord(truncated, part_tag(3), parts[2].substr(0, parts[2].size() / 2));
  AppendRecord(truncated, ack_tag(2), first_ack.substr(1));
  w.Add("dkg_message", truncated);
}

void RsaShares(CorpusWriter& w) {
  threshold::rsa::DealtKeySet dealt = DealRsaFixed();
  w.Add("rsa_share", Byte(1) + dealt.public_keys.Serialize());
  for (uint32_t i = 0; i < kN; ++i) {
    pb::ThresholdRsaSecretKeyShare proto;
    threshold::rsa::internal::KeyShareAccess::ToProto(dealt.shares[i], &proto);
    if (i == 0) w.Add("rsa_share", Byte(2) + proto.SerializeAsString());
    threshold::rsa::internal::WipeSecretField(&proto);
    threshold::rsa::ShareSigner signer(std::move(dealt.shares[i]));
    const threshold::rsa::SignatureShare share = OrDie(signer.MakeShare(AsBytes(kRsaMessage)), "RSA share");
    w.Add("rsa_share", Byte(0) + Byte(static_cast<uint8_t>(i)) + share.Serialize());
    if (i == 1) {
      w.Add("rsa_share", Byte(0) + Byte(2) + share.Serialize());  // claimed by another sender
      const std::string s = share.Serialize();
      w.Add("rsa_share", Byte(0) + Byte(1) + s.substr(0, s.size() / 2));  // truncated
      threshold::rsa::SignatureShare tampered = share;
      tampered.value.back() ^= 1;
      w.Add("rsa_share", Byte(0) + Byte(1) + tampered.Serialize());
    }
  }
  w.Add("rsa_share", Byte(0));
}

void Tdh2(CorpusWriter& w) {
  const threshold::Ciphertext& ct = FixedCiphertext();
  w.Add("tdh2", Byte(0) + ct.Serialize());
  threshold::Ciphertext tampered = ct;
  tampered.label = "another label";
  w.Add("tdh2", Byte(0) + tampered.Serialize());
  for (uint32_t i = 0; i < kN; ++i) {
    threshold::DealtKeySet dealt = DealFixed(kTdh2KeySeed);
    auto provider = OrDie(threshold::DecryptionShareProvider::Create(std::move(dealt.shares[i]), dealt.public_keys),
                          "provider");
    const threshold::DecryptionShare share = OrDie(provider.MakeShare(ct, ct.label), "decryption share");
    w.Add("tdh2", Byte(1) + Byte(static_cast<uint8_t>(i)) + share.Serialize());
  }
  w.Add("tdh2", Byte(2) + Tdh2PublicKeys().Serialize());
  w.Add("tdh2", Byte(2) + CoinPublicKeys().Serialize());
}

// ---- replies -------------------------------------------------------------------------

pb::ClientFrame ReplyFrame(uint32_t replica, const std::string& result, uint64_t epoch,
                           const pb::ReplyAttachments& attachments) {
  const wire::Digest id = wire::Sha256(AsBytes(kQuorumRequest));
  pb::ReplyBody body;
  body.set_cluster_id(std::string(kClusterId));
  body.set_request_id(std::string(AsStringView(ByteSpan(id))));
  body.set_result(result);
  body.set_epoch(epoch);
  pb::ClientFrame frame;
  pb::SignedReply* reply = frame.mutable_reply();
  reply->set_replica(replica);
  reply->set_body(body.SerializeAsString());
  *reply->mutable_attachments() = attachments;
  reply->set_signature(
      SignAsReplica(replica, wire::ReplyStatement(replica, AsBytes(reply->body()), reply->attachments())));
  return frame;
}

void Replies(CorpusWriter& w) {
  // A confidential integrity checkout: the result, and per replica a decryption share of
  // its key ciphertext and an integrity signature.
  const std::string nonce(16, 'v');
  const Bytes label = wire::DocumentLabel(kClusterId, "secret.txt", AsBytes(nonce));
  DeterministicRng rng(6);
  const threshold::SymmetricKey key = threshold::SymmetricKey::Random(rng);
  const threshold::Ciphertext ct =
      OrDie(threshold::Encrypt(Tdh2PublicKeys(), AsStringView(ByteSpan(label)), key, rng), "encrypting");
  pb::Result result;
  result.set_status(pb::STATUS_OK);
  pb::CheckOutResult* co = result.mutable_check_out();
  co->set_doc("secret.txt");
  co->set_data(std::string(40, 'd'));
  co->set_confidential(true);
  co->set_integrity(true);
  co->set_version(3);
  const wire::Digest sha = wire::Sha256(AsBytes(co->data()));
  co->set_sha256(std::string(AsStringView(ByteSpan(sha))));
  co->set_key_ciphertext(ct.Serialize());
  co->set_version_nonce(nonce);
  co->set_owner("alice");
  const Bytes attributes = OrDie(wire::IntegrityAttributes(std::string(kClusterId), *co, 0), "integrity attributes");
  threshold::rsa::DealtKeySet rsa = DealRsaFixed();

  std::string accepted;
  for (uint32_t i = 0; i < kN; ++i) {
    threshold::DealtKeySet dealt = DealFixed(kTdh2KeySeed);
    auto provider = OrDie(threshold::DecryptionShareProvider::Create(std::move(dealt.shares[i]), dealt.public_keys),
                          "provider");
    pb::ReplyAttachments a;
    // Sealed to a key the fuzz target does not hold: it exercises the refusal path.
    a.set_sealed_decryption_share(OrDie(threshold::SealShare(
        threshold::ShareRecipientKey::Generate().public_key(), i, AsBytes(ct.label),
        OrDie(provider.MakeShare(ct, ct.label), "share").Serialize()), "seal"));
    a.set_service_signature_share(
        OrDie(threshold::rsa::ShareSigner(std::move(rsa.shares[i])).MakeShare(attributes), "service share").Serialize());
    AppendRecord(accepted, static_cast<uint8_t>(i), ReplyFrame(i, result.SerializeAsString(), 9, a).SerializeAsString());
  }
  w.Add("reply_quorum", accepted);

  // A plain result with one replica lying (validly signed), and one bad signature.
  pb::Result ok;
  ok.set_status(pb::STATUS_OK);
  ok.mutable_check_in()->set_doc("plans.txt");
  pb::Result lie = ok;
  lie.mutable_check_in()->set_doc("lies.txt");
  std::string mixed;
  AppendRecord(mixed, 3, ReplyFrame(3, lie.SerializeAsString(), 4, {}).SerializeAsString());
  pb::ClientFrame forged = ReplyFrame(2, ok.SerializeAsString(), 4, {});
  forged.mutable_reply()->set_signature(std::string(64, 'f'));
  AppendRecord(mixed, 2, forged.SerializeAsString());
  for (uint32_t i = 0; i < 3; ++i) {
    AppendRecord(mixed, static_cast<uint8_t>(i), ReplyFrame(i, ok.SerializeAsString(), 4, {}).SerializeAsString());
  }
  w.Add("reply_quorum", mixed);

  // f+1 signed refusals and one overloaded.
  const wire::Digest id = wire::Sha256(AsBytes(kQuorumRequest));
  std::string refused;
  for (uint32_t i = 0; i < kN; ++i) {
    pb::ClientFrame frame;
    pb::Rejection* r = frame.mutable_rejection();
    r->set_replica(i);
    r->set_request_id(std::string(AsStringView(ByteSpan(id))));
    r->set_code(i == 3 ? 0 : pb::STATUS_BAD_SIGNATURE);
    r->set_message(i == 3 ? "overloaded" : "bad signature");
    r->set_signature(SignAsReplica(i, wire::RejectionStatement(i, ByteSpan(id), r->code(), r->message())));
    AppendRecord(refused, static_cast<uint8_t>(i), frame.SerializeAsString());
  }
  w.Add("reply_quorum", refused);
}

// ---- text and files ------------------------------------------------------------------

void IntegrityCertificates(CorpusWriter& w) {
  // A whole certificate under a CA of its own (the target checks against another, so it
  // is refused at the signer: everything up to there is parsed), then damaged forms.
  const int64_t now = kPkiTimeS;
  auto ca = OrDie(pki::CertificateAuthority::Create("corpus-ca", now - 3600, now + 86400), "CA");
  auto dealt = OrDie(belfry::testing::DealTestServiceKey(kN, kF), "service key");
  const Bytes ca_der = OrDie(pki::CertificatePemToDer(ca.cert_pem()), "CA DER");
  const Bytes spki = OrDie(dealt.public_keys.SubjectPublicKeyInfoDer(), "SPKI");
  const Bytes cert_der = OrDie(evidence::IssueServiceCertificate(ca_der, ca.key().native_handle(), spki,
                                                                 {.common_name = "belfry-service-corpus",
                                                                  .not_before_unix_s = now - 3600,
                                                                  .not_after_unix_s = now + 86400}),
                               "service certificate");
  evidence::IntegrityFacts facts;
  facts.cluster_id = std::string(kClusterId);
  facts.document_name = "plans.txt";
  facts.version = 7;
  facts.owner = "alice";
  facts.document_sha256 = wire::Sha256(AsBytes(kIntegrityData));
  facts.consensus_time_ms = now * 1000;
  const Bytes attributes = OrDie(evidence::IntegritySignedAttributesDer(facts), "attributes");
  std::vector<threshold::rsa::SignatureShare> shares;
  for (uint32_t i = 0; i <= kF; ++i) {
    shares.push_back(OrDie(threshold::rsa::ShareSigner(std::move(dealt.shares[i])).MakeShare(attributes), "share"));
  }
  threshold::rsa::CombineResult combined = threshold::rsa::CombineSignatureShares(dealt.public_keys, attributes, shares);
  const Bytes signature = OrDie(std::move(combined.signature), "combine");
  const Bytes der = OrDie(evidence::AssembleIntegrityCertificate(attributes, signature, cert_der), "assemble");
  const std::string text(AsStringView(ByteSpan(der)));
  w.Add("integrity_cert", text);
  w.Add("integrity_cert", text.substr(0, text.size() / 2));
  std::string flipped = text;
  flipped[flipped.size() / 3] ^= 0x01;
  w.Add("integrity_cert", flipped);
  w.Add("integrity_cert", std::string("\x30\x80\x06\x09", 4));
}

void ClusterConfigs(CorpusWriter& w) {
  pb::ClusterConfig p = Cluster().proto;
  w.Add("cluster_config", config::FormatClusterConfig(p));
  p.mutable_limits()->set_document_bytes_max(1 << 20);
  p.mutable_limits()->set_epochs_in_flight_max(2);
  p.mutable_replicas(1)->set_metrics_port(9100);
  w.Add("cluster_config", config::FormatClusterConfig(p));
  pb::ClusterConfig bad = Cluster().proto;
  bad.set_f(2);
  w.Add("cluster_config", config::FormatClusterConfig(bad));
  w.Add("cluster_config", config::FormatClusterConfig(Cluster().proto) + "bogus_field: 1\n");
  w.Add("cluster_config", "cluster_id: \"x\"\nreplicas { id: 0 host: \"h\" }\n");
}

void KeyFiles(CorpusWriter& w, const pki::CertificateAuthority& ca) {
  const std::filesystem::path tmp = std::filesystem::temp_directory_path() / "belfry-make-corpus-share";
  std::filesystem::remove(tmp);
  threshold::DealtKeySet dealt = DealFixed(kCoinKeySeed);
  if (!threshold::WriteKeyShareFile(tmp.string(), dealt.shares[0], threshold::FileOverwrite::kReplace).ok()) {
    std::fprintf(stderr, "make_corpus: cannot write a key share file\n");
    std::exit(1);
  }
  std::ifstream in(tmp, std::ios::binary);
  const std::string share_file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::filesystem::remove(tmp);
  w.Add("key_file", Byte(0) + share_file);
  std::string flipped = share_file;
  flipped[flipped.size() / 2] ^= 1;
  w.Add("key_file", Byte(0) + flipped);
  w.Add("key_file", Byte(1) + dealt.public_keys.Serialize());

  const pki::IssuedCertificate user = OrDie(
      ca.Issue(pki::CertificateRequest{"bob", pki::Role::kUser, kPkiTimeS - 3600, kPkiTimeS + 86400}), "issue");
  const pki::IssuedCertificate replica = OrDie(
      ca.Issue(pki::CertificateRequest{"replica-1", pki::Role::kReplica, kPkiTimeS - 3600, kPkiTimeS + 86400}),
      "issue");
  w.Add("key_file", Byte(2) + OrDie(user.key.ToPem(), "pem").value());
  w.Add("key_file", Byte(3) + JoinPieces({ca.cert_pem(), ""}));
  const std::vector<std::string> revoked{replica.cert_pem};
  w.Add("key_file", Byte(3) + JoinPieces({ca.cert_pem(), OrDie(ca.MakeCrl(revoked, kPkiTimeS - 60, kPkiTimeS + 86400), "crl")}));
  w.Add("key_file", Byte(4) + JoinPieces({ca.cert_pem(), std::string(AsStringView(ByteSpan(user.cert_der)))}));
  w.Add("key_file", Byte(4) + JoinPieces({ca.cert_pem(), std::string(AsStringView(ByteSpan(replica.cert_der)))}));
  w.Add("key_file", Byte(5) + user.cert_pem);
  w.Add("key_file", Byte(5) + std::string("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"));
}

void Names(CorpusWriter& w) {
  for (const std::string& name : std::vector<std::string>{"plans.txt", "ALL", ".", "..", "a/b", "caf\xc3\xa9", "\xe2\x80\xae" "evil",
                                 "\xed\xa0\x80", "\xc0\xaf", std::string(255, 'n'), std::string(256, 'n'),
                                 std::string("nul\0byte", 8), "tab\there", "\xf4\x90\x80\x80"}) {
    w.Add("document_name", name);
  }
}

void SessionFiles(CorpusWriter& w) {
  SessionRecord r;
  r.cluster_id = std::string(kClusterId);
  r.uid = "alice";
  r.key_path = "/home/alice/keys/alice.key";
  r.cert_path = "/home/alice/keys/alice crt.pem";
  r.active = true;
  r.session_seed.fill(0x5a);
  r.expires_ms = kPkiTimeS * 1000 + 3600 * 1000;
  r.next_seq = 17;
  r.last_login_time_ms = kPkiTimeS * 1000;
  w.Add("session_file", FormatSessionRecord(r));
  r.active = false;
  r.session_seed.fill(0);
  w.Add("session_file", FormatSessionRecord(r));
  const std::string text = FormatSessionRecord(r);
  w.Add("session_file", text.substr(0, text.size() - 3));
  w.Add("session_file", text + "extra line\n");
}

// RFC 3161 TimeStampReqs as clients send them (`openssl ts -query` writes the first), then
// one for each refusal ParseTimeStampReq names.
void TimeStampRequests(CorpusWriter& w) {
  namespace der = evidence::internal;
  const auto request = [](uint64_t version, std::string_view hash_oid, bool null_params,
                          size_t hash_bytes, const Bytes& policy, const Bytes& nonce, bool cert_req,
                          const Bytes& extensions) {
    const Bytes algorithm = null_params ? der::Sequence({der::Oid(hash_oid), der::Null()})
                                        : der::Sequence({der::Oid(hash_oid)});
    const Bytes imprint = der::Sequence({algorithm, der::OctetString(Bytes(hash_bytes, 0x3c))});
    const Bytes bytes = der::Sequence({der::Integer(version), imprint, policy, nonce,
                                       cert_req ? der::Boolean(true) : Bytes{}, extensions});
    return std::string(AsStringView(ByteSpan(bytes)));
  };
  const Bytes nonce = der::UnsignedInteger(Bytes{0xc1, 0x5e, 0x0f, 0x42, 0x77, 0x01, 0x9a, 0x3d});
  const Bytes ours = der::Oid(evidence::kTsaPolicyOid);
  const std::string openssl_like =
      request(1, evidence::kSha256Oid, true, 32, {}, nonce, true, {});
  w.Add("timestamp_req", openssl_like);
  w.Add("timestamp_req", request(1, evidence::kSha512Oid, false, 64, ours, {}, false, {}));
  w.Add("timestamp_req",
        request(1, evidence::kSha384Oid, true, 48, der::Oid("1.2.3.4"), nonce, false, {}));
  w.Add("timestamp_req", request(1, "1.3.14.3.2.26", true, 20, {}, nonce, true, {}));  // SHA-1
  w.Add("timestamp_req", request(2, evidence::kSha256Oid, true, 32, {}, nonce, true, {}));
  const Bytes extension = der::Sequence({der::Oid("1.2.3.4.5"), der::OctetString(der::Null())});
  w.Add("timestamp_req", request(1, evidence::kSha256Oid, true, 32, {}, nonce, false,
                                 der::Constructed(der::ContextConstructed(0), {extension})));
  Bytes big(21, 0xee);
  big[0] = 0x01;  // 161 bits
  w.Add("timestamp_req",
        request(1, evidence::kSha256Oid, true, 32, {}, der::UnsignedInteger(big), true, {}));
  w.Add("timestamp_req", openssl_like.substr(0, openssl_like.size() - 1));
}

// HTTP request heads as curl, Prometheus and a proxy send them, then the ambiguities the
// parser refuses (chunked framing, a repeated length, obs-fold, a blank before a colon, a
// bare LF).
void HttpRequestHeads(CorpusWriter& w) {
  const char* heads[] = {
      "POST / HTTP/1.1\r\nHost: 127.0.0.1:8318\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n"
      "Content-Type: application/timestamp-query\r\nContent-Length: 59\r\n\r\n",
      "GET /metrics HTTP/1.1\r\nHost: 10.0.0.1:9100\r\nAccept: text/plain;version=0.0.4\r\n\r\n",
      "POST http://tsa.example/ HTTP/1.0\r\n"
      "Content-Type: Application/TimeStamp-Query; charset=binary\r\nContent-Length: 5\r\n"
      "Expect: 100-continue\r\n\r\nhello",
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
      "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
      "POST / HTTP/1.1\r\n Folded: x\r\nHost : y\nBare: z\r\n\r\n",
  };
  for (const char* head : heads) w.Add("http_request_head", head);
}

}  // namespace
}  // namespace belfry::fuzz

int main(int argc, char** argv) {
  using namespace belfry::fuzz;
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
    return 2;
  }
  if (sodium_init() < 0) return 1;
  CorpusWriter w(argv[1]);
  const belfry::pki::CertificateAuthority ca = OrDie(
      belfry::pki::CertificateAuthority::Create("fuzz-ca", kPkiTimeS - 86400, kPkiTimeS + 10LL * 365 * 86400),
      "creating the CA");
  Frames(w);
  ClientFrames(w, ca);
  HoneyBadgerRun(w);
  AbaRun(w, false, {true, false, true, false});
  AbaRun(w, true, {true, true, true, false});
  AbaRun(w, false, {false, false, false, false});
  RbcRun(w, 1, "a value proposed by node 1, long enough to span several stripes");
  RbcRun(w, 0, std::string(kRbcNode0Value));
  CoinShares(w);
  Tdh2(w);
  DkgMessages(w);
  RsaShares(w);
  Replies(w);
  IntegrityCertificates(w);
  ClusterConfigs(w);
  KeyFiles(w, ca);
  Names(w);
  SessionFiles(w);
  TimeStampRequests(w);
  HttpRequestHeads(w);
  w.Report();
  return 0;
}
