// Checks over the names of a whole archive (private to verify), made after the pass from every
// entry in archive order, so that the same archive gives the same findings however many readers
// ran: duplicates under the Unicode name rule, paths that are both a file and a folder, names
// too long to restore, and the one TRUNCATED finding of a zip cut short.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <restorekit/core/finding.hpp>

#include "entry_pass.hpp"

namespace restorekit::verify::detail {

// DUPLICATE_ENTRY: the same name twice is an error (which copy would a restore use?); two
// Unicode spellings of one name are a warning naming both. `keys` receives every file's
// name_key (what document references are matched against).
std::vector<core::Finding> duplicate_names(const std::vector<EntryResult>& entries,
                                           std::set<std::string, std::less<>>& keys);

// PATH_CONFLICT (a file or link that is also a folder holding entries) and NOT_RESTORABLE_HERE
// (names over NAME_MAX, paths over PATH_MAX) for every entry with a safe name.
std::vector<core::Finding> path_checks(const std::vector<EntryResult>& entries);

// The TRUNCATED finding of a zip without its end record: the first entry that failed and the
// last intact one before it; nullopt when no entry failed.
std::optional<core::Finding> zip_truncation(const std::vector<EntryResult>& entries,
                                            std::string_view archive, std::uint64_t size);

}  // namespace restorekit::verify::detail
