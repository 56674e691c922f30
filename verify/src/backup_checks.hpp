// Checks that only restorekit backups allow (private to verify): every entry against
// restorekit/checksums.xxh128, and the header's promises (entries, sizes, row counts,
// tenants) against what the archive really holds.
#pragma once

#include <vector>

#include <restorekit/core/backup_format.hpp>
#include <restorekit/core/finding.hpp>

#include "database_checks.hpp"
#include "entry_pass.hpp"
#include "summary.hpp"

namespace restorekit::verify::detail {

// restorekit/checksums.xxh128 parsed, its lines in name-key order (the order check_backup
// merges them against the entry store in). Pure work on the list's text: it runs on another
// thread while the archive's entries are checked.
struct ChecksumIndex {
  struct Keyed {
    std::string key;
    std::size_t line;
  };
  Result<std::vector<core::ChecksumLine>> lines;  // an error is BAD_CHECKSUMS
  std::vector<Keyed> order;                       // by key, then line
};
ChecksumIndex index_checksums(std::string_view text);

struct BackupCheckInput {
  const core::BackupHeader& header;
  const core::EntryStore& entries;
  const std::vector<DatabaseCheck>& databases;
  const EntryTotals& totals;     // total_entries() under the header's documents root
  bool complete = true;          // every entry was seen; otherwise only what was seen is compared
  const EntryResult* checksums;  // restorekit/checksums.xxh128 with its text, when present
  const ChecksumIndex* index;    // index_checksums() of its text (set where it is readable)
  std::uint64_t last_index = 0;  // the index of the archive's last entry
  std::uint64_t checked = 0;     // out: entries compared with the checksum list
};

// @error kDatabase (a query of the entry store failed).
Result<std::vector<core::Finding>> check_backup(BackupCheckInput& in);

}  // namespace restorekit::verify::detail
