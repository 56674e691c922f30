#include <restorekit/catalog/catalog.hpp>

#include <algorithm>
#include <atomic>
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

Status status_of(const core::ArchiveSummary& s, const std::optional<Verification>& v) {
  std::error_code ec;
  if (!fs::exists(s.path, ec)) return Status::kMissing;
  auto fp = core::fingerprint_file(s.path);
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
AddOutcome record_unreadable(Index& index, const fs::path& archive,
                             const core::Fingerprint& fingerprint,
                             const Result<inspect::InspectReport>& report, const Error& why) {
  core::ArchiveSummary s = report ? report->summary : core::ArchiveSummary{};
  s.path = core::index_key(archive);
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

bool due(const Row& r, const VerifyManyOptions& o, std::int64_t now) {
  if (r.status == Status::kUnverified || r.status == Status::kChanged) return true;
  if (r.status == Status::kMissing) return false;
  bool stale = o.older_than && r.verification && r.verification->verified_at <= now - *o.older_than;
  return o.recheck || stale;
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

Result<std::vector<Row>> rows(Index& index) {
  RK_TRY_ASSIGN(auto all, index.list());
  std::vector<Row> out;
  for (auto& s : all) {
    Row r;
    r.created = created_of(s);
    RK_TRY_ASSIGN(r.verification, index.verification(s.path));
    r.status = status_of(s, r.verification);
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
  if (auto known = index.find(core::index_key(archive), *fingerprint); known && *known) {
    return AddOutcome::kUnchanged;
  }
  inspect::InspectOptions o;
  o.reader = options.reader;
  o.reader.passwords.prompt = nullptr;  // many archives: never stop to ask
  o.profile = options.profile;
  o.index = &index;
  auto report = inspect::inspect(archive, o);
  if (report && !report->incomplete) return AddOutcome::kRead;
  Error why = report ? *report->incomplete : report.error();
  if (message) *message = why.message;
  if (!report && !is_damage(why.code) && !is_locked(why.code)) return AddOutcome::kNotABackup;
  return record_unreadable(index, archive, *fingerprint, report, why);
}

Result<void> record(Index& index, const fs::path& archive, const verify::VerifyReport& report) {
  std::string key = core::index_key(archive);
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
      RK_TRY_ASSIGN(auto all, rows(index));
      auto now = static_cast<std::int64_t>(std::time(nullptr));
      for (const auto& r : all) {
        if (due(r, o_, now)) todo_.push_back(r.summary.path);
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
    RK_TRY_ASSIGN(auto after, rows(index));
    for (auto& r : after) {
      if (r.status == Status::kDamaged || r.status == Status::kMissing) {
        report_.problems.push_back(std::move(r));
      }
    }
    return std::move(report_);
  }

 private:
  void work() {
    auto own = Index::open_location(catalog_);  // one connection per worker
    for (std::size_t i; (i = next_.fetch_add(1)) < todo_.size();) {
      if (o_.cancel.cancelled()) return;
      VerifiedArchive done = verify_one(own ? &*own : nullptr, todo_[i]);
      std::lock_guard lock(mutex_);
      count(done);
      if (o_.on_archive) o_.on_archive(done);
      report_.archives.push_back(std::move(done));
      if (o_.progress) {
        auto n = report_.archives.size();
        o_.progress(Progress{n, todo_.size(), n, todo_.size(), todo_[i]});
      }
    }
  }

  VerifiedArchive verify_one(Index* index, const std::string& path) {
    verify::VerifyOptions o;
    o.reader = o_.reader;
    o.reader.passwords.prompt = nullptr;
    o.profile = o_.profile;
    o.threads = 1;  // the parallelism is across archives
    o.cancel = o_.cancel;
    auto report = verify::verify(path, o);
    if (!report) return VerifiedArchive{path, std::nullopt, 0, report.error().message};
    if (index) (void)record(*index, path, *report);
    return VerifiedArchive{path, report->verdict(), report->count(core::Severity::kError), {}};
  }

  void count(const VerifiedArchive& a) {
    if (!a.verdict) {
      ++report_.failed;
      return;
    }
    switch (*a.verdict) {
      case core::Verdict::kIntact: ++report_.intact; break;
      case core::Verdict::kDamaged: ++report_.damaged; break;
      case core::Verdict::kLocked: ++report_.locked; break;
    }
  }

  std::string catalog_;  // a file or a PostgreSQL URI
  const VerifyManyOptions& o_;
  std::vector<std::string> todo_;
  std::atomic<std::size_t> next_{0};
  std::mutex mutex_;
  VerifyManyReport report_;
};

}  // namespace

Result<VerifyManyReport> verify_many(const std::string& catalog, const VerifyManyOptions& options) {
  return ManyVerifier(catalog, options).run();
}

}  // namespace restorekit::catalog
