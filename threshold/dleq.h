// threshold/dleq.h — non-interactive Chaum–Pedersen proofs of equal discrete logarithms.
//
// A DLEQ proof shows log_g1(h1) = log_g2(h2) without revealing the exponent x. The prover
// picks a nonce w, commits a1 = g1^w and a2 = g2^w, and answers the challenge
// c = H(domain, context, g1, h1, g2, h2, a1, a2) with z = w + c·x; the verifier
// recomputes a1 = g1^z·h1^-c and a2 = g2^z·h2^-c and checks the challenge (Chaum and
// Pedersen 1992, made non-interactive by Fiat–Shamir). The hash binds every public input:
// both bases, both public points, both commitments, and a caller-supplied context that
// carries the rest of the statement (share index, coin name, ciphertext and label, key
// set). `domain` names the use, so a proof made for one protocol never verifies in another.
//
// The nonce is not random: w = H(domain, x, context, statement), as Ed25519 and RFC 6979
// derive theirs. A node therefore makes the same proof for the same statement every time,
// which keeps consensus reproducible, and it never reuses a nonce across two statements.
#ifndef BELFRY_THRESHOLD_DLEQ_H_
#define BELFRY_THRESHOLD_DLEQ_H_

#include <string_view>

#include "absl/status/statusor.h"
#include "base/bytes.h"
#include "proto/threshold.pb.h"
#include "threshold/group.h"

namespace belfry::threshold {

// DleqStatement: the claim log_g1(h1) = log_g2(h2). Public values.
struct DleqStatement {
  Point g1;
  Point h1;
  Point g2;
  Point h2;
};

// DleqProof: the challenge c and response z. Public (the scalars are wiped anyway).
struct DleqProof {
  Scalar challenge;
  Scalar response;

  void ToProto(pb::ThresholdDleqProof* out) const;
  // Refuses a wrong-sized (kMalformed) or non-canonical (kNonCanonicalScalar) scalar.
  static absl::StatusOr<DleqProof> FromProto(const pb::ThresholdDleqProof& in);

  friend bool operator==(const DleqProof& a, const DleqProof& b) = default;
};

// Proves the statement with witness x, where h1 = g1^x and h2 = g2^x (the caller's
// precondition: a false statement yields a proof that does not verify). Deterministic in
// all its inputs. Thread-safe.
DleqProof ProveDleq(std::string_view domain, ByteSpan context, const DleqStatement& statement,
                    const Scalar& witness);

// Whether `proof` proves `statement` under `domain` and `context`. Thread-safe.
bool VerifyDleq(std::string_view domain, ByteSpan context, const DleqStatement& statement,
                const DleqProof& proof);

}  // namespace belfry::threshold

#endif  // BELFRY_THRESHOLD_DLEQ_H_
