#include "test/chaos/workload.h"

#include "absl/strings/str_cat.h"
#include "base/rng.h"
#include "config/layout.h"

namespace belfry::chaos {

struct Workload::User {
  uint32_t index = 0;
  std::string uid;
  std::unique_ptr<Client> client;
  std::unique_ptr<DeterministicRng> rng;
  bool logged_in = false;
  uint64_t writes = 0;
  std::thread thread;
};

namespace {

Rights RightsOf(uint8_t bits) {
  if (bits == kRightCheckIn) return Rights::kCheckIn;
  if (bits == kRightCheckOut) return Rights::kCheckOut;
  return Rights::kBoth;
}

void SetOrdering(Op& op, const ReplicaReport& report) {
  op.ordered = true;
  op.epoch = report.epoch;
  op.consensus_time_ms = report.consensus_time_ms;
}

}  // namespace

Workload::Workload(WorkloadOptions options) : options_(std::move(options)) {}

Workload::~Workload() { Stop(); }

int64_t Workload::NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

absl::Status Workload::Connect() {
  if (options_.users.empty() || options_.users.size() > kUsersMax) {
    return absl::InvalidArgumentError("between 1 and 8 users");
  }
  // Connection events would drown the summary; the history says what happened.
  SetConnectionLogSink([](const std::string&) {});
  for (uint32_t i = 0; i < options_.users.size(); ++i) {
    auto user = std::make_unique<User>();
    user->index = i;
    user->uid = options_.users[i];
    user->rng = std::make_unique<DeterministicRng>(options_.seed * 1000003 + i + 1);
    ClientOptions co;
    co.cluster_config_path = config::ClusterConfigPath(options_.cluster_dir);
    const std::string dir = config::UserDir(options_.cluster_dir, user->uid);
    co.user_cert_path = absl::StrCat(dir, "/", user->uid, ".crt");
    co.user_key_path = absl::StrCat(dir, "/", user->uid, ".key");
    co.deadline = options_.op_deadline;
    co.retransmit_after = options_.retransmit_after;
    absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(std::move(co));
    if (!client.ok()) return client.status();
    user->client = std::move(*client);
    users_.push_back(std::move(user));
  }
  return absl::OkStatus();
}

void Workload::Start() {
  for (auto& user : users_) {
    User* u = user.get();
    u->thread = std::thread([this, u] { Run(*u); });
  }
}

void Workload::Stop() {
  stop_.store(true);
  for (auto& user : users_) {
    if (user->thread.joinable()) user->thread.join();
  }
}

void Workload::Record(Op op) {
  std::lock_guard<std::mutex> lock(mu_);
  if (op.outcome != Outcome::kIndeterminate) completed_.fetch_add(1);
  op.id = history_.size();
  history_.push_back(std::move(op));
}

std::vector<Op> Workload::History() const {
  std::lock_guard<std::mutex> lock(mu_);
  return history_;
}

std::vector<std::string> Workload::Anomalies() const {
  std::lock_guard<std::mutex> lock(mu_);
  return anomalies_;
}

uint32_t Workload::ContentId(const std::string& data) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = contents_.find(data);
  return it == contents_.end() ? kForeignContent : it->second;
}

void Workload::Classify(User& user, const absl::Status& status, Op& op) {
  op.error = std::string(status.message().substr(0, 160));
  if (std::optional<pb::Status> service = ServiceStatusOf(status)) {
    switch (*service) {
      case pb::STATUS_ACCESS_DENIED:
        op.outcome = Outcome::kRefused;
        op.refusal = Refusal::kAccessDenied;
        op.error.clear();
        return;
      case pb::STATUS_NO_SUCH_DOCUMENT:
        op.outcome = Outcome::kRefused;
        op.refusal = Refusal::kNoSuchDocument;
        op.error.clear();
        return;
      case pb::STATUS_INVALID_GRANT:
        op.outcome = Outcome::kRefused;
        op.refusal = Refusal::kInvalidGrant;
        op.error.clear();
        return;
      case pb::STATUS_TOO_MANY_GRANTS:
        op.outcome = Outcome::kRefused;
        op.refusal = Refusal::kTooManyGrants;
        op.error.clear();
        return;
      case pb::STATUS_INTEGRITY_FAILURE: {
        std::lock_guard<std::mutex> lock(mu_);
        anomalies_.push_back(absl::StrCat("2f+1 replicas answered INTEGRITY_FAILURE to ", DescribeOp(op)));
        op.outcome = Outcome::kNoEffect;
        return;
      }
      default:
        // Refused before the document was looked at: a session that ended or expired, a
        // replayed sequence number, a checkout result no longer available.
        op.outcome = Outcome::kNoEffect;
        if (ErrorKindOf(status) == ErrorKind::kNotLoggedIn) user.logged_in = false;
        return;
    }
  }
  switch (ErrorKindOf(status)) {
    case ErrorKind::kNotLoggedIn:
      op.outcome = Outcome::kNoEffect;
      user.logged_in = false;
      return;
    case ErrorKind::kIntegrity: {
      std::lock_guard<std::mutex> lock(mu_);
      anomalies_.push_back(absl::StrCat("a checkout failed verification: ", DescribeOp(op), ": ", op.error));
      op.outcome = Outcome::kNoEffect;
      return;
    }
    case ErrorKind::kInvalidInput: {
      std::lock_guard<std::mutex> lock(mu_);
      anomalies_.push_back(absl::StrCat("the harness sent invalid input: ", DescribeOp(op), ": ", op.error));
      op.outcome = Outcome::kNoEffect;
      return;
    }
    default:
      op.outcome = Outcome::kIndeterminate;
      op.complete_ns = kNever;
      return;
  }
}

bool Workload::EnsureLoggedIn(User& user) {
  if (user.logged_in) return true;
  Op op;
  op.user = user.index;
  op.kind = OpKind::kLogin;
  op.invoke_ns = NowNs();
  absl::StatusOr<LoginInfo> login = user.client->Login(user.uid);
  op.complete_ns = NowNs();
  if (login.ok()) {
    op.outcome = Outcome::kOk;
    SetOrdering(op, login->replicas);
    user.logged_in = true;
  } else {
    Classify(user, login.status(), op);
    // A refused login (stale, for example) changed nothing either.
    if (op.outcome == Outcome::kRefused) op.outcome = Outcome::kNoEffect;
  }
  Record(std::move(op));
  return user.logged_in;
}

void Workload::DoCheckIn(User& user, const std::string& doc) {
  Op op;
  op.user = user.index;
  op.kind = OpKind::kCheckIn;
  op.doc = doc;
  // Unique per write; a little padding of seeded length so frames vary in size.
  std::string data = absl::StrCat("chaos seed ", options_.seed, " user ", user.index, " write ", ++user.writes, " ");
  data.append(user.rng->Uniform(1024), static_cast<char>('a' + user.index));
  {
    std::lock_guard<std::mutex> lock(mu_);
    op.content = static_cast<uint32_t>(contents_.size() + 1);
    contents_.emplace(data, op.content);
  }
  op.invoke_ns = NowNs();
  absl::StatusOr<CheckInInfo> info = user.client->CheckIn(doc, data);
  op.complete_ns = NowNs();
  if (info.ok()) {
    op.outcome = Outcome::kOk;
    op.version = info->version;
    op.created = info->created;
    op.owner = kUsersMax;
    for (uint32_t i = 0; i < options_.users.size(); ++i) {
      if (options_.users[i] == info->owner) op.owner = i;
    }
    SetOrdering(op, info->replicas);
  } else {
    Classify(user, info.status(), op);
  }
  Record(std::move(op));
}

void Workload::DoCheckOut(User& user, const std::string& doc, bool final_read) {
  Op op;
  op.user = user.index;
  op.kind = OpKind::kCheckOut;
  op.doc = doc;
  op.final_read = final_read;
  op.invoke_ns = NowNs();
  absl::StatusOr<Document> got = user.client->CheckOut(doc);
  op.complete_ns = NowNs();
  if (got.ok()) {
    op.outcome = Outcome::kOk;
    op.out_content = ContentId(got->data);
    op.version = got->version;
    op.owner = kUsersMax;
    for (uint32_t i = 0; i < options_.users.size(); ++i) {
      if (options_.users[i] == got->owner) op.owner = i;
    }
    SetOrdering(op, got->replicas);
  } else {
    Classify(user, got.status(), op);
  }
  Record(std::move(op));
}

void Workload::DoGrant(User& user, const std::string& doc) {
  Op op;
  op.user = user.index;
  op.kind = OpKind::kGrant;
  op.doc = doc;
  // Mostly generous grants, so that other users' checkins and checkouts often succeed and
  // the documents change hands and contents under concurrency.
  op.grant_all = user.rng->Uniform(5) < 2;
  op.grant_target = static_cast<uint32_t>(user.rng->Uniform(options_.users.size()));
  const uint64_t rights = user.rng->Uniform(4);
  op.grant_rights = rights == 0 ? kRightCheckIn : rights == 1 ? kRightCheckOut : kRightCheckIn | kRightCheckOut;
  op.grant_active = user.rng->Uniform(7) != 0;
  const GrantTarget target =
      op.grant_all ? GrantTarget::All() : GrantTarget::User(options_.users[op.grant_target]);
  // An active grant outlives any run; seconds = 0 revokes at once.
  const uint32_t seconds = op.grant_active ? 3600 : 0;
  op.invoke_ns = NowNs();
  absl::StatusOr<GrantInfo> info = user.client->Grant(doc, target, RightsOf(op.grant_rights), seconds);
  op.complete_ns = NowNs();
  if (info.ok()) {
    op.outcome = Outcome::kOk;
    SetOrdering(op, info->replicas);
  } else {
    Classify(user, info.status(), op);
  }
  Record(std::move(op));
}

void Workload::DoDelete(User& user, const std::string& doc) {
  Op op;
  op.user = user.index;
  op.kind = OpKind::kDelete;
  op.doc = doc;
  op.invoke_ns = NowNs();
  absl::StatusOr<OpInfo> info = user.client->Delete(doc);
  op.complete_ns = NowNs();
  if (info.ok()) {
    op.outcome = Outcome::kOk;
    SetOrdering(op, info->replicas);
  } else {
    Classify(user, info.status(), op);
  }
  Record(std::move(op));
}

void Workload::DoLogout(User& user) {
  Op op;
  op.user = user.index;
  op.kind = OpKind::kLogout;
  op.invoke_ns = NowNs();
  absl::StatusOr<OpInfo> info = user.client->Logout();
  op.complete_ns = NowNs();
  if (info.ok()) {
    op.outcome = Outcome::kOk;
    SetOrdering(op, info->replicas);
  } else {
    Classify(user, info.status(), op);
    if (op.outcome == Outcome::kRefused) op.outcome = Outcome::kNoEffect;
  }
  // Whatever happened, the next call starts with a fresh login.
  user.logged_in = false;
  Record(std::move(op));
}

void Workload::Run(User& user) {
  while (!stop_.load()) {
    if (!EnsureLoggedIn(user)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    const std::string doc = absl::StrCat("doc", user.rng->Uniform(options_.docs));
    const uint64_t pick = user.rng->Uniform(100);
    if (pick < 35) {
      DoCheckIn(user, doc);
    } else if (pick < 65) {
      DoCheckOut(user, doc, false);
    } else if (pick < 87) {
      DoGrant(user, doc);
    } else if (pick < 92) {
      DoDelete(user, doc);
    } else if (pick < 94) {
      DoLogout(user);
    } else {
      DoCheckOut(user, doc, false);
    }
    if (options_.think_ms_max != 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(user.rng->Uniform(options_.think_ms_max + 1)));
    }
  }
}

void Workload::RunFinalReads(User& user, std::chrono::steady_clock::time_point deadline) {
  for (uint32_t d = 0; d < options_.docs; ++d) {
    const std::string doc = absl::StrCat("doc", d);
    for (int attempt = 0; attempt < 4 && std::chrono::steady_clock::now() < deadline; ++attempt) {
      if (!EnsureLoggedIn(user)) continue;
      const size_t before = History().size();
      DoCheckOut(user, doc, true);
      std::vector<Op> h = History();
      bool answered = false;
      for (size_t i = before; i < h.size(); ++i) {
        if (h[i].user == user.index && h[i].final_read && h[i].doc == doc &&
            (h[i].outcome == Outcome::kOk || h[i].outcome == Outcome::kRefused)) {
          answered = true;
        }
      }
      if (answered) break;
    }
  }
}

void Workload::FinalReads(std::chrono::milliseconds budget) {
  const auto deadline = std::chrono::steady_clock::now() + budget;
  std::vector<std::thread> threads;
  for (auto& user : users_) {
    User* u = user.get();
    threads.emplace_back([this, u, deadline] { RunFinalReads(*u, deadline); });
  }
  for (std::thread& t : threads) t.join();
}

void Workload::Nudge() {
  if (users_.empty()) return;
  User& user = *users_.front();
  user.logged_in = false;
  EnsureLoggedIn(user);
}

std::vector<ReplicaState> Workload::QueryStatus(std::chrono::milliseconds timeout) {
  if (users_.empty()) return {};
  return users_.front()->client->QueryStatus(timeout);
}

}  // namespace belfry::chaos
