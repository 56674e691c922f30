// The index: a SQLite catalog of backup archives. It records each archive's fingerprint, its
// summary (format, header, databases and tables, documents, findings) and, when read, its
// entries (path, type, size, mtime, hash when known). `inspect` answers a repeated inspect of an
// unchanged archive from it; `catalog` (later) triages many backups with it.
//
// The index is a cache plus a catalog: losing it loses nothing that cannot be re-read. Writes
// are transactions, so an interrupted write leaves the previous state. One Index per thread;
// several processes may share the file (SQLite locking, WAL mode).
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <vector>

#include <restorekit/core/error.hpp>
#include <restorekit/core/sqlite.hpp>
#include <restorekit/core/summary.hpp>

namespace restorekit::core {

class Index {
 public:
  // Opens (creating the file, its folder and the schema when missing) the index at `path`.
  // @error kIo (folder cannot be created), kDatabase (not an index, newer schema).
  [[nodiscard]] static Result<Index> open(const std::filesystem::path& path);
  // An index in memory (tests).
  [[nodiscard]] static Result<Index> open_memory();

  // The stored summary of the archive at `path` (absolute), only when its fingerprint equals
  // `fingerprint`; nullopt when unknown or changed. @error kDatabase.
  [[nodiscard]] Result<std::optional<ArchiveSummary>> find(const std::string& path,
                                                           const Fingerprint& fingerprint);

  // Stores (replacing) an archive's summary; with `entries`, its complete listing too.
  // @error kDatabase.
  [[nodiscard]] Result<void> put(const ArchiveSummary& summary,
                                 const std::vector<EntryRecord>* entries = nullptr);

  // The stored listing of an archive, in archive order; empty when never listed.
  [[nodiscard]] Result<std::vector<EntryRecord>> entries(const std::string& path);

  // Every archive in the index, newest indexed first.
  [[nodiscard]] Result<std::vector<ArchiveSummary>> list();

  // Removes an archive and everything about it. @error kDatabase.
  [[nodiscard]] Result<void> forget(const std::string& path);

 private:
  explicit Index(Database db) : db_(std::move(db)) {}
  [[nodiscard]] Result<void> init_schema();
  [[nodiscard]] Result<void> delete_archive(const std::string& path);
  [[nodiscard]] Result<void> in_transaction(const std::function<Result<void>()>& body);
  [[nodiscard]] Result<ArchiveSummary> load(Statement& row);
  [[nodiscard]] Result<void> load_children(std::int64_t id, ArchiveSummary& summary);
  [[nodiscard]] Result<void> put_children(std::int64_t id, const ArchiveSummary& summary);
  [[nodiscard]] Result<void> put_entries(std::int64_t id, const std::vector<EntryRecord>& entries);
  Database db_;
};

}  // namespace restorekit::core
