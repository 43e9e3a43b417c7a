#include "threshold/dleq.h"

#include "base/status.h"
#include "threshold/internal/proto_fields.h"
#include "threshold/internal/transcript.h"

namespace belfry::threshold {
namespace {

Scalar Challenge(std::string_view domain, ByteSpan context, const DleqStatement& st,
                 const Point& a1, const Point& a2) {
  internal::Transcript t(domain);
  t.Append(context).Append(st.g1).Append(st.h1).Append(st.g2).Append(st.h2).Append(a1).Append(a2);
  return t.FinalizeToScalar();
}

}  // namespace

void DleqProof::ToProto(pb::ThresholdDleqProof* out) const {
  internal::AssignBytes(out->mutable_challenge(), challenge.span());
  internal::AssignBytes(out->mutable_response(), response.span());
}

absl::StatusOr<DleqProof> DleqProof::FromProto(const pb::ThresholdDleqProof& in) {
  BELFRY_RETURN_IF_ERROR(internal::CheckNoUnknownFields(in, "DLEQ proof"));
  DleqProof proof;
  BELFRY_ASSIGN_OR_RETURN(proof.challenge, internal::ScalarField(in.challenge(), "proof challenge"));
  BELFRY_ASSIGN_OR_RETURN(proof.response, internal::ScalarField(in.response(), "proof response"));
  return proof;
}

DleqProof ProveDleq(std::string_view domain, ByteSpan context, const DleqStatement& st,
                    const Scalar& witness) {
  // The nonce hashes the witness with everything public, so it is unpredictable to anyone
  // without the witness and distinct for every distinct statement.
  internal::Transcript nonce_transcript(internal::kDomainDleqNonce);
  nonce_transcript.Append(domain).Append(witness).Append(context);
  nonce_transcript.Append(st.g1).Append(st.h1).Append(st.g2).Append(st.h2);
  const Scalar nonce = nonce_transcript.FinalizeToScalar();

  const Point a1 = st.g1.Mul(nonce);
  const Point a2 = st.g2.Mul(nonce);
  DleqProof proof;
  proof.challenge = Challenge(domain, context, st, a1, a2);
  proof.response = nonce.Add(proof.challenge.Mul(witness));
  return proof;
}

bool VerifyDleq(std::string_view domain, ByteSpan context, const DleqStatement& st,
                const DleqProof& proof) {
  const Point a1 = st.g1.Mul(proof.response).Sub(st.h1.Mul(proof.challenge));
  const Point a2 = st.g2.Mul(proof.response).Sub(st.h2.Mul(proof.challenge));
  // Challenges are public, so an ordinary comparison leaks nothing.
  return Challenge(domain, context, st, a1, a2).bytes() == proof.challenge.bytes();
}

}  // namespace belfry::threshold
