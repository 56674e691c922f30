// The index: a catalog of backup archives, in a SQLite file (the default) or on a PostgreSQL
// server (a support team's shared catalog). It records each archive's fingerprint, its
// summary (format, header, databases and tables, documents, findings) and, when read, its
// entries (path, type, size, mtime, hash when known). `inspect` answers a repeated inspect of an
// unchanged archive from it; `catalog` (later) triages many backups with it.
//
// The index is a cache plus a catalog: losing it loses nothing that cannot be re-read. Writes
// are transactions, so an interrupted write leaves the previous state. One Index per thread;
// several processes may share the file (SQLite locking, WAL mode) or the server.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include <restorekit/core/archive_index.hpp>
#include <restorekit/core/entry_store.hpp>
#include <restorekit/core/error.hpp>
#include <restorekit/core/finding.hpp>
#include <restorekit/core/sqlite.hpp>
#include <restorekit/core/summary.hpp>

#pragma GCC visibility push(default)  // the public API: exported by the shared libraries

namespace restorekit::catalog {

namespace detail {
class Row;
class Store;
}  // namespace detail

using core::ArchiveSummary;
using core::Database;
using core::EntryRecord;
using core::EntryStore;
using core::Fingerprint;
using core::StagedCopy;
using core::Statement;
using core::Verdict;

struct Verification {
  std::int64_t verified_at = 0;  // seconds since the epoch; 0 = now
  Verdict verdict = Verdict::kDamaged;
  std::uint64_t errors = 0;
  std::uint64_t warnings = 0;
};

class Index final : public core::ArchiveIndex {
 public:
  // Opens (creating the file, its folder and the schema when missing) the index at `path`. A
  // damaged index file (truncated, overwritten: SQLite says it is not a database or malformed)
  // is kept aside as `<path>.corrupt-<UTC time>` and a new index is started: set_aside() names
  // the kept file. @error kIo (folder cannot be created), kDatabase (newer schema, or the
  // damaged file cannot be moved).
  [[nodiscard]] static Result<Index> open(const std::filesystem::path& path);
  // Opens the catalog `location` names: a PostgreSQL URI (postgresql://host[:port]/dbname?...;
  // the schema is created or migrated, versioned in the database; the password comes from
  // libpq's usual places, never from the URI) or else a file as open() does. Staged database
  // copies of a server catalog stay on this machine, under $XDG_CACHE_HOME/restorekit/.
  // @error kInvalidArgument (a password in the URI), kDatabase (cannot connect; newer schema).
  [[nodiscard]] static Result<Index> open_location(const std::string& location);
  // Where open() kept a damaged index file, if it did.
  [[nodiscard]] const std::optional<std::filesystem::path>& set_aside() const { return set_aside_; }
  // An index in memory (tests).
  [[nodiscard]] static Result<Index> open_memory();

  ~Index() override;
  Index(Index&&) noexcept;
  Index& operator=(Index&&) noexcept;
  Index(const Index&) = delete;
  Index& operator=(const Index&) = delete;

  // The file, or the server's URI.
  [[nodiscard]] const std::string& location() const;

  // The stored summary of the archive at `path` (absolute), only when its fingerprint equals
  // `fingerprint`; nullopt when unknown or changed. @error kDatabase.
  [[nodiscard]] Result<std::optional<ArchiveSummary>> find(const std::string& path,
                                                           const Fingerprint& fingerprint) override;

  // Stores (replacing) an archive's summary; with `entries`, its complete listing too.
  // @error kDatabase.
  [[nodiscard]] Result<void> put(const ArchiveSummary& summary,
                                 const EntryStore* entries = nullptr) override;

  // The stored listing of an archive, in archive order; empty when never listed.
  [[nodiscard]] Result<void> each_entry(const std::string& path, const EntryFn& fn) override;

  // Every archive in the index, newest indexed first.
  [[nodiscard]] Result<std::vector<ArchiveSummary>> list();

  // Entries of every listed archive whose path matches `glob` (SQLite GLOB: *, ?, [...]; a
  // pattern without '/' also matches a file name in any folder), at most `limit`.
  struct EntryMatch {
    std::string archive;
    EntryRecord entry;
  };
  [[nodiscard]] Result<std::vector<EntryMatch>> find_entries(std::string_view glob,
                                                             std::size_t limit);

  // Removes an archive and everything about it. @error kDatabase.
  [[nodiscard]] Result<void> forget(const std::string& path);

  // Records a verify run of an archive the index holds with this fingerprint: its listing (when
  // given), with a hash per file read cleanly, replaces the stored one. @return false when the
  // index does not hold the archive with this fingerprint (nothing written). @error kDatabase.
  [[nodiscard]] Result<bool> record_verification(const std::string& path,
                                                 const Fingerprint& fingerprint,
                                                 const EntryStore* listing,
                                                 const Verification& verification);
  // The last verify run of every archive that has one, by path (one query).
  [[nodiscard]] Result<std::map<std::string, Verification>> verifications();
  // The last verify run recorded for an archive, if any.
  [[nodiscard]] Result<std::optional<Verification>> verification(const std::string& path);

  // Verify rounds that workers share (catalog verify --worker), on one machine or many: one
  // round is open at a time; each of its archives is claimed by one worker at a time, which
  // heartbeats while it verifies; a claim whose heartbeat is older than the claim time-out is
  // taken by the next worker that asks. Times in milliseconds since the epoch.
  struct RoundItem {
    std::string archive;  // its catalog name
    std::string state;    // "todo", "claimed", "done"
    std::string worker;   // who claimed it last
    std::int64_t claims = 0;
    std::int64_t finishes = 0;  // verify runs that ended (more than one: a claim expired)
    std::optional<std::int64_t> heartbeat_ms;
    std::string verdict;  // done: "intact", "damaged", "locked" or "error"
    std::string message;
  };
  struct Round {
    std::int64_t id = 0;
    std::int64_t started_at = 0;  // seconds
    std::optional<std::int64_t> finished_at;
    std::vector<RoundItem> items;
  };
  // The open round, if any.
  [[nodiscard]] Result<std::optional<std::int64_t>> open_round();
  // Opens a round over `archives`, unless one is open already (another worker was first):
  // @return the open round; 0 when `archives` is empty and none is open.
  [[nodiscard]] Result<std::int64_t> start_round(const std::vector<std::string>& archives);
  // Claims the next archive of `round` that nobody holds (never claimed, or its claim's last
  // heartbeat before `expired_before_ms`), for `worker`; nullopt when none is left.
  [[nodiscard]] Result<std::optional<std::string>> claim(std::int64_t round,
                                                         const std::string& worker,
                                                         std::int64_t now_ms,
                                                         std::int64_t expired_before_ms);
  // Renews a claim; @return false when `worker` no longer holds it.
  [[nodiscard]] Result<bool> heartbeat(std::int64_t round, const std::string& archive,
                                       const std::string& worker, std::int64_t now_ms);
  // Records the end of a verify run of a claimed archive (`verdict` "error" when it could not
  // be verified, `message` says why).
  [[nodiscard]] Result<void> finish(std::int64_t round, const std::string& archive,
                                    std::string_view verdict, const std::string& message);
  // Closes `round` when every archive of it is done; @return whether it is closed.
  [[nodiscard]] Result<bool> close_round_if_done(std::int64_t round);
  // The newest round with its archives, if there was one.
  [[nodiscard]] Result<std::optional<Round>> last_round();

  // The staged database kept for the archive at `path`, when its fingerprint still matches and
  // the file exists. @error kDatabase.
  [[nodiscard]] Result<std::optional<StagedCopy>> staged_database(
      const std::string& path, const Fingerprint& fingerprint) override;
  // Moves `file` (a database staged from the archive's `entry`) into the index's cache folder
  // (<index>.staged/, private) and records it; the least recently used copies beyond a few are
  // removed. An index in memory keeps nothing and returns `file`. @return where the copy is
  // now. @error kIo, kDatabase.
  [[nodiscard]] Result<std::filesystem::path> keep_staged_database(
      const std::string& path, const Fingerprint& fingerprint, const std::string& entry,
      const std::filesystem::path& file) override;

 private:
  Index(std::unique_ptr<detail::Store> store, std::filesystem::path staged_dir);
  [[nodiscard]] static Result<Index> open_file(const std::filesystem::path& path);
  static std::filesystem::path postgres_staged_dir(const std::string& uri);
  static bool is_damaged_file(const Error& e);
  static bool looks_like_a_catalog(const std::filesystem::path& path);
  [[nodiscard]] Result<void> init_schema();
  [[nodiscard]] Result<void> init_postgres_schema();
  [[nodiscard]] Result<void> newer_schema(std::int64_t version) const;
  [[nodiscard]] Result<void> delete_archive(const std::string& path);
  struct Known {
    std::int64_t id = 0;
    bool verified_listing = false;  // its entries and hashes are an intact verify's
  };
  // The archive filed under `path` if its fingerprint is `fingerprint`.
  [[nodiscard]] Result<std::optional<Known>> known_archive(const std::string& path,
                                                           const Fingerprint& fingerprint);
  [[nodiscard]] Result<void> in_transaction(const std::function<Result<void>()>& body);
  [[nodiscard]] static ArchiveSummary read_summary(const detail::Row& row);
  [[nodiscard]] Result<void> load_children(const std::map<std::int64_t, ArchiveSummary*>& by_id);
  [[nodiscard]] Result<void> put_children(std::int64_t id, const ArchiveSummary& summary);
  [[nodiscard]] Result<void> put_entries(std::int64_t id, const EntryStore& entries);
  std::unique_ptr<detail::Store> store_;
  std::filesystem::path staged_dir_;  // where staged database copies are kept; empty: nowhere
  std::optional<std::filesystem::path> set_aside_;
};

}  // namespace restorekit::catalog

#pragma GCC visibility pop
