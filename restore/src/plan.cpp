// plan(): the dry run. One verify pass with the stagers attached, then the checks, the diff,
// the content hashes and the downtime prediction; live is only read.
#include <fnmatch.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <chrono>
#include <future>

#include <fmt/format.h>

#include <restorekit/core/content_hash.hpp>
#include <restorekit/core/entry_visitors.hpp>
#include <restorekit/core/fs.hpp>
#include <restorekit/core/hash.hpp>
#include <restorekit/core/names.hpp>
#include <restorekit/core/restore_state.hpp>
#include <restorekit/core/safe_path.hpp>
#include <restorekit/core/sql_dump.hpp>
#include <restorekit/core/version.hpp>
#include <restorekit/verify/verify.hpp>

#include "internal.hpp"
#include "references.hpp"

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

using Clock = std::chrono::steady_clock;
constexpr std::string_view kPlanSchema = core::schema::kPlan;
constexpr const char* kStagedDatabase = "database.sqlite";
constexpr std::uint64_t kMaxPlanBytes = std::uint64_t{1} << 30;

double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::uint64_t file_size_or_zero(const fs::path& p) {
  std::error_code ec;
  auto n = fs::file_size(p, ec);
  return ec ? 0 : n;
}

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

Finding finding(std::string code, Severity severity, std::string entry, std::string message) {
  return Finding{std::move(code), severity, std::move(entry), std::move(message)};
}

nlohmann::json chosen_json(const std::vector<ChosenDocument>& chosen) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& c : chosen) {
    out.push_back({{"path", c.path}, {"live_path", c.live_path}, {"replaces", c.replaces}});
  }
  return out;
}

class Planner {
 public:
  Planner(const core::ArchiveSource& backup, const PlanOptions& o) : backup_(backup), o_(o) {}

  Result<Plan> run() {
    started_ = Clock::now();
    RK_TRY(prepare());
    auto done = build();
    bool keep = done && (o_.plan_out || o_.stage_documents);
    if (!keep) discard(p_);
    RK_TRY(done);
    std::stable_sort(p_.checks.begin(), p_.checks.end(),
                     [](const Finding& a, const Finding& b) { return a.severity < b.severity; });
    if (o_.plan_out) {
      p_.plan_dir = *o_.plan_out;
      p_.seconds = since(started_);
      RK_TRY(save());
    }
    p_.seconds = since(started_);
    return std::move(p_);
  }

 private:
  Result<void> prepare() {
    std::error_code ec;
    if (backup_.path() && !fs::is_regular_file(*backup_.path(), ec)) {
      return fail(ErrorCode::kNotFound,
                  fmt::format("backup {} does not exist or is not a file", backup_.name()),
                  backup_.name());
    }
    p_.backup = backup_.name();
    p_.live = fs::absolute(o_.live);
    if (!fs::is_regular_file(p_.live, ec)) {
      return fail(ErrorCode::kNotFound,
                  fmt::format("live database {} does not exist; to restore into a new database, "
                              "create an empty file there first",
                              p_.live.string()),
                  p_.live.string());
    }
    if (o_.live_documents && o_.documents) {
      RK_TRY_ASSIGN(p_.live_documents, documents_folder(*o_.live_documents));
    }
    p_.selection = o_.selection;
    p_.allow_schema_changes = o_.allow_schema_changes;
    if (!p_.selection.tenants.empty() && !p_.selection.tenant) {
      return fail(ErrorCode::kInvalidArgument,
                  "--tenant needs the tenant column: give --tenant-column or a profile with "
                  "[database] tenant_column");
    }
    RK_TRY(core::require_no_unfinished_restore(p_.live));
    if (p_.live_documents) {
      std::vector<fs::path> others;
      if (o_.plan_out) others.push_back(*o_.plan_out);
      if (o_.stage_dir) others.push_back(*o_.stage_dir);
      RK_TRY(detail::check_layout(p_.live, *p_.live_documents, others));
    }
    auto state = core::restore_state_dir(p_.live);
    fs::create_directories(state, ec);
    fs::permissions(state, fs::perms::owner_all, ec);
    if (o_.plan_out) {
      const auto& dir = *o_.plan_out;
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
      p_.staging = fs::absolute(dir);
    } else if (o_.stage_documents) {
      RK_TRY_ASSIGN(p_.staging, make_temp_dir(state, "staging-"));
    } else {
      RK_TRY_ASSIGN(p_.staging, make_temp_dir(dry_run_stage_parent(state), "restorekit-dry-run-"));
    }
    fs::create_directories(p_.staging / "db", ec);
    stage_documents_ = p_.live_documents && (o_.plan_out || o_.stage_documents);
    if (stage_documents_) {
      auto parent = p_.live_documents->parent_path();
      if (device_of(parent) == device_of(p_.staging)) {
        files_dir_ = p_.staging / "files";
        fs::create_directories(files_dir_, ec);
      } else {  // documents live on another filesystem: stage them beside the folder
        RK_TRY_ASSIGN(
            files_dir_,
            make_temp_dir(parent, "." + p_.live_documents->filename().string() + ".restorekit-"));
        p_.staged_files = files_dir_;
      }
    }
    return {};
  }

  std::uint64_t archive_size() const {
    auto source = backup_.open();
    return source ? (*source)->size().value_or(0) : 0;
  }

  // A dry run that is not followed by apply stages where it cannot crowd live.
  // On a tight live filesystem: the temp folder, when it has more room (a small tmpfs may not).
  fs::path dry_run_stage_parent(const fs::path& state) const {
    if (o_.stage_dir) return *o_.stage_dir;
    std::error_code ec;
    auto live = space_of(state);
    if (!tight(live, archive_size())) return state;
    auto tmp = fs::temp_directory_path(ec);
    if (ec) tmp = "/tmp";
    return space_of(tmp).free > live.free ? tmp : state;
  }

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
      // while live's content is hashed (each on its own core).
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

  // What the restore does to the documents: the staged tree replaces live's, or (a tenant or
  // record restore) the chosen files replace theirs.
  Result<void> documents() {
    if (!p_.live_documents) return {};
    // The documents' listing is held in memory here: diff and the staged tree need it whole.
    RK_TRY_ASSIGN(auto files, report_.listing->records());
    std::erase_if(files, [&](const core::EntryRecord& e) {
      return std::any_of(report_.databases.begin(), report_.databases.end(),
                         [&](const auto& db) { return db.entry == e.path; });
    });
    std::string root = diff::documents_root(o_.documents_root, files);
    for (const auto& f : files) {
      if (f.type == core::EntryType::kFile && f.path.rfind(root, 0) == 0 &&
          f.path.rfind("restorekit/", 0) != 0) {
        all_document_bytes_ += f.size.value_or(0);
      }
    }
    if (p_.selection.selective()) {
      RK_TRY_ASSIGN(bool any, choose_documents(files, root));
      if (!any) return {};
    }
    for (const auto& f : files) {
      if (f.type == core::EntryType::kFile && f.path.rfind(root, 0) == 0 &&
          f.path.rfind("restorekit/", 0) != 0) {
        ++p_.document_files;
        p_.document_bytes += f.size.value_or(0);
      }
    }
    if (p_.document_files > 0) {  // none: live's documents are left alone
      for (auto& f : detail::documents_folder_checks(*p_.live_documents, files, root)) {
        p_.checks.push_back(std::move(f));
      }
    }
    std::error_code ec;
    fs::path live_docs = *p_.live_documents;
    if (!fs::exists(live_docs, ec)) {  // nothing there yet: everything is revived
      live_docs = p_.staging / "no-documents";
      fs::create_directories(live_docs, ec);
    } else if (by_file_) {  // names and kinds only: the chosen files' hashes are read by diff
      RK_TRY_ASSIGN(p_.live_tree, detail::scan_tree(live_docs, detail::HashFiles::kNo));
    } else if (stage_documents_) {  // apply refuses if live's documents change after this
      RK_TRY_ASSIGN(p_.live_tree, detail::scan_tree(live_docs, detail::HashFiles::kYes));
    }
    std::map<std::string, core::Digest128> scanned;  // each live file is read once
    for (const auto& e : p_.live_tree) {
      if (e.hash) scanned.emplace(e.path, *e.hash);
    }
    RK_TRY_ASSIGN(p_.effects.documents,
                  diff::diff_documents(
                      files, root, live_docs, o_.diff.sample_rows, &scanned,
                      by_file_ ? diff::LiveScope::kTheseFiles : diff::LiveScope::kWholeFolder));
    for (const auto& [a, b] : p_.effects.documents->live_duplicates) {
      p_.checks.push_back(finding(
          "DUPLICATE_ENTRY", Severity::kWarning, b,
          fmt::format("the live documents \"{}\" and \"{}\" are one name in two Unicode "
                      "spellings (NFC and NFD); the restore replaces both with the backup's",
                      a, b)));
    }
    if (p_.document_files == 0) {
      p_.checks.push_back(finding("NO_DOCUMENTS", Severity::kInfo, root,
                                  "the backup holds no documents; the live documents folder is "
                                  "left as it is"));
      p_.live_documents.reset();
      return {};
    }
    if (by_file_) place_chosen(files, root);
    if (stage_documents_) {
      std::string sub = root;
      if (!sub.empty() && sub.back() == '/') sub.pop_back();
      p_.staged_documents = sub.empty() ? files_dir_ : files_dir_ / sub;
      p_.staged_tree = detail::tree_from_listing(files, root);
      if (by_file_) RK_TRY(prune_staged());
    }
    return {};
  }

  // A selective restore brings documents back only for tenants, through the profile's
  // references: the files that the chosen tenants' rows in the backup name (`files` keeps
  // those). @return false when it brings none back (live's documents are left alone).
  Result<bool> choose_documents(std::vector<core::EntryRecord>& files, const std::string& root) {
    auto leave = [&](std::string why) {
      p_.checks.push_back(finding("DOCUMENTS_LEFT_ALONE", Severity::kInfo, "", std::move(why)));
      p_.live_documents.reset();
      return false;
    };
    bool records = p_.selection.records();
    if (p_.selection.tenants.empty() && !records) {
      return leave("a table restore leaves the documents alone");
    }
    if (!o_.profile || o_.profile->references.empty()) {
      return leave(fmt::format(
          "a {} restore brings documents back through the profile's [documents] references "
          "(the columns that name them); without them the live documents are left as they are",
          records ? "record" : "tenant"));
    }
    detail::ReferencedDocuments refs;
    if (records) {  // the names that the rows it brings back hold
      for (const auto& v : record_documents_) {
        if (auto path = core::normalize_entry_path(root + v))
          refs.keys.insert(core::name_key(*path));
      }
    } else {
      DocumentChoice choice{p_.selection.tenants, {}};
      RK_TRY_ASSIGN(
          refs, detail::referenced_documents(*staged_db_, *o_.profile, choice, root,
                                             detail::ReferenceOptions{p_.selection.tenant, false}));
    }
    for (auto& n : refs.notes) p_.checks.push_back(std::move(n));
    std::set<std::string> found;
    std::erase_if(files, [&](const core::EntryRecord& e) {
      if (e.type != core::EntryType::kFile || !e.safe || e.path.rfind(root, 0) != 0) return true;
      auto key = core::name_key(e.path);
      return !refs.keys.count(key) || !found.insert(std::move(key)).second;
    });
    if (auto missing = refs.keys.size() - found.size(); missing > 0) {
      p_.checks.push_back(
          finding("DOC_MISSING", Severity::kWarning, root,
                  fmt::format("{} document{} that {} name {} not in the backup; the live "
                              "file{} of that name {} left as {} are",
                              missing, missing == 1 ? "" : "s", chosen_by(),
                              missing == 1 ? "is" : "are", missing == 1 ? "" : "s",
                              missing == 1 ? "is" : "are", missing == 1 ? "it" : "they")));
    }
    if (files.empty()) {
      return leave(
          fmt::format("{} name no document in the backup; the live documents are left as they are",
                      chosen_by()));
    }
    by_file_ = true;
    return true;
  }

  // Whose documents a selective restore brings back, for sentences.
  std::string chosen_by() const {
    if (p_.selection.records()) return "the rows it brings back";
    return "the rows of " + detail::selection_to_string(p_.selection);
  }

  // Where each chosen document goes in live: the name live has for it (the one name rule), else
  // the backup's below the folders live has. A link or a file in the way blocks the restore.
  void place_chosen(const std::vector<core::EntryRecord>& files, const std::string& root) {
    std::map<std::string, const TreeEntry*> live;  // by name_key of the path below the folder
    for (const auto& e : p_.live_tree) {
      if (!e.path.empty()) live.emplace(core::name_key(e.path), &e);
    }
    for (const auto& f : files) {
      ChosenDocument c{f.path.substr(root.size()), {}, false};
      // The longest leading part that live has (the whole name first), in live's spelling.
      std::string rest, blocked;
      for (std::string part = c.path;;) {
        auto it = live.find(core::name_key(part));
        if (it != live.end()) {
          const TreeEntry& e = *it->second;
          bool whole = rest.empty();
          if ((whole && e.type != core::EntryType::kFile) ||
              (!whole && e.type != core::EntryType::kDirectory)) {
            blocked = e.path;
          }
          c.live_path = e.path + rest;
          c.replaces = whole;
          break;
        }
        auto slash = part.rfind('/');
        if (slash == std::string::npos) {
          c.live_path = c.path;
          break;
        }
        rest = part.substr(slash) + rest;
        part.resize(slash);
      }
      if (!blocked.empty()) {
        p_.checks.push_back(finding(
            "NOT_RESTORABLE_HERE", Severity::kError, f.path,
            fmt::format("the backup's document \"{}\" would go to \"{}\" in {}, where \"{}\" is "
                        "{}; move it away and make a new plan",
                        c.path, c.live_path, p_.live_documents->string(), blocked,
                        c.replaces ? "not a regular file" : "not a folder")));
      }
      p_.chosen_documents.push_back(std::move(c));
    }
    std::sort(p_.chosen_documents.begin(), p_.chosen_documents.end(),
              [](const auto& a, const auto& b) { return a.path < b.path; });
  }

  // The pass staged every document; a tenant restore keeps only the chosen ones.
  Result<void> prune_staged() {
    RK_TRY_ASSIGN(auto tree, detail::scan_tree(*p_.staged_documents, detail::HashFiles::kNo));
    std::set<std::string> keep;
    for (const auto& e : p_.staged_tree) keep.insert(e.path);
    for (auto e = tree.rbegin(); e != tree.rend(); ++e) {  // a folder's contents before it
      if (keep.count(e->path)) continue;
      std::error_code ec;
      fs::remove_all(*p_.staged_documents / e->path, ec);
      if (ec) {
        return fail(ErrorCode::kIo,
                    fmt::format("cannot remove the unchosen staged document {}: {}",
                                (*p_.staged_documents / e->path).string(), ec.message()),
                    e->path);
      }
    }
    return {};
  }

  // The hashes apply compares: live's content now and after the restore, and the staged
  // database's bytes. Live is read in place, never copied, except for a selective restore,
  // whose transaction runs on a scratch copy (staged where this dry run stages). A full
  // restore's content after it (the staged database's content hash) is computed where it is
  // used: in a plan that is kept (its journal and recovery), or in the steps of a copy.
  // Runs beside documents() for a full restore: it touches none of the plan's documents fields.
  Result<void> hashes() {
    p_.live_bytes = file_size_or_zero(p_.live) + file_size_or_zero(p_.live.string() + "-wal");
    RK_TRY_ASSIGN(p_.staged_database_hash, core::hash_file(p_.staged_database));
    auto t = Clock::now();
    bool result_used = o_.plan_out || o_.stage_documents || !swap_;
    auto result_hash = std::async(std::launch::async, [&]() -> Result<core::Digest128> {
      if (p_.selection.selective() || !result_used) return core::Digest128{};
      return core::content_hash(*staged_db_, o_.cancel);  // this thread's while it runs
    });
    auto live = p_.selection.selective() ? selective_effects() : live_hash();
    auto staged_hash = result_hash.get();
    RK_TRY(live);
    RK_TRY(staged_hash);
    hash_seconds_ = p_.selection.selective() ? since(t) : read_seconds_;
    if (!p_.selection.selective()) {
      p_.result_hash = *staged_hash;
      return {};
    }
    for (const auto& c : p_.changes) {  // only a selective restore's transaction orphans rows
      if (!c.orphaned) continue;
      // A record restore brings the parents its rows need: a row it leaves pointing nowhere
      // (a parent it could not bring) would be a new violation in live.
      p_.checks.push_back(finding(
          "ORPHANED_ROWS", p_.selection.records() ? Severity::kError : Severity::kWarning, c.table,
          fmt::format("after this restore {} row{} of {} would point to "
                      "rows that do not exist (foreign_key_check on the "
                      "staged result)",
                      c.orphaned, c.orphaned == 1 ? "" : "s", c.table)));
    }
    return {};
  }

  // Live's content hash in one read transaction: a consistent state while the application
  // keeps writing. The fingerprints around it let apply prove live unchanged without reading
  // it again.
  Result<void> live_hash() {
    auto t = Clock::now();
    RK_TRY_ASSIGN(p_.live_fingerprint, detail::fingerprint_around(p_.live, [&]() -> Result<void> {
                    RK_TRY_ASSIGN(p_.live_hash, core::content_hash(*live_db_, o_.cancel));
                    return {};
                  }));
    read_seconds_ = since(t);
    return {};
  }

  // A selective restore's exact effect: its transaction on a scratch copy of live.
  Result<void> selective_effects() {
    auto copy = p_.staging / "live-copy.sqlite";
    std::error_code ec;
    struct Remove {
      fs::path p;
      ~Remove() {
        std::error_code e;
        fs::remove(p, e);
      }
    } remove{copy};
    {
      auto t = Clock::now();
      RK_TRY(detail::copy_to_new_file(*live_db_, copy));
      read_seconds_ = since(t);
    }
    RK_TRY_ASSIGN(auto db, core::Database::open(copy, core::OpenMode::kReadWrite));
    db.stop_when(o_.cancel);
    RK_TRY_ASSIGN(p_.live_hash, core::content_hash(db, o_.cancel));
    static const std::vector<core::ColumnRef> kNone;
    RK_TRY_ASSIGN(auto outcome, detail::run_selective(db, p_.staged_database, p_.selection,
                                                      o_.profile ? o_.profile->references : kNone));
    p_.changes = std::move(outcome.changes);
    p_.records = std::move(outcome.records);
    record_documents_ = std::move(outcome.documents);
    RK_TRY_ASSIGN(p_.result_hash, core::content_hash(db, o_.cancel));
    return {};
  }

  void space_and_prediction() {
    // Room for the staged database, the documents not staged yet and, for a copy, a snapshot
    // of live (a swap keeps the old file itself).
    // (A tenant restore stages every document and then keeps the chosen ones.)
    std::uint64_t docs_to_stage = p_.staged_documents ? 0
                                  : by_file_          ? all_document_bytes_
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
    double rate = read_seconds_ > 0 && p_.selection.selective()
                      ? static_cast<double>(p_.live_bytes) / read_seconds_
                  : pass_seconds_ > 0 ? static_cast<double>(report_.bytes) / pass_seconds_
                                      : 2e8;
    rate = std::max(rate, 1e6);
    double copy = 1.5 * static_cast<double>(p_.staged_bytes) / rate;
    p_.predicted_apply_seconds =
        swap_ ? 0.01 + (p_.live_fingerprint ? 0 : read_seconds_)
              : static_cast<double>(p_.live_bytes) / rate + std::max(copy, hash_seconds_);
    steps();
  }

  // Whether apply will install the staged file by a rename exchange (it decides again, under
  // the lock): a full restore, staged on live's filesystem, live a file with one name.
  bool swap_expected() const {
    struct stat live {
    }, staged{};
    return !p_.selection.selective() && ::stat(p_.live.c_str(), &live) == 0 && live.st_nlink == 1 &&
           ::stat(p_.staged_database.c_str(), &staged) == 0 && staged.st_dev == live.st_dev;
  }

  void steps() {
    auto& s = p_.steps;
    s.push_back(
        fmt::format("take the exclusive lock on {} (locking_mode=EXCLUSIVE and an empty "
                    "exclusive transaction: nothing is written)",
                    p_.live.string()));
    s.push_back(fmt::format(
        "check that live still has content hash {}{}", p_.live_hash.hex(),
        swap_ && p_.live_fingerprint ? " (by its fingerprint: untouched since this dry run)" : ""));
    if (!swap_) {
      s.push_back(fmt::format("take a safety snapshot of the live database under {}",
                              core::restore_snapshots_dir(p_.live).string()));
    }
    s.push_back("write and sync the journal (old and new content hashes)");
    if (swap_ && live_mode_ == "wal") {
      s.push_back(
          "checkpoint live's -wal into it and take it out of WAL mode (the staged file "
          "comes in WAL mode)");
    }
    if (p_.live_documents && by_file_) {
      auto replaced = std::count_if(p_.chosen_documents.begin(), p_.chosen_documents.end(),
                                    [](const ChosenDocument& c) { return c.replaces; });
      s.push_back(
          fmt::format("{}swap the {} documents that {} name into {} one by one ({} replaced by "
                      "renameat2 RENAME_EXCHANGE, {} added by a rename); the other documents stay",
                      p_.staged_documents ? "" : "stage and ", p_.document_files, chosen_by(),
                      p_.live_documents->string(), replaced,
                      p_.chosen_documents.size() - static_cast<std::size_t>(replaced)));
    } else if (p_.live_documents) {
      s.push_back(fmt::format("{}swap {} documents into {} (renameat2 RENAME_EXCHANGE)",
                              p_.staged_documents ? "" : "stage and ", p_.document_files,
                              p_.live_documents->string()));
    }
    if (p_.selection.selective()) {
      s.push_back(fmt::format("in one transaction, restore {} (commit point)",
                              detail::selection_to_string(p_.selection)));
    } else if (swap_) {
      s.push_back(fmt::format(
          "exchange the staged database ({}, with live's mode, owner and extended attributes) "
          "with live (renameat2 RENAME_EXCHANGE, commit point): the old file becomes the safety "
          "snapshot under {}, not copied",
          detail::human(p_.staged_bytes), core::restore_snapshots_dir(p_.live).string()));
      s.push_back("check that no process opened the old file meanwhile (else exchange back)");
    } else {
      s.push_back(
          fmt::format("copy the staged database ({}) into live through the SQLite "
                      "backup API (commit point)",
                      detail::human(p_.staged_bytes)));
    }
    s.push_back(
        "mark the journal committed, keep the old documents in the snapshot, remove the "
        "journal");
    s.push_back(swap_ ? fmt::format("check live: the file swapped in is the staged file whose "
                                    "XXH3-128 {} was checked before the lock, unwritten since (its "
                                    "fingerprint under the lock)",
                                    p_.staged_database_hash.hex())
                      : fmt::format("check live: integrity_check and content hash {}",
                                    p_.result_hash.hex()));
  }

  Result<void> save() {
    nlohmann::json checks = nlohmann::json::array();
    for (const auto& f : p_.checks) {
      checks.push_back({{"code", f.code},
                        {"severity", core::severity_name(f.severity)},
                        {"entry", f.entry},
                        {"message", f.message}});
    }
    nlohmann::json j = {
        {"schema", kPlanSchema},
        {"backup", fs::absolute(p_.backup).string()},
        {"live", p_.live.string()},
        {"live_documents", p_.live_documents ? p_.live_documents->string() : ""},
        {"database_entry", p_.database_entry},
        {"selection", detail::selection_json(p_.selection)},
        {"allow_schema_changes", p_.allow_schema_changes},
        {"checks", checks},
        {"live_hash", p_.live_hash.hex()},
        {"live_fingerprint",
         p_.live_fingerprint ? detail::fingerprint_json(*p_.live_fingerprint) : nullptr},
        {"result_hash", p_.result_hash.hex()},
        {"live_bytes", p_.live_bytes},
        {"staged_bytes", p_.staged_bytes},
        {"archive_bytes", p_.archive_bytes},
        {"document_files", p_.document_files},
        {"document_bytes", p_.document_bytes},
        {"staged_database", p_.staged_database.filename().string()},
        {"staged_database_xxh128", p_.staged_database_hash.hex()},
        {"staged_tree", detail::tree_json(p_.staged_tree)},
        {"live_tree", detail::tree_json(p_.live_tree)},
        {"chosen_documents", chosen_json(p_.chosen_documents)},
        {"staged_documents", p_.staged_documents ? p_.staged_documents->string() : ""},
        {"staged_files", p_.staged_files ? p_.staged_files->string() : ""},
        {"steps", p_.steps},
        {"predicted_apply_seconds", p_.predicted_apply_seconds},
        {"throughput", p_.throughput},
        {"seconds", p_.seconds},
    };
    auto file = p_.staging / "plan.json";
    RK_TRY(detail::write_json_durably(file, j));
    RK_TRY_ASSIGN(auto digest, core::hash_file(file));
    RK_TRY(detail::register_plan(p_.live, digest, p_.staging));
    p_.plan_digest = digest;
    return {};
  }

  const core::ArchiveSource& backup_;
  const PlanOptions& o_;
  Plan p_;
  Clock::time_point started_;
  bool stage_documents_ = false;
  bool by_file_ = false;  // a tenant restore's documents: chosen files, exchanged one by one
  std::vector<std::string> record_documents_;  // names a record restore's rows hold
  std::uint64_t all_document_bytes_ = 0;
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
  double read_seconds_ = 0;
  double hash_seconds_ = 0;
};

core::Severity severity_from(const std::string& s) {
  if (s == "error") return Severity::kError;
  if (s == "warning") return Severity::kWarning;
  return Severity::kInfo;
}

}  // namespace

Result<Plan> plan(const core::ArchiveSource& backup, const PlanOptions& options) {
  return Planner(backup, options).run();
}

Result<Plan> load_plan(const fs::path& plan_dir) {
  auto path = plan_dir / "plan.json";
  RK_TRY_ASSIGN(auto j, detail::read_json(path, kMaxPlanBytes));
  RK_TRY_ASSIGN(auto digest, core::hash_file(path));
  if (j.value("schema", "") != kPlanSchema) {
    return fail(ErrorCode::kBadBackup,
                fmt::format("{} is not a restorekit plan (made by `restore --dry-run "
                            "--plan-out`)",
                            path.string()),
                path.string());
  }
  try {
    Plan p;
    p.backup = j.at("backup").get<std::string>();
    p.live = j.at("live").get<std::string>();
    if (auto d = j.value("live_documents", ""); !d.empty()) p.live_documents = d;
    p.database_entry = j.value("database_entry", "");
    p.selection = detail::selection_from_json(j.at("selection"));
    p.allow_schema_changes = j.value("allow_schema_changes", false);
    for (const auto& c : j.at("checks")) {
      p.checks.push_back(Finding{c.value("code", ""), severity_from(c.value("severity", "")),
                                 c.value("entry", ""), c.value("message", "")});
    }
    auto live_hash = core::Digest128::from_hex(j.at("live_hash").get<std::string>());
    auto result_hash = core::Digest128::from_hex(j.at("result_hash").get<std::string>());
    if (!live_hash || !result_hash) {
      return fail(ErrorCode::kBadBackup, fmt::format("{} holds a bad hash", path.string()));
    }
    p.live_hash = *live_hash;
    if (j.contains("live_fingerprint") && j["live_fingerprint"].is_object()) {
      p.live_fingerprint = detail::fingerprint_from_json(j["live_fingerprint"]);
    }
    p.result_hash = *result_hash;
    p.live_bytes = j.value("live_bytes", std::uint64_t{0});
    p.staged_bytes = j.value("staged_bytes", std::uint64_t{0});
    p.archive_bytes = j.value("archive_bytes", std::uint64_t{0});
    p.document_files = j.value("document_files", std::uint64_t{0});
    p.document_bytes = j.value("document_bytes", std::uint64_t{0});
    p.staging = fs::absolute(plan_dir);
    p.plan_dir = p.staging;
    p.plan_digest = digest;
    // The dry run always names the staged database so; anything else is an edited plan.
    if (j.at("staged_database").get<std::string>() != kStagedDatabase) {
      return fail(ErrorCode::kBadBackup,
                  fmt::format("{} names a staged database other than {}: the plan was edited; "
                              "make a new plan",
                              path.string(), kStagedDatabase),
                  path.string());
    }
    p.staged_database = p.staging / kStagedDatabase;
    auto staged_hash = core::Digest128::from_hex(j.value("staged_database_xxh128", ""));
    if (!staged_hash) {
      return fail(ErrorCode::kBadBackup, fmt::format("{} holds a bad hash", path.string()));
    }
    p.staged_database_hash = *staged_hash;
    RK_TRY_ASSIGN(p.staged_tree, detail::tree_from_json(j.at("staged_tree")));
    RK_TRY_ASSIGN(p.live_tree, detail::tree_from_json(j.at("live_tree")));
    for (const auto& c : j.value("chosen_documents", nlohmann::json::array())) {
      ChosenDocument d{c.at("path").get<std::string>(), c.at("live_path").get<std::string>(),
                       c.at("replaces").get<bool>()};
      if (!detail::relative_inside(d.path) || !detail::relative_inside(d.live_path)) {
        return fail(ErrorCode::kBadBackup,
                    fmt::format("{} names a document outside the documents folder", path.string()),
                    path.string());
      }
      p.chosen_documents.push_back(std::move(d));
    }
    // The staged paths must lie inside the plan folder (or its recorded documents staging):
    // a plan is a file someone could edit.
    if (auto d = j.value("staged_documents", ""); !d.empty()) p.staged_documents = d;
    if (auto d = j.value("staged_files", ""); !d.empty()) p.staged_files = d;
    auto inside = [](const fs::path& child, const fs::path& parent) {
      auto rel = child.lexically_normal().lexically_relative(parent.lexically_normal());
      return !rel.empty() && *rel.begin() != "..";
    };
    if (p.staged_documents &&
        !inside(*p.staged_documents, p.staged_files ? *p.staged_files : p.staging)) {
      return fail(ErrorCode::kBadBackup,
                  fmt::format("{} names staged documents outside the plan", path.string()));
    }
    p.steps = j.value("steps", std::vector<std::string>{});
    p.predicted_apply_seconds = j.value("predicted_apply_seconds", 0.0);
    p.throughput = j.value("throughput", 0.0);
    p.seconds = j.value("seconds", 0.0);
    std::error_code ec;
    if (!fs::exists(p.staged_database, ec)) {
      return fail(ErrorCode::kNotFound,
                  fmt::format("the plan's staged database {} is gone; make a new plan",
                              p.staged_database.string()),
                  p.staged_database.string());
    }
    return p;
  } catch (const nlohmann::json::exception& e) {
    return fail(ErrorCode::kBadBackup, fmt::format("{} is damaged: {}", path.string(), e.what()),
                path.string());
  }
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
