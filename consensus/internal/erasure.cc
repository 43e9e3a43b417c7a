#include "consensus/internal/erasure.h"

#include <isa-l/erasure_code.h>

#include <algorithm>
#include <climits>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "base/check.h"

namespace belfry::consensus::internal {
namespace {

// ISA-L computes outputs[r] = sum_i matrix[r][i] * inputs[i] over GF(2^8) for `rows`
// outputs at once; both encoding (parity rows) and decoding (inverse rows) are this.
void ApplyMatrix(const Bytes& tables, uint32_t inputs_count, uint32_t rows, size_t len,
                 std::vector<uint8_t*>& inputs, std::vector<uint8_t*>& outputs) {
  BELFRY_CHECK(len <= static_cast<size_t>(INT_MAX));
  // ISA-L's tables argument is not const-qualified but is only read.
  ec_encode_data(static_cast<int>(len), static_cast<int>(inputs_count), static_cast<int>(rows),
                 const_cast<uint8_t*>(tables.data()), inputs.data(), outputs.data());
}

absl::Status CheckDecodeInput(std::span<const IndexedStripe> stripes, uint32_t k, uint32_t n) {
  if (stripes.size() < k) {
    return absl::InvalidArgumentError(
        absl::StrCat("decoding needs ", k, " stripes, got ", stripes.size()));
  }
  const size_t len = stripes[0].data.size();
  if (len == 0 || len > static_cast<size_t>(INT_MAX)) {
    return absl::InvalidArgumentError(absl::StrCat("stripe size ", len, " out of range"));
  }
  std::vector<bool> seen(n, false);
  for (uint32_t i = 0; i < k; ++i) {
    const IndexedStripe& s = stripes[i];
    if (s.index >= n) {
      return absl::InvalidArgumentError(absl::StrCat("stripe index ", s.index, " >= ", n));
    }
    if (seen[s.index]) {
      return absl::InvalidArgumentError(absl::StrCat("stripe index ", s.index, " repeated"));
    }
    seen[s.index] = true;
    if (s.data.size() != len) {
      return absl::InvalidArgumentError(
          absl::StrCat("stripe ", s.index, " has ", s.data.size(), " bytes, not ", len));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ErasureCoder> ErasureCoder::Create(uint32_t data_stripes, uint32_t total_stripes) {
  if (data_stripes < 1 || data_stripes > total_stripes || total_stripes > kStripesMax) {
    return absl::InvalidArgumentError(absl::StrCat("no Reed-Solomon code with k = ", data_stripes,
                                                   " of N = ", total_stripes, " stripes"));
  }
  ErasureCoder coder;
  coder.k_ = data_stripes;
  coder.n_ = total_stripes;
  coder.matrix_.resize(size_t{total_stripes} * data_stripes);
  gf_gen_cauchy1_matrix(coder.matrix_.data(), static_cast<int>(total_stripes),
                        static_cast<int>(data_stripes));
  const uint32_t parity_rows = total_stripes - data_stripes;
  coder.parity_tables_.resize(size_t{32} * data_stripes * parity_rows);
  if (parity_rows > 0) {
    ec_init_tables(static_cast<int>(data_stripes), static_cast<int>(parity_rows),
                   coder.matrix_.data() + size_t{data_stripes} * data_stripes,
                   coder.parity_tables_.data());
  }
  return coder;
}

size_t ErasureCoder::StripeBytesFor(size_t data_bytes) const {
  return std::max<size_t>(1, data_bytes / k_ + (data_bytes % k_ != 0 ? 1 : 0));
}

std::vector<Bytes> ErasureCoder::Encode(ByteSpan data) const {
  const size_t len = StripeBytesFor(data.size());
  BELFRY_CHECK(len <= static_cast<size_t>(INT_MAX));
  std::vector<Bytes> stripes(n_, Bytes(len, 0));
  for (uint32_t i = 0; i < k_; ++i) {
    const size_t offset = std::min(data.size(), i * len);
    const size_t count = std::min(len, data.size() - offset);
    if (count > 0) {
      std::memcpy(stripes[i].data(), data.data() + offset, count);
    }
  }
  if (n_ > k_) {
    std::vector<uint8_t*> inputs(k_);
    std::vector<uint8_t*> outputs(n_ - k_);
    for (uint32_t i = 0; i < k_; ++i) {
      inputs[i] = stripes[i].data();
    }
    for (uint32_t i = k_; i < n_; ++i) {
      outputs[i - k_] = stripes[i].data();
    }
    ApplyMatrix(parity_tables_, k_, n_ - k_, len, inputs, outputs);
  }
  return stripes;
}

absl::StatusOr<Bytes> ErasureCoder::Decode(std::span<const IndexedStripe> stripes) const {
  if (absl::Status s = CheckDecodeInput(stripes, k_, n_); !s.ok()) {
    return s;
  }
  const size_t len = stripes[0].data.size();
  // The k received rows of the generator matrix map the data to what was received;
  // their inverse maps what was received back to the data.
  Bytes sub(size_t{k_} * k_);
  for (uint32_t r = 0; r < k_; ++r) {
    std::memcpy(sub.data() + size_t{r} * k_, matrix_.data() + size_t{stripes[r].index} * k_, k_);
  }
  Bytes inverse(size_t{k_} * k_);
  if (gf_invert_matrix(sub.data(), inverse.data(), static_cast<int>(k_)) != 0) {
    // Cannot happen for a Cauchy matrix with distinct rows; a corrupted coder would do it.
    return absl::InternalError("Reed-Solomon sub-matrix is singular");
  }
  Bytes tables(size_t{32} * k_ * k_);
  ec_init_tables(static_cast<int>(k_), static_cast<int>(k_), inverse.data(), tables.data());

  Bytes data(size_t{k_} * len);
  std::vector<uint8_t*> inputs(k_);
  std::vector<uint8_t*> outputs(k_);
  for (uint32_t i = 0; i < k_; ++i) {
    // ISA-L takes non-const input pointers but only reads through them.
    inputs[i] = const_cast<uint8_t*>(stripes[i].data.data());
    outputs[i] = data.data() + size_t{i} * len;
  }
  ApplyMatrix(tables, k_, k_, len, inputs, outputs);
  return data;
}

}  // namespace belfry::consensus::internal
