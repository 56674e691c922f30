// plan(): the dry run. One verify pass with the stagers attached, then the schema checks and the
// diff, the documents (plan_documents.cpp) beside the hashes (plan_hashes.cpp), and the downtime
// prediction; live is only read. The plan as steps and as a file: plan_file.cpp.
#include <fnmatch.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <chrono>
#include <future>

#include <fmt/format.h>

#include <restorekit/core/entry_visitors.hpp>
#include <restorekit/core/fs.hpp>
#include <restorekit/core/restore_state.hpp>
#include <restorekit/core/sql_dump.hpp>
#include <restorekit/verify/verify.hpp>

#include "internal.hpp"

namespace restorekit::restore {

namespace fs = std::filesystem;
using core::Finding;
using core::Severity;

bool Plan::safe() const {
  return std::none_of(checks.begin(), checks.end(),
                      [](const Finding& f) { return f.severity == Severity::kError; });
}

void discard(const Plan& plan) {
  detail::unregister_plan(plan);
  std::error_code ec;
  if (!plan.staging.empty()) fs::remove_all(plan.staging, ec);
  if (plan.staged_files) fs::remove_all(*plan.staged_files, ec);
}

namespace {

using detail::Clock;
using detail::file_size_or_zero;
using detail::finding;
using detail::kStagedDatabase;
using detail::since;

dev_t device_of(const fs::path& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 ? st.st_dev : 0;
}

// A private folder that outlives this process (until apply or discard removes it).
Result<fs::path> make_temp_dir(const fs::path& parent, const std::string& prefix) {
  RK_TRY_ASSIGN(auto dir, core::TempDir::create(parent, prefix));
  return dir.release();
}

struct Space {
  std::uint64_t free = 0;
  std::uint64_t size = 0;
};

Space space_of(const fs::path& dir) {
  struct statvfs sv {};
  if (::statvfs(dir.c_str(), &sv) != 0) return {};
  return {static_cast<std::uint64_t>(sv.f_bavail) * sv.f_frsize,
          static_cast<std::uint64_t>(sv.f_blocks) * sv.f_frsize};
}

// The filesystem is too tight to stage a dry run without crowding the application: less free
// than 4 x the archive plus max(1 GiB, 5% of the filesystem).
bool tight(const Space& s, std::uint64_t archive_bytes) {
  return s.free < 4 * archive_bytes + std::max<std::uint64_t>(std::uint64_t{1} << 30, s.size / 20);
}

// A symlinked documents folder is restored through its target, so that the link stays.
Result<fs::path> documents_folder(const fs::path& given) {
  auto p = fs::absolute(given);
  std::error_code ec;
  if (!fs::is_symlink(p, ec)) return p.lexically_normal();
  auto target = fs::canonical(p, ec);
  if (ec || !fs::is_directory(target, ec)) {
    return fail(ErrorCode::kInvalidArgument,
                fmt::format("the documents folder {} is a link to {}, which is not a folder",
                            p.string(), fs::read_symlink(p, ec).string()),
                p.string());
  }
  return target;
}

// A kept plan's folder: new or empty, private, and on live's filesystem (beside `state`).
Result<void> make_plan_folder(const fs::path& dir, const fs::path& state) {
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_empty(dir, ec)) {
    return fail(
        ErrorCode::kInvalidArgument,
        fmt::format("plan folder {} exists and is not empty; give a new folder", dir.string()),
        dir.string());
  }
  fs::create_directories(dir, ec);
  if (ec) {
    return fail(ErrorCode::kIo, fmt::format("cannot create {}: {}", dir.string(), ec.message()),
                dir.string());
  }
  fs::permissions(dir, fs::perms::owner_all, ec);  // apply refuses a plan others can write
  if (device_of(dir) != device_of(state)) {
    return fail(ErrorCode::kInvalidArgument,
                fmt::format("plan folder {} is not on the live database's filesystem; the "
                            "staged data must be, so that apply is a copy and a rename",
                            dir.string()),
                dir.string());
  }
  return {};
}

// Where a plan stages: its folder (a kept plan's, or a temporary one) and, where documents are
// staged, the folder they go to.
struct Staging {
  bool documents = false;  // live's documents are staged (a kept plan, or stage_documents)
  fs::path files_dir;
};

std::uint64_t archive_size(const core::ArchiveSource& backup) {
  auto source = backup.open();
  return source ? (*source)->size().value_or(0) : 0;
}

// A dry run that is not followed by apply stages where it cannot crowd live.
// On a tight live filesystem: the temp folder, when it has more room (a small tmpfs may not).
fs::path dry_run_stage_parent(const core::ArchiveSource& backup, const PlanOptions& o,
                              const fs::path& state) {
  if (o.stage_dir) return *o.stage_dir;
  std::error_code ec;
  auto live = space_of(state);
  if (!tight(live, archive_size(backup))) return state;
  auto tmp = fs::temp_directory_path(ec);
  if (ec) tmp = "/tmp";
  return space_of(tmp).free > live.free ? tmp : state;
}

Result<Staging> make_staging(const core::ArchiveSource& backup, const PlanOptions& o, Plan& p) {
  std::error_code ec;
  auto state = core::restore_state_dir(p.live);
  fs::create_directories(state, ec);
  fs::permissions(state, fs::perms::owner_all, ec);
  if (o.plan_out) {
    RK_TRY(make_plan_folder(*o.plan_out, state));
    p.staging = fs::absolute(*o.plan_out);
  } else if (o.stage_documents) {
    RK_TRY_ASSIGN(p.staging, make_temp_dir(state, "staging-"));
  } else {
    RK_TRY_ASSIGN(p.staging,
                  make_temp_dir(dry_run_stage_parent(backup, o, state), "restorekit-dry-run-"));
  }
  fs::create_directories(p.staging / "db", ec);
  Staging out;
  out.documents = p.live_documents && (o.plan_out || o.stage_documents);
  if (out.documents) {
    auto parent = p.live_documents->parent_path();
    if (device_of(parent) == device_of(p.staging)) {
      out.files_dir = p.staging / "files";
      fs::create_directories(out.files_dir, ec);
    } else {  // documents live on another filesystem: stage them beside the folder
      RK_TRY_ASSIGN(
          out.files_dir,
          make_temp_dir(parent, "." + p.live_documents->filename().string() + ".restorekit-"));
      p.staged_files = out.files_dir;
    }
  }
  return out;
}

// What a plan starts from, checked (the backup and live exist, no restore is unfinished, the
// folders do not overlap), then its staging folders.
Result<Staging> prepare(const core::ArchiveSource& backup, const PlanOptions& o, Plan& p) {
  std::error_code ec;
  if (backup.path() && !fs::is_regular_file(*backup.path(), ec)) {
    return fail(ErrorCode::kNotFound,
                fmt::format("backup {} does not exist or is not a file", backup.name()),
                backup.name());
  }
  p.backup = backup.name();
  p.live = fs::absolute(o.live);
  if (!fs::is_regular_file(p.live, ec)) {
    return fail(ErrorCode::kNotFound,
                fmt::format("live database {} does not exist; to restore into a new database, "
                            "create an empty file there first",
                            p.live.string()),
                p.live.string());
  }
  if (o.live_documents && o.documents) {
    RK_TRY_ASSIGN(p.live_documents, documents_folder(*o.live_documents));
  }
  p.selection = o.selection;
  p.allow_schema_changes = o.allow_schema_changes;
  if (!p.selection.tenants.empty() && !p.selection.tenant) {
    return fail(ErrorCode::kInvalidArgument,
                "--tenant needs the tenant column: give --tenant-column or a profile with "
                "[database] tenant_column");
  }
  RK_TRY(core::require_no_unfinished_restore(p.live));
  if (p.live_documents) {
    std::vector<fs::path> others;
    if (o.plan_out) others.push_back(*o.plan_out);
    if (o.stage_dir) others.push_back(*o.stage_dir);
    RK_TRY(detail::check_layout(p.live, *p.live_documents, others));
  }
  return make_staging(backup, o, p);
}

class Planner {
 public:
  Planner(const core::ArchiveSource& backup, const PlanOptions& o) : backup_(backup), o_(o) {}

  Result<Plan> run() {
    started_ = Clock::now();
    RK_TRY_ASSIGN(auto staging, prepare(backup_, o_, p_));
    stage_documents_ = staging.documents;
    files_dir_ = std::move(staging.files_dir);
    auto done = build();
    bool keep = done && (o_.plan_out || o_.stage_documents);
    if (!keep) {
      if (done) RK_TRY(hold_chosen_documents(p_));  // the report shows them
      discard(p_);
      p_.staged_tree.reset();  // they were files of the staging folder
      p_.live_tree.reset();
    }
    RK_TRY(done);
    std::stable_sort(p_.checks.begin(), p_.checks.end(),
                     [](const Finding& a, const Finding& b) { return a.severity < b.severity; });
    if (o_.plan_out) {
      p_.plan_dir = *o_.plan_out;
      p_.seconds = since(started_);
      RK_TRY(detail::save_plan(p_));
    }
    p_.seconds = since(started_);
    return std::move(p_);
  }

 private:
  Result<void> build() {
    RK_TRY(pass());
    if (database_.empty()) {
      p_.checks.push_back(finding("NO_DATABASE", Severity::kError, "",
                                  "the backup holds no database that could be restored"));
      return {};
    }
    RK_TRY(compare_schemas());
    if (too_wide()) return {};
    RK_TRY(effects());
    swap_ = swap_expected();
    if (p_.selection.selective()) {
      RK_TRY(hashes());  // a selective restore's rows, and so a record restore's documents
      RK_TRY(documents());
    } else {
      // A full restore's documents do not wait for the hashes: live's documents are read
      // while live's content is hashed (each on its own core; the two fill disjoint fields).
      auto documents_read = std::async(std::launch::async, [this] { return documents(); });
      auto hashed = hashes();
      auto documented = documents_read.get();
      RK_TRY(hashed);
      RK_TRY(documented);
    }
    space_and_prediction();
    return {};
  }

  Result<void> pass() {
    verify::VerifyOptions vo;
    vo.reader = o_.reader;
    vo.profile = o_.profile;
    vo.temp_dir = p_.staging / "db";  // beside live: the chosen database is renamed into place
    if (stage_documents_) {           // restore's own stager rides verify's pass
      vo.visitors = [this](const core::DatabaseStager& databases) {
        return std::make_unique<core::DocumentStager>(files_dir_, databases);
      };
    }
    vo.progress = o_.progress;
    vo.cancel = o_.cancel;
    auto t = Clock::now();
    RK_TRY_ASSIGN(report_, verify::verify(backup_, vo));
    pass_seconds_ = since(t);
    p_.archive_bytes = report_.archive_bytes;
    p_.throughput =
        pass_seconds_ > 0 ? static_cast<double>(report_.archive_bytes) / pass_seconds_ : 0;
    p_.checks = report_.findings;
    p_.verification = report_;
    p_.verification->listing.reset();
    p_.verification->staging.reset();
    for (auto& f : p_.checks) {  // verify warns; a restore here cannot proceed
      if (f.code == "NOT_RESTORABLE_HERE") f.severity = Severity::kError;
    }
    const verify::DatabaseResult* chosen = nullptr;
    for (const auto& d : report_.databases) {
      if (!d.staged) continue;
      if (o_.database_entry && ::fnmatch(o_.database_entry->c_str(), d.entry.c_str(), 0) != 0) {
        continue;
      }
      chosen = &d;
      break;
    }
    if (!chosen) return {};
    database_ = chosen->entry;
    p_.database_entry = chosen->entry;
    p_.staged_database = p_.staging / kStagedDatabase;
    if (chosen->kind == core::DatabaseFormat::kSqlDump) {
      RK_TRY(core::load_sql_dump(*chosen->staged, p_.staged_database, chosen->entry));
    } else {
      std::error_code ec;
      fs::rename(*chosen->staged, p_.staged_database, ec);
      if (ec) {
        return fail(ErrorCode::kIo, fmt::format("cannot stage the database: {}", ec.message()),
                    p_.staged_database.string());
      }
    }
    std::error_code ec;
    fs::remove_all(p_.staging / "db", ec);
    p_.staged_bytes = file_size_or_zero(p_.staged_database);
    return {};
  }

  Result<void> open_staged() {
    RK_TRY_ASSIGN(staged_db_, core::Database::open_untrusted(p_.staged_database));
    staged_db_->stop_when(o_.cancel);
    return {};
  }

  // One session per database for the rest of the plan: the schema checks, the diff and the
  // hashes all use these two connections (and their summaries).
  Result<void> compare_schemas() {
    RK_TRY_ASSIGN(live_db_, core::Database::open(p_.live, core::OpenMode::kReadOnly));
    live_db_->stop_when(o_.cancel);
    RK_TRY_ASSIGN(live_summary_, core::describe_database(*live_db_, core::CountRows::kNo));
    RK_TRY_ASSIGN(live_mode_, detail::journal_mode(*live_db_));
    RK_TRY(open_staged());
    RK_TRY_ASSIGN(backup_summary_, core::describe_database(*staged_db_, core::CountRows::kNo));
    for (auto& f : detail::live_in_use_checks(p_.live, o_.lock_file)) p_.checks.push_back(f);
    for (auto& f : detail::schema_checks(backup_summary_, live_summary_, o_.allow_schema_changes)) {
      p_.checks.push_back(f);
    }
    // In WAL mode the backup API cannot change the page size: rebuild the staged copy.
    if (live_mode_ == "wal" && backup_summary_.page_size != live_summary_.page_size &&
        !p_.selection.selective()) {
      staged_db_.reset();  // an immutable connection must not outlive a rewrite of its file
      {
        RK_TRY_ASSIGN(auto staged, detail::open_staged_for_writing(p_.staged_database));
        RK_TRY(staged.exec(fmt::format("PRAGMA journal_mode=DELETE; PRAGMA page_size={}; VACUUM",
                                       live_summary_.page_size)));
      }
      RK_TRY(open_staged());
      p_.checks.push_back(finding(
          "PAGE_SIZE_REBUILT", Severity::kInfo, database_,
          fmt::format("the backup's page size is {} and live (WAL mode) uses {}: the staged copy "
                      "was rebuilt with VACUUM so that it can be copied in",
                      backup_summary_.page_size, live_summary_.page_size)));
      p_.staged_bytes = file_size_or_zero(p_.staged_database);
    }
    // A full restore installs the staged file itself: it comes in with live's journal mode
    // (WAL or a rollback journal; the header says which), and the hash apply checks covers it.
    if (!p_.selection.selective() &&
        detail::wal_header(p_.staged_database) != (live_mode_ == "wal")) {
      staged_db_.reset();
      RK_TRY(detail::set_wal_header(p_.staged_database, live_mode_ == "wal"));
      RK_TRY(open_staged());
    }
    return {};
  }

  // Tables SQLite cannot SELECT with their rowid stop the plan before the diff would fail.
  bool too_wide() {
    auto found = detail::too_wide_checks(backup_summary_, live_summary_);
    p_.checks.insert(p_.checks.end(), found.begin(), found.end());
    return !found.empty();
  }

  Result<void> effects() {
    diff::DiffOptions d = o_.diff;
    d.cancel = o_.cancel;
    d.progress = {};
    if (p_.selection.tenant && !d.tenants) d.tenants = p_.selection.tenant;
    RK_TRY_ASSIGN(p_.effects.database,
                  diff::diff_databases(
                      diff::Sessions{*staged_db_, *live_db_, &backup_summary_, &live_summary_}, d));
    p_.effects.backup_database = database_;
    return {};
  }

  Result<void> documents() {
    RK_TRY_ASSIGN(documents_, detail::plan_documents(
                                  p_, {o_, report_, stage_documents_, files_dir_, *staged_db_}));
    return {};
  }

  Result<void> hashes() {
    bool result_used = o_.plan_out || o_.stage_documents || !swap_;
    RK_TRY_ASSIGN(hashes_, detail::plan_hashes(p_, {o_, *live_db_, *staged_db_, result_used}));
    return {};
  }

  void space_and_prediction() {
    // Room for the staged database, the documents not staged yet and, for a copy, a snapshot
    // of live (a swap keeps the old file itself).
    // (A tenant restore stages every document and then keeps the chosen ones.)
    std::uint64_t docs_to_stage = p_.staged_documents  ? 0
                                  : documents_.by_file ? documents_.all_bytes
                                                       : p_.document_bytes;
    std::uint64_t needed = (swap_ ? 0 : p_.live_bytes) + p_.staged_bytes + docs_to_stage;
    if (auto f = detail::disk_space_check(core::restore_state_dir(p_.live), needed)) {
      p_.checks.push_back(*f);
    }
    // Under the lock, a swap takes a few syncs and renames whatever the size (plus a read of live
    // if something touched it since this dry run). A copy snapshots live, then copies the staged
    // database in (its own journal writes the old pages once more) while live's hash is checked
    // on the snapshot. The pace of a page copy: a measured copy of live (selective restore), else
    // the pass that expanded and wrote the archive (a lower bound: it also decompressed and
    // verified).
    double rate = hashes_.read_seconds > 0 && p_.selection.selective()
                      ? static_cast<double>(p_.live_bytes) / hashes_.read_seconds
                  : pass_seconds_ > 0 ? static_cast<double>(report_.bytes) / pass_seconds_
                                      : 2e8;
    rate = std::max(rate, 1e6);
    double copy = 1.5 * static_cast<double>(p_.staged_bytes) / rate;
    p_.predicted_apply_seconds =
        swap_ ? 0.01 + (p_.live_fingerprint ? 0 : hashes_.read_seconds)
              : static_cast<double>(p_.live_bytes) / rate + std::max(copy, hashes_.hash_seconds);
    p_.steps = detail::apply_steps(p_, {swap_, live_mode_ == "wal", documents_.by_file});
  }

  // Whether apply will install the staged file by a rename exchange (it decides again, under
  // the lock): a full restore, staged on live's filesystem, live a file with one name.
  bool swap_expected() const {
    struct stat live {
    }, staged{};
    return !p_.selection.selective() && ::stat(p_.live.c_str(), &live) == 0 && live.st_nlink == 1 &&
           ::stat(p_.staged_database.c_str(), &staged) == 0 && staged.st_dev == live.st_dev;
  }

  const core::ArchiveSource& backup_;
  const PlanOptions& o_;
  Plan p_;
  Clock::time_point started_;
  bool stage_documents_ = false;
  fs::path files_dir_;
  verify::VerifyReport report_;
  std::string database_;
  core::DatabaseSummary live_summary_;
  core::DatabaseSummary backup_summary_;
  std::optional<core::Database> live_db_;    // the plan's one session on live (read-only)
  std::optional<core::Database> staged_db_;  // ... and on the staged copy (untrusted)
  std::string live_mode_;
  bool swap_ = false;
  double pass_seconds_ = 0;
  detail::HashesOutcome hashes_;
  detail::DocumentsOutcome documents_;
};

}  // namespace

Result<Plan> plan(const core::ArchiveSource& backup, const PlanOptions& options) {
  return Planner(backup, options).run();
}

void apply_profile(PlanOptions& options, const core::Profile& profile) {
  options.live_documents = profile.live_documents;
  options.database_entry = profile.database_entry;
  options.documents_root = profile.documents_root;
  options.lock_file = profile.lock_file;
  options.selection.exclude_tables = profile.exclude_tables;
  options.selection.tenant = profile.tenant_spec();
  options.selection.relations = profile.relations;
  options.diff.tenants = profile.tenant_spec();
  options.profile = profile;
}

}  // namespace restorekit::restore
