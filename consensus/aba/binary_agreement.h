// consensus/aba/binary_agreement.h — asynchronous binary agreement driven by the common coin.
//
// How it works: see the comment at the top of binary_agreement.cc (Mostéfaoui–Moumen–Raynal
// with the CONF phase that keeps it live under an adversarial scheduler; coin shares for a
// round are released only after that round's CONF step; TERM messages end an instance).
#ifndef BELFRY_CONSENSUS_ABA_BINARY_AGREEMENT_H_
#define BELFRY_CONSENSUS_ABA_BINARY_AGREEMENT_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "consensus/coin.h"
#include "consensus/step.h"
#include "proto/aba.pb.h"

namespace belfry::consensus::aba {

struct Config {
  // The CONF phase. Only the simulator's demonstration of the published liveness attack on
  // the unfixed protocol turns it off; production code must leave it on.
  bool conf_phase = true;
  // Round 0's coin is the constant 1 instead of the threshold coin (see the .cc header:
  // safe, costs the adversary's scheduler at most one round, and lets the common case
  // decide without threshold cryptography). Replicas turn it on; the protocol's unit
  // tests exercise the threshold coin from round 0 with it off.
  bool round0_coin_fixed = false;
  // Messages for rounds more than this far ahead of the local round are refused (counted
  // as a fault), not buffered: it bounds memory against a Byzantine flood.
  uint32_t rounds_ahead_max = 8;
};

using AbaStep = Step<pb::AbaMessage, bool>;

// CoinName: the name of the common coin of round `round` of the instance whose prefix is
// `coin_name_prefix`. Injective in (prefix, round) — the prefix is length-prefixed and the
// round a fixed-width field — and domain-separated from every other use of the coin key.
// Exposed so that tests and the simulator's adversary can name the coin they combine.
std::string CoinName(std::string_view coin_name_prefix, uint32_t round);

// BinaryAgreement: one node's state for one ABA instance. Not thread-safe. Outputs its
// decision exactly once. `coin` must outlive the instance; `coin_name_prefix` must be
// unique per (cluster, epoch, instance) — the round number is appended to it.
class BinaryAgreement {
 public:
  BinaryAgreement(NetworkInfo net, CoinScheme* coin, std::string coin_name_prefix,
                  Config config = {});

  // This node's input. At most once (a second call is ignored and returns an empty Step).
  AbaStep Propose(bool value);
  AbaStep HandleMessage(NodeId from, const pb::AbaMessage& msg);

  bool accepts_input() const;            // Propose not yet called and not decided
  std::optional<bool> decision() const;
  bool terminated() const;               // decided and nothing left to send
  uint32_t round() const;                // current round (0-based)
  // The round this node was in when it decided (the round whose coin decided it, or the
  // round it was in when f+1 TERMs told it the decision); nullopt before. round() keeps
  // moving after a decision, since a decided node takes part until it terminates.
  std::optional<uint32_t> decision_round() const;
  // How many rounds' vote tables this node holds: at most rounds_ahead_max + 1 (the
  // current round and the window ahead of it), 0 once terminated. For memory checks.
  size_t rounds_held() const;

  BinaryAgreement(BinaryAgreement&&) noexcept;
  BinaryAgreement& operator=(BinaryAgreement&&) noexcept;
  ~BinaryAgreement();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace belfry::consensus::aba

#endif  // BELFRY_CONSENSUS_ABA_BINARY_AGREEMENT_H_
