// Checks that only restorekit backups allow (private to verify): every entry against
// restorekit/checksums.xxh128, and the header's promises (entries, sizes, row counts,
// tenants) against what the archive really holds.
#pragma once

#include <vector>

#include <restorekit/core/backup_format.hpp>
#include <restorekit/core/finding.hpp>

#include "database_checks.hpp"
#include "entry_pass.hpp"

namespace restorekit::verify::detail {

struct BackupCheckInput {
  const core::BackupHeader& header;
  const std::vector<EntryResult>& entries;
  const std::vector<DatabaseCheck>& databases;
  bool complete = true;       // every entry was seen; otherwise only what was seen is compared
  std::uint64_t checked = 0;  // out: entries compared with the checksum list
};

std::vector<core::Finding> check_backup(BackupCheckInput& in);

}  // namespace restorekit::verify::detail
