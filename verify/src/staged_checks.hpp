// The checks of the databases a verify stages (private to verify): each starts on a thread of
// its own the moment the pass has staged its database (our backups put the database right
// after the header, so the checks overlap the rest of the pass), and all are collected after
// the pass. The staged files must outlive the checks (the report's staging folder keeps them).
#pragma once

#include <cstdint>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <restorekit/core/backup_format.hpp>
#include <restorekit/verify/verify.hpp>

#include "database_checks.hpp"
#include "entry_pass.hpp"

namespace restorekit::verify::detail {

class StagedChecks {
 public:
  // Each check runs on up to `threads` connections; the profile's tenant column (if any) is
  // counted unless the backup's header names another.
  StagedChecks(const VerifyOptions& o, unsigned threads) : o_(o), threads_(threads) {}

  // The pass read `e` (called on a reader's thread): a staged database starts its checks; the
  // header entry tells the tenant column for the checks that follow it.
  void read(const EntryResult& e);

  // Every check, in entry order, once it has finished; those of entries that turned out
  // damaged after all (no staged file in `notable`) are dropped. Where `tenant_column` is set
  // and a check counted no tenants (it started before the header named the column), they are
  // counted now.
  std::vector<DatabaseCheck> collect(const std::vector<EntryResult>& notable,
                                     const std::optional<std::string>& tenant_column);

  // Waits for the checks still running, whose results are not wanted (a locked backup).
  void join();

 private:
  const VerifyOptions& o_;
  unsigned threads_;
  std::mutex mutex_;
  std::optional<std::string> header_column_;  // the header's tenant column, once read
  std::map<std::uint64_t, std::future<DatabaseCheck>> checks_;  // by entry index
};

}  // namespace restorekit::verify::detail
