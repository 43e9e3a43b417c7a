#include "test/sim/network.h"

#include <utility>

#include "base/check.h"
#include "test/sim/aba_split.h"

namespace belfry::sim {

void Pool::Add(Envelope e) {
  fifo_.push_back(e.id);
  slot_[e.id] = items_.size();
  items_.push_back(std::move(e));
}

Envelope Pool::Take(size_t i) {
  BELFRY_CHECK(i < items_.size());
  Envelope out = std::move(items_[i]);
  slot_.erase(out.id);
  if (i + 1 != items_.size()) {
    items_[i] = std::move(items_.back());
    slot_[items_[i].id] = i;
  }
  items_.pop_back();
  return out;
}

size_t Pool::OldestIndex() {
  BELFRY_CHECK(!items_.empty());
  for (;;) {
    auto it = slot_.find(fifo_.front());
    if (it != slot_.end()) return it->second;
    fifo_.pop_front();
  }
}

std::vector<Envelope> Pool::TakeAll() {
  std::vector<Envelope> out = std::move(items_);
  items_.clear();
  fifo_.clear();
  slot_.clear();
  return out;
}

namespace {

// Delivers the oldest envelope of `pool` if it has waited `bound` steps, else a uniformly
// random one: the uniformly random scheduler, kept fair.
Envelope TakeFairRandom(Pool& pool, uint64_t now, uint64_t bound, Rng& rng) {
  const size_t oldest = pool.OldestIndex();
  if (now - pool.at(oldest).enqueued_step >= bound) return pool.Take(oldest);
  return pool.Take(static_cast<size_t>(rng.Uniform(pool.size())));
}

class RandomScheduler final : public Scheduler {
 public:
  explicit RandomScheduler(uint64_t fair) : fair_(fair) {}
  void Add(Envelope e, uint64_t) override { pool_.Add(std::move(e)); }
  std::optional<Envelope> Next(uint64_t now, Rng& rng) override {
    if (pool_.empty()) return std::nullopt;
    return TakeFairRandom(pool_, now, fair_, rng);
  }
  size_t size() const override { return pool_.size(); }

 private:
  uint64_t fair_;
  Pool pool_;
};

// Every message from or to the victim waits as long as fairness allows: until it is
// fair_delay_steps old, or nothing else is left to deliver.
class DelayNodeScheduler final : public Scheduler {
 public:
  DelayNodeScheduler(uint64_t fair, NodeId victim) : fair_(fair), victim_(victim) {}
  void Add(Envelope e, uint64_t) override {
    if (e.from == victim_ || e.to == victim_) {
      slow_.Add(std::move(e));
    } else {
      fast_.Add(std::move(e));
    }
  }
  std::optional<Envelope> Next(uint64_t now, Rng& rng) override {
    if (!slow_.empty()) {
      const size_t oldest = slow_.OldestIndex();
      if (fast_.empty() || now - slow_.at(oldest).enqueued_step >= fair_) {
        return slow_.Take(oldest);
      }
    }
    if (fast_.empty()) return std::nullopt;
    return TakeFairRandom(fast_, now, fair_, rng);
  }
  size_t size() const override { return slow_.size() + fast_.size(); }

 private:
  uint64_t fair_;
  NodeId victim_;
  Pool slow_;
  Pool fast_;
};

// Two halves that cannot talk for `duration` steps from the first message (or until
// nothing inside a half is left to deliver); then the held messages are released and
// delivery is random.
class PartitionScheduler final : public Scheduler {
 public:
  PartitionScheduler(uint64_t fair, std::vector<bool> side, uint64_t duration)
      : fair_(fair), side_(std::move(side)), duration_(duration) {}
  void Add(Envelope e, uint64_t now) override {
    if (!started_) {
      started_ = true;
      heal_step_ = now + duration_;
    }
    if (!healed_ && side_[e.from] != side_[e.to]) {
      held_.Add(std::move(e));
    } else {
      pool_.Add(std::move(e));
    }
  }
  std::optional<Envelope> Next(uint64_t now, Rng& rng) override {
    if (!healed_ && started_ && (now >= heal_step_ || pool_.empty())) Heal(now);
    if (pool_.empty()) return std::nullopt;
    return TakeFairRandom(pool_, now, fair_, rng);
  }
  size_t size() const override { return held_.size() + pool_.size(); }

 private:
  void Heal(uint64_t now) {
    healed_ = true;
    for (Envelope& e : held_.TakeAll()) {
      e.enqueued_step = now;  // fairness counts from the moment delivery became possible
      pool_.Add(std::move(e));
    }
  }

  uint64_t fair_;
  std::vector<bool> side_;
  uint64_t duration_;
  uint64_t heal_step_ = 0;
  bool started_ = false;
  bool healed_ = false;
  Pool held_;
  Pool pool_;
};

// Reorders to make binary agreements take as many rounds as possible: among a sample of
// in-flight messages it delivers the one AbaSplitPriority ranks highest (see
// aba_split.h), so agreement votes reach correct nodes in the order that keeps their
// estimates split against the coin whenever the adversary can already compute the coin.
class AbaMaxScheduler final : public Scheduler {
 public:
  AbaMaxScheduler(uint64_t fair, SchedulerView view) : fair_(fair), split_(std::move(view)) {}
  void Add(Envelope e, uint64_t) override {
    split_.OnSend(e);
    pool_.Add(std::move(e));
  }
  std::optional<Envelope> Next(uint64_t now, Rng& rng) override {
    if (pool_.empty()) return std::nullopt;
    const size_t oldest = pool_.OldestIndex();
    if (now - pool_.at(oldest).enqueued_step >= fair_) return Deliver(oldest);
    // A full scan is affordable for the small clusters the attack matters most for; for
    // larger ones a sample keeps a delivery O(1).
    const size_t sample = pool_.size() <= kScanAll ? pool_.size() : kSample;
    size_t best = 0;
    int64_t best_score = INT64_MIN;
    for (size_t k = 0; k < sample; ++k) {
      const size_t i = sample == pool_.size() ? k : static_cast<size_t>(rng.Uniform(pool_.size()));
      // Random low bits break ties, so equal-priority messages still arrive in random order.
      const int64_t score = split_.Priority(pool_.at(i)) * 1024 +
                            static_cast<int64_t>(rng.Uniform(1024));
      if (score > best_score) {
        best_score = score;
        best = i;
      }
    }
    return Deliver(best);
  }
  size_t size() const override { return pool_.size(); }

 private:
  static constexpr size_t kScanAll = 256;
  static constexpr size_t kSample = 48;

  Envelope Deliver(size_t i) {
    Envelope e = pool_.Take(i);
    split_.OnDeliver(e);
    return e;
  }

  uint64_t fair_;
  AbaSplit split_;
  Pool pool_;
};

}  // namespace

const char* SchedulerName(SchedulerKind kind) {
  switch (kind) {
    case SchedulerKind::kRandom: return "random";
    case SchedulerKind::kDelayNode: return "delay-node";
    case SchedulerKind::kAbaMax: return "aba-max";
    case SchedulerKind::kPartition: return "partition";
  }
  return "?";
}

std::optional<SchedulerKind> ParseSchedulerKind(const std::string& name) {
  for (SchedulerKind k : {SchedulerKind::kRandom, SchedulerKind::kDelayNode,
                          SchedulerKind::kAbaMax, SchedulerKind::kPartition}) {
    if (name == SchedulerName(k)) return k;
  }
  return std::nullopt;
}

std::unique_ptr<Scheduler> MakeScheduler(SchedulerKind kind, SchedulerView view,
                                         uint64_t fair_delay_steps, NodeId victim,
                                         uint64_t partition_steps, Rng& rng) {
  switch (kind) {
    case SchedulerKind::kRandom:
      return std::make_unique<RandomScheduler>(fair_delay_steps);
    case SchedulerKind::kDelayNode:
      return std::make_unique<DelayNodeScheduler>(fair_delay_steps, victim);
    case SchedulerKind::kAbaMax:
      return std::make_unique<AbaMaxScheduler>(fair_delay_steps, std::move(view));
    case SchedulerKind::kPartition: {
      // Either two halves, neither a quorum (nothing moves until the heal), or f nodes cut
      // off while the N−f others go on (the minority must catch up after the heal).
      const uint32_t cut = rng.Uniform(2) == 0 ? view.n / 2 : view.f;
      std::vector<bool> side(view.n, false);
      for (uint32_t placed = 0; placed < cut;) {
        const auto i = static_cast<size_t>(rng.Uniform(view.n));
        if (!side[i]) {
          side[i] = true;
          ++placed;
        }
      }
      return std::make_unique<PartitionScheduler>(fair_delay_steps, std::move(side),
                                                  partition_steps);
    }
  }
  return nullptr;
}

}  // namespace belfry::sim
