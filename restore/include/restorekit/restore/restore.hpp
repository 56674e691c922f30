// restore: a dry run that proves a restore is safe and says what it changes, then an atomic,
// reversible restore (DESIGN.md, "Restore model").
//
// plan(): one pass over the archive — verify's visitors plus the stagers — stages the database
// (and, when asked, the documents) next to the live data, verifies every byte, runs the diff
// against live and the preflight checks (LIVE_IN_USE, UNTRUSTED_SCHEMA,
// SCHEMA_NEWER_THAN_BACKUP, DISK_SPACE, ORPHANED_ROWS for a selective restore), takes the live
// database's content hash and predicts the apply step's duration. The live database and
// documents are not modified.
//
// apply(): under the live database's exclusive lock, refuses when live changed since the plan
// (its fingerprint shows it untouched, else its content is hashed), writes a journal, swaps the
// documents in with renameat2(RENAME_EXCHANGE) and then, for a full restore, exchanges the
// staged database file with live the same way: the old file becomes the safety snapshot without
// a copy (live's WAL is checkpointed and retired first; the new file has live's journal mode,
// mode, owner and extended attributes; a process that opened live meanwhile makes it exchange
// back). Where a rename cannot serve (a selective restore, another filesystem, a hard-linked
// live, metadata that cannot be given) it snapshots live and copies the staged pages in through
// SQLite's backup API, or runs one transaction. The exchange, copy or commit is the single
// commit point. recover() finishes or undoes an apply that was interrupted (the journal says
// which content hashes mean "before" and "after"); rollback() puts the last safety snapshot
// back through the same journaled procedure.
//
// Thread safety: operations on different live databases may run in parallel; one live database
// is guarded by its SQLite lock and the journal.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <restorekit/core/archive_reader.hpp>
#include <restorekit/core/error.hpp>
#include <restorekit/core/finding.hpp>
#include <restorekit/core/fs.hpp>
#include <restorekit/core/hash.hpp>
#include <restorekit/core/profile.hpp>
#include <restorekit/core/progress.hpp>
#include <restorekit/core/sqlite.hpp>
#include <restorekit/diff/diff.hpp>
#include <restorekit/restore/extract.hpp>
#include <restorekit/verify/verify.hpp>

#pragma GCC visibility push(default)  // the public API: exported by the shared libraries

namespace restorekit::restore {

// Rows of a table chosen by a condition, evaluated on the backup's side (read-only).
struct RowCondition {
  std::string table;
  std::string sql;  // an SQL expression over the table's columns, e.g. "email LIKE '%@acme.%'"
  friend bool operator==(const RowCondition&, const RowCondition&) = default;
};

// What a selective restore takes from the backup; empty = a full restore.
struct Selection {
  std::vector<std::string> tenants;         // tenant ids (as text)
  std::optional<core::TenantSpec> tenant;   // required with `tenants`
  std::vector<std::string> tables;          // only these tables
  std::vector<std::string> exclude_tables;  // never these tables
  bool drop_other_tenants = false;          // also delete live rows of every other tenant
  // A record restore: these rows and conditions, with their closure through foreign keys (and
  // `relations`): the rows that reference them, transitively, and the parents they need that
  // live lacks. Live rows that differ are kept (a conflict) unless `revert_changed`; a key that
  // live reuses for another row (its foreign-key values differ) is never overwritten.
  std::vector<RowRef> rows;
  std::vector<RowCondition> where;
  bool revert_changed = false;
  std::vector<core::Relation> relations;  // relationships the schema does not declare

  [[nodiscard]] bool records() const { return !rows.empty() || !where.empty(); }
  [[nodiscard]] bool selective() const {
    return !tenants.empty() || !tables.empty() || !exclude_tables.empty() || records();
  }
};

struct PlanOptions {
  std::filesystem::path live;                           // the live database
  std::optional<std::filesystem::path> live_documents;  // the live documents folder
  bool documents = true;                                // false: --no-docs
  // Keep the plan (plan.json, the staged database and the staged documents) in this folder,
  // which must be on the live database's filesystem. Without it, a dry run stages only the
  // database (documents are hashed in the stream) and removes it at the end.
  std::optional<std::filesystem::path> plan_out;
  // Stage the documents even without `plan_out` (restore BACKUP --yes: apply follows).
  bool stage_documents = false;
  // Where a dry run without `plan_out`/`stage_documents` stages the database. Default: beside
  // live, unless the live filesystem is tight (less free than 4 x the archive plus 1 GiB or 5%
  // of the filesystem) and the system temp folder has more room: a dry run does not take the
  // space the live application needs.
  std::optional<std::filesystem::path> stage_dir;
  Selection selection;
  bool allow_schema_changes = false;
  std::optional<std::string> database_entry;       // glob; default: header's, else first SQLite
  std::optional<std::string> documents_root;       // default: "docs/" when present, else root
  std::optional<std::filesystem::path> lock_file;  // present while the application runs
  std::optional<core::Profile> profile;            // verify's reference checks, tenants
  core::ReaderOptions reader;
  diff::DiffOptions diff;  // tenant breakdown, sample rows
  ProgressFn progress;
  CancelToken cancel;
};

struct TableChange {
  std::string table;
  std::uint64_t deleted = 0;   // live rows the restore deletes
  std::uint64_t inserted = 0;  // backup rows it inserts
  std::uint64_t orphaned = 0;  // rows whose foreign key points nowhere afterwards
  std::uint64_t reverted = 0;  // live rows set back to the backup's values (record restore)
};

// One row a record restore considered, and what it does with it.
struct RecordChange {
  enum class Action {
    kInsert,     // live lacks it: revived
    kRevert,     // live changed it since: set back (--revert-changed)
    kUnchanged,  // live has it as the backup does: left
    kKept,       // live changed it since: kept, a conflict (no --revert-changed)
    kReusedKey,  // live uses its key for another row: a conflict, never overwritten
    kBlocked,    // hangs off a row whose key live reuses: left out
  };
  std::string table;
  std::string key;  // the key's values, comma-separated (the rowid for a table without a key)
  Action action = Action::kInsert;
  friend bool operator==(const RecordChange&, const RecordChange&) = default;
};
// "insert", "revert", "unchanged", "kept", "reused-key", "blocked".
std::string_view record_action_name(RecordChange::Action action);

// A record restore's rows: every row it considered and what it does with it, listed in a file
// (for_each_record) table by table, each table's rows by key.
struct RecordList {
  std::filesystem::path file;
  std::uint64_t count = 0;
  std::uint64_t conflicts = 0;  // kept, reused-key and blocked rows
  // The file's private temporary folder, removed with the plan's last copy.
  std::shared_ptr<const core::TempDir> holder;
};

// A file the dry run keeps beside plan.json, in the staging folder (the plan folder when kept),
// and the XXH3-128 of its bytes: apply refuses a kept plan whose file has other bytes. The
// documents trees as the dry run saw them (the staged tree apply may install, with hashes; the
// live folder it will replace, with inodes and mtimes: apply compares both again and refuses on
// any difference), and a tenant restore's chosen documents.
struct PlanFile {
  std::filesystem::path path;
  core::Digest128 digest;
  friend bool operator==(const PlanFile&, const PlanFile&) = default;
};

// What shows, without reading it, that a database file was not written: the identity, size
// and change times of the file and of its -wal, SQLite's change counter (header offset 24) and
// the WAL's salts. Two equal fingerprints mean nothing was written between them, provided the
// first was taken once the file's change time lay further back than the filesystem's timestamp
// granularity (git's "racy clean" rule); restorekit takes them only so.
struct FileFingerprint {
  std::uint64_t device = 0;
  std::uint64_t inode = 0;
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;
  std::int64_t ctime_ns = 0;
  std::uint64_t marks = 0;  // database: the change counter; -wal: its two salts
  friend bool operator==(const FileFingerprint&, const FileFingerprint&) = default;
};
struct DatabaseFingerprint {
  FileFingerprint file;
  FileFingerprint wal;  // all zero when there is no -wal or an empty one
  friend bool operator==(const DatabaseFingerprint&, const DatabaseFingerprint&) = default;
};

// A document a tenant restore brings back: one that the chosen tenants' rows in the backup name
// through the profile's [documents] references.
struct ChosenDocument {
  std::string path;       // below the backup's documents root (and the staged tree)
  std::string live_path;  // below the live documents folder: live's own spelling when it has it
  bool replaces = false;  // live has a file by that name (else the restore adds it)
  friend bool operator==(const ChosenDocument&, const ChosenDocument&) = default;
};

// A tenant or record restore's documents: apply exchanges these files one by one and leaves the
// rest of the live folder as it is. Listed in a file, sorted by path (for_each_chosen_document).
struct ChosenDocuments {
  PlanFile file;
  std::uint64_t count = 0;
  std::uint64_t replaced = 0;  // live has a file by that name; the others are added
  // Where the file was put apart (hold_chosen_documents), removed with the plan's last copy.
  std::shared_ptr<const core::TempDir> holder;
};

struct Plan {
  std::string backup;
  std::filesystem::path live;
  std::optional<std::filesystem::path> live_documents;
  std::string database_entry;  // the archive entry restored
  Selection selection;
  bool allow_schema_changes = false;
  std::vector<core::Finding> checks;  // verify findings + restore checks, errors first
  diff::DiffReport effects;
  std::vector<TableChange> changes;   // selective restore: per table
  std::optional<RecordList> records;  // a record restore's rows (a fresh plan only)
  std::vector<std::string> steps;     // what apply will do, in order, as sentences

  core::Digest128 live_hash;  // content hash of live when planned
  // Live as that hash saw it (nothing written while it was taken): apply proves live unchanged
  // by this instead of hashing it again under the lock. Absent when live kept changing.
  std::optional<DatabaseFingerprint> live_fingerprint;
  core::Digest128 result_hash;           // content hash live will have after the apply
  core::Digest128 staged_database_hash;  // XXH3-128 of the staged database file's bytes
  std::optional<PlanFile> staged_tree;   // under staged_documents
  std::optional<PlanFile> live_tree;     // under live_documents when planned
  // A tenant or record restore's documents. None: the staged tree replaces the live documents
  // folder whole (a full restore), or the documents are left alone (a selective restore without
  // references, or whose rows name none).
  std::optional<ChosenDocuments> chosen_documents;
  std::uint64_t live_bytes = 0;
  std::uint64_t staged_bytes = 0;
  std::uint64_t archive_bytes = 0;
  std::uint64_t document_files = 0;  // staged or to stage
  std::uint64_t document_bytes = 0;

  std::filesystem::path staging;  // folder of the staged data
  std::filesystem::path staged_database;
  std::optional<std::filesystem::path> staged_documents;  // a tree to swap in
  std::optional<std::filesystem::path> staged_files;      // its staging root, when not in staging
  std::optional<std::filesystem::path> plan_dir;          // kept plan (plan_out)
  // XXH3-128 of plan.json, registered beside live by the dry run: apply refuses a kept plan
  // whose file was edited, or that names another live database.
  std::optional<core::Digest128> plan_digest;

  // The verify report of the dry run's pass (format, entries, databases, findings), without its
  // listing and staging folder. A fresh plan only: a kept plan loaded again has none.
  std::optional<verify::VerifyReport> verification;

  double seconds = 0;                  // the dry run's own duration
  double throughput = 0;               // archive bytes per second of the pass
  double predicted_apply_seconds = 0;  // downtime predicted for apply

  [[nodiscard]] bool safe() const;  // no check is an error
};

// Takes what a profile says about restoring: the live documents folder, the database entry, the
// documents root, the application's lock file, the tables never restored, the tenant column (for
// the selection and the diff) and the profile itself (verify's reference checks). Settings given
// explicitly afterwards override it (the command line's flags do); the live database is the
// caller's to choose (the profile's [live] database is a default for it).
void apply_profile(PlanOptions& options, const core::Profile& profile);

// Makes a plan from `backup` (a path, memory, or any ByteSource opener: the archive is read in
// one pass, never copied). The staging folder is removed again unless `plan_out` or
// `stage_documents`
// (then it lives until apply() or discard()). A symlinked documents folder is resolved: its
// target is restored and the link kept.
// @error kNotFound (backup, live), kConflict (unfinished restore), kInvalidArgument (bad
//   selection; a documents folder that holds, or lies inside, the live database, its -wal,
//   -journal or -shm, its restore state or the plan folder), the archive reader's and verify's
//   operational errors, kIo, kCancelled.
[[nodiscard]] Result<Plan> plan(const core::ArchiveSource& backup, const PlanOptions& options);

// Reads a plan kept with `plan_out`; apply() checks it against what the dry run registered.
// @error kNotFound, kBadBackup (not a plan, or paths outside the plan folder).
[[nodiscard]] Result<Plan> load_plan(const std::filesystem::path& plan_dir);

// Removes a plan's staged data.
void discard(const Plan& plan);

// Copies the plan's chosen documents' list into a private temporary folder that lives as long as
// the plan and its copies, so that the list outlives apply() and discard(), which remove the
// staging folder: a report shows it afterwards. A dry run that keeps no plan does so itself.
// @error kIo.
[[nodiscard]] Result<void> hold_chosen_documents(Plan& plan);

// Calls `fn` for each of the plan's chosen documents in path order, the first `limit` of them.
// @error kBadBackup (a path outside the documents folder), kDatabase, or the first of fn's.
using ChosenFn = std::function<Result<void>(const ChosenDocument&)>;
[[nodiscard]] Result<void> for_each_chosen_document(
    const Plan& plan, const ChosenFn& fn,
    std::uint64_t limit = std::numeric_limits<std::uint64_t>::max());

// Calls `fn` for each row of a record restore's plan (Plan::records), the first `limit` of them.
// @error kBadBackup (a list that is not one), kDatabase, or the first of fn's.
using RecordFn = std::function<Result<void>(const RecordChange&)>;
[[nodiscard]] Result<void> for_each_record(
    const Plan& plan, const RecordFn& fn,
    std::uint64_t limit = std::numeric_limits<std::uint64_t>::max());

// Test seam: called at each step boundary of apply (and, during the page copy, after every
// chunk with step "copy"). A crash harness kills the process here.
using StepHook = std::function<void(std::string_view step)>;

struct ApplyOptions {
  unsigned keep_snapshots = 3;  // older safety snapshots are removed after a success
  ProgressFn progress;          // pages copied
  CancelToken cancel;           // honoured until the commit point
  StepHook on_step;
  int copy_chunk_pages = 4096;  // pages per backup-API step (progress and cancellation points)
};

struct ApplyReport {
  bool applied = false;  // false: refused (see refusal), live untouched
  // Why, when refused: UNSAFE_LAYOUT, LIVE_IN_USE, LIVE_CHANGED, DOCUMENTS_CHANGED,
  // PLAN_BLOCKED, PLAN_TAMPERED or STAGED_CHANGED, with a sentence (severity error).
  core::Finding refusal;
  std::vector<core::Finding> checks;  // post-apply checks (integrity, content hash, orphans)
  std::vector<TableChange> changes;   // selective restore, as committed
  std::filesystem::path snapshot;     // the safety snapshot taken
  // "swap": the staged database was exchanged with live by one rename and the old file became
  // the snapshot; "copy": live was snapshotted and the staged pages copied in (copy_reason says
  // why a swap could not serve).
  std::string method;
  std::string copy_reason;
  double downtime_seconds = 0;  // exclusive lock held
  double seconds = 0;
};

// Applies a plan whose checks passed. Refuses (applied = false, live untouched) when a check
// blocks, when live is in use, when live (database or documents) changed since the plan, or
// when anything it would install differs from what the dry run checked: plan.json edited or
// not registered for this live database, a plan folder others can write, a staged database
// with other bytes, a staged documents tree with other names, hashes or anything but regular
// files and folders.
// @error kConflict (unfinished restore), kIo, kDatabase, kCancelled (live untouched).
[[nodiscard]] Result<ApplyReport> apply(const Plan& plan, const ApplyOptions& options);

// What recover() found and did.
enum class RecoverOutcome {
  kNothingToRecover,  // no journal: no restore was interrupted (stale staging was removed)
  kFinished,          // live held the new content: the documents were brought forward
  kUndone,            // live held the old content: the documents were put back
};
std::string_view recover_outcome_name(RecoverOutcome outcome);  // "nothing to recover", ...

struct RecoverReport {
  RecoverOutcome outcome = RecoverOutcome::kNothingToRecover;
  std::vector<std::string> actions;
};

// Finishes (live holds the new content) or undoes (live holds the old) an interrupted restore.
// @error kConflict when live matches neither state (journal kept), kIo, kDatabase.
[[nodiscard]] Result<RecoverReport> recover(const std::filesystem::path& live);

// Puts the last safety snapshot back (journaled like apply; the current state becomes a new
// snapshot). @error kNotFound (no snapshot), kConflict, kIo, kDatabase.
[[nodiscard]] Result<ApplyReport> rollback(const std::filesystem::path& live,
                                           const ApplyOptions& options);

// Processes that hold the live database (or its -wal / -journal) open, as "pid 4242 (crm)".
std::vector<std::string> processes_using(const std::filesystem::path& live);

}  // namespace restorekit::restore

#pragma GCC visibility pop
