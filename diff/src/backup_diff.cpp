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
    core::MetadataVisitor metadata;
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
    files_.push_back(core::EntryRecord{e.path, e.type, how.bytes, e.mtime, e.encrypted, true,
                                       hashes_->digest()});
    return {};
  }

  [[nodiscard]] bool done() const override { return !documents_ && staged_; }

  [[nodiscard]] const std::string& database() const { return staged_->entry; }
  [[nodiscard]] const std::vector<core::EntryRecord>& files() const { return files_; }
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
  std::vector<core::EntryRecord> files_;
};

}  // namespace

std::string documents_root(const std::optional<std::string>& given,
                           const std::vector<core::EntryRecord>& files) {
  if (given) {
    std::string root = *given;
    if (!root.empty() && root.back() != '/') root += '/';
    return root;
  }
  bool docs = std::any_of(files.begin(), files.end(),
                          [](const auto& f) { return f.path.rfind("docs/", 0) == 0; });
  return docs ? "docs/" : "";
}

Result<DocumentDiff> diff_documents(const std::vector<core::EntryRecord>& files,
                                    const std::string& root, const fs::path& live,
                                    std::size_t samples,
                                    const std::map<std::string, core::Digest128>* live_hashes,
                                    LiveScope scope) {
  DocumentDiff out;
  out.root = root;
  std::map<std::string, std::pair<std::string, fs::path>> live_files;  // by name_key
  std::set<std::string> compared;  // name keys of live files that the backup's files name
  std::error_code ec;
  if (!fs::is_directory(live, ec)) {
    return fail(ErrorCode::kNotFound,
                fmt::format("live documents folder {} does not exist", live.string()),
                live.string());
  }
  auto sample = [&](std::vector<std::string>& v, const std::string& path) {
    if (v.size() < samples) v.push_back(path);
  };
  for (fs::recursive_directory_iterator it(live, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file(ec) && !it->is_symlink(ec)) {
      auto rel = it->path().lexically_relative(live).generic_string();
      auto [at, added] = live_files.try_emplace(core::name_key(rel), rel, it->path());
      if (!added) {
        out.live_duplicates.emplace_back(at->second.first, rel);
        if (scope == LiveScope::kTheseFiles) continue;  // lost or not: decided below
        ++out.lost;  // the spelling left over is not in the backup under either name
        std::error_code size_ec;
        out.lost_bytes += fs::file_size(it->path(), size_ec);
        sample(out.lost_samples, rel);
      }
    }
  }
  // Each backup file is matched with live's file of its name first; the live files whose
  // sizes match and whose hashes are not known yet are then hashed together, on every core.
  struct Match {
    const core::EntryRecord* file;
    std::string rel;
    std::string key;           // live_files' key, "" where live has no such file
    std::optional<bool> same;  // known without hashing (size differs, or a known hash)
    std::size_t to_hash = 0;   // index into `paths` where `same` is unknown
  };
  std::vector<Match> matches;
  std::vector<fs::path> paths;
  for (const auto& file : files) {
    const std::string& entry = file.path;
    if (file.type != core::EntryType::kFile || !file.hash || !file.safe) continue;
    if (entry.rfind(root, 0) != 0 || entry.rfind("restorekit/", 0) == 0) continue;
    Match m{&file, entry.substr(root.size()), {}, {}, 0};
    auto it = live_files.find(core::name_key(m.rel));
    if (it != live_files.end()) {
      m.key = it->first;
      const fs::path& live_file = it->second.second;
      if (fs::file_size(live_file, ec) != file.size.value_or(0)) {
        m.same = false;
      } else if (live_hashes) {
        if (auto k = live_hashes->find(it->second.first); k != live_hashes->end()) {
          m.same = k->second == *file.hash;
        }
      }
      if (!m.same) {
        m.to_hash = paths.size();
        paths.push_back(live_file);
      }
    }
    matches.push_back(std::move(m));
  }
  RK_TRY_ASSIGN(auto hashes, core::hash_files(paths));
  for (const auto& m : matches) {
    auto it = m.key.empty() ? live_files.end() : live_files.find(m.key);
    if (it == live_files.end()) {  // not in live, or a second backup file of the same name
      ++out.revived;
      sample(out.revived_samples, m.rel);
      continue;
    }
    compared.insert(it->first);
    bool same = m.same ? *m.same : hashes[m.to_hash] == *m.file->hash;
    if (same) {
      ++out.unchanged;
    } else {
      ++out.changed;
      sample(out.changed_samples, m.rel);
    }
    live_files.erase(it);
  }
  if (scope == LiveScope::kTheseFiles) {  // only the files named: the rest stays as it is
    std::erase_if(out.live_duplicates,
                  [&](const auto& pair) { return !compared.count(core::name_key(pair.first)); });
    return out;
  }
  for (const auto& [key, live_file] : live_files) {
    ++out.lost;
    out.lost_bytes += fs::file_size(live_file.second, ec);
    sample(out.lost_samples, live_file.first);
  }
  return out;
}

namespace {

// What diff compares with live: the staged database and the documents' hashes.
struct BackupContent {
  std::optional<core::TempDir> temp;
  fs::path database;
  std::string entry;
  std::vector<core::EntryRecord> files;
  std::uint64_t bytes_read = 0;
};

// What the index already knows of an unchanged archive: the staged database, and (from a verify
// run) every document's hash.
struct Known {
  std::optional<core::Fingerprint> fingerprint;
  std::optional<core::StagedCopy> staged;
  std::vector<core::EntryRecord> files;
};

Known known_to_index(const fs::path& backup, const BackupDiffOptions& o) {
  Known k;
  if (!o.index) return k;
  if (auto fp = core::fingerprint_file(backup)) k.fingerprint = *fp;
  if (!k.fingerprint) return k;
  std::string key = core::index_key(backup);
  k.staged = o.index->staged_database(key, *k.fingerprint).value_or(std::nullopt);
  auto summary = o.index->find(key, *k.fingerprint);
  auto entries = summary && *summary && (*summary)->listed
                     ? o.index->entries(key)
                     : Result<std::vector<core::EntryRecord>>{};
  bool hashed = entries && !entries->empty() &&
                std::all_of(entries->begin(), entries->end(), [](const auto& e) {
                  return e.type != core::EntryType::kFile || !e.safe || e.hash.has_value();
                });
  if (hashed) k.files = std::move(*entries);
  return k;
}

Result<BackupContent> read_backup(const core::ArchiveSource& backup, const BackupDiffOptions& o,
                                  Known& known) {
  BackupContent c;
  bool need_documents = o.live_documents.has_value() && known.files.empty();
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
  if (!known.files.empty()) {
    // The index's listing holds the database entries too: they are not documents.
    std::erase_if(known.files, [&](const auto& e) { return e.path == c.entry; });
    c.files = std::move(known.files);
  }
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
    if (!fs::exists(*path)) {
      return fail(ErrorCode::kNotFound,
                  fmt::format("{} does not exist; check the path", path->string()), path->string());
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
    RK_TRY_ASSIGN(report.documents,
                  diff_documents(content.files, documents_root(o.documents_root, content.files),
                                 *o.live_documents, o.diff.sample_rows));
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
    if (!fs::exists(*path)) {
      return fail(ErrorCode::kNotFound,
                  fmt::format("{} does not exist; check the path", path->string()), path->string());
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
