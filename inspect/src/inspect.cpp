#include <restorekit/inspect/inspect.hpp>

#include <algorithm>
#include <chrono>

#include <fmt/format.h>

#include <restorekit/core/archive_pass.hpp>
#include <restorekit/core/backup_format.hpp>
#include <restorekit/core/entry_store.hpp>
#include <restorekit/core/entry_visitors.hpp>
#include <restorekit/core/fs.hpp>
#include <restorekit/core/safe_path.hpp>
#include <restorekit/core/sql_dump.hpp>
#include <restorekit/core/sqlite.hpp>

namespace restorekit::inspect {

namespace fs = std::filesystem;
using core::ArchiveReader;
using core::Entry;
using core::EntryType;

namespace {

core::EntryRecord record_of(const Entry& e) {
  return core::EntryRecord{
      e.safe() ? e.path : e.raw_path, e.type, e.size, e.mtime, e.encrypted, e.safe(), std::nullopt};
}

core::DatabaseInfo database_info(const std::string& entry, std::uint64_t bytes,
                                 const core::DatabaseSummary& d) {
  core::DatabaseInfo info;
  info.entry = entry;
  info.bytes = bytes;
  info.user_version = d.user_version;
  info.page_size = d.page_size;
  for (const auto& t : d.tables) {
    if (t.rows) info.tables.push_back(core::HeaderTable{t.name, *t.rows});
  }
  return info;
}

core::Finding unreadable_database(const std::string& entry, const Error& err) {
  return core::Finding{
      "DB_INTEGRITY", core::Severity::kWarning, entry,
      fmt::format("entry \"{}\" looks like a database but cannot be read: {}", entry, err.message)};
}

Result<core::DatabaseInfo> describe_file(const fs::path& db_path, const InspectOptions& o) {
  RK_TRY_ASSIGN(auto db, core::Database::open_untrusted(db_path));
  db.stop_when(o.cancel);
  RK_TRY_ASSIGN(auto summary, core::describe_database(db));
  auto info = database_info("", 0, summary);
  if (auto spec = o.profile ? o.profile->tenant_spec() : std::nullopt) {
    if (auto tenants = core::count_tenants(db, summary, *spec)) info.tenants = std::move(*tenants);
  }
  return info;
}

// Describes a database the pass staged (a SQL dump loaded first) into `s`, or says in a
// finding why it cannot be read; the staged files are removed.
void describe_staged(const core::StagedDatabase& staged, const InspectOptions& o,
                     core::ArchiveSummary& s) {
  std::error_code ec;
  std::uint64_t bytes = fs::file_size(staged.file, ec);
  fs::path db_path = staged.file;
  bool dump = staged.format == core::DatabaseFormat::kSqlDump;
  if (dump) {
    db_path = staged.file.string() + ".sqlite";
    if (auto loaded = core::load_sql_dump(staged.file, db_path, staged.entry); !loaded) {
      fs::remove(staged.file, ec);
      s.findings.push_back(unreadable_database(staged.entry, loaded.error()));
      return;
    }
  }
  auto described = describe_file(db_path, o);
  fs::remove(staged.file, ec);
  if (dump) fs::remove(db_path, ec);
  if (!described) {
    s.findings.push_back(unreadable_database(staged.entry, described.error()));
    return;
  }
  auto info = std::move(*described);
  info.entry = staged.entry;
  info.bytes = bytes;
  info.kind = staged.format;
  s.databases.push_back(std::move(info));
}

class Inspector final : public core::EntryVisitor {
 public:
  Inspector(const core::ArchiveSource& archive, const InspectOptions& o)
      : archive_(archive), o_(o), throttle_(o.progress) {}

  Result<InspectReport> run() {
    auto started = std::chrono::steady_clock::now();
    report_.summary.path = o_.index_name     ? *o_.index_name
                           : archive_.path() ? core::index_key(*archive_.path())
                                             : archive_.name();
    if (archive_.path()) {
      RK_TRY_ASSIGN(fingerprint_, core::fingerprint_file(*archive_.path()));
      report_.summary.fingerprint = *fingerprint_;
      report_.summary.archive_bytes = fingerprint_->size;
    }
    RK_TRY_ASSIGN(bool cached, from_index());
    if (!cached) {
      RK_TRY(read_archive());
      // A query cut short by the token leaves a partial summary: never stored, never shown.
      if (o_.cancel.cancelled()) return fail(ErrorCode::kCancelled, "inspect cancelled");
      store_in_index();
    }
    report_.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return std::move(report_);
  }

  // The pass hears of each entry here, after the metadata collector and the database stager.
  Result<core::Interest> begin(const Entry&) override { return core::Interest::kSkip; }

  Result<void> end(const Entry& e, const core::EntryEnd& how) override {
    if (e.index == 0) RK_TRY(first_entry(e, how));
    auto& s = report_.summary;
    if (s.kind == core::BackupKind::kRestorekit && !listing()) {
      s.entries = s.header->total_entries;
      done_ = true;  // our header says the rest: the archive is not read further
      return {};
    }
    return visit(e, how);
  }

  [[nodiscard]] bool done() const override { return done_; }

 private:
  bool listing() const { return o_.list_entries == ListEntries::kYes; }

  Result<bool> from_index() {
    if (!o_.index || !fingerprint_) return false;
    RK_TRY_ASSIGN(auto found, o_.index->find(report_.summary.path, *fingerprint_));
    if (!found || (listing() && !found->listed)) return false;
    report_.summary = std::move(*found);
    if (listing()) {
      RK_TRY_ASSIGN(report_.listing, o_.index->entry_store(report_.summary.path));
    }
    report_.from_index = true;
    return true;
  }

  void store_in_index() {
    if (!o_.index || !fingerprint_ || report_.incomplete) return;
    bool full = report_.summary.listed;
    auto stored = o_.index->put(report_.summary, full ? records_.get() : nullptr);
    if (!stored) {
      report_.summary.findings.push_back(core::Finding{
          "INDEX_UNAVAILABLE", core::Severity::kInfo, "",
          fmt::format("the result was not recorded in the index: {}", stored.error().message)});
    }
  }

  // One pass: the header, then (foreign backups, or a listing) every entry, databases staged
  // and described as they stream by.
  Result<void> read_archive() {
    RK_TRY_ASSIGN(auto reader, ArchiveReader::open(archive_, o_.reader));
    if (!fingerprint_) report_.summary.archive_bytes = reader.raw_size().value_or(0);
    RK_TRY_ASSIGN(records_, core::EntryStore::create());
    RK_TRY_ASSIGN(temp_, core::TempDir::create(o_.temp_dir, "restorekit-inspect-"));
    core::MetadataVisitor metadata(temp_->path());  // a checksum list is not kept in memory
    metadata_ = &metadata;
    core::DatabaseStager databases(temp_->path(), [this](const Entry& e) { return candidate(e); });
    databases_ = &databases;
    core::ArchivePass pass(pass_options(reader));
    pass.attach(metadata);
    pass.attach(databases);
    pass.attach(*this);
    RK_TRY_ASSIGN(auto outcome, pass.run(reader));
    if (outcome.stopped) return tl::unexpected(*outcome.stopped);
    if (outcome.finished_early) return {};
    report_.summary.listed = true;
    RK_TRY(records_->seal());
    finish_foreign_summary();
    if (listing()) report_.listing = records_;
    return {};
  }

  core::PassOptions pass_options(const ArchiveReader& reader) {
    core::PassOptions o;
    o.cancel = o_.cancel;
    o.progress = [this, &reader](std::uint64_t) {
      progress_.bytes_done = reader.raw_bytes_read();
      progress_.bytes_total = report_.summary.archive_bytes;
      throttle_.update(progress_);
    };
    o.on_format = [this](const core::ArchiveInfo& info) { report_.summary.archive = info; };
    return o;
  }

  // Files whose first bytes are looked at: those of a foreign backup, not restorekit's own,
  // and not encrypted ones without a password.
  bool candidate(const Entry& e) const {
    return report_.summary.kind != core::BackupKind::kRestorekit &&
           e.path.rfind("restorekit/", 0) != 0 && (!e.encrypted || o_.reader.passwords.any());
  }

  // restorekit/header.json as the first entry makes the archive one of ours.
  Result<void> first_entry(const Entry& e, const core::EntryEnd& how) {
    if (e.path != core::kHeaderEntry || e.type != EntryType::kFile) return {};
    if (how.failure) {
      if (how.failure->code == ErrorCode::kPasswordRequired) {
        note_password_required(e);
        return {};
      }
      return tl::unexpected(*how.failure);
    }
    if (how.bytes > core::kMaxHeaderBytes) {
      return fail(ErrorCode::kBadBackup,
                  fmt::format("entry \"{}\" is larger than a header may be", e.raw_path),
                  e.raw_path);
    }
    const auto& header = metadata_->header();
    if (!header) return {};
    if (!*header) {
      report_.summary.findings.push_back(core::Finding{
          "BAD_HEADER", core::Severity::kWarning, std::string(core::kHeaderEntry),
          header->error().message + "; the archive is inspected as a foreign backup"});
      return {};
    }
    apply_header(**header, metadata_->take_text(), e.encrypted);
    return {};
  }

  void apply_header(core::BackupHeader h, std::string text, bool encrypted) {
    auto& s = report_.summary;
    s.kind = core::BackupKind::kRestorekit;
    s.encrypted = encrypted;
    s.bytes = h.total_bytes;
    s.document_files = h.document_files;
    s.document_bytes = h.document_bytes;
    for (const auto& db : h.databases) {
      s.databases.push_back(core::DatabaseInfo{db.entry, core::DatabaseFormat::kSqlite, db.bytes,
                                               db.user_version, db.page_size, db.tables,
                                               db.tenants});
    }
    s.header_json = std::move(text);
    s.header = std::move(h);
  }

  void note_password_required(const Entry& e) {
    report_.summary.encrypted = true;
    if (report_.incomplete) return;
    report_.incomplete =
        Error(ErrorCode::kPasswordRequired,
              fmt::format("{} is encrypted (first: entry \"{}\"); names and sizes are listed, but "
                          "contents were not read without a password",
                          archive_.name(), e.raw_path),
              e.raw_path);
  }

  Result<void> visit(const Entry& e, const core::EntryEnd& how) {
    auto& s = report_.summary;
    s.entries++;
    if (e.encrypted) s.encrypted = true;
    if (e.mtime != 0) {
      s.oldest_mtime = std::min(s.oldest_mtime.value_or(e.mtime), e.mtime);
      s.newest_mtime = std::max(s.newest_mtime.value_or(e.mtime), e.mtime);
    }
    // Records are kept for every scanned entry (the index stores the listing), but only a
    // listing run returns them.
    RK_TRY(records_->add(core::StoredEntry{e.index, record_of(e), false, false, std::nullopt},
                         core::Ownership::kOwned));
    if (e.problem) {
      s.findings.push_back(core::Finding{std::string(code_name(e.problem->code)),
                                         core::Severity::kWarning, e.raw_path, e.problem->message});
      return {};
    }
    if (e.type != EntryType::kFile || s.kind == core::BackupKind::kRestorekit) return {};
    if (e.path.rfind("restorekit/", 0) == 0) return {};
    if (e.encrypted && !o_.reader.passwords.any()) {
      note_password_required(e);
      return {};
    }
    if (how.failure) return tl::unexpected(*how.failure);
    if (const auto& staged = databases_->staged()) {
      describe_staged(*staged, o_, report_.summary);
      return {};
    }
    if (const auto& f = databases_->finding()) s.findings.push_back(*f);
    count_file(e.path, e.size.value_or(0));
    return {};
  }

  // Documents are the files under the profile's root, else under "docs/" when any file is
  // there, else every file that is no database: counted for each candidate as entries pass.
  struct FileCount {
    std::uint64_t files = 0;
    std::uint64_t bytes = 0;
    void add(std::uint64_t size) {
      ++files;
      bytes += size;
    }
  };

  void count_file(const std::string& path, std::uint64_t size) {
    all_files_.add(size);
    if (path.rfind("docs/", 0) == 0) docs_files_.add(size);
    if (o_.profile && o_.profile->documents_root &&
        path.rfind(*o_.profile->documents_root, 0) == 0) {
      root_files_.add(size);
    }
  }

  void finish_foreign_summary() {
    auto& s = report_.summary;
    if (s.kind == core::BackupKind::kRestorekit) return;  // a listing of our backup
    FileCount documents = all_files_;
    if (o_.profile && o_.profile->documents_root) {
      if (!o_.profile->documents_root->empty()) documents = root_files_;
    } else if (docs_files_.files > 0) {
      documents = docs_files_;
    }
    s.document_files = documents.files;
    s.document_bytes = documents.bytes;
    s.bytes = s.document_bytes;
    for (const auto& db : s.databases) s.bytes += db.bytes;
  }

  const core::ArchiveSource& archive_;
  const InspectOptions& o_;
  ProgressThrottle throttle_;
  Progress progress_;
  InspectReport report_;
  std::optional<core::Fingerprint> fingerprint_;  // path sources: the index's key
  std::optional<core::TempDir> temp_;
  core::MetadataVisitor* metadata_ = nullptr;  // the pass's, while it runs
  core::DatabaseStager* databases_ = nullptr;  // the pass's, while it runs
  bool done_ = false;
  FileCount all_files_;                        // files that are no database
  FileCount docs_files_;                       // ... under "docs/"
  FileCount root_files_;                       // ... under the profile's documents root
  std::shared_ptr<core::EntryStore> records_;  // every entry scanned, on disk
};

}  // namespace

Result<InspectReport> inspect(const core::ArchiveSource& archive, const InspectOptions& options) {
  return Inspector(archive, options).run();
}

}  // namespace restorekit::inspect
