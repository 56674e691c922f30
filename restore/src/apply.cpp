// apply, rollback and recover: the journaled, atomic replacement of the live database and
// documents (DESIGN.md, "Restore model", step 2).
//
// Order, under live's exclusive lock: live is what the plan saw (fingerprint, else content
// hash); the journal (old and new content hashes, where the documents are) written and synced;
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

// One apply (or rollback): the lock, the proof that live is what the plan saw, then the staged
// database installed by swap where one rename exchange can serve, else by copy.
class Applier {
 public:
  Applier(Job job, const ApplyOptions& o) : job_(std::move(job)), o_(o) {}

  Result<ApplyReport> run() {
    started_ = Clock::now();
    RK_TRY(core::require_no_unfinished_restore(job_.live));
    if (auto why = unsafe_job(job_)) return refuse("UNSAFE_LAYOUT", *why);
    RK_TRY(make_private_dir(core::restore_state_dir(job_.live)));
    RK_TRY(make_private_dir(core::restore_snapshots_dir(job_.live)));
    // The live documents as the dry run saw them, compared whole before the lock (a large tree's
    // scan is no downtime) and by their folders under it.
    std::optional<Tree> live_docs;
    if (auto changed = documents_changed(job_, live_docs)) {
      return refuse("DOCUMENTS_CHANGED", *changed);
    }
    if (auto users = processes_using(job_.live); !users.empty()) {
      return refuse("LIVE_IN_USE",
                    fmt::format("{} is open in {}", job_.live.string(), users.front()));
    }
    auto locked = lock_live(job_.live);
    if (!locked && locked.error().code == ErrorCode::kConflict) {
      return refuse("LIVE_IN_USE", locked.error().message);
    }
    if (!locked) return tl::unexpected(locked.error());
    live_.emplace(std::move(*locked));
    locked_at_ = Clock::now();
    hook("locked");
    journal_ = core::restore_journal_path(job_.live);
    if (job_.documents) note_inodes(*job_.documents);
    if (auto changed = folders_changed(job_, live_docs)) {
      return refuse("DOCUMENTS_CHANGED", *changed);
    }
    // Live as the plan saw it, shown without reading it: its fingerprint is unchanged.
    auto now = fingerprint(job_.live);
    bool proven =
        job_.expected_live && job_.live_fingerprint && now && *now == *job_.live_fingerprint;
    std::error_code ec;
    auto target = fs::canonical(job_.live, ec);
    std::optional<std::string> why_copy =
        ec ? std::optional<std::string>(ec.message()) : swap_blocker(job_, target);
    if (!why_copy) return by_swap(target, proven);
    report_.copy_reason = *why_copy;
    return by_copy(proven);
  }

 private:
  void hook(std::string_view step) {
    if (o_.on_step) o_.on_step(step);
  }

  Result<ApplyReport> refuse(std::string code, std::string why) {
    report_.refusal = refusal(std::move(code), std::move(why));
    report_.seconds = since(started_);
    return report_;
  }

  void drop_snapshot() { remove_tree(job_.snapshot); }

  // The new safety snapshot's folder and, for a by-file swap, its list of the files with their
  // inodes under the lock (the journal names the list there; rollback reads it). Nothing is left
  // behind when it fails.
  Result<void> start_snapshot() {
    RK_TRY_ASSIGN(job_.snapshot, new_snapshot_dir(job_.live));
    if (!job_.documents || !job_.documents->choose) return {};
    auto listed = write_file_swaps(job_.snapshot / kSwapList, *job_.documents);
    if (!listed) drop_snapshot();
    return listed;
  }

  // Before the commit point: the documents back, the journal and the snapshot gone.
  Result<void> undo_common() {
    if (job_.documents) RK_TRY(swap_out(*job_.documents));
    std::error_code ec;
    fs::remove(journal_, ec);
    drop_snapshot();
    return {};
  }

  // The swap: live's exclusive lock is held (and the staged file's, so that nobody opens the new
  // file before the swap stands); live's WAL is checkpointed and retired, the documents and then
  // the database are exchanged by rename; the old file becomes the snapshot. Everything under
  // the lock is small and constant: the downtime does not grow with the database.
  Result<ApplyReport> by_swap(const fs::path& target, bool proven) {
    if (proven) {
      job_.old_hash = *job_.expected_live;
    } else {  // live changed on disk since the plan (or no plan): its content decides, read now
      RK_TRY_ASSIGN(auto h, core::content_hash(*live_, o_.cancel));
      if (job_.expected_live && h != *job_.expected_live) return live_changed(h);
      job_.old_hash = h;
    }
    std::optional<core::Database> staged_lock;
    {
      RK_TRY_ASSIGN(auto l, lock_live(job_.staged_database));
      staged_lock.emplace(std::move(l));
    }
    auto staged_now = fingerprint(job_.staged_database);
    if (!job_.staged_fingerprint || !staged_now ||
        staged_now->file != job_.staged_fingerprint->file) {
      return refuse("STAGED_CHANGED",
                    fmt::format("the staged database {} was written after it was checked; make a "
                                "new plan",
                                job_.staged_database.string()));
    }
    if (auto same = copy_file_metadata(target, job_.staged_database); !same) {
      report_.copy_reason = same.error().message;
      staged_lock.reset();  // the copy reads the staged database
      return by_copy(proven);
    }
    job_.method = Job::Method::kSwap;
    report_.method = "swap";
    RK_TRY(start_snapshot());
    report_.snapshot = job_.snapshot;
    auto undo = [&]() -> Result<void> {
      if (job_.retired_wal) RK_TRY(live_->exec("PRAGMA journal_mode=WAL"));
      return undo_common();
    };
    // Live's -wal belongs to the old file: its frames go into it and it is removed (the new file
    // gets live's journal mode from its own header, set by the dry run). The journal says so
    // first, so that recover can put WAL mode back if the swap does not happen.
    auto mode = journal_mode(*live_);
    if (!mode) {
      drop_snapshot();
      return tl::unexpected(mode.error());
    }
    job_.retired_wal = *mode == "wal";
    if (auto w = write_json_durably(journal_, job_json(job_)); !w) {
      drop_snapshot();
      return tl::unexpected(w.error());
    }
    hook("journal");
    if (job_.retired_wal) {
      if (auto r = live_->exec("PRAGMA journal_mode=DELETE"); !r) {
        RK_TRY(undo());
        return tl::unexpected(r.error());
      }
    }
    hook("wal-retired");
    if (job_.documents) {
      if (auto swapped = swap_in(*job_.documents); !swapped) {
        RK_TRY(undo());
        return tl::unexpected(swapped.error());
      }
      hook("documents");
    }
    if (o_.cancel.cancelled()) {
      RK_TRY(undo());
      return fail(ErrorCode::kCancelled, "restore cancelled; live is unchanged");
    }
    // The commit point.
    if (auto x = exchange(job_.staged_database, target); !x) {
      RK_TRY(undo());
      return tl::unexpected(x.error());
    }
    hook("committed");
    // A process that opened live before the exchange (it waited on the lock) holds the old file,
    // and would write into the snapshot once the lock is gone: put everything back.
    if (auto users = processes_using(job_.staged_database); !users.empty()) {
      RK_TRY(exchange(job_.staged_database, target));
      RK_TRY(undo());
      return refuse("LIVE_IN_USE", fmt::format("{} opened {} during the restore; stop it and apply "
                                               "again (live is as before)",
                                               users.front(), job_.live.string()));
    }
    job_.state = Job::State::kCommitted;
    RK_TRY(write_json_durably(journal_, job_json(job_)));
    hook("journal-committed");
    RK_TRY(keep_old_database(job_));
    hook("snapshot-kept");
    RK_TRY(finish());
    staged_lock.reset();
    report_.downtime_seconds = since(locked_at_);
    report_.applied = true;
    if (job_.remove_after) remove_tree(*job_.remove_after);
    prune_snapshots(job_.live, o_.keep_snapshots);
    report_.seconds = since(started_);
    return report_;
  }

  // The copy: a safety snapshot of live, then the staged pages copied into it through SQLite's
  // backup API (or the selective transaction), which is the commit point.
  Result<ApplyReport> by_copy(bool proven) {
    report_.method = "copy";
    RK_TRY(start_snapshot());
    auto snapshot_db = job_.snapshot / "database.sqlite";
    if (auto copied = copy_to_new_file(*live_, snapshot_db); !copied) {
      drop_snapshot();
      return tl::unexpected(copied.error());
    }
    report_.snapshot = job_.snapshot;
    hook("snapshot");
    if (o_.cancel.cancelled()) {
      drop_snapshot();
      return fail(ErrorCode::kCancelled, "restore cancelled; live is unchanged");
    }
    // Unless its fingerprint proved it, live's content hash is taken on the snapshot, an exact
    // copy restorekit owns. With a plan, it runs on a second thread while the documents are
    // swapped and the pages copied, and the commit waits for it; the journal meanwhile names the
    // plan's hash as the old state (recover also accepts the snapshot's own hash).
    auto hash_snapshot = [snapshot_db, cancel = o_.cancel]() -> Result<core::Digest128> {
      RK_TRY_ASSIGN(auto db, core::Database::open_untrusted(snapshot_db));
      return core::content_hash(db, cancel);
    };
    std::future<Result<core::Digest128>> live_hash;
    if (job_.expected_live) {
      job_.old_hash = *job_.expected_live;
      if (!proven) live_hash = std::async(std::launch::async, hash_snapshot);
    } else if (auto h = hash_snapshot(); h) {
      job_.old_hash = *h;
    } else {
      drop_snapshot();
      return tl::unexpected(h.error());
    }
    std::optional<core::Digest128> changed_to;
    auto before_commit = [&]() -> Result<void> {
      if (!live_hash.valid()) return {};
      RK_TRY_ASSIGN(auto h, live_hash.get());
      if (h == job_.old_hash) return {};
      changed_to = h;
      return fail(ErrorCode::kConflict, "live changed since the plan");
    };
    auto abandon = [&](const Error& e) -> Result<ApplyReport> {
      if (live_hash.valid()) live_hash.wait();
      RK_TRY(undo_common());
      if (changed_to) return live_changed(*changed_to);
      return tl::unexpected(e);
    };
    if (auto w = write_json_durably(journal_, job_json(job_)); !w) return abandon(w.error());
    hook("journal");
    if (job_.documents) {
      if (auto swapped = swap_in(*job_.documents); !swapped) return abandon(swapped.error());
      hook("documents");
    }
    // The commit point.
    if (job_.selection) {
      if (auto same = before_commit(); !same) return abandon(same.error());
      auto changes = run_selective(*live_, job_.staged_database, *job_.selection);
      if (!changes) return abandon(changes.error());
      report_.changes = std::move(*changes);
    } else {
      auto staged = core::Database::open_untrusted(job_.staged_database);
      if (!staged) return abandon(staged.error());
      ProgressThrottle throttle(o_.progress);
      auto on_chunk = [&](int done, int total) {
        throttle.update(Progress{static_cast<std::uint64_t>(done),
                                 static_cast<std::uint64_t>(total), 0, 0, "copying pages"});
        hook("copy");
      };
      if (auto copied = core::copy_pages(
              *staged, *live_,
              core::PageCopyOptions{on_chunk, o_.cancel, o_.copy_chunk_pages, before_commit});
          !copied) {
        return abandon(copied.error());
      }
    }
    hook("committed");
    job_.state = Job::State::kCommitted;
    RK_TRY(write_json_durably(journal_, job_json(job_)));
    hook("journal-committed");
    RK_TRY(finish());
    report_.downtime_seconds = since(locked_at_);
    report_.applied = true;
    if (job_.remove_after) remove_tree(*job_.remove_after);
    report_.checks = post_checks(job_, report_.changes);
    prune_snapshots(job_.live, o_.keep_snapshots);
    report_.seconds = since(started_);
    return report_;
  }

  // After the commit: the old documents into the snapshot, the journal removed, the lock let go.
  Result<void> finish() {
    RK_TRY(keep_old_documents(job_));
    hook("documents-kept");
    std::error_code ec;
    fs::remove(journal_, ec);
    RK_TRY(core::sync_directory(journal_.parent_path()));
    hook("done");
    live_.reset();  // releases the exclusive lock
    return {};
  }

  Result<ApplyReport> live_changed(const core::Digest128& now) {
    bool rollback = job_.kind == Job::Kind::kRollback;
    return refuse("LIVE_CHANGED",
                  fmt::format("live changed since the {} (content hash {} then, {} now); {}",
                              rollback ? "rollback began" : "plan", job_.expected_live->hex(),
                              now.hex(), rollback ? "roll back again" : "make a new plan"));
  }

  Job job_;
  const ApplyOptions& o_;
  ApplyReport report_;
  Clock::time_point started_;
  Clock::time_point locked_at_;
  std::optional<core::Database> live_;
  fs::path journal_;
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

Result<ApplyReport> rollback(const std::filesystem::path& live, const ApplyOptions& options) {
  namespace fs = std::filesystem;
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
  std::sort(dirs.begin(), dirs.end());
  const fs::path& snap = dirs.back();
  RK_TRY_ASSIGN(auto j, detail::read_json(snap / "snapshot.json"));
  auto hash = core::Digest128::from_hex(j.value("hash", ""));
  if (!hash)
    return fail(ErrorCode::kBadBackup,
                fmt::format("{} is damaged", (snap / "snapshot.json").string()));
  detail::Job job;
  job.kind = detail::Job::Kind::kRollback;
  job.live = live;
  job.staged_database = snap / "database.sqlite";
  job.result_hash = *hash;
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
  if (!kept || *kept != *hash) {
    return fail(ErrorCode::kBadBackup,
                fmt::format("the safety snapshot {} no longer holds the content it was taken with "
                            "({}); nothing was changed",
                            job.staged_database.string(),
                            kept ? "content hash " + kept->hex() + ", expected " + hash->hex()
                                 : kept.error().message),
                job.staged_database.string());
  }
  {
    auto current = core::Database::open(live, core::OpenMode::kReadOnly);
    if (current) {
      Result<core::Digest128> now = fail(ErrorCode::kIo, "not hashed");
      auto around = detail::fingerprint_around(live, [&]() -> Result<void> {
        now = core::content_hash(*current, options.cancel);
        return {};
      });
      if (around && *around && now) {
        job.expected_live = *now;
        job.live_fingerprint = *around;
      }
    }
  }
  job.remove_after = snap;
  std::string docs = j.value("documents", "");
  std::string live_docs = j.value("live_documents", "");
  if (!docs.empty() && !live_docs.empty()) {
    job.documents.emplace();
    job.documents->live = live_docs;
    job.documents->staged = docs;
    try {
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
    } catch (const nlohmann::json::exception& e) {
      return fail(ErrorCode::kBadBackup,
                  fmt::format("{} is damaged: {}", (snap / "snapshot.json").string(), e.what()));
    }
  }
  return detail::execute(std::move(job), options);
}

Result<RecoverReport> recover(const std::filesystem::path& live) {
  namespace fs = std::filesystem;
  RecoverReport report;
  auto journal = core::restore_journal_path(live);
  std::error_code ec;
  if (!fs::exists(journal, ec)) {
    report.outcome = RecoverOutcome::kNothingToRecover;
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
  if (hash == job.result_hash) {
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
  } else if (hash == job.old_hash || detail::matches_snapshot(job, hash)) {
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
