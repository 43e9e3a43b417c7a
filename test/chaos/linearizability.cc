#include "test/chaos/linearizability.h"

#include <algorithm>
#include <optional>
#include <unordered_map>

#include "absl/strings/str_cat.h"

namespace belfry::chaos {
namespace {

// One invocation or completion in the doubly linked event list.
struct Entry {
  bool is_call = false;
  size_t op = 0;     // index into the ops vector
  int64_t time = 0;
  Entry* match = nullptr;  // call -> its return
  Entry* prev = nullptr;
  Entry* next = nullptr;
};

class Bitset {
 public:
  explicit Bitset(size_t n) : words_((n + 63) / 64, 0) {}
  void Set(size_t i) { words_[i / 64] |= uint64_t{1} << (i % 64); }
  void Clear(size_t i) { words_[i / 64] &= ~(uint64_t{1} << (i % 64)); }
  size_t Hash() const {
    uint64_t h = 14695981039346656037ull;
    for (uint64_t w : words_) {
      h ^= w;
      h *= 1099511628211ull;
    }
    return static_cast<size_t>(h);
  }
  bool operator==(const Bitset& other) const = default;

 private:
  std::vector<uint64_t> words_;
};

struct CacheEntry {
  Bitset linearized;
  DocState state;
};

// Takes a call and its return out of the list (they stay linked to their neighbours so
// Unlift can put them back in the same place).
void Lift(Entry* call) {
  call->prev->next = call->next;
  call->next->prev = call->prev;
  Entry* ret = call->match;
  ret->prev->next = ret->next;
  if (ret->next != nullptr) ret->next->prev = ret->prev;
}

void Unlift(Entry* call) {
  Entry* ret = call->match;
  ret->prev->next = ret;
  if (ret->next != nullptr) ret->next->prev = ret;
  call->prev->next = call;
  call->next->prev = call;
}

}  // namespace

LinearizabilityResult CheckLinearizable(const std::vector<Op>& ops, const DocState& initial,
                                        uint64_t steps_max) {
  LinearizabilityResult result;
  const size_t n = ops.size();
  if (n == 0) return result;
  std::vector<Entry> entries(2 * n);
  for (size_t i = 0; i < n; ++i) {
    entries[2 * i] = Entry{.is_call = true, .op = i, .time = ops[i].invoke_ns};
    entries[2 * i + 1] = Entry{.is_call = false, .op = i, .time = ops[i].complete_ns};
    entries[2 * i].match = &entries[2 * i + 1];
  }
  std::vector<Entry*> order;
  order.reserve(entries.size());
  for (Entry& e : entries) order.push_back(&e);
  std::stable_sort(order.begin(), order.end(), [](const Entry* a, const Entry* b) {
    if (a->time != b->time) return a->time < b->time;
    return a->is_call && !b->is_call;
  });
  Entry head;
  Entry* prev = &head;
  for (Entry* e : order) {
    prev->next = e;
    e->prev = prev;
    prev = e;
  }
  prev->next = nullptr;

  std::unordered_multimap<size_t, CacheEntry> cache;
  struct Frame {
    Entry* call;
    DocState state;
  };
  std::vector<Frame> calls;
  Bitset linearized(n);
  DocState state = initial;
  std::vector<size_t> best;
  Entry* entry = head.next;
  while (head.next != nullptr) {
    if (result.steps >= steps_max) {
      result.verdict = LinearizabilityResult::Verdict::kGaveUp;
      result.explanation = absl::StrCat("gave up after ", result.steps, " model steps");
      return result;
    }
    if (entry->is_call) {
      ++result.steps;
      std::optional<DocState> next = ApplyOp(state, ops[entry->op]);
      bool advanced = false;
      if (next.has_value()) {
        Bitset with = linearized;
        with.Set(entry->op);
        const size_t key = with.Hash() ^ (next->Hash() * 0x9e3779b97f4a7c15ull);
        bool seen = false;
        auto [lo, hi] = cache.equal_range(key);
        for (auto it = lo; it != hi; ++it) {
          if (it->second.linearized == with && it->second.state == *next) {
            seen = true;
            break;
          }
        }
        if (!seen) {
          cache.emplace(key, CacheEntry{with, *next});
          calls.push_back(Frame{entry, state});
          state = *next;
          linearized = std::move(with);
          Lift(entry);
          entry = head.next;
          advanced = true;
          if (calls.size() > best.size()) {
            best.clear();
            for (const Frame& f : calls) best.push_back(f.call->op);
          }
        }
      }
      if (!advanced) entry = entry->next;
    } else {
      if (calls.empty()) {
        result.verdict = LinearizabilityResult::Verdict::kNotLinearizable;
        for (size_t i : best) result.longest_linearized.push_back(ops[i].id);
        std::vector<bool> placed(n, false);
        for (size_t i : best) placed[i] = true;
        // The first operation (by completion) that no linearization of that prefix could
        // take next is where the history goes wrong.
        size_t culprit = n;
        for (size_t i = 0; i < n; ++i) {
          if (!placed[i] && (culprit == n || ops[i].complete_ns < ops[culprit].complete_ns)) culprit = i;
        }
        result.explanation = absl::StrCat("no linearization: at most ", best.size(), " of ", n,
                                          " operations could be ordered");
        if (culprit != n) {
          absl::StrAppend(&result.explanation, "; stuck before ", DescribeOp(ops[culprit]));
        }
        return result;
      }
      Frame top = calls.back();
      calls.pop_back();
      state = top.state;
      linearized.Clear(top.call->op);
      Unlift(top.call);
      entry = top.call->next;
    }
  }
  return result;
}

}  // namespace belfry::chaos
