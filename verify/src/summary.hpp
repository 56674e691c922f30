// The summary of a verified archive (private to verify): what inspect would say of it, made
// from the same pass, so that the catalog records a verify run without reading the archive
// again.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <restorekit/core/backup_format.hpp>
#include <restorekit/core/entry_store.hpp>
#include <restorekit/core/summary.hpp>

#include "database_checks.hpp"

namespace restorekit::verify::detail {

struct FileCount {
  std::uint64_t files = 0;
  std::uint64_t bytes = 0;
};

// What the entries add up to, from one walk of the store: the summary and our backup's check
// of the header's document totals both read it.
struct EntryTotals {
  bool encrypted = false;
  std::optional<std::int64_t> oldest_mtime;
  std::optional<std::int64_t> newest_mtime;
  // Safe files that are no database (`databases`) and not restorekit's; docs: those under
  // "docs/" (inspect's rule for a foreign backup's documents).
  FileCount all;
  FileCount docs;
  // Every file under `root` (any name), with the bytes of those whose data was read: what our
  // backup's header promises.
  FileCount under_root;
};

// kTallyWhereItAnswers: from the store's tally where it answers exactly (most tar and 7z
// passes), without a walk; kWalk: from a walk of every entry (the tests' cross-check).
enum class Totalling { kTallyWhereItAnswers, kWalk };

// @error kDatabase (the entry store).
Result<EntryTotals> total_entries(const core::EntryStore& entries,
                                  const std::vector<DatabaseCheck>& databases,
                                  std::string_view root,
                                  Totalling how = Totalling::kTallyWhereItAnswers);

struct SummaryInput {
  const VerifyReport& report;
  const std::optional<core::BackupHeader>& header;  // a valid restorekit header
  std::string header_json;
  const std::vector<DatabaseCheck>& databases;
  const EntryTotals& totals;  // total_entries() with these databases
};

// The fingerprint is left for the caller (verify reads any source; only files have one).
core::ArchiveSummary summarise(const SummaryInput& in);

}  // namespace restorekit::verify::detail
