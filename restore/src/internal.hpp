// Pieces shared by plan, apply, recover and rollback (private to restore).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <restorekit/core/finding.hpp>
#include <restorekit/core/hash.hpp>
#include <restorekit/core/progress.hpp>
#include <restorekit/core/sqlite.hpp>
#include <restorekit/diff/diff.hpp>
#include <restorekit/restore/restore.hpp>

#include "record_list.hpp"
#include "tree_file.hpp"

namespace restorekit::restore::detail {

namespace fs = std::filesystem;

// --- small helpers ----------------------------------------------------------------------------

using Clock = std::chrono::steady_clock;

inline double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

inline std::uint64_t file_size_or_zero(const fs::path& p) {
  std::error_code ec;
  auto n = fs::file_size(p, ec);
  return ec ? 0 : n;
}

inline core::Finding finding(std::string code, core::Severity severity, std::string entry,
                             std::string message) {
  return core::Finding{std::move(code), severity, std::move(entry), std::move(message)};
}

// --- checks.cpp: preflight checks -------------------------------------------------------------

std::string human(std::uint64_t bytes);  // "4.2 MB"

// LIVE_IN_USE findings: processes holding the files open, and the application's lock file.
std::vector<core::Finding> live_in_use_checks(const fs::path& live,
                                              const std::optional<fs::path>& lock_file);

// UNTRUSTED_SCHEMA and SCHEMA_NEWER_THAN_BACKUP; errors unless `allow` (then warnings).
std::vector<core::Finding> schema_checks(const core::DatabaseSummary& backup,
                                         const core::DatabaseSummary& live, bool allow);

// NOT_RESTORABLE_HERE (error) for every table of either database that SQLite cannot SELECT
// with its rowid in one query.
std::vector<core::Finding> too_wide_checks(const core::DatabaseSummary& backup,
                                           const core::DatabaseSummary& live);

// NOT_RESTORABLE_HERE (error) when the live documents folder cannot take a restore by rename:
// a mount point, or a backup path (below `root`) too long below it. @error the walk's.
Result<std::vector<core::Finding>> documents_folder_checks(const fs::path& documents,
                                                           const diff::FileWalk& files,
                                                           const std::string& root);

// DISK_SPACE when the filesystem of `dir` has less than `needed` bytes free.
std::optional<core::Finding> disk_space_check(const fs::path& dir, std::uint64_t needed);

// --- sqlite helpers (live.cpp) ----------------------------------------------------------------

// Copies `src` into a new database file `dest` (safety snapshots, scratch copies).
[[nodiscard]] Result<void> copy_to_new_file(core::Database& src, const fs::path& dest);

// Opens a database restorekit staged from a backup for writing (page-size rebuild): defensive,
// trusted_schema off, triggers and views off.
[[nodiscard]] Result<core::Database> open_staged_for_writing(const fs::path& path);

// The live database opened with its exclusive lock held (locking_mode=EXCLUSIVE plus an empty
// exclusive transaction, which writes nothing and also catches idle WAL readers). @error
// kConflict when another connection holds it.
[[nodiscard]] Result<core::Database> lock_live(const fs::path& live);

// "wal", "delete", ...
[[nodiscard]] Result<std::string> journal_mode(core::Database& db);

// Whether a database file's header puts it in WAL mode (file format versions 2).
bool wal_header(const fs::path& db);
// Puts a database restorekit owns (staged, a snapshot) in WAL mode or out of it, so that it
// comes in as live was. @error kDatabase, kIo.
[[nodiscard]] Result<void> set_wal_header(const fs::path& db, bool wal);

// The fingerprint of a database file and its -wal now. @error kIo (the file cannot be opened).
[[nodiscard]] Result<DatabaseFingerprint> fingerprint(const fs::path& db);

// How long to wait, at `now_ns` (CLOCK_REALTIME), until a change after `f` cannot share its
// timestamps: one coarse clock tick (20 ms) past the newest change time, or 2 s where the
// filesystem keeps whole seconds. Zero: `f` is settled.
std::chrono::nanoseconds unsettled_for(const DatabaseFingerprint& f, std::int64_t now_ns);

// Runs `read` between two fingerprints of `db`, the first taken settled (it waits out a change
// made within the filesystem's timestamp granularity, twice at most). @return the fingerprint
// when both are equal (nothing was written while `read` ran), nullopt when the file kept
// changing. @error `read`'s, kIo.
[[nodiscard]] Result<std::optional<DatabaseFingerprint>> fingerprint_around(
    const fs::path& db, const std::function<Result<void>()>& read);

// Before apply's lock: the frames an application left in live's -wal copied into the file by a
// passive checkpoint (what any connection of theirs may do; it waits for nobody), so that the
// lock does not wait for them. Only where live is as `planned` (its fingerprint), its -wal holds
// frames and all of them were copied, `copied` (a test's hook) ran, the -wal was unchanged once
// the copy settled and removed when the connection closed, the file untouched since. @return
// live's fingerprint after it (what the lock then compares), nullopt where anything differed:
// the plan's fingerprint stands and the lock reads live if it no longer matches.
[[nodiscard]] std::optional<DatabaseFingerprint> checkpoint_before_lock(
    const fs::path& live, const DatabaseFingerprint& planned, const std::function<void()>& copied);

// --- selective.cpp ----------------------------------------------------------------------------

// Runs a selective restore as one transaction on `target` (live, or a scratch copy of it),
// reading the staged backup database; triggers and foreign-key enforcement are off for the
// transaction, and foreign_key_check afterwards counts orphaned rows per table.
// @error kInvalidArgument (a named table or tenant column that does not exist), kDatabase.
// A record restore (selection.records()) also lists into `list`, when given, every row it
// considered and the document names (`references`' values) of the rows it brings back; then new
// foreign-key violations are an error (kConflict: the closure should leave none).
[[nodiscard]] Result<std::vector<TableChange>> run_selective(
    core::Database& target, const fs::path& staged, const Selection& selection,
    const std::vector<core::ColumnRef>& references = {}, RecordListWriter* list = nullptr);

// --- records.cpp ------------------------------------------------------------------------------

// A record restore inside the caller's transaction on `target` (the staged backup attached as
// rk_backup; `backup_reader` a read-only connection to it, where --where conditions are tried
// first). With `list`, lists every row considered and the values of `references` (the profile's
// document columns) in the rows brought back. @return the rows inserted and reverted, per table.
// @error kInvalidArgument (a table not in both, a key of the wrong arity, a condition that does
// not compile), kNotFound (no such row, no row meets a condition), kDatabase.
[[nodiscard]] Result<std::vector<TableChange>> run_records(
    core::Database& target, const core::DatabaseSummary& live, const core::DatabaseSummary& backup,
    core::Database& backup_reader, const Selection& selection,
    const std::vector<core::ColumnRef>& references, RecordListWriter* list);

// --- guard.cpp ------------------------------------------------------------------------------

// The live database, its -wal, -journal and -shm, and its restore state folder (resolved).
std::vector<fs::path> live_paths(const fs::path& live);

// The first of `paths` that `dir` is or holds, or nullopt.
std::optional<fs::path> held_by(const fs::path& dir, const std::vector<fs::path>& paths);

// @error kInvalidArgument when `documents` is, holds or lies inside any of live_paths(live) or
//   `others` (the plan folder, a staging folder): a restore would move them away.
[[nodiscard]] Result<void> check_layout(const fs::path& live, const fs::path& documents,
                                        const std::vector<fs::path>& others = {});

// The dry run registers a kept plan (plan.json's digest) beside live; apply requires it.
[[nodiscard]] Result<void> register_plan(const fs::path& live, const core::Digest128& digest,
                                         const fs::path& plan_dir);
void unregister_plan(const Plan& plan);

// Why a kept plan cannot be trusted (folder not private, plan.json not the registered one), or
// nullopt.
std::optional<std::string> plan_tampered(const Plan& plan);

// Why the staged database or documents differ from what the dry run checked, or nullopt; the
// staged database's fingerprint around its hash goes to `staged` (nullopt when it was being
// written meanwhile, which is a difference too).
std::optional<std::string> staged_data_changed(const Plan& plan,
                                               std::optional<DatabaseFingerprint>* staged);

// --- journal.cpp ------------------------------------------------------------------------------

// One name exchanged between the staged side and live: whichever of the two exists takes the
// other's name (both do: one renameat2 RENAME_EXCHANGE), so that doing it again undoes it. The
// inodes under the lock (0: absent) tell afterwards which state it is in.
struct Exchange {
  fs::path live;
  fs::path staged;
  std::uint64_t live_ino = 0;
  std::uint64_t staged_ino = 0;
};

// A file of a selective restore's documents: its path below the live folder (live's own
// spelling when it has the file) and below the staged tree.
struct FileSwap {
  std::string live;
  std::string staged;
  std::uint64_t live_ino = 0;  // 0: live has no such file (the restore adds it)
  std::uint64_t staged_ino = 0;
};

using FileSwapFn = std::function<Result<void>(const FileSwap&)>;
using FileSwapWalk = std::function<Result<void>(const FileSwapFn&)>;

struct DocumentSwap {
  fs::path live;    // the live documents folder
  fs::path staged;  // the tree swapped in; holds the old documents afterwards
  std::uint64_t staged_ino = 0;
  std::uint64_t live_ino = 0;  // 0 when live had no documents folder
  // Set: these files are exchanged one by one (a tenant or record restore's documents) and the
  // rest of live's folder stays; else the two folders are exchanged whole. `choose` walks them
  // (the plan's list, or a snapshot's) until the lock; under it they are listed with their
  // inodes in `files`, a file of the snapshot (write_file_swaps), which the journal names.
  FileSwapWalk choose;
  std::optional<fs::path> files;
  std::vector<std::string> made;  // folders below `live` the swap creates for new files
  // Folders below `live` that the swap leaves empty and removes (a rollback takes away those
  // its restore made); undoing the swap makes them again.
  std::vector<std::string> emptied;

  [[nodiscard]] bool by_file() const { return choose || files; }
};

// What is exchanged: the two folders, or each file of the list. @error kBadBackup (a name
// outside its folder), kDatabase, or fn's.
[[nodiscard]] Result<void> for_each_exchange(
    const DocumentSwap& d, const std::function<Result<void>(const Exchange&)>& fn);

// --- swap_list.cpp: a by-file swap's list ----------------------------------------------------

inline constexpr const char* kSwapList = "documents.sqlite";  // in the snapshot folder
// Lists d.choose's files in `file` with their inodes now (under the lock) and the folders new
// files need (d.made), durably; d.files names it afterwards. @error kIo, kDatabase, choose's.
[[nodiscard]] Result<void> write_file_swaps(const fs::path& file, DocumentSwap& d);
// The files of a list that write_file_swaps wrote, in order. @error kBadBackup (a name outside
// its folder), kDatabase, or fn's.
[[nodiscard]] Result<void> for_each_file_swap(const fs::path& file, const FileSwapFn& fn);

// What apply, rollback and recover need to finish or undo a restore.
struct Job {
  enum class Kind { kRestore, kRollback } kind = Kind::kRestore;
  fs::path live;
  fs::path staged_database;
  std::optional<DocumentSwap> documents;
  std::optional<Selection> selection;            // set for a selective restore
  std::optional<core::Digest128> expected_live;  // refuse unless live still has this hash
  // Live as `expected_live` was taken, and the staged database as its check (file or content
  // hash) saw it: equal under the lock, neither is read again. Not journaled.
  std::optional<DatabaseFingerprint> live_fingerprint;
  std::optional<DatabaseFingerprint> staged_fingerprint;
  core::Digest128 result_hash;
  std::optional<fs::path> remove_after;  // staging folder or consumed snapshot
  // The live documents as the dry run saw them (apply refuses when they changed since); not
  // journaled: only checked before the commit point.
  std::optional<PlanFile> live_tree;
  // Filled while running:
  enum class Method { kCopy, kSwap } method = Method::kCopy;
  bool retired_wal = false;  // a swap took live out of WAL mode (undo puts it back)
  core::Digest128 old_hash;
  fs::path snapshot;
  enum class State { kPrepared, kCommitted } state = State::kPrepared;
};

nlohmann::json job_json(const Job& job);
// A relative path that stays inside its folder (no "..", not absolute, not empty).
bool relative_inside(const std::string& path);
// The files of a selective documents swap that a safety snapshot of restorekit.snapshot/1 lists
// in its JSON. @error kBadBackup (a path outside its folder). @throws nlohmann::json::exception
// on a malformed entry.
[[nodiscard]] Result<std::vector<FileSwap>> file_swaps_from_json(const nlohmann::json& j);
// Folders below the documents ("" is the folder itself). @error kBadBackup (one outside).
// @throws nlohmann::json::exception when `j` is not a list of strings.
[[nodiscard]] Result<std::vector<std::string>> folders_from_json(const nlohmann::json& j);
[[nodiscard]] Result<Job> job_from_json(const nlohmann::json& j);
[[nodiscard]] Result<void> write_text_durably(const fs::path& path, std::string_view text);
[[nodiscard]] Result<void> write_json_durably(const fs::path& path, const nlohmann::json& j);
[[nodiscard]] Result<nlohmann::json> read_json(const fs::path& path,
                                               std::uint64_t max_bytes = 16u << 20);

// @throws nlohmann::json::exception on a malformed object (callers catch it).
nlohmann::json fingerprint_json(const DatabaseFingerprint& f);
DatabaseFingerprint fingerprint_from_json(const nlohmann::json& j);

std::string selection_to_string(const Selection& s);
nlohmann::json selection_json(const Selection& s);
Selection selection_from_json(const nlohmann::json& j);

// --- plan_documents.cpp: the dry run's documents ----------------------------------------------

// What the dry run's pass left for the documents step.
struct DocumentsInput {
  const PlanOptions& options;
  const verify::VerifyReport& pass;  // its listing (with hashes) and databases
  bool staged = false;               // the pass staged every document under `files_dir`
  fs::path files_dir;
  core::Database& backup;  // the staged database (a tenant restore's references)
};

struct DocumentsOutcome {
  bool by_file = false;         // chosen files, exchanged one by one (a selective restore)
  std::uint64_t all_bytes = 0;  // every document's bytes (a tenant restore stages them all)
};

// Fills the plan's documents part: live_tree, staged_tree and staged_documents, the chosen
// documents and where each goes, document_files/bytes, effects.documents, and its checks;
// resets live_documents when the restore leaves them alone. Touches no other field.
[[nodiscard]] Result<DocumentsOutcome> plan_documents(Plan& plan, const DocumentsInput& in);

// Whose documents a selective restore brings back ("the rows of ..."), for sentences.
std::string chosen_by(const Selection& selection);

// --- plan_hashes.cpp: the hashes apply compares -----------------------------------------------

struct HashesInput {
  const PlanOptions& options;
  core::Database& live;     // the plan's read-only session on live
  core::Database& staged;   // ... and on the staged database
  bool result_used = true;  // a full restore's result hash is needed (a kept plan, a copy)
};

struct HashesOutcome {
  double read_seconds = 0;  // one read of live (its content hash, or a selective one's copy)
  double hash_seconds = 0;  // what a copy's apply spends checking live's hash meanwhile
};

// Fills live_bytes, staged_database_hash, live_hash, live_fingerprint and result_hash, and for a
// selective restore its changes, records (with the names its rows hold) and ORPHANED_ROWS
// checks. Touches no documents field,
// so it may run beside plan_documents() (a full restore).
[[nodiscard]] Result<HashesOutcome> plan_hashes(Plan& plan, const HashesInput& in);

// --- plan_file.cpp: the plan as sentences and as plan.json ------------------------------------

inline constexpr const char* kStagedDatabase = "database.sqlite";  // in the staging folder
inline constexpr const char* kStagedTree = "staged-tree.sqlite";   // there too: Plan::staged_tree
inline constexpr const char* kLiveTree = "live-tree.sqlite";       // and Plan::live_tree
inline constexpr const char* kChosenList = "chosen.sqlite";        // Plan::chosen_documents

struct StepsInput {
  bool swap = false;      // apply is expected to install the staged file by a rename exchange
  bool live_wal = false;  // live is in WAL mode
  bool by_file = false;   // the documents are exchanged one by one
};
// What apply will do, in order, as sentences.
std::vector<std::string> apply_steps(const Plan& plan, const StepsInput& in);

// Writes plan.json into the plan's staging folder, durably, and registers its digest beside
// live (apply requires it); sets plan_digest.
[[nodiscard]] Result<void> save_plan(Plan& plan);

// --- swap.cpp ---------------------------------------------------------------------------------

// Why the staged database cannot be swapped in for `target` (live, links resolved) by one
// rename exchange, or nullopt: a selective restore, another filesystem, more than one link.
std::optional<std::string> swap_blocker(const Job& job, const fs::path& target);

// Gives `to` the owner, mode and extended attributes of `from` (and none of its own).
// @error kIo naming what could not be set (e.g. another owner without the right to chown).
[[nodiscard]] Result<void> copy_file_metadata(const fs::path& from, const fs::path& to);

// --- apply.cpp --------------------------------------------------------------------------------

[[nodiscard]] Result<ApplyReport> execute(Job job, const ApplyOptions& options);
std::optional<std::string> unsafe_job(const Job& job);
// Why the live documents no longer match the dry run's view of them (names, types, sizes, mtimes,
// inodes; a changed file's hash), or nullopt; the tree as scanned now goes to `now` (a scratch
// tree; left empty when the job has no documents to check).
std::optional<std::string> documents_changed(const Job& job, std::optional<Tree>& now);
// Why a folder of `scanned` (a documents_changed() scan) is no longer as scanned (inode and
// mtime: a file added, removed or renamed in it), or nullopt. Cheap enough for under the lock.
std::optional<std::string> folders_changed(const Job& job, std::optional<Tree>& scanned);

std::uint64_t inode_of(const fs::path& p);  // 0 when absent

}  // namespace restorekit::restore::detail
