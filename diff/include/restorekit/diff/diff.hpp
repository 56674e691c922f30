// diff: what a restore would do to the live database, from the live system's point of view.
//
// For every table: rows only in live are *lost* by a restore (created since the backup), rows
// only in the backup are *revived* (deleted since), rows in both whose values differ are
// *reverted* (changed since). Rows are identified by the declared primary key (composite keys
// and WITHOUT ROWID tables included); tables without one by rowid, as sqldiff does, or with
// NoKeyTables::kByContent as multisets of rows. Values compare as SQL `IS NOT` does (integer 1
// equals real 1.0; NULL equals NULL; text never equals a blob).
//
// How: for each table, two ordered scans (one per database, both read-only, the backup opened
// as untrusted) are merged, comparing keys exactly and rows by an XXH3 digest of a canonical,
// type-tagged encoding of their values. Memory stays flat in the number of rows.
// Thread safety: independent calls may run in parallel.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <restorekit/core/archive_index.hpp>
#include <restorekit/core/archive_reader.hpp>
#include <restorekit/core/error.hpp>
#include <restorekit/core/fs.hpp>
#include <restorekit/core/profile.hpp>
#include <restorekit/core/progress.hpp>
#include <restorekit/core/sqlite.hpp>
#include <restorekit/core/summary.hpp>

#pragma GCC visibility push(default)  // the public API: exported by the shared libraries

namespace restorekit::diff {

enum class NoKeyTables { kByRowid, kByContent };

struct DiffOptions {
  std::optional<core::TenantSpec> tenants;  // per-tenant breakdown when set
  std::vector<std::string> tables;          // only these tables; empty = all
  NoKeyTables no_key = NoKeyTables::kByRowid;
  std::size_t sample_rows = 0;  // up to N sample keys per category per table
  ProgressFn progress;          // rows compared
  CancelToken cancel;
  // Where a table's B-tree pages are the same in both files, their rows are counted unchanged
  // without being read (the pages are read from the files and hashed instead). true: read and
  // compare every row, as the tests' cross-check does.
  bool every_row = false;
};

struct ValueChange {
  std::string column;
  std::string live;    // SQL literal of the live value (what a restore loses)
  std::string backup;  // SQL literal of the backup's value (what a restore brings back)
};

struct RowSample {
  std::string key;                   // e.g. "id=42" or "company_id=1, key='theme'"
  std::vector<ValueChange> changes;  // reverted rows only
};

struct TableDiff {
  std::string name;
  std::string key;  // how rows were matched: "primary key (id)", "rowid", "content"
  std::uint64_t lost = 0;
  std::uint64_t revived = 0;
  std::uint64_t reverted = 0;
  std::uint64_t unchanged = 0;
  // Of `unchanged`, the rows counted from B-tree pages both files hold byte for byte, not read
  // (DiffOptions::every_row).
  std::uint64_t unchanged_unread = 0;
  bool only_in_live = false;
  bool only_in_backup = false;
  std::vector<std::string>
      schema_changes;  // sentences, e.g. "column mobile added since the backup"
  std::vector<RowSample> lost_samples;
  std::vector<RowSample> revived_samples;
  std::vector<RowSample> reverted_samples;

  [[nodiscard]] bool changed() const {
    return lost || revived || reverted || only_in_live || only_in_backup || !schema_changes.empty();
  }
};

struct TenantDiff {
  std::string id;
  std::string label;
  std::uint64_t lost = 0;
  std::uint64_t revived = 0;
  std::uint64_t reverted = 0;
};

struct DatabaseDiff {
  std::vector<TableDiff> tables;  // sorted by name
  std::vector<TenantDiff> tenants;
  std::vector<std::string> schema_changes;  // database-wide: user_version, views, triggers, indexes
  std::uint64_t lost = 0;
  std::uint64_t revived = 0;
  std::uint64_t reverted = 0;

  [[nodiscard]] bool changed() const;
};

struct DocumentDiff {
  std::string root;           // the documents root inside the backup, e.g. "docs/"
  std::uint64_t lost = 0;     // only in the live folder: a restore deletes them
  std::uint64_t revived = 0;  // only in the backup: a restore brings them back
  std::uint64_t changed = 0;  // in both, different size or XXH3-128
  std::uint64_t unchanged = 0;
  std::uint64_t lost_bytes = 0;
  std::vector<std::string> lost_samples;
  std::vector<std::string> revived_samples;
  std::vector<std::string> changed_samples;
  // Live files that are one name in two Unicode spellings (NFC and NFD), as "a" / "b" pairs:
  // the backup's document matches one of them, the other is counted lost.
  std::vector<std::pair<std::string, std::string>> live_duplicates;
};

struct BackupDiffOptions {
  DiffOptions diff;
  core::ReaderOptions reader;  // limits and passwords for the archive
  // Glob of the database entry (the profile's); default: the header's database in our
  // backups, else the first entry with SQLite content.
  std::optional<std::string> database_entry;
  // Documents root inside the backup; default: "docs/" when the archive has it, else the root.
  std::optional<std::string> documents_root;
  std::optional<std::filesystem::path> live_documents;  // compare documents when set
  // A bare database file holds no documents: an error when they were asked for explicitly,
  // skipped when they came from a profile that applies to archives and files alike.
  enum class WithoutDocuments { kError, kSkip } without_documents = WithoutDocuments::kError;
  std::filesystem::path temp_dir;  // where the database is staged; default: system temp
  // With an index: the database staged from this archive is kept there and reused while the
  // archive's fingerprint is unchanged, and document hashes recorded by verify are used
  // instead of reading the documents again. Without one, the archive is read every time.
  core::ArchiveIndex* index = nullptr;
};

struct DiffReport {
  std::string backup_database;  // the archive entry compared (empty for a bare database file)
  std::uint64_t archive_bytes_read = 0;  // 0 when everything came from the index
  DatabaseDiff database;
  std::optional<DocumentDiff> documents;

  [[nodiscard]] bool changed() const {
    return database.changed() ||
           (documents && (documents->lost || documents->revived || documents->changed));
  }
};

// Takes what a profile says about diffing a backup: the tenant breakdown, the database entry, the
// documents root and the live documents folder (skipped, not an error, for a bare database
// file). Settings given explicitly afterwards override it (the command line's flags do).
void apply_profile(BackupDiffOptions& options, const core::Profile& profile);

// Compares a backup — an archive (one pass: its database, a SQLite file or a SQLite dump, is
// staged to a private temporary file, its documents hashed) or a bare SQLite file — with the
// live database and, when given, the live documents folder. `backup` is a path (then the index
// may answer, and a bare database file is compared as it is), memory, or any ByteSource opener.
// @error as diff_databases, plus the archive reader's errors, kNotFound (no database in the
//   backup), kIo.
[[nodiscard]] Result<DiffReport> diff_backup(const core::ArchiveSource& backup,
                                             const std::filesystem::path& live,
                                             const BackupDiffOptions& options);

// A backup's database ready to open (as untrusted): a bare database file itself, the copy an
// index kept for an unchanged archive, or staged now by reading the archive only up to its
// database entry (then kept in the index when one is given).
struct BackupDatabase {
  std::filesystem::path file;
  std::string entry;                     // the archive entry; empty for a bare database file
  std::uint64_t archive_bytes_read = 0;  // 0 when nothing was read
  std::optional<core::TempDir> temp;     // holds `file` when it is nobody else's
};
// `options`: reader, database_entry, temp_dir and index (the documents are not read).
// @error as diff_backup.
[[nodiscard]] Result<BackupDatabase> backup_database(const core::ArchiveSource& backup,
                                                     const BackupDiffOptions& options);

// A backup's files, handed to `fn` one at a time (a vector, or a listing on disk).
using FileWalk =
    std::function<Result<void>(const std::function<Result<void>(const core::EntryRecord&)>& fn)>;
// The walk of a vector (which must outlive it).
[[nodiscard]] FileWalk walk_of(const std::vector<core::EntryRecord>& files);

// The documents root inside a backup: `given` (a trailing '/' added) when set, else "docs/"
// when some file lies under it, else "" (the archive root). @error the walk's.
[[nodiscard]] Result<std::string> documents_root(const std::optional<std::string>& given,
                                                 const FileWalk& files);
[[nodiscard]] std::string documents_root(const std::optional<std::string>& given,
                                         const std::vector<core::EntryRecord>& files);

// Compares a backup's files under `root` — a listing whose file records carry XXH3-128, such
// as VerifyReport::listing, with database entries taken out — with the live documents folder.
// Files in restorekit/ and records without a hash are left out. Live files are hashed only
// when their size matches, unless `live_hashes` (path relative to `live`, '/'-separated ->
// XXH3-128 or nullopt, as a scan just read them) has theirs. With LiveScope::kTheseFiles only the
// live files that `files` names are compared (a restore that replaces chosen documents and
// leaves the rest): nothing is lost. Both sides are walked in name order (the samples are the
// first in that order), each listed in memory while it has at most `in_memory_files` files (and
// 4 MiB of rows and names) and on disk (a private temporary SQLite file) beyond, so that memory
// does not grow with the documents; tests lower it to compare the two. @error kNotFound (no such
// folder), kIo, kDatabase (the temporary listing).
enum class LiveScope { kWholeFolder, kTheseFiles };
using LiveHashes = std::function<std::optional<core::Digest128>(const std::string& path)>;
inline constexpr std::size_t kDocumentsInMemory = 50'000;
[[nodiscard]] Result<DocumentDiff> diff_documents(const FileWalk& files, const std::string& root,
                                                  const std::filesystem::path& live,
                                                  std::size_t samples,
                                                  const LiveHashes& live_hashes = {},
                                                  LiveScope scope = LiveScope::kWholeFolder,
                                                  std::size_t in_memory_files = kDocumentsInMemory);
[[nodiscard]] Result<DocumentDiff> diff_documents(const std::vector<core::EntryRecord>& files,
                                                  const std::string& root,
                                                  const std::filesystem::path& live,
                                                  std::size_t samples,
                                                  const LiveHashes& live_hashes = {},
                                                  LiveScope scope = LiveScope::kWholeFolder);

// Compares a backup's database (a file restorekit staged or the user gave; opened as untrusted)
// with the live database (opened read-only).
// @error kNotFound, kDatabase (unreadable database), kInvalidArgument (a --tables name that
//   exists in neither), kCancelled.
[[nodiscard]] Result<DatabaseDiff> diff_databases(const std::filesystem::path& backup,
                                                  const std::filesystem::path& live,
                                                  const DiffOptions& options);

// Connections a caller already holds (the dry run opens each database once) and, when known,
// their schemas (describe_database with CountRows::kNo). `backup` must have been opened with
// open_untrusted(). The connections are used from the calling thread only; a second worker
// opens its own pair by their paths. They must outlive the call.
struct Sessions {
  core::Database& backup;
  core::Database& live;
  const core::DatabaseSummary* backup_schema = nullptr;
  const core::DatabaseSummary* live_schema = nullptr;
};

// The same over the caller's connections. @error as above.
[[nodiscard]] Result<DatabaseDiff> diff_databases(const Sessions& sessions,
                                                  const DiffOptions& options);

}  // namespace restorekit::diff

#pragma GCC visibility pop
