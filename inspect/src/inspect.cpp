#include <restorekit/inspect/inspect.hpp>

#include <algorithm>
#include <chrono>

#include <fmt/format.h>

#include <restorekit/core/backup_format.hpp>
#include <restorekit/core/entry_store.hpp>
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

constexpr std::size_t kPeekBytes = 4096;

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

class Inspector {
 public:
  Inspector(const fs::path& path, const InspectOptions& o)
      : path_(path), o_(o), throttle_(o.progress) {}

  Result<InspectReport> run() {
    auto started = std::chrono::steady_clock::now();
    RK_TRY_ASSIGN(report_.summary.fingerprint, core::fingerprint_file(path_));
    report_.summary.path = core::index_key(path_);
    report_.summary.archive_bytes = report_.summary.fingerprint.size;
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

 private:
  bool listing() const { return o_.list_entries == ListEntries::kYes; }

  Result<bool> from_index() {
    if (!o_.index) return false;
    RK_TRY_ASSIGN(auto found, o_.index->find(report_.summary.path, report_.summary.fingerprint));
    if (!found || (listing() && !found->listed)) return false;
    report_.summary = std::move(*found);
    if (listing()) {
      RK_TRY_ASSIGN(report_.entries, o_.index->entries(report_.summary.path));
    }
    report_.from_index = true;
    return true;
  }

  void store_in_index() {
    if (!o_.index || report_.incomplete) return;
    bool full = report_.summary.listed;
    auto stored = o_.index->put(report_.summary, full ? records_.get() : nullptr);
    if (!stored) {
      report_.summary.findings.push_back(core::Finding{
          "INDEX_UNAVAILABLE", core::Severity::kInfo, "",
          fmt::format("the result was not recorded in the index: {}", stored.error().message)});
    }
  }

  Result<void> read_archive() {
    RK_TRY_ASSIGN(reader_, ArchiveReader::open(path_, o_.reader));
    RK_TRY_ASSIGN(records_, core::EntryStore::create());
    RK_TRY_ASSIGN(const Entry* first, reader_->next());
    if (first) {
      report_.summary.archive = reader_->info();
      RK_TRY(try_header(*first));
    }
    auto& s = report_.summary;
    if (s.kind == core::BackupKind::kRestorekit && !listing()) {
      s.entries = s.header->total_entries;
      return {};
    }
    for (const Entry* e = first; e != nullptr;) {
      RK_TRY(check_cancel());
      RK_TRY(visit(*e));
      RK_TRY_ASSIGN(e, reader_->next());
    }
    s.listed = true;
    RK_TRY(records_->seal());
    finish_foreign_summary();
    if (listing()) {
      RK_TRY_ASSIGN(report_.entries, records_->records());
    }
    return {};
  }

  Result<void> check_cancel() {
    if (o_.cancel.cancelled()) return fail(ErrorCode::kCancelled, "inspect cancelled");
    progress_.bytes_done = reader_->raw_bytes_read();
    progress_.bytes_total = report_.summary.archive_bytes;
    throttle_.update(progress_);
    return {};
  }

  // Reads restorekit/header.json when the archive starts with it.
  Result<void> try_header(const Entry& e) {
    if (e.path != core::kHeaderEntry || e.type != EntryType::kFile) return {};
    auto text = read_entry_text(e);
    if (!text) {
      if (text.error().code == ErrorCode::kPasswordRequired) {
        note_password_required(e);
        return {};
      }
      return tl::unexpected(text.error());
    }
    auto header = core::parse_header(*text);
    if (!header) {
      report_.summary.findings.push_back(
          core::Finding{"BAD_HEADER", core::Severity::kWarning, std::string(core::kHeaderEntry),
                        header.error().message + "; the archive is inspected as a foreign backup"});
      return {};
    }
    apply_header(std::move(*header), std::move(*text), e.encrypted);
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

  Result<std::string> read_entry_text(const Entry& e) {
    std::string out;
    for (;;) {
      RK_TRY_ASSIGN(auto block, reader_->read_block());
      if (block.empty()) return out;
      if (out.size() + block.size() > core::kMaxHeaderBytes) {
        return fail(ErrorCode::kBadBackup,
                    fmt::format("entry \"{}\" is larger than a header may be",
                                core::escape_name(e.raw_path)),
                    e.raw_path);
      }
      out.append(reinterpret_cast<const char*>(block.data()), block.size());
    }
  }

  void note_password_required(const Entry& e) {
    report_.summary.encrypted = true;
    if (report_.incomplete) return;
    report_.incomplete =
        Error(ErrorCode::kPasswordRequired,
              fmt::format("{} is encrypted (first: entry \"{}\"); names and sizes are listed, but "
                          "contents were not read without a password",
                          core::escape_name(path_.string()), core::escape_name(e.raw_path)),
              e.raw_path);
  }

  Result<void> visit(const Entry& e) {
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
    RK_TRY_ASSIGN(bool is_db, maybe_database(e));
    if (!is_db) count_file(e.path, e.size.value_or(0));
    return {};
  }

  // Peeks at an entry's first bytes; stages and describes it when it is a database.
  Result<bool> maybe_database(const Entry& e) {
    if (e.encrypted && !o_.reader.passwords.any()) {
      note_password_required(e);
      return false;
    }
    std::vector<std::byte> head;
    bool ended = false;
    while (head.size() < kPeekBytes) {
      RK_TRY_ASSIGN(auto block, reader_->read_block());
      if (block.empty()) {
        ended = true;
        break;
      }
      head.insert(head.end(), block.begin(), block.end());
    }
    auto guess = core::guess_database(e.path, head);
    bool dump = guess.kind == core::DatabaseKind::kSqliteDump;
    if (guess.kind != core::DatabaseKind::kSqlite && !dump) {
      if (auto f = core::database_guess_finding(e.path, guess)) {
        report_.summary.findings.push_back(*f);
      }
      return false;
    }
    RK_TRY_ASSIGN(auto staged, stage(e, head, ended));
    RK_TRY(describe_staged(e, staged, dump));
    std::error_code ec;
    fs::remove(staged, ec);
    return true;
  }

  Result<fs::path> stage(const Entry& e, const std::vector<std::byte>& head, bool ended) {
    if (!temp_) {
      RK_TRY_ASSIGN(auto t, core::TempDir::create(o_.temp_dir, "restorekit-inspect-"));
      temp_ = std::move(t);
    }
    fs::path file = temp_->path() / fmt::format("entry-{}", e.index);
    RK_TRY_ASSIGN(auto fd, core::create_new_file(file));
    RK_TRY(core::write_all(fd.get(), head.data(), head.size(), file.string()));
    while (!ended) {
      RK_TRY(check_cancel());
      auto block = reader_->read_block();
      if (!block) {
        Error err = block.error();
        err.message = fmt::format("database {}", err.message);
        return tl::unexpected(err);
      }
      if (block->empty()) break;
      RK_TRY(core::write_all(fd.get(), block->data(), block->size(), file.string()));
    }
    return file;
  }

  Result<void> describe_staged(const Entry& e, const fs::path& staged, bool dump) {
    std::error_code ec;
    std::uint64_t bytes = fs::file_size(staged, ec);
    fs::path db_path = staged;
    if (dump) {
      db_path = staged.string() + ".sqlite";
      if (auto loaded = core::load_sql_dump(staged, db_path, core::escape_name(e.path)); !loaded) {
        return unreadable_database(e, loaded.error());
      }
    }
    auto described = describe_file(db_path);
    if (dump) fs::remove(db_path, ec);
    if (!described) return unreadable_database(e, described.error());
    auto info = std::move(*described);
    info.entry = e.path;
    info.bytes = bytes;
    if (dump) info.kind = core::DatabaseFormat::kSqlDump;
    report_.summary.databases.push_back(std::move(info));
    return {};
  }

  Result<core::DatabaseInfo> describe_file(const fs::path& db_path) {
    RK_TRY_ASSIGN(auto db, core::Database::open_untrusted(db_path));
    RK_TRY_ASSIGN(auto summary, core::describe_database(db));
    auto info = database_info("", 0, summary);
    if (auto spec = o_.profile ? o_.profile->tenant_spec() : std::nullopt) {
      if (auto tenants = core::count_tenants(db, summary, *spec))
        info.tenants = std::move(*tenants);
    }
    return info;
  }

  Result<void> unreadable_database(const Entry& e, const Error& err) {
    report_.summary.findings.push_back(
        core::Finding{"DB_INTEGRITY", core::Severity::kWarning, e.path,
                      fmt::format("entry \"{}\" looks like a database but cannot be read: {}",
                                  core::escape_name(e.path), err.message)});
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

  fs::path path_;
  const InspectOptions& o_;
  ProgressThrottle throttle_;
  Progress progress_;
  InspectReport report_;
  std::optional<ArchiveReader> reader_;
  std::optional<core::TempDir> temp_;
  FileCount all_files_;                        // files that are no database
  FileCount docs_files_;                       // ... under "docs/"
  FileCount root_files_;                       // ... under the profile's documents root
  std::shared_ptr<core::EntryStore> records_;  // every entry scanned, on disk
};

}  // namespace

Result<InspectReport> inspect(const fs::path& archive, const InspectOptions& options) {
  return Inspector(archive, options).run();
}

}  // namespace restorekit::inspect
