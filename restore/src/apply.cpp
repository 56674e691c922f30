// apply, rollback and recover: the journaled, atomic replacement of the live database and
// documents (DESIGN.md, "Restore model", step 2).
//
// Before the lock, frames an application left in live's -wal are copied into the file (a
// passive checkpoint, only while live's fingerprint shows it as the plan saw it; the
// fingerprint after it is what the lock compares). Order, under live's exclusive lock: live is
// what the plan saw (fingerprint, else content hash); the journal (old and new content hashes,
// where the documents are) written and synced;
// documents swapped in with renameat2(RENAME_EXCHANGE); then the commit point, one of
//  - swap: live's WAL checkpointed and retired, the staged file (checked before the lock,
//    unwritten since, given live's mode, owner and xattrs) exchanged with live; the old file
//    becomes the safety snapshot; a process that opened live meanwhile makes it exchange back;
//  - copy: a safety snapshot of live, then the staged database copied in through the backup API
//    (or the selective transaction);
// journal marked committed; old documents moved into the snapshot; journal removed. A kill at
// any instant leaves live old or new and the journal tells recover() how to bring the documents
// (and a retired WAL mode) to match.
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <future>
#include <set>

#include <fmt/format.h>

#include <restorekit/core/content_hash.hpp>
#include <restorekit/core/fs.hpp>
#include <restorekit/core/restore_state.hpp>
#include <restorekit/core/version.hpp>

#include "internal.hpp"

namespace restorekit::restore {

namespace detail {

namespace {

using core::Finding;
using core::Severity;

tl::unexpected<Error> io_error(const std::string& what, const fs::path& p) {
  return fail(ErrorCode::kIo,
              fmt::format("cannot {} {}: {}", what, p.string(), std::strerror(errno)), p.string());
}

Result<void> make_private_dir(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return fail(ErrorCode::kIo, fmt::format("cannot create {}: {}", dir.string(), ec.message()),
                dir.string());
  }
  fs::permissions(dir, fs::perms::owner_all, ec);
  return {};
}

// A new folder under snapshots/ named by the UTC time (a suffix keeps names unique).
Result<fs::path> new_snapshot_dir(const fs::path& live) {
  auto base = core::restore_snapshots_dir(live);
  RK_TRY(make_private_dir(base));
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
  for (int i = 0; i < 1000; ++i) {
    auto dir = base / (i ? fmt::format("{}-{}", stamp, i) : std::string(stamp));
    if (::mkdir(dir.c_str(), 0700) == 0) return dir;
    if (errno != EEXIST) return io_error("create", dir);
  }
  return fail(ErrorCode::kIo, fmt::format("cannot name a new snapshot in {}", base.string()));
}

int renameat2_(const fs::path& from, const fs::path& to, unsigned flags) {
  return ::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), flags);
}

}  // namespace

namespace {

fs::path below(const fs::path& root, const std::string& rel) {
  return rel.empty() ? root : root / rel;
}

// Whether an exchange was done: live's name holds what the staged name held.
bool exchanged(const Exchange& e) {
  return inode_of(e.live) == e.staged_ino;
}

// Gives each of the two names what the other holds. A name that is missing gets its folder
// first (on the staged side, which restorekit owns; live's were created beforehand).
Result<void> exchange_names(const Exchange& e) {
  bool live = inode_of(e.live) != 0, staged = inode_of(e.staged) != 0;
  if (live && staged) {
    if (renameat2_(e.staged, e.live, RENAME_EXCHANGE) != 0) {
      return io_error(fmt::format("exchange the documents {} with", e.staged.string()), e.live);
    }
  } else if (staged || live) {
    const fs::path& from = staged ? e.staged : e.live;
    const fs::path& to = staged ? e.live : e.staged;
    if (live) {
      std::error_code ec;
      fs::create_directories(to.parent_path(), ec);
    }
    if (renameat2_(from, to, RENAME_NOREPLACE) != 0) {
      return io_error(fmt::format("move the documents {} to", from.string()), to);
    }
  }
  return {};
}

// Exchanges each name not yet where `in` wants it (swapped in, or back out), noting the folders
// that gained or lost a name. @return how many moved.
Result<std::size_t> exchange_each(const DocumentSwap& d, bool in, std::set<fs::path>& folders) {
  std::size_t moved = 0;
  auto walked = for_each_exchange(d, [&](const Exchange& e) -> Result<void> {
    if (exchanged(e) == in) return {};
    RK_TRY(exchange_names(e));
    folders.insert(e.live.parent_path());
    folders.insert(e.staged.parent_path());
    ++moved;
    return {};
  });
  RK_TRY(walked);
  return moved;
}

// Makes the renames durable: each folder that gained or lost a name, once.
Result<void> sync_folders(const std::set<fs::path>& folders) {
  for (const auto& f : folders) {
    if (inode_of(f) != 0) RK_TRY(core::sync_directory(f));  // one removed since: its parent is
  }
  return {};
}

// Puts the staged documents in place of live's (each exchange not done yet). @return how many
// names moved.
Result<std::size_t> swap_in(const DocumentSwap& d) {
  std::set<fs::path> grown;  // folders that gained or lost a name
  for (const auto& m : d.made) {
    auto dir = below(d.live, m);
    if (::mkdir(dir.c_str(), 0755) == 0) {
      grown.insert(dir.parent_path());
    } else if (errno != EEXIST) {
      return io_error("create", dir);
    }
  }
  RK_TRY_ASSIGN(auto done, exchange_each(d, true, grown));
  for (auto m = d.emptied.rbegin(); m != d.emptied.rend(); ++m) {
    if (::rmdir(below(d.live, *m).c_str()) == 0) grown.insert(below(d.live, *m).parent_path());
  }
  RK_TRY(sync_folders(grown));
  return done;
}

// The reverse of swap_in, and the folders it made removed again (when empty). @return how many
// names moved.
Result<std::size_t> swap_out(const DocumentSwap& d) {
  for (const auto& m : d.emptied) {
    auto dir = below(d.live, m);
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return io_error("create", dir);
  }
  std::set<fs::path> changed;  // folders that gained or lost a name
  RK_TRY_ASSIGN(auto done, exchange_each(d, false, changed));
  for (auto m = d.made.rbegin(); m != d.made.rend(); ++m) {
    if (::rmdir(below(d.live, *m).c_str()) == 0) changed.insert(below(d.live, *m).parent_path());
  }
  RK_TRY(sync_folders(changed));
  return done;
}

// Exchanges two files by one rename (the swap's commit point, and its undo) and makes it
// durable.
Result<void> exchange(const fs::path& staged, const fs::path& live) {
  if (renameat2_(staged, live, RENAME_EXCHANGE) != 0) {
    return io_error(fmt::format("exchange {} with", staged.string()), live);
  }
  RK_TRY(core::sync_directory(live.parent_path()));
  if (staged.parent_path() != live.parent_path()) {
    RK_TRY(core::sync_directory(staged.parent_path()));
  }
  return {};
}

// A selective restore's snapshot lists its files in the swap's list (kSwapList, beside
// snapshot.json): rollback exchanges them back one by one (a live inode of 0: the restore added
// the file and rollback takes it away again).
nlohmann::json snapshot_json(const Job& job, const std::optional<fs::path>& documents) {
  bool listed = job.documents && job.documents->files;
  return {{"schema", core::schema::kSnapshot},
          {"live", job.live.string()},
          {"live_documents", job.documents ? job.documents->live.string() : ""},
          {"documents", documents ? documents->string() : ""},
          {"document_files", listed ? kSwapList : ""},
          {"made", job.documents ? job.documents->made : std::vector<std::string>{}},
          {"hash", job.old_hash.hex()},
          {"created", static_cast<std::int64_t>(std::time(nullptr))}};
}

// After a swap's commit: the old database file (now at the staged path) becomes the snapshot's.
Result<void> keep_old_database(const Job& job) {
  auto kept = job.snapshot / "database.sqlite";
  std::error_code ec;
  if (fs::exists(kept, ec)) return {};
  if (::rename(job.staged_database.c_str(), kept.c_str()) != 0) {
    return io_error(
        fmt::format("move the old database {} into the snapshot as", job.staged_database.string()),
        kept);
  }
  RK_TRY(core::sync_directory(kept.parent_path()));
  return core::sync_directory(job.staged_database.parent_path());
}

// After the commit: the old documents (now at the staged path) become the snapshot's.
Result<void> keep_old_documents(const Job& job) {
  bool by_file = job.documents && job.documents->by_file();
  if (!job.documents || (!job.documents->live_ino && !by_file)) {
    return write_json_durably(job.snapshot / "snapshot.json", snapshot_json(job, std::nullopt));
  }
  fs::path kept = job.documents->staged;
  auto target = job.snapshot / "documents";
  std::error_code ec;
  if (!fs::exists(kept, ec) && fs::exists(target, ec)) {
    kept = target;  // moved before an interruption
  } else if (fs::exists(kept, ec)) {
    if (renameat2_(kept, target, RENAME_NOREPLACE) == 0) {
      kept = target;
    } else if (errno != EXDEV) {
      return io_error("move the old documents into the snapshot", target);
    }  // on another filesystem the old documents stay where they are, named in snapshot.json
  }
  return write_json_durably(job.snapshot / "snapshot.json", snapshot_json(job, kept));
}

void remove_tree(const fs::path& p) {
  std::error_code ec;
  if (!p.empty()) fs::remove_all(p, ec);
}

bool is_staging_dir(const fs::path& live, const fs::path& p) {
  return p.parent_path() == core::restore_state_dir(live) &&
         p.filename().string().rfind("staging-", 0) == 0;
}

// A snapshot whose documents stayed on their own filesystem names them in snapshot.json, in
// the staging folder the dry run made beside the documents (".<name>.restorekit-*"): that
// folder goes with the snapshot, unless it holds anything of live.
void remove_snapshot(const fs::path& live, const fs::path& dir) {
  if (auto j = read_json(dir / "snapshot.json")) {
    try {
      fs::path docs = j->value("documents", "");
      fs::path live_docs = j->value("live_documents", "");
      auto outside = docs.lexically_relative(dir);
      auto holder = docs.parent_path();
      bool ours = holder.filename().string().rfind(".", 0) == 0 &&
                  holder.filename().string().find(".restorekit-") != std::string::npos;
      auto protect = live_paths(live);
      if (!live_docs.empty()) protect.push_back(live_docs);
      if (!docs.empty() && (outside.empty() || *outside.begin() == "..") && ours &&
          !held_by(holder, protect)) {
        remove_tree(holder);
      }
    } catch (const nlohmann::json::exception&) {
      // A damaged snapshot.json names no documents folder to take along: only `dir` goes.
    }
  }
  remove_tree(dir);
}

void prune_snapshots(const fs::path& live, unsigned keep) {
  std::error_code ec;
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(core::restore_snapshots_dir(live), ec)) {
    if (e.is_directory(ec)) dirs.push_back(e.path());
  }
  std::sort(dirs.begin(), dirs.end());
  keep = std::max(1u, keep);
  for (std::size_t i = 0; i + keep < dirs.size(); ++i) remove_snapshot(live, dirs[i]);
}

// integrity_check's complaints ("" when it says ok).
std::string integrity_problems(const fs::path& live) {
  auto db = core::Database::open(live, core::OpenMode::kReadOnly);
  if (!db) return db.error().message;
  (void)db->exec("PRAGMA cache_size=-16384");  // 16 MiB: fewer re-reads while checking indexes
  auto ok = db->prepare("PRAGMA integrity_check(5)");
  if (!ok) return ok.error().message;
  std::string problems;
  auto done = ok->for_each([&]() -> Result<void> {
    if (ok->column_text(0) != "ok") problems += std::string(ok->column_text(0)) + "; ";
    return {};
  });
  return done ? problems : done.error().message;
}

// After the commit, on two threads: integrity_check, and the content hash that must equal the
// planned result.
std::vector<Finding> post_checks(const Job& job, const std::vector<TableChange>& changes) {
  std::vector<Finding> out;
  auto integrity = std::async(std::launch::async, integrity_problems, job.live);
  auto hash = [&]() -> Result<core::Digest128> {
    RK_TRY_ASSIGN(auto db, core::Database::open(job.live, core::OpenMode::kReadOnly));
    return core::content_hash(db);
  }();
  std::string problems = integrity.get();
  if (!problems.empty()) {
    out.push_back(Finding{"DB_INTEGRITY", Severity::kError, job.live.string(),
                          fmt::format("integrity_check of the restored database failed: {}; "
                                      "run `restorekit restore --rollback --live {}`",
                                      problems, job.live.string())});
  }
  if (!hash || *hash != job.result_hash) {
    out.push_back(Finding{"RESULT_MISMATCH", Severity::kError, job.live.string(),
                          fmt::format("the restored database's content hash {} differs from the "
                                      "planned {}; run `restorekit restore --rollback --live {}`",
                                      hash ? hash->hex() : hash.error().message,
                                      job.result_hash.hex(), job.live.string())});
  }
  for (const auto& c : changes) {
    if (!c.orphaned) continue;
    out.push_back(Finding{"ORPHANED_ROWS", Severity::kWarning, c.table,
                          fmt::format("{} row{} of {} now point to rows that do not exist "
                                      "(PRAGMA foreign_key_check)",
                                      c.orphaned, c.orphaned == 1 ? "" : "s", c.table)});
  }
  return out;
}

}  // namespace

// Why a job must not run: its documents folder holds or lies inside anything of live, or the
// tree it swaps in or the folder it removes afterwards holds anything of live.
std::optional<std::string> unsafe_job(const Job& job) {
  auto protect = live_paths(job.live);
  if (job.documents) {
    if (auto bad = check_layout(job.live, job.documents->live); !bad) return bad.error().message;
    if (auto held = held_by(job.documents->staged, protect)) {
      return fmt::format("the documents to swap in, {}, hold {}", job.documents->staged.string(),
                         held->string());
    }
    protect.push_back(job.documents->live);
  }
  if (job.remove_after) {
    if (auto held = held_by(*job.remove_after, protect)) {
      return fmt::format("the folder to remove after the restore, {}, holds {}",
                         job.remove_after->string(), held->string());
    }
  }
  return std::nullopt;
}

// Why the live documents no longer match the dry run's view of them, or nullopt.
std::optional<std::string> documents_changed(const Job& job, std::optional<Tree>& now) {
  if (!job.documents || !job.live_tree) return std::nullopt;
  auto d = [&]() -> Result<std::optional<std::string>> {
    RK_TRY_ASSIGN(auto planned, Tree::open(*job.live_tree));
    RK_TRY_ASSIGN(now, Tree::scratch());
    std::error_code ec;
    if (fs::exists(job.documents->live, ec) || fs::is_symlink(job.documents->live, ec)) {
      RK_TRY(scan_tree(job.documents->live, HashFiles::kNo, *now));
    }
    return first_difference(planned, *now, TreeCompare::kMetadata, job.documents->live);
  }();
  if (!d) return d.error().message;
  if (!*d) return std::nullopt;
  return fmt::format("the live documents in {} changed since the plan: {}; make a new plan",
                     job.documents->live.string(), **d);
}

std::optional<std::string> folders_changed(const Job& job, std::optional<Tree>& scanned) {
  if (!job.documents || !scanned) return std::nullopt;
  auto folders = scanned->walk(Tree::Order::kAscending, Tree::Only::kFolders);
  if (!folders) return folders.error().message;
  for (;;) {
    auto more = folders->next();
    if (!more) return more.error().message;
    if (!*more) return std::nullopt;
    const auto& e = folders->entry();
    auto p = e.path.empty() ? job.documents->live : job.documents->live / e.path;
    struct stat st {};
    bool same = ::lstat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode) &&
                static_cast<std::uint64_t>(st.st_ino) == e.inode &&
                static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec ==
                    e.mtime_ns;
    if (!same) {
      return fmt::format(
          "the live documents in {} changed while the restore began (in \"{}\"); "
          "make a new plan",
          job.documents->live.string(), e.path);
    }
  }
}

// Apply names the plan's hash as the old state before it confirmed it on the snapshot: an
// interrupted apply of a stale plan left live equal to its snapshot instead.
bool matches_snapshot(const Job& job, const core::Digest128& hash) {
  auto db = core::Database::open_untrusted(job.snapshot / "database.sqlite");
  if (!db) return false;
  auto h = core::content_hash(*db);
  return h && *h == hash;
}

// A refusal is a finding: a stable code for scripts, a sentence for people.
core::Finding refusal(std::string code, std::string why) {
  return core::Finding{std::move(code), core::Severity::kError, "", std::move(why)};
}

std::uint64_t inode_of(const fs::path& p) {
  struct stat st {};
  if (::lstat(p.c_str(), &st) != 0) return 0;
  return static_cast<std::uint64_t>(st.st_ino);
}

void note_inodes(DocumentSwap& d) {
  d.staged_ino = inode_of(d.staged);
  d.live_ino = inode_of(d.live);
}

namespace {

// What one apply (or rollback) holds once live is locked, passed to the way that installs the
// staged database: the job, live's connection (its exclusive lock), the journal, the report.
struct Session {
  Job job;
  const ApplyOptions& o;
  ApplyReport report;
  Clock::time_point started;
  Clock::time_point locked_at;
  std::optional<core::Database> live;
  fs::path journal;

  void hook(std::string_view step) const {
    if (o.on_step) o.on_step(step);
  }

  Result<ApplyReport> refuse(std::string code, std::string why) {
    report.refusal = refusal(std::move(code), std::move(why));
    report.seconds = since(started);
    return report;
  }

  void drop_snapshot() const { remove_tree(job.snapshot); }

  // The new safety snapshot's folder and, for a by-file swap, its list of the files with their
  // inodes under the lock (the journal names the list there; rollback reads it). Nothing is left
  // behind when it fails.
  Result<void> start_snapshot() {
    RK_TRY_ASSIGN(job.snapshot, new_snapshot_dir(job.live));
    if (!job.documents || !job.documents->choose) return {};
    auto listed = write_file_swaps(job.snapshot / kSwapList, *job.documents);
    if (!listed) drop_snapshot();
    return listed;
  }

  // Before the commit point: the documents back, the journal and the snapshot gone.
  Result<void> undo_common() {
    if (job.documents) RK_TRY(swap_out(*job.documents));
    std::error_code ec;
    fs::remove(journal, ec);
    drop_snapshot();
    return {};
  }

  // After the commit: the journal says so first.
  Result<void> mark_committed() {
    job.state = Job::State::kCommitted;
    RK_TRY(write_json_durably(journal, job_json(job)));
    hook("journal-committed");
    return {};
  }

  // After the commit: the old documents into the snapshot, the journal removed, the lock let go.
  Result<void> finish() {
    RK_TRY(keep_old_documents(job));
    hook("documents-kept");
    std::error_code ec;
    fs::remove(journal, ec);
    RK_TRY(core::sync_directory(journal.parent_path()));
    hook("done");
    live.reset();  // releases the exclusive lock
    return {};
  }

  // A restore that stands, once the lock is let go: the downtime, the staging folder removed.
  void applied() {
    report.downtime_seconds = since(locked_at);
    report.applied = true;
    if (job.remove_after) remove_tree(*job.remove_after);
  }

  ApplyReport done() {
    prune_snapshots(job.live, o.keep_snapshots);
    report.seconds = since(started);
    return report;
  }

  Result<ApplyReport> live_changed(const core::Digest128& now) {
    bool rollback = job.kind == Job::Kind::kRollback;
    return refuse("LIVE_CHANGED",
                  fmt::format("live changed since the {} (content hash {} then, {} now); {}",
                              rollback ? "rollback began" : "plan", job.expected_live->hex(),
                              now.hex(), rollback ? "roll back again" : "make a new plan"));
  }
};

// The copy: a safety snapshot of live, then the staged pages copied into it through SQLite's
// backup API (or the selective transaction), which is the commit point.
class CopyInstall {
 public:
  explicit CopyInstall(Session& s) : s_(s) {}

  Result<ApplyReport> run(bool proven) {
    s_.report.method = "copy";
    RK_TRY(snapshot());
    if (s_.o.cancel.cancelled()) {
      s_.drop_snapshot();
      return fail(ErrorCode::kCancelled, "restore cancelled; live is unchanged");
    }
    if (auto known = old_hash(proven); !known) {
      s_.drop_snapshot();
      return tl::unexpected(known.error());
    }
    if (auto w = write_json_durably(s_.journal, job_json(s_.job)); !w) return abandon(w.error());
    s_.hook("journal");
    if (s_.job.documents) {
      if (auto swapped = swap_in(*s_.job.documents); !swapped) return abandon(swapped.error());
      s_.hook("documents");
    }
    if (auto committed = commit(); !committed) return abandon(committed.error());
    s_.hook("committed");
    RK_TRY(s_.mark_committed());
    RK_TRY(s_.finish());
    s_.applied();
    s_.report.checks = post_checks(s_.job, s_.report.changes);
    return s_.done();
  }

 private:
  Result<void> snapshot() {
    RK_TRY(s_.start_snapshot());
    if (auto copied = copy_to_new_file(*s_.live, snapshot_db()); !copied) {
      s_.drop_snapshot();
      return tl::unexpected(copied.error());
    }
    s_.report.snapshot = s_.job.snapshot;
    s_.hook("snapshot");
    return {};
  }

  [[nodiscard]] fs::path snapshot_db() const { return s_.job.snapshot / "database.sqlite"; }

  // Unless its fingerprint proved it, live's content hash is taken on the snapshot, an exact
  // copy restorekit owns. With a plan, it runs on a second thread while the documents are
  // swapped and the pages copied, and the commit waits for it; the journal meanwhile names the
  // plan's hash as the old state (recover also accepts the snapshot's own hash).
  Result<void> old_hash(bool proven) {
    auto hash_snapshot = [db = snapshot_db(), cancel = s_.o.cancel]() -> Result<core::Digest128> {
      RK_TRY_ASSIGN(auto opened, core::Database::open_untrusted(db));
      return core::content_hash(opened, cancel);
    };
    if (s_.job.expected_live) {
      s_.job.old_hash = *s_.job.expected_live;
      if (!proven) live_hash_ = std::async(std::launch::async, hash_snapshot);
      return {};
    }
    RK_TRY_ASSIGN(s_.job.old_hash, hash_snapshot());
    return {};
  }

  // Live's hash, when it is still being taken, before anything is committed.
  Result<void> before_commit() {
    if (!live_hash_.valid()) return {};
    RK_TRY_ASSIGN(auto h, live_hash_.get());
    if (h == s_.job.old_hash) return {};
    changed_to_ = h;
    return fail(ErrorCode::kConflict, "live changed since the plan");
  }

  // The commit point.
  Result<void> commit() {
    if (s_.job.selection) {
      RK_TRY(before_commit());
      RK_TRY_ASSIGN(s_.report.changes,
                    run_selective(*s_.live, s_.job.staged_database, *s_.job.selection));
      return {};
    }
    RK_TRY_ASSIGN(auto staged, core::Database::open_untrusted(s_.job.staged_database));
    ProgressThrottle throttle(s_.o.progress);
    auto on_chunk = [&](int done, int total) {
      throttle.update(Progress{static_cast<std::uint64_t>(done), static_cast<std::uint64_t>(total),
                               0, 0, "copying pages"});
      s_.hook("copy");
    };
    return core::copy_pages(staged, *s_.live,
                            core::PageCopyOptions{on_chunk, s_.o.cancel, s_.o.copy_chunk_pages,
                                                  [this] { return before_commit(); }});
  }

  Result<ApplyReport> abandon(const Error& e) {
    if (live_hash_.valid()) live_hash_.wait();
    RK_TRY(s_.undo_common());
    if (changed_to_) return s_.live_changed(*changed_to_);
    return tl::unexpected(e);
  }

  Session& s_;
  std::future<Result<core::Digest128>> live_hash_;
  std::optional<core::Digest128> changed_to_;
};

// The swap: live's exclusive lock is held (and the staged file's, so that nobody opens the new
// file before the swap stands); live's WAL is checkpointed and retired, the documents and then
// the database are exchanged by rename; the old file becomes the snapshot. Everything under
// the lock is small and constant: the downtime does not grow with the database.
class SwapInstall {
 public:
  SwapInstall(Session& s, fs::path target) : s_(s), target_(std::move(target)) {}

  Result<ApplyReport> run(bool proven) {
    if (proven) {
      s_.job.old_hash = *s_.job.expected_live;
    } else {  // live changed on disk since the plan (or no plan): its content decides, read now
      RK_TRY_ASSIGN(auto h, core::content_hash(*s_.live, s_.o.cancel));
      if (s_.job.expected_live && h != *s_.job.expected_live) return s_.live_changed(h);
      s_.job.old_hash = h;
    }
    RK_TRY(lock_staged());
    if (auto why = staged_changed()) return s_.refuse("STAGED_CHANGED", *why);
    if (auto same = copy_file_metadata(target_, s_.job.staged_database); !same) {
      s_.report.copy_reason = same.error().message;
      staged_lock_.reset();  // the copy reads the staged database
      return CopyInstall(s_).run(proven);
    }
    s_.job.method = Job::Method::kSwap;
    s_.report.method = "swap";
    RK_TRY(s_.start_snapshot());
    s_.report.snapshot = s_.job.snapshot;
    RK_TRY(journal());
    if (auto swapped = swap_in(); !swapped) {
      RK_TRY(undo());
      return tl::unexpected(swapped.error());
    }
    return commit();
  }

 private:
  Result<void> lock_staged() {
    RK_TRY_ASSIGN(auto l, lock_live(s_.job.staged_database));
    staged_lock_.emplace(std::move(l));
    return {};
  }

  [[nodiscard]] std::optional<std::string> staged_changed() const {
    auto now = fingerprint(s_.job.staged_database);
    if (s_.job.staged_fingerprint && now && now->file == s_.job.staged_fingerprint->file) {
      return std::nullopt;
    }
    return fmt::format("the staged database {} was written after it was checked; make a new plan",
                       s_.job.staged_database.string());
  }

  // Live's -wal belongs to the old file: its frames go into it and it is removed (the new file
  // gets live's journal mode from its own header, set by the dry run). The journal says so
  // first, so that recover can put WAL mode back if the swap does not happen.
  Result<void> journal() {
    auto mode = journal_mode(*s_.live);
    if (!mode) {
      s_.drop_snapshot();
      return tl::unexpected(mode.error());
    }
    s_.job.retired_wal = *mode == "wal";
    if (auto w = write_json_durably(s_.journal, job_json(s_.job)); !w) {
      s_.drop_snapshot();
      return tl::unexpected(w.error());
    }
    s_.hook("journal");
    return {};
  }

  // The WAL retired and the documents exchanged, up to the commit point.
  Result<void> swap_in() {
    if (s_.job.retired_wal) RK_TRY(s_.live->exec("PRAGMA journal_mode=DELETE"));
    s_.hook("wal-retired");
    if (s_.job.documents) {
      RK_TRY(detail::swap_in(*s_.job.documents));
      s_.hook("documents");
    }
    if (s_.o.cancel.cancelled()) {
      return fail(ErrorCode::kCancelled, "restore cancelled; live is unchanged");
    }
    return {};
  }

  Result<void> undo() {
    if (s_.job.retired_wal) RK_TRY(s_.live->exec("PRAGMA journal_mode=WAL"));
    return s_.undo_common();
  }

  // The commit point, and what follows it.
  Result<ApplyReport> commit() {
    if (auto x = exchange(s_.job.staged_database, target_); !x) {
      RK_TRY(undo());
      return tl::unexpected(x.error());
    }
    s_.hook("committed");
    // A process that opened live before the exchange (it waited on the lock) holds the old file,
    // and would write into the snapshot once the lock is gone: put everything back.
    if (auto users = processes_using(s_.job.staged_database); !users.empty()) {
      RK_TRY(exchange(s_.job.staged_database, target_));
      RK_TRY(undo());
      return s_.refuse("LIVE_IN_USE",
                       fmt::format("{} opened {} during the restore; stop it and apply again "
                                   "(live is as before)",
                                   users.front(), s_.job.live.string()));
    }
    RK_TRY(s_.mark_committed());
    RK_TRY(keep_old_database(s_.job));
    s_.hook("snapshot-kept");
    RK_TRY(s_.finish());
    staged_lock_.reset();
    s_.applied();
    return s_.done();
  }

  Session& s_;
  fs::path target_;
  std::optional<core::Database> staged_lock_;
};

// One apply (or rollback): the checks before the lock, the lock, the proof that live is what
// the plan saw, then the staged database installed by swap where one rename exchange can serve,
// else by copy.
class Applier {
 public:
  Applier(Job job, const ApplyOptions& o) : s_{std::move(job), o, {}, {}, {}, {}, {}} {}

  Result<ApplyReport> run() {
    s_.started = Clock::now();
    const Job& job = s_.job;
    RK_TRY(core::require_no_unfinished_restore(job.live));
    if (auto why = unsafe_job(job)) return s_.refuse("UNSAFE_LAYOUT", *why);
    RK_TRY(make_private_dir(core::restore_state_dir(job.live)));
    RK_TRY(make_private_dir(core::restore_snapshots_dir(job.live)));
    // The live documents as the dry run saw them, compared whole before the lock (a large tree's
    // scan is no downtime) and by their folders under it.
    std::optional<Tree> live_docs;
    if (auto changed = documents_changed(job, live_docs)) {
      return s_.refuse("DOCUMENTS_CHANGED", *changed);
    }
    if (auto users = processes_using(job.live); !users.empty()) {
      return s_.refuse("LIVE_IN_USE",
                       fmt::format("{} is open in {}", job.live.string(), users.front()));
    }
    // Frames left in live's -wal go into the file now, not under the lock (the swap's
    // downtime would grow with them); the fingerprint the lock compares follows.
    if (job.expected_live && job.live_fingerprint) {
      if (auto moved = checkpoint_before_lock(job.live, *job.live_fingerprint,
                                              [this] { s_.hook("wal-copied"); })) {
        s_.job.live_fingerprint = *moved;
      }
    }
    auto locked = lock_live(job.live);
    if (!locked && locked.error().code == ErrorCode::kConflict) {
      return s_.refuse("LIVE_IN_USE", locked.error().message);
    }
    if (!locked) return tl::unexpected(locked.error());
    s_.live.emplace(std::move(*locked));
    s_.locked_at = Clock::now();
    s_.hook("locked");
    return install(live_docs);
  }

 private:
  // Under the lock: the documents' folders and live as the plan saw them, then one way in.
  Result<ApplyReport> install(std::optional<Tree>& live_docs) {
    s_.journal = core::restore_journal_path(s_.job.live);
    if (s_.job.documents) note_inodes(*s_.job.documents);
    if (auto changed = folders_changed(s_.job, live_docs)) {
      return s_.refuse("DOCUMENTS_CHANGED", *changed);
    }
    // Live as the plan saw it, shown without reading it: its fingerprint is unchanged.
    auto now = fingerprint(s_.job.live);
    bool proven =
        s_.job.expected_live && s_.job.live_fingerprint && now && *now == *s_.job.live_fingerprint;
    if (!proven) s_.hook("live-unproven");  // live's content is read under the lock
    std::error_code ec;
    auto target = fs::canonical(s_.job.live, ec);
    std::optional<std::string> why_copy =
        ec ? std::optional<std::string>(ec.message()) : swap_blocker(s_.job, target);
    if (!why_copy) return SwapInstall(s_, target).run(proven);
    s_.report.copy_reason = *why_copy;
    return CopyInstall(s_).run(proven);
  }

  Session s_;
};

}  // namespace

Result<ApplyReport> execute(Job job, const ApplyOptions& o) {
  return Applier(std::move(job), o).run();
}

}  // namespace detail

std::string_view recover_outcome_name(RecoverOutcome outcome) {
  switch (outcome) {
    case RecoverOutcome::kNothingToRecover: return "nothing to recover";
    case RecoverOutcome::kFinished: return "finished";
    case RecoverOutcome::kUndone: return "undone";
  }
  return "nothing to recover";
}

Result<ApplyReport> apply(const Plan& plan, const ApplyOptions& options) {
  auto refuse = [](std::string code, std::string why) {
    ApplyReport refused;
    refused.refusal = detail::refusal(std::move(code), std::move(why));
    return refused;
  };
  if (!plan.safe()) {
    return refuse("PLAN_BLOCKED",
                  "the plan's checks block this restore; fix them and make a new plan");
  }
  // Everything apply installs must be what the dry run checked (checked before the lock, so
  // that a large tree's hashing is not downtime; the plan folder is private to the caller).
  if (auto why = detail::plan_tampered(plan)) return refuse("PLAN_TAMPERED", *why);
  std::optional<DatabaseFingerprint> staged;
  if (auto why = detail::staged_data_changed(plan, &staged)) return refuse("STAGED_CHANGED", *why);
  detail::Job job;
  job.live = plan.live;
  job.staged_database = plan.staged_database;
  if (plan.staged_documents && plan.live_documents) {
    job.documents.emplace();
    job.documents->live = *plan.live_documents;
    job.documents->staged = *plan.staged_documents;
    if (plan.chosen_documents) {
      job.documents->choose = [&plan](const detail::FileSwapFn& fn) {
        return for_each_chosen_document(plan, [&](const ChosenDocument& c) {
          return fn(detail::FileSwap{c.live_path, c.path});
        });
      };
    }
    job.live_tree = plan.live_tree;
  }
  if (plan.selection.selective()) job.selection = plan.selection;
  job.expected_live = plan.live_hash;
  job.live_fingerprint = plan.live_fingerprint;
  job.staged_fingerprint = staged;
  job.result_hash = plan.result_hash;
  job.remove_after = plan.plan_dir ? *plan.plan_dir : plan.staging;
  auto report = detail::execute(std::move(job), options);
  if (report && report->applied) detail::unregister_plan(plan);
  return report;
}

namespace {

namespace fs = std::filesystem;

// The newest complete safety snapshot of `live` (its folder). @error kNotFound.
Result<fs::path> newest_snapshot(const fs::path& live) {
  std::error_code ec;
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(core::restore_snapshots_dir(live), ec)) {
    if (fs::exists(e.path() / "snapshot.json", ec)) dirs.push_back(e.path());
  }
  if (dirs.empty()) {
    return fail(ErrorCode::kNotFound,
                fmt::format("no safety snapshot of {} in {}; nothing to roll back", live.string(),
                            core::restore_snapshots_dir(live).string()),
                live.string());
  }
  return *std::max_element(dirs.begin(), dirs.end());
}

// What live holds now, between two fingerprints that the lock then compares; left unset where
// live cannot be read.
void hash_live_now(detail::Job& job, const ApplyOptions& options) {
  auto current = core::Database::open(job.live, core::OpenMode::kReadOnly);
  if (!current) return;
  Result<core::Digest128> now = fail(ErrorCode::kIo, "not hashed");
  auto around = detail::fingerprint_around(job.live, [&]() -> Result<void> {
    now = core::content_hash(*current, options.cancel);
    return {};
  });
  if (around && *around && now) {
    job.expected_live = *now;
    job.live_fingerprint = *around;
  }
}

// The documents a snapshot took (snapshot.json's "documents"), to be swapped back. Throws json
// exceptions.
Result<void> snapshot_documents(const nlohmann::json& j, const fs::path& snap, detail::Job& job) {
  std::string docs = j.value("documents", "");
  std::string live_docs = j.value("live_documents", "");
  if (docs.empty() || live_docs.empty()) return {};
  job.documents.emplace();
  job.documents->live = live_docs;
  job.documents->staged = docs;
  // The files the restore swapped, listed beside snapshot.json (a snapshot of
  // restorekit.snapshot/1 listed them in it); their inodes are taken again under the lock.
  const auto files = j.value("document_files", nlohmann::json());
  if (files.is_string() && !files.get<std::string>().empty()) {
    if (files.get<std::string>() != detail::kSwapList) {
      return fail(ErrorCode::kBadBackup,
                  fmt::format("{} names a list of documents other than {}",
                              (snap / "snapshot.json").string(), detail::kSwapList));
    }
    job.documents->choose = [list = snap / detail::kSwapList](const detail::FileSwapFn& fn) {
      return detail::for_each_file_swap(list, [&](const detail::FileSwap& f) {
        return fn(detail::FileSwap{f.live, f.staged});
      });
    };
  } else if (files.is_array() && !files.empty()) {
    RK_TRY_ASSIGN(auto listed, detail::file_swaps_from_json(files));
    job.documents->choose = [listed](const detail::FileSwapFn& fn) -> Result<void> {
      for (const auto& f : listed) RK_TRY(fn(detail::FileSwap{f.live, f.staged}));
      return {};
    };
  }
  RK_TRY_ASSIGN(job.documents->emptied,
                detail::folders_from_json(j.value("made", nlohmann::json::array())));
  return {};
}

// Without a journal: what a restore killed before writing one left behind.
RecoverReport clean_without_journal(const fs::path& live) {
  RecoverReport report;
  report.outcome = RecoverOutcome::kNothingToRecover;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(core::restore_state_dir(live), ec)) {
    if (detail::is_staging_dir(live, e.path())) {
      detail::remove_tree(e.path());
      report.actions.push_back("removed stale staging " + e.path().string());
    }
  }
  // A snapshot is complete once its snapshot.json exists; without a journal, one that lacks
  // it is what a restore killed before its journal left behind.
  for (const auto& e : fs::directory_iterator(core::restore_snapshots_dir(live), ec)) {
    if (e.is_directory(ec) && !fs::exists(e.path() / "snapshot.json", ec)) {
      detail::remove_tree(e.path());
      report.actions.push_back("removed incomplete snapshot " + e.path().string());
    }
  }
  return report;
}

// Live already holds the restored content: the interrupted restore's last steps.
Result<void> finish_interrupted(const detail::Job& job, RecoverReport& report) {
  if (job.documents) {
    RK_TRY_ASSIGN(auto moved, detail::swap_in(*job.documents));
    if (moved) {
      report.actions.push_back("swapped the backup's documents into " +
                               job.documents->live.string());
    }
  }
  if (job.method == detail::Job::Method::kSwap) {
    RK_TRY(detail::keep_old_database(job));
    report.actions.push_back("kept the database file swapped out as the safety snapshot in " +
                             job.snapshot.string());
  }
  RK_TRY(detail::keep_old_documents(job));
  if (job.remove_after) detail::remove_tree(*job.remove_after);
  report.outcome = RecoverOutcome::kFinished;
  report.actions.push_back("the live database already holds the restored content");
  return {};
}

// Live still holds its content from before: the interrupted restore's steps undone.
Result<void> undo_interrupted(core::Database& db, const detail::Job& job, const fs::path& live,
                              RecoverReport& report) {
  if (job.documents) {
    RK_TRY_ASSIGN(auto moved, detail::swap_out(*job.documents));
    if (moved) {
      report.actions.push_back("put the previous documents back into " +
                               job.documents->live.string());
    }
  }
  if (job.retired_wal && !detail::wal_header(live)) {
    RK_TRY(db.exec("PRAGMA journal_mode=WAL"));
    report.actions.push_back("put " + live.string() + " back into WAL mode");
  }
  detail::remove_tree(job.snapshot);
  if (job.remove_after && detail::is_staging_dir(live, *job.remove_after)) {
    detail::remove_tree(*job.remove_after);
  }
  report.outcome = RecoverOutcome::kUndone;
  report.actions.push_back("the live database still holds its content from before the restore");
  return {};
}

}  // namespace

Result<ApplyReport> rollback(const std::filesystem::path& live, const ApplyOptions& options) {
  RK_TRY_ASSIGN(auto snap, newest_snapshot(live));
  auto file = snap / "snapshot.json";
  RK_TRY_ASSIGN(auto j, detail::read_json(file));
  detail::Job job;
  job.kind = detail::Job::Kind::kRollback;
  job.live = live;
  job.staged_database = snap / "database.sqlite";
  job.remove_after = snap;
  try {  // every field: a damaged snapshot.json is an error, never an exception
    auto hash = core::Digest128::from_hex(j.value("hash", ""));
    if (!hash) return fail(ErrorCode::kBadBackup, fmt::format("{} is damaged", file.string()));
    job.result_hash = *hash;
    RK_TRY(snapshot_documents(j, snap, job));
  } catch (const nlohmann::json::exception& e) {
    return fail(ErrorCode::kBadBackup, fmt::format("{} is damaged: {}", file.string(), e.what()));
  }
  const auto& hash = job.result_hash;
  // The snapshot may come back by swap: it takes live's journal mode now, and both files are
  // hashed here, before the lock, between fingerprints that the lock then compares.
  RK_TRY(detail::set_wal_header(job.staged_database, detail::wal_header(live)));
  Result<core::Digest128> kept = fail(ErrorCode::kIo, "not hashed");
  RK_TRY_ASSIGN(job.staged_fingerprint,
                detail::fingerprint_around(job.staged_database, [&]() -> Result<void> {
                  RK_TRY_ASSIGN(auto db, core::Database::open_untrusted(job.staged_database));
                  kept = core::content_hash(db, options.cancel);
                  return {};
                }));
  if (!kept || *kept != hash) {
    return fail(ErrorCode::kBadBackup,
                fmt::format("the safety snapshot {} no longer holds the content it was taken with "
                            "({}); nothing was changed",
                            job.staged_database.string(),
                            kept ? "content hash " + kept->hex() + ", expected " + hash.hex()
                                 : kept.error().message),
                job.staged_database.string());
  }
  hash_live_now(job, options);
  return detail::execute(std::move(job), options);
}

Result<RecoverReport> recover(const std::filesystem::path& live) {
  auto journal = core::restore_journal_path(live);
  std::error_code ec;
  if (!fs::exists(journal, ec)) return clean_without_journal(live);
  RK_TRY_ASSIGN(auto j, detail::read_json(journal));
  RK_TRY_ASSIGN(auto job, detail::job_from_json(j));
  if (auto why = detail::unsafe_job(job)) {
    return fail(ErrorCode::kConflict,
                fmt::format("the journal {} names folders that must not be moved or removed ({}); "
                            "nothing was changed: compare live with the snapshot in {} by hand",
                            journal.string(), *why, job.snapshot.string()),
                live.string());
  }
  RK_TRY_ASSIGN(auto db, detail::lock_live(live));
  RK_TRY_ASSIGN(auto hash, core::content_hash(db));
  RecoverReport report;
  if (hash == job.result_hash) {
    RK_TRY(finish_interrupted(job, report));
  } else if (hash == job.old_hash || detail::matches_snapshot(job, hash)) {
    RK_TRY(undo_interrupted(db, job, live, report));
  } else {
    return fail(ErrorCode::kConflict,
                fmt::format("{} matches neither the state before ({}) nor after ({}) the "
                            "interrupted restore: it was changed since; the journal {} is kept — "
                            "compare with the safety snapshot in {}",
                            live.string(), job.old_hash.hex(), job.result_hash.hex(),
                            journal.string(), job.snapshot.string()),
                live.string());
  }
  fs::remove(journal, ec);
  RK_TRY(core::sync_directory(journal.parent_path()));
  return report;
}

}  // namespace restorekit::restore
