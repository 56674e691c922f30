// Checks that only restorekit backups allow (private to verify): every entry against
// restorekit/checksums.xxh128, and the header's promises (entries, sizes, row counts,
// tenants) against what the archive really holds; and any backup's entries against a caller's
// checksum list.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <restorekit/core/backup_format.hpp>
#include <restorekit/core/checksum_index.hpp>
#include <restorekit/core/finding.hpp>

#include "database_checks.hpp"
#include "entry_pass.hpp"
#include "summary.hpp"

namespace restorekit::verify::detail {

struct BackupCheckInput {
  const core::BackupHeader& header;
  const core::EntryStore& entries;
  const std::vector<DatabaseCheck>& databases;
  const EntryTotals& totals;     // total_entries() under the header's documents root
  bool complete = true;          // every entry was seen; otherwise only what was seen is compared
  const EntryResult* checksums;  // restorekit/checksums.xxh128, when present
  core::ChecksumIndex* index;    // the list in name-key order (set where it was read cleanly)
  core::EntryStore::KeyedWalk* walk;  // `entries` by name key, started while the list parsed
  std::uint64_t last_index = 0;       // the index of the archive's last entry
  std::uint64_t checked = 0;          // out: entries compared with the checksum list
};

// @error kDatabase (a query of the entry store failed).
Result<std::vector<core::Finding>> check_backup(BackupCheckInput& in);

// The caller's checksum list (`verify --checksums`, named `list` in findings) merged against
// the entries in name-key order: MISSING_ENTRY and CHECKSUM_MISMATCH findings in line order;
// `checked` counts the entries compared. @error kDatabase, as check_backup.
Result<std::vector<core::Finding>> check_callers_list(core::ChecksumIndex& index,
                                                      const std::string& list,
                                                      core::EntryStore& entries,
                                                      std::uint64_t& checked);

}  // namespace restorekit::verify::detail
