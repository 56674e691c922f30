#include <restorekit/catalog/catalog.hpp>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include <restorekit/inspect/inspect.hpp>

namespace restorekit::catalog {

namespace fs = std::filesystem;

namespace {

// When a backup was made: our header's time, else its newest entry.
std::int64_t created_of(const core::ArchiveSummary& s) {
  if (s.header && !s.header->created_at.empty()) {
    std::tm tm{};
    if (::strptime(s.header->created_at.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm)) {
      return static_cast<std::int64_t>(::timegm(&tm));
    }
  }
  return s.newest_mtime.value_or(0);
}

Status status_of(const core::ArchiveSummary& s, const std::optional<Verification>& v,
                 const Root& root) {
  std::error_code ec;
  auto file = root.file_of(s.path);
  if (!fs::exists(file, ec)) return Status::kMissing;
  auto fp = core::fingerprint_file(file);
  if (!fp || !(*fp == s.fingerprint)) return Status::kChanged;
  if (v) {
    switch (v->verdict) {
      case core::Verdict::kIntact: return Status::kIntact;
      case core::Verdict::kDamaged: return Status::kDamaged;
      case core::Verdict::kLocked: return Status::kLocked;
    }
  }
  bool errors = std::any_of(s.findings.begin(), s.findings.end(),
                            [](const auto& f) { return f.severity == core::Severity::kError; });
  return errors ? Status::kDamaged : Status::kUnverified;
}

// Damage found while adding (the archive could not be read), as opposed to "this is no
// archive" or "could not look" (core::is_operational).
bool is_damage(ErrorCode code) {
  return !is_operational(code) || code == ErrorCode::kEncryptionUnsupported;
}

bool is_locked(ErrorCode code) {
  return code == ErrorCode::kPasswordRequired || code == ErrorCode::kBadPassword;
}

// An archive that could not be read whole is recorded with why, so that listings show it.
AddOutcome record_unreadable(Index& index, const std::string& name,
                             const core::Fingerprint& fingerprint,
                             const Result<inspect::InspectReport>& report, const Error& why) {
  core::ArchiveSummary s = report ? report->summary : core::ArchiveSummary{};
  s.path = name;
  s.fingerprint = fingerprint;
  s.archive_bytes = fingerprint.size;
  s.findings.push_back(core::Finding{std::string(code_name(why.code)), core::Severity::kError,
                                     why.subject, why.message});
  if (!index.put(s)) return AddOutcome::kNotABackup;
  bool locked = is_locked(why.code);
  if (!report || locked) {
    auto verdict = locked ? core::Verdict::kLocked : core::Verdict::kDamaged;
    (void)index.record_verification(s.path, fingerprint, nullptr, Verification{0, verdict, 1, 0});
  }
  return locked ? AddOutcome::kLocked : AddOutcome::kDamaged;
}

// Whether a verify run takes the backup: unverified or changed, all with `recheck`, or also
// those verified more than `older_than` seconds ago.
bool due(const Row& r, bool recheck, const std::optional<std::int64_t>& older_than,
         std::int64_t now) {
  if (r.status == Status::kUnverified || r.status == Status::kChanged) return true;
  if (r.status == Status::kMissing) return false;
  bool stale = older_than && r.verification && r.verification->verified_at <= now - *older_than;
  return recheck || stale;
}

struct VerifyRun {
  const core::ReaderOptions& reader;
  const std::optional<core::Profile>& profile;
  const Root& root;
  const CancelToken& cancel;
};

// Verifies the backup a catalog name stands for and records the run (when `index` is given).
VerifiedArchive verify_and_record(Index* index, const std::string& name, const VerifyRun& run) {
  verify::VerifyOptions o;
  o.reader = run.reader;
  o.reader.passwords.prompt = nullptr;
  o.profile = run.profile;
  o.threads = 1;  // the parallelism is across archives
  o.cancel = run.cancel;
  auto file = run.root.file_of(name);
  auto report = verify::verify(file, o);
  if (!report) return VerifiedArchive{name, std::nullopt, 0, report.error().message};
  // A run that cannot be recorded (the file changed meanwhile) still has its verdict; the next
  // run reads the archive again.
  if (index) (void)record(*index, file, *report, run.root);
  return VerifiedArchive{name, report->verdict(), report->count(core::Severity::kError), {}};
}

template <typename Report>
void count(Report& report, const VerifiedArchive& a) {
  if (!a.verdict) {
    ++report.failed;
    return;
  }
  switch (*a.verdict) {
    case core::Verdict::kIntact: ++report.intact; break;
    case core::Verdict::kDamaged: ++report.damaged; break;
    case core::Verdict::kLocked: ++report.locked; break;
  }
}

// The catalog's damaged and missing backups.
Result<std::vector<Row>> problems(Index& index, const Root& root) {
  RK_TRY_ASSIGN(auto all, rows(index, root));
  std::vector<Row> out;
  for (auto& r : all) {
    if (r.status == Status::kDamaged || r.status == Status::kMissing) out.push_back(std::move(r));
  }
  return out;
}

}  // namespace

std::string_view status_name(Status status) {
  switch (status) {
    case Status::kIntact: return "intact";
    case Status::kDamaged: return "damaged";
    case Status::kLocked: return "locked";
    case Status::kUnverified: return "unverified";
    case Status::kChanged: return "changed";
    case Status::kMissing: return "missing";
  }
  return "unknown";
}

std::string_view outcome_name(AddOutcome outcome) {
  switch (outcome) {
    case AddOutcome::kRead: return "read";
    case AddOutcome::kUnchanged: return "unchanged";
    case AddOutcome::kDamaged: return "damaged";
    case AddOutcome::kLocked: return "locked";
    case AddOutcome::kNotABackup: return "skipped";
  }
  return "unknown";
}

std::string Root::name_of(const fs::path& archive) const {
  std::string key = core::index_key(archive);
  if (!dir) return key;
  std::error_code ec;
  auto base = fs::weakly_canonical(fs::absolute(*dir), ec).string();
  if (ec || base.empty()) return key;
  if (base.back() != '/') base += '/';
  return key.rfind(base, 0) == 0 ? key.substr(base.size()) : key;
}

fs::path Root::file_of(const std::string& name) const {
  if (!dir || name.empty() || name.front() == '/') return name;
  return *dir / name;
}

Result<std::vector<Row>> rows(Index& index, const Root& root) {
  RK_TRY_ASSIGN(auto all, index.list());
  RK_TRY_ASSIGN(auto verified, index.verifications());
  std::vector<Row> out;
  for (auto& s : all) {
    Row r;
    r.created = created_of(s);
    if (auto v = verified.find(s.path); v != verified.end()) r.verification = v->second;
    r.status = status_of(s, r.verification, root);
    r.summary = std::move(s);
    out.push_back(std::move(r));
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const Row& a, const Row& b) { return a.created > b.created; });
  return out;
}

AddOutcome add(Index& index, const fs::path& archive, const AddOptions& options,
               std::string* message) {
  auto fingerprint = core::fingerprint_file(archive);
  if (!fingerprint) {
    if (message) *message = fingerprint.error().message;
    return AddOutcome::kNotABackup;
  }
  auto name = options.root.name_of(archive);
  if (auto known = index.find(name, *fingerprint); known && *known) {
    return AddOutcome::kUnchanged;
  }
  inspect::InspectOptions o;
  o.reader = options.reader;
  o.reader.passwords.prompt = nullptr;  // many archives: never stop to ask
  o.profile = options.profile;
  o.index = &index;
  o.index_name = name;
  auto report = inspect::inspect(archive, o);
  if (report && !report->incomplete) return AddOutcome::kRead;
  Error why = report ? *report->incomplete : report.error();
  if (message) *message = why.message;
  if (!report && !is_damage(why.code) && !is_locked(why.code)) return AddOutcome::kNotABackup;
  return record_unreadable(index, name, *fingerprint, report, why);
}

Result<void> record(Index& index, const fs::path& archive, const verify::VerifyReport& report,
                    const Root& root) {
  std::string key = root.name_of(archive);
  RK_TRY_ASSIGN(auto fingerprint, core::fingerprint_file(archive));
  RK_TRY_ASSIGN(auto known, index.find(key, fingerprint));
  if (!known) {  // what the verify pass saw is what inspect would have said
    core::ArchiveSummary s = report.summary;
    s.path = key;
    s.fingerprint = fingerprint;
    s.archive_bytes = fingerprint.size;
    RK_TRY(index.put(s));
  }
  RK_TRY_ASSIGN(bool recorded,
                index.record_verification(
                    key, fingerprint, report.listing.get(),
                    Verification{0, report.verdict(), report.count(core::Severity::kError),
                                 report.count(core::Severity::kWarning)}));
  if (!recorded) {
    return fail(ErrorCode::kIo, "the archive changed while it was verified; verify it again",
                archive.string());
  }
  return {};
}

namespace {

class ManyVerifier {
 public:
  ManyVerifier(std::string catalog, const VerifyManyOptions& o)
      : catalog_(std::move(catalog)), o_(o) {}

  Result<VerifyManyReport> run() {
    {
      RK_TRY_ASSIGN(auto index, Index::open_location(catalog_));
      RK_TRY_ASSIGN(auto all, rows(index, o_.root));
      auto now = static_cast<std::int64_t>(std::time(nullptr));
      for (const auto& r : all) {
        if (due(r, o_.recheck, o_.older_than, now)) todo_.push_back(r.summary.path);
      }
      report_.already = all.size() - todo_.size();
    }
    unsigned workers = o_.threads ? o_.threads : std::max(1u, std::thread::hardware_concurrency());
    workers = std::min<unsigned>(workers, std::max<std::size_t>(1, todo_.size()));
    std::vector<std::thread> threads;
    for (unsigned w = 0; w < workers; ++w) threads.emplace_back([this] { work(); });
    for (auto& t : threads) t.join();
    if (o_.cancel.cancelled()) return fail(ErrorCode::kCancelled, "catalog verify cancelled");
    // The verdict is the catalog's, not this run's: a damaged or missing backup fails the run
    // whether or not it was read now.
    RK_TRY_ASSIGN(auto index, Index::open_location(catalog_));
    RK_TRY_ASSIGN(report_.problems, problems(index, o_.root));
    return std::move(report_);
  }

 private:
  void work() {
    auto own = Index::open_location(catalog_);  // one connection per worker
    VerifyRun run{o_.reader, o_.profile, o_.root, o_.cancel};
    for (std::size_t i; (i = next_.fetch_add(1)) < todo_.size();) {
      if (o_.cancel.cancelled()) return;
      VerifiedArchive done = verify_and_record(own ? &*own : nullptr, todo_[i], run);
      std::lock_guard lock(mutex_);
      count(report_, done);
      if (o_.on_archive) o_.on_archive(done);
      report_.archives.push_back(std::move(done));
      if (o_.progress) {
        auto n = report_.archives.size();
        o_.progress(Progress{n, todo_.size(), n, todo_.size(), todo_[i]});
      }
    }
  }

  std::string catalog_;  // a file or a PostgreSQL URI
  const VerifyManyOptions& o_;
  std::vector<std::string> todo_;
  std::atomic<std::size_t> next_{0};
  std::mutex mutex_;
  VerifyManyReport report_;
};

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string default_worker_name() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) std::strcpy(host, "localhost");
  return fmt::format("{}:{}", host, ::getpid());
}

// Renews the claim it is given every third of the time-out, on a connection of its own that
// lasts as long as the worker, until the claim ends.
class Heartbeat {
 public:
  Heartbeat(const std::string& catalog, std::string worker, std::int64_t ttl_ms)
      : worker_(std::move(worker)), ttl_ms_(ttl_ms), thread_([this, catalog] { beat(catalog); }) {}
  ~Heartbeat() {
    {
      std::lock_guard lock(mutex_);
      quit_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  Heartbeat(const Heartbeat&) = delete;
  Heartbeat& operator=(const Heartbeat&) = delete;

  // Keeps `archive` of `round` claimed until the returned guard goes.
  auto hold(std::int64_t round, const std::string& archive) {
    {
      std::lock_guard lock(mutex_);
      claim_ = std::make_pair(round, archive);
    }
    cv_.notify_all();
    auto release = [this](void*) {
      std::lock_guard lock(mutex_);
      claim_.reset();
    };
    return std::unique_ptr<void, decltype(release)>(this, release);
  }

 private:
  void beat(const std::string& catalog) {
    auto index = Index::open_location(catalog);
    std::unique_lock lock(mutex_);
    auto period = std::chrono::milliseconds(std::max<std::int64_t>(ttl_ms_ / 3, 1));
    while (!quit_) {
      cv_.wait_for(lock, period);
      if (quit_ || !claim_ || !index) continue;  // no connection: the claim expires
      auto [round, archive] = *claim_;
      lock.unlock();
      auto held = index->heartbeat(round, archive, worker_, now_ms());
      lock.lock();
      if (held && !*held && claim_ && claim_->second == archive) claim_.reset();  // taken over
    }
  }

  std::string worker_;
  std::int64_t ttl_ms_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool quit_ = false;
  std::optional<std::pair<std::int64_t, std::string>> claim_;
  std::thread thread_;  // last: starts once the rest is ready
};

class Worker {
 public:
  Worker(std::string catalog, const WorkerOptions& o) : catalog_(std::move(catalog)), o_(o) {
    report_.name = o.name.empty() ? default_worker_name() : o.name;
  }

  Result<WorkerReport> run() {
    RK_TRY_ASSIGN(auto index, Index::open_location(catalog_));
    VerifyRun verify_run{o_.reader, o_.profile, o_.root, o_.cancel};
    std::int64_t ttl = std::max<std::int64_t>(o_.claim_ttl_ms, 1);
    Heartbeat heartbeat(catalog_, report_.name, ttl);
    std::int64_t round = 0;
    for (;;) {
      if (o_.cancel.cancelled()) return fail(ErrorCode::kCancelled, "catalog worker cancelled");
      if (round == 0) {
        RK_TRY_ASSIGN(round, join_or_open(index));
        if (round == 0) {  // nothing is due
          if (o_.until_empty) break;
          pause(o_.idle_ms);
          continue;
        }
      }
      auto now = now_ms();
      RK_TRY_ASSIGN(auto claimed, index.claim(round, report_.name, now, now - ttl));
      if (claimed) {
        VerifiedArchive done;
        {
          auto held = heartbeat.hold(round, *claimed);
          done = verify_and_record(&index, *claimed, verify_run);
        }
        if (o_.cancel.cancelled()) continue;  // unfinished: the claim expires
        RK_TRY(index.finish(round, *claimed,
                            done.verdict ? core::verdict_name(*done.verdict) : "error",
                            done.message));
        count(report_, done);
        if (o_.on_archive) o_.on_archive(done);
        report_.archives.push_back(std::move(done));
        continue;
      }
      RK_TRY_ASSIGN(bool closed, index.close_round_if_done(round));
      if (closed) {
        round = 0;
        if (o_.until_empty) break;
        pause(o_.idle_ms);
        continue;
      }
      // Other workers hold the rest: wait for them to finish, or for a claim to expire.
      pause(std::min<std::int64_t>(ttl / 3 + 1, 1000));
    }
    RK_TRY_ASSIGN(report_.problems, problems(index, o_.root));
    return std::move(report_);
  }

 private:
  // The open round, else a new one over the backups that are due now (0: none is).
  Result<std::int64_t> join_or_open(Index& index) {
    RK_TRY_ASSIGN(auto open, index.open_round());
    if (open) return *open;
    RK_TRY_ASSIGN(auto all, rows(index, o_.root));
    auto now = static_cast<std::int64_t>(std::time(nullptr));
    std::vector<std::string> names;
    for (const auto& r : all) {
      if (due(r, o_.recheck, o_.older_than, now)) names.push_back(r.summary.path);
    }
    return index.start_round(names);
  }

  void pause(std::int64_t ms) const {
    for (std::int64_t waited = 0; waited < ms && !o_.cancel.cancelled(); waited += 50) {
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min<std::int64_t>(50, ms)));
    }
  }

  std::string catalog_;
  const WorkerOptions& o_;
  WorkerReport report_;
};

}  // namespace

Result<VerifyManyReport> verify_many(const std::string& catalog, const VerifyManyOptions& options) {
  return ManyVerifier(catalog, options).run();
}

RoundProgress progress_of(const Index::Round& round, std::int64_t now_ms,
                          std::int64_t claim_ttl_ms) {
  RoundProgress p;
  for (const auto& item : round.items) {
    bool expired =
        item.state == "claimed" && item.heartbeat_ms && *item.heartbeat_ms < now_ms - claim_ttl_ms;
    ++p.states[expired ? std::string("expired") : item.state];
    if (item.worker.empty()) continue;
    auto& w = p.workers[item.worker];
    if (item.state == "done") {
      ++w.done;
      ++p.verdicts[item.verdict];
    } else if (item.state == "claimed") {
      w.holding.push_back(item.archive);
    }
    if (item.heartbeat_ms) {
      w.heartbeat_ms = std::max(w.heartbeat_ms.value_or(0), *item.heartbeat_ms);
    }
  }
  return p;
}

Result<WorkerReport> run_worker(const std::string& catalog, const WorkerOptions& options) {
  return Worker(catalog, options).run();
}

}  // namespace restorekit::catalog
