// diff_backup: one pass over the archive stages its database and hashes its documents, then the
// database and the documents are compared with live.
#include <fnmatch.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>

#include <fmt/format.h>

#include <restorekit/core/archive_pass.hpp>
#include <restorekit/core/archive_reader.hpp>
#include <restorekit/core/backup_format.hpp>
#include <restorekit/core/entry_visitors.hpp>
#include <restorekit/core/fs.hpp>
#include <restorekit/core/hash.hpp>
#include <restorekit/core/names.hpp>
#include <restorekit/core/safe_path.hpp>
#include <restorekit/core/sql_dump.hpp>
#include <restorekit/diff/diff.hpp>

namespace restorekit::diff {

namespace {

namespace fs = std::filesystem;

// diff's part of the one pass: the first database entry (the profile's glob, else the header's
// database, else the first by content — SQLite files and SQLite dumps alike) is staged, every
// other file hashed. Without documents to compare, the pass ends once the database is staged.
class DiffPass final : public core::EntryVisitor {
 public:
  DiffPass(const core::ArchiveSource& archive, const BackupDiffOptions& o, const fs::path& stage,
           bool documents)
      : archive_(archive), o_(o), stage_(stage), documents_(documents) {}

  Result<void> run() {
    RK_TRY_ASSIGN(auto reader, core::ArchiveReader::open(archive_, o_.reader));
    if (documents_) {
      RK_TRY_ASSIGN(files_, core::EntryStore::create());
    }
    core::MetadataVisitor metadata(stage_.parent_path());  // a checksum list goes to a file
    core::HashVisitor hashes;
    core::DatabaseStager databases(stage_.parent_path(),
                                   [this](const core::Entry& e) { return wanted_database(e); });
    metadata_ = &metadata;
    hashes_ = &hashes;
    databases_ = &databases;
    core::PassOptions po;
    po.cancel = o_.diff.cancel;
    core::ArchivePass pass(po);
    pass.attach(metadata);
    pass.attach(hashes);
    pass.attach(databases);
    pass.attach(*this);
    auto outcome = pass.run(reader);
    if (!outcome && outcome.error().code == ErrorCode::kCancelled) {
      return fail(ErrorCode::kCancelled, "diff cancelled");
    }
    RK_TRY(outcome);
    if (outcome->stopped) return tl::unexpected(*outcome->stopped);
    if (files_) RK_TRY(files_->seal());
    bytes_read_ = reader.raw_bytes_read();
    if (!staged_) {
      return fail(
          ErrorCode::kNotFound,
          fmt::format("{} holds no database to compare (no SQLite entry or SQLite "
                      "dump{})",
                      archive_.name(), o_.database_entry ? " matching " + *o_.database_entry : ""),
          archive_.name());
    }
    return install();
  }

  Result<core::Interest> begin(const core::Entry&) override { return core::Interest::kSkip; }

  Result<void> end(const core::Entry& e, const core::EntryEnd& how) override {
    if (e.index == 0 && metadata_->header() && *metadata_->header() &&
        !(*metadata_->header())->databases.empty()) {
      header_database_ = (*metadata_->header())->databases.front().entry;
    }
    if (e.type != core::EntryType::kFile || !e.safe() || !how.data_read) return {};
    if (how.failure) return tl::unexpected(*how.failure);
    if (!staged_ && databases_->staged()) {
      staged_ = databases_->staged();
      return {};
    }
    if (!files_) return {};
    core::EntryRecord r{e.path, e.type, how.bytes, e.mtime, e.encrypted, true, hashes_->digest()};
    return files_->add(core::StoredEntry{e.index, std::move(r), true, false, std::nullopt},
                       core::Ownership::kOwned);
  }

  [[nodiscard]] bool done() const override { return !documents_ && staged_; }

  [[nodiscard]] const std::string& database() const { return staged_->entry; }
  // The documents' records with their hashes (on disk); null when they were not read.
  [[nodiscard]] std::shared_ptr<core::EntryStore> files() const { return files_; }
  [[nodiscard]] std::uint64_t bytes_read() const { return bytes_read_; }

 private:
  bool wanted_database(const core::Entry& e) const {
    if (staged_) return false;
    if (o_.database_entry) return ::fnmatch(o_.database_entry->c_str(), e.path.c_str(), 0) == 0;
    if (header_database_) return e.path == *header_database_;
    return true;  // decided by content
  }

  // The staged entry becomes `stage_`: a SQLite file by rename, a dump by loading it.
  Result<void> install() {
    std::error_code ec;
    if (staged_->format == core::DatabaseFormat::kSqlDump) {
      RK_TRY(core::load_sql_dump(staged_->file, stage_, staged_->entry));
      fs::remove(staged_->file, ec);
      return {};
    }
    fs::rename(staged_->file, stage_, ec);
    if (ec) {
      return fail(ErrorCode::kIo, fmt::format("cannot stage the database: {}", ec.message()),
                  stage_.string());
    }
    return {};
  }

  const core::ArchiveSource& archive_;
  const BackupDiffOptions& o_;
  fs::path stage_;
  bool documents_ = true;
  core::MetadataVisitor* metadata_ = nullptr;  // the pass's, while it runs
  core::HashVisitor* hashes_ = nullptr;
  core::DatabaseStager* databases_ = nullptr;
  std::uint64_t bytes_read_ = 0;
  std::optional<core::StagedDatabase> staged_;
  std::optional<std::string> header_database_;
  std::shared_ptr<core::EntryStore> files_;
};

}  // namespace

namespace {

// What diff compares with live: the staged database and the documents' hashes.
struct BackupContent {
  std::optional<core::TempDir> temp;
  fs::path database;
  std::string entry;
  std::shared_ptr<core::EntryStore> files;  // the database entry too, when from the index
  std::uint64_t bytes_read = 0;

  // Every file but the database entry.
  [[nodiscard]] FileWalk documents() const {
    return [this](const std::function<Result<void>(const core::EntryRecord&)>& fn) {
      if (!files) return Result<void>{};
      return files->for_each([&](const core::StoredEntry& s) -> Result<void> {
        return s.record.path == entry ? Result<void>{} : fn(s.record);
      });
    };
  }
};

// What the index already knows of an unchanged archive: the staged database, and (from a verify
// run) every document's hash.
struct Known {
  std::optional<core::Fingerprint> fingerprint;
  std::optional<core::StagedCopy> staged;
  std::shared_ptr<core::EntryStore> files;  // set when every file of it has its hash
};

Known known_to_index(const fs::path& backup, const BackupDiffOptions& o) {
  Known k;
  if (!o.index) return k;
  if (auto fp = core::fingerprint_file(backup)) k.fingerprint = *fp;
  if (!k.fingerprint) return k;
  std::string key = core::index_key(backup);
  k.staged = o.index->staged_database(key, *k.fingerprint).value_or(std::nullopt);
  auto summary = o.index->find(key, *k.fingerprint);
  if (!summary || !*summary || !(*summary)->listed) return k;
  auto entries = o.index->entry_store(key);
  if (!entries || (*entries)->size() == 0) return k;
  bool hashed = true;
  auto walked = (*entries)->for_each([&](const core::StoredEntry& s) -> Result<void> {
    const auto& e = s.record;
    hashed = hashed && (e.type != core::EntryType::kFile || !e.safe || e.hash.has_value());
    return {};
  });
  if (walked && hashed) k.files = std::move(*entries);
  return k;
}

Result<BackupContent> read_backup(const core::ArchiveSource& backup, const BackupDiffOptions& o,
                                  Known& known) {
  BackupContent c;
  bool need_documents = o.live_documents.has_value() && !known.files;
  if (known.staged && !need_documents) {
    c.database = known.staged->file;
    c.entry = known.staged->entry;
  } else {
    RK_TRY_ASSIGN(c.temp, core::TempDir::create(o.temp_dir, "restorekit-diff-"));
    c.database = c.temp->path() / "database.sqlite";
    DiffPass pass(backup, o, c.database, need_documents);
    RK_TRY(pass.run());
    c.entry = pass.database();
    c.bytes_read = pass.bytes_read();
    c.files = pass.files();
    if (known.fingerprint) {
      RK_TRY_ASSIGN(c.database,
                    o.index->keep_staged_database(core::index_key(*backup.path()),
                                                  *known.fingerprint, c.entry, c.database));
    }
  }
  // The index's listing holds the database entries too: they are not documents (documents()).
  if (known.files) c.files = std::move(known.files);
  return c;
}

// A bare SQLite file given as the backup: compared as it is.
Result<DiffReport> diff_bare_database(const fs::path& backup, const fs::path& live,
                                      const BackupDiffOptions& o) {
  if (o.live_documents && o.without_documents == BackupDiffOptions::WithoutDocuments::kError) {
    return fail(ErrorCode::kInvalidArgument,
                fmt::format("{} is a bare database file and holds no documents to compare with "
                            "{}; give the backup archive, or leave out the live documents",
                            backup.string(), o.live_documents->string()),
                backup.string());
  }
  DiffReport report;
  RK_TRY_ASSIGN(report.database, diff_databases(backup, live, o.diff));
  return report;
}

}  // namespace

Result<DiffReport> diff_backup(const core::ArchiveSource& backup, const fs::path& live,
                               const BackupDiffOptions& o) {
  Known known;
  if (const auto& path = backup.path()) {
    std::error_code ec;
    if (!fs::exists(*path, ec)) {
      return fail(ErrorCode::kNotFound,
                  ec ? fmt::format("{} cannot be reached: {}", path->string(), ec.message())
                     : fmt::format("{} does not exist; check the path", path->string()),
                  path->string());
    }
    if (core::has_sqlite_magic(*path)) return diff_bare_database(*path, live, o);
    known = known_to_index(*path, o);
  }
  RK_TRY_ASSIGN(auto content, read_backup(backup, o, known));
  DiffReport report;
  report.backup_database = content.entry;
  report.archive_bytes_read = content.bytes_read;
  RK_TRY_ASSIGN(report.database, diff_databases(content.database, live, o.diff));
  if (o.live_documents) {
    auto files = content.documents();
    RK_TRY_ASSIGN(auto root, documents_root(o.documents_root, files));
    RK_TRY_ASSIGN(report.documents,
                  diff_documents(files, root, *o.live_documents, o.diff.sample_rows));
  }
  return report;
}

Result<BackupDatabase> backup_database(const core::ArchiveSource& backup,
                                       const BackupDiffOptions& options) {
  BackupDiffOptions o = options;
  o.live_documents.reset();
  BackupDatabase out;
  Known known;
  if (const auto& path = backup.path()) {
    std::error_code ec;
    if (!fs::exists(*path, ec)) {
      return fail(ErrorCode::kNotFound,
                  ec ? fmt::format("{} cannot be reached: {}", path->string(), ec.message())
                     : fmt::format("{} does not exist; check the path", path->string()),
                  path->string());
    }
    if (core::has_sqlite_magic(*path)) {
      out.file = *path;
      return out;
    }
    known = known_to_index(*path, o);
  }
  RK_TRY_ASSIGN(auto content, read_backup(backup, o, known));
  out.file = content.database;
  out.entry = content.entry;
  out.archive_bytes_read = content.bytes_read;
  out.temp = std::move(content.temp);
  return out;
}

void apply_profile(BackupDiffOptions& options, const core::Profile& profile) {
  options.diff.tenants = profile.tenant_spec();
  options.database_entry = profile.database_entry;
  options.documents_root = profile.documents_root;
  options.live_documents = profile.live_documents;
  options.without_documents = BackupDiffOptions::WithoutDocuments::kSkip;
}

}  // namespace restorekit::diff
