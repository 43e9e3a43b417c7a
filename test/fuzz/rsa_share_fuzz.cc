// Fuzz target: threshold RSA (threshold/rsa/) as peers and files feed it — signature shares
// (SignatureShare::Parse, VerifySignatureShare[From], CombineSignatureShares), public key
// sets (PublicKeySet::Parse) and key shares (KeyShare::FromProto) over the fixed RSA key
// set of fixtures.h.
//
// Input: a mode byte (byte % 3), then:
//   0  one byte naming the sender (byte % 4), then a serialized signature share
//   1  a serialized public key set
//   2  a serialized key share (the body of a key share file)
// Properties: nothing crashes; a parsed share or key set re-serializes to one that parses
// equal; a share valid from its sender is valid; combining the fuzzed share with honest
// ones never yields anything but the one signature (RSA signatures are unique), and when
// the fuzzed share is valid it is not blamed and the combination succeeds.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "test/fuzz/fixtures.h"
#include "threshold/rsa/internal/key_share_access.h"
#include "threshold/rsa/key_file.h"
#include "threshold/rsa/keys.h"
#include "threshold/rsa/signature.h"

namespace {

namespace fuzz = belfry::fuzz;
namespace rsa = belfry::threshold::rsa;
using fuzz::Require;

// The honest shares of kRsaMessage (shares[k] has index k+1) and their signature.
struct Honest {
  std::vector<rsa::SignatureShare> shares;
  belfry::Bytes signature;
};

const Honest& HonestShares() {
  static const Honest* honest = [] {
    auto* out = new Honest();
    rsa::DealtKeySet dealt = fuzz::DealRsaFixed();
    for (rsa::KeyShare& share : dealt.shares) {
      absl::StatusOr<rsa::SignatureShare> s =
          rsa::ShareSigner(std::move(share)).MakeShare(belfry::AsBytes(fuzz::kRsaMessage));
      Require(s.ok(), "making an honest RSA share");
      out->shares.push_back(*s);
    }
    rsa::CombineResult combined =
        rsa::CombineSignatureShares(fuzz::RsaPublicKeys(), belfry::AsBytes(fuzz::kRsaMessage), out->shares);
    Require(combined.signature.ok(), "combining the honest RSA shares");
    out->signature = *combined.signature;
    return out;
  }();
  return *honest;
}

void FuzzShare(uint32_t sender, const std::string& bytes) {
  const rsa::PublicKeySet& keys = fuzz::RsaPublicKeys();
  const belfry::ByteSpan message = belfry::AsBytes(fuzz::kRsaMessage);
  absl::StatusOr<rsa::SignatureShare> share = rsa::SignatureShare::Parse(belfry::AsBytes(bytes));
  if (!share.ok()) return;
  absl::StatusOr<rsa::SignatureShare> again = rsa::SignatureShare::Parse(belfry::AsBytes(share->Serialize()));
  Require(again.ok() && *again == *share, "a parsed RSA share round-trips");
  const bool valid = rsa::VerifySignatureShare(keys, message, *share).ok();
  const bool valid_from = rsa::VerifySignatureShareFrom(keys, sender + 1, message, *share).ok();
  Require(!valid_from || valid, "an RSA share valid from its sender is valid");
  if (!keys.HasIndex(share->index)) return;

  // The fuzzed share first, then an honest share of another index, so that it is part of
  // the optimistic attempt.
  const Honest& honest = HonestShares();
  const uint32_t other = share->index % fuzz::kN;  // 0-based: index share->index + 1, wrapped
  const std::vector<rsa::SignatureShare> given = {*share, honest.shares[other]};
  const rsa::CombineResult result = rsa::CombineSignatureShares(keys, message, given);
  if (result.signature.ok()) {
    Require(*result.signature == honest.signature, "a combined RSA signature is the one signature");
  }
  if (valid) {
    Require(result.signature.ok() && result.faulty_indices.empty(), "a valid RSA share is never blamed");
  } else {
    Require(!result.signature.ok() || result.faulty_indices.empty(),
            "an RSA signature comes only from shares that are not blamed");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const belfry::ByteSpan rest(data + 1, size - 1);
  switch (data[0] % 3) {
    case 0: {
      if (rest.empty()) return 0;
      FuzzShare(rest[0] % fuzz::kN, std::string(belfry::AsStringView(rest.subspan(1))));
      break;
    }
    case 1: {
      absl::StatusOr<rsa::PublicKeySet> keys = rsa::PublicKeySet::Parse(rest);
      if (keys.ok()) {
        absl::StatusOr<rsa::PublicKeySet> again = rsa::PublicKeySet::Parse(belfry::AsBytes(keys->Serialize()));
        Require(again.ok() && *again == *keys, "an RSA key set round-trips");
      }
      break;
    }
    default: {
      if (rest.size() > rsa::kKeyShareFileBytesMax) return 0;
      belfry::pb::ThresholdRsaSecretKeyShare proto;
      if (!proto.ParseFromArray(rest.data(), static_cast<int>(rest.size()))) return 0;
      (void)rsa::KeyShare::FromProto(proto);
      rsa::internal::WipeSecretField(&proto);
      break;
    }
  }
  return 0;
}
