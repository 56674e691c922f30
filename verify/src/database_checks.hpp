// Checks of one staged database (private to verify): integrity, foreign keys, schema objects
// that call side-effect functions, and documents its reference columns name.
#pragma once

#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include <restorekit/core/entry_store.hpp>
#include <restorekit/core/finding.hpp>
#include <restorekit/core/profile.hpp>
#include <restorekit/core/sqlite.hpp>
#include <restorekit/verify/verify.hpp>

namespace restorekit::verify::detail {

struct DatabaseCheck {
  DatabaseResult result;
  std::vector<core::Finding> findings;
  core::DatabaseSummary summary;  // for header comparisons
  std::vector<core::TenantCount> tenants;
  // What the integrity checks reported, one line per problem, in a fixed order (file-wide
  // structure first, then tables in schema order), at most 20.
  std::vector<std::string> integrity_problems;
};

// Opens `staged` as untrusted (a SQL dump is loaded into a scratch database first) and runs
// every check; the integrity and foreign-key checks per table, on up to `threads` connections
// at once. `entry` names the database in findings. Once `cancel` trips, running queries stop
// and the checks report problems that are not there: the caller discards a cancelled result.
DatabaseCheck check_database(const std::filesystem::path& staged, const std::string& entry,
                             bool sql_dump, const std::optional<std::string>& tenant_column,
                             unsigned threads, const CancelToken& cancel);

// Every value of the profile's reference columns must name a file entry under `root` (looked up
// in `files` under the name rule). Stops early once `cancel` trips.
std::vector<core::Finding> check_document_references(const std::filesystem::path& staged,
                                                     const std::string& entry,
                                                     const std::vector<core::ColumnRef>& refs,
                                                     const std::string& root,
                                                     const core::EntryStore& files,
                                                     const CancelToken& cancel);

}  // namespace restorekit::verify::detail
