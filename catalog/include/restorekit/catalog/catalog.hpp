// catalog: many backups, triaged together. Adds archives to the index (index.hpp), records
// verify runs from the listing the verify pass already made (the archive is not read again),
// verifies many archives in parallel, and says what state each backup is in.
//
// Thread safety: functions taking an Index use it from the calling thread only; verify_many
// opens one Index per worker on the catalog it is given.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <restorekit/catalog/index.hpp>
#include <restorekit/core/archive_reader.hpp>
#include <restorekit/core/profile.hpp>
#include <restorekit/core/progress.hpp>
#include <restorekit/verify/verify.hpp>

#pragma GCC visibility push(default)  // the public API: exported by the shared libraries

namespace restorekit::catalog {

// Where the catalog's names point. Without a root a name is the archive's absolute path; with
// one (a NAS mounted at different places on different machines) archives below it are named by
// their path relative to it, and each machine gives its own mount point.
struct Root {
  std::optional<std::filesystem::path> dir;
  // The name `archive` is filed under: below the root, relative to it; else absolute.
  [[nodiscard]] std::string name_of(const std::filesystem::path& archive) const;
  // The file a name stands for on this machine.
  [[nodiscard]] std::filesystem::path file_of(const std::string& name) const;
};

// What the catalog knows of a backup now.
enum class Status {
  kIntact,      // verified intact since it last changed
  kDamaged,     // verified damaged, or unreadable when added
  kLocked,      // encrypted, and no usable password when verified
  kUnverified,  // listed, never verified
  kChanged,     // the file changed since it was listed (fingerprint)
  kMissing,     // the file is gone
};
std::string_view status_name(Status status);  // "intact", "damaged", "locked", ...

struct Row {
  core::ArchiveSummary summary;
  std::optional<Verification> verification;
  Status status = Status::kUnverified;
  std::int64_t created = 0;  // when the backup was made: the header's time, else newest entry
};

// Every backup in the catalog with its status (its file found through `root`), newest first.
// @error kDatabase.
[[nodiscard]] Result<std::vector<Row>> rows(Index& index, const Root& root = {});

struct AddOptions {
  core::ReaderOptions reader;  // limits; passwords (never prompted: many archives)
  std::optional<core::Profile> profile;
  Root root;
};

enum class AddOutcome { kRead, kUnchanged, kDamaged, kLocked, kNotABackup };
std::string_view outcome_name(AddOutcome outcome);  // "read", "unchanged", ...

// Makes sure the catalog holds the archive with its current fingerprint: an unchanged archive
// is not read; otherwise inspect reads it (the header of our backups, a listing of others). An
// archive that cannot be read is recorded as damaged, an encrypted one without a usable
// password as locked; a file that is no archive is not recorded. `message` receives the reason
// for kDamaged, kLocked and kNotABackup.
AddOutcome add(Index& index, const std::filesystem::path& archive, const AddOptions& options,
               std::string* message = nullptr);

// Records a verify run of `archive` — its listing with hashes, its verdict — and, when the
// catalog does not hold the archive yet, the summary the verify pass made (nothing is read
// again). @error kIo (the archive changed while it was verified), kDatabase.
[[nodiscard]] Result<void> record(Index& index, const std::filesystem::path& archive,
                                  const verify::VerifyReport& report, const Root& root = {});

struct VerifiedArchive {
  std::string path;
  std::optional<core::Verdict> verdict;  // unset: could not be verified (`message` says why)
  std::uint64_t errors = 0;
  std::string message;
};

struct VerifyManyOptions {
  core::ReaderOptions reader;  // passwords are never prompted for
  std::optional<core::Profile> profile;
  Root root;
  unsigned threads = 0;  // archives verified in parallel; 0 = one per core
  bool recheck = false;  // read every backup again, even verified unchanged ones
  // Also read again backups last verified longer ago than this many seconds.
  std::optional<std::int64_t> older_than;
  ProgressFn progress;  // archives done / archives to do
  CancelToken cancel;
  // Called as each archive is done (from the worker, one call at a time): a front end prints it.
  std::function<void(const VerifiedArchive&)> on_archive;
};

struct VerifyManyReport {
  std::vector<VerifiedArchive> archives;  // in the order they finished
  std::uint64_t intact = 0;
  std::uint64_t damaged = 0;
  std::uint64_t locked = 0;
  std::uint64_t failed = 0;   // could not be verified
  std::uint64_t already = 0;  // verified before and unchanged: not read
  std::vector<Row> problems;  // the catalog's damaged and missing backups, after the run
  [[nodiscard]] bool ok() const { return problems.empty() && failed == 0; }
};

// Verifies every backup in the catalog `catalog` (a file or a PostgreSQL URI, as
// Index::open_location takes) that is unverified or changed (or all with
// `recheck`, or those verified longer ago than `older_than`), several at a time, each worker on
// its own connection, and records each run. @error kDatabase (the catalog cannot be opened),
// kCancelled.
[[nodiscard]] Result<VerifyManyReport> verify_many(const std::string& catalog,
                                                   const VerifyManyOptions& options);

// One verify worker among any number, on this machine or others, sharing a catalog (a
// PostgreSQL server for many machines; a SQLite file works for one): it joins the open round,
// or opens one over the archives that are due (as verify_many chooses them), claims archives
// one at a time, heartbeats while it verifies each, and records the verdicts. An archive whose
// claim expired (its worker died) is taken over by the next worker that asks; nobody verifies
// an archive twice in a round otherwise.
struct WorkerOptions {
  core::ReaderOptions reader;  // passwords are never prompted for
  std::optional<core::Profile> profile;
  Root root;                          // this machine's mount point of the catalog's names
  std::string name;                   // how status names this worker; default host:pid
  std::int64_t claim_ttl_ms = 60000;  // a claim without a heartbeat this long is taken over
  bool until_empty = false;           // return when the round is done; else wait for the next one
  std::int64_t idle_ms = 60000;       // without until_empty: the pause between rounds
  bool recheck = false;               // a round this worker opens takes every backup
  std::optional<std::int64_t> older_than;  // ... or also those verified longer ago (seconds)
  CancelToken cancel;
  std::function<void(const VerifiedArchive&)> on_archive;  // as each archive is done
};

struct WorkerReport {
  std::string name;
  std::vector<VerifiedArchive> archives;  // the ones this worker verified, in order
  std::uint64_t intact = 0;
  std::uint64_t damaged = 0;
  std::uint64_t locked = 0;
  std::uint64_t failed = 0;
  std::vector<Row> problems;  // until_empty: the catalog's damaged and missing backups after
  [[nodiscard]] bool ok() const { return problems.empty() && failed == 0; }
};

// How far a verify round is: archives by state ("todo", "claimed", "expired": claimed but
// without a heartbeat for `claim_ttl_ms`, "done"), the verdicts of the done ones, and per worker
// (its name) what it finished and what it holds.
struct RoundProgress {
  struct Worker {
    std::uint64_t done = 0;
    std::vector<std::string> holding;
    std::optional<std::int64_t> heartbeat_ms;  // its newest heartbeat
  };
  std::map<std::string, std::uint64_t> states;
  std::map<std::string, std::uint64_t> verdicts;
  std::map<std::string, Worker> workers;
};
[[nodiscard]] RoundProgress progress_of(const Index::Round& round, std::int64_t now_ms,
                                        std::int64_t claim_ttl_ms);

// Runs a worker on the catalog `catalog` (a file or a URI, as Index::open_location takes)
// until the round is done (until_empty) or it is cancelled. @error kDatabase, kCancelled.
[[nodiscard]] Result<WorkerReport> run_worker(const std::string& catalog,
                                              const WorkerOptions& options);

}  // namespace restorekit::catalog

#pragma GCC visibility pop
