// The summary of a verified archive (private to verify): what inspect would say of it, made
// from the same pass, so that the catalog records a verify run without reading the archive
// again.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <restorekit/core/backup_format.hpp>
#include <restorekit/core/entry_store.hpp>
#include <restorekit/core/summary.hpp>

#include "database_checks.hpp"

namespace restorekit::verify::detail {

struct SummaryInput {
  const VerifyReport& report;
  const core::EntryStore& entries;
  const std::optional<core::BackupHeader>& header;  // a valid restorekit header
  std::string header_json;
  const std::vector<DatabaseCheck>& databases;
};

// The fingerprint is left for the caller (verify reads any source; only files have one).
// @error kDatabase (the entry store).
Result<core::ArchiveSummary> summarise(const SummaryInput& in);

}  // namespace restorekit::verify::detail
