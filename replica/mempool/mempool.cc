#include "replica/mempool/mempool.h"

#include "absl/strings/str_cat.h"

namespace belfry::replica {

absl::Status Mempool::Add(const std::string& request_id, std::string request,
                          const std::string& client) {
  if (entries_.count(request_id) != 0) {
    return absl::AlreadyExistsError("request is already waiting to be ordered");
  }
  if (entries_.size() >= limits_.requests_max) {
    return absl::ResourceExhaustedError(
        absl::StrCat("replica has ", limits_.requests_max, " requests waiting; retry later"));
  }
  if (bytes_ + request.size() > limits_.bytes_max) {
    return absl::ResourceExhaustedError("replica's waiting requests are at their byte limit");
  }
  uint32_t& mine = per_client_[client];
  if (mine >= limits_.per_client_requests_max) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "this client already has ", limits_.per_client_requests_max, " requests waiting"));
  }
  ++mine;
  bytes_ += request.size();
  order_.push_back(Entry{request_id, std::move(request), client});
  entries_.emplace(request_id, std::prev(order_.end()));
  return absl::OkStatus();
}

void Mempool::Remove(const std::vector<std::string>& request_ids) {
  for (const std::string& id : request_ids) {
    auto it = entries_.find(id);
    if (it == entries_.end()) continue;
    auto entry = it->second;
    bytes_ -= entry->request.size();
    auto client = per_client_.find(entry->client);
    if (client != per_client_.end() && --client->second == 0) per_client_.erase(client);
    order_.erase(entry);
    entries_.erase(it);
  }
}

std::vector<std::string> Mempool::Oldest(size_t max) const {
  std::vector<std::string> out;
  out.reserve(std::min(max, order_.size()));
  for (const Entry& e : order_) {
    if (out.size() >= max) break;
    out.push_back(e.request);
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> Mempool::OldestExcept(
    size_t max, const std::map<std::string, uint64_t>& skip, size_t per_client_max) const {
  std::vector<std::pair<std::string, std::string>> out;
  std::map<std::string_view, size_t> taken;
  for (const Entry& e : order_) {
    if (out.size() >= max) break;
    if (skip.count(e.id) != 0) continue;
    if (per_client_max != 0 && ++taken[e.client] > per_client_max) continue;
    out.emplace_back(e.id, e.request);
  }
  return out;
}

}  // namespace belfry::replica
