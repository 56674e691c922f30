// Checks over the names of a whole archive (private to verify), made after the pass from every
// entry (queries over the EntryStore) in archive order, so that the same archive gives the
// same findings however many readers ran: duplicates under the Unicode name rule, paths that
// are both a file and a folder, names too long to restore, and the one TRUNCATED finding of a
// zip cut short.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <restorekit/core/finding.hpp>

#include "entry_pass.hpp"

namespace restorekit::verify::detail {

// DUPLICATE_ENTRY: the same name twice is an error (which copy would a restore use?); two
// Unicode spellings of one name are a warning naming both. @error kDatabase.
Result<std::vector<core::Finding>> duplicate_names(const core::EntryStore& store);

// PATH_CONFLICT (a file or link that is also a folder holding entries) for every entry with a
// safe name, then NOT_RESTORABLE_HERE (names over NAME_MAX, paths over PATH_MAX) from the
// entries kept in memory (`notable`, in index order). @error kDatabase.
Result<std::vector<core::Finding>> path_checks(const core::EntryStore& store,
                                               const std::vector<EntryResult>& notable);

// The TRUNCATED finding of a zip without its end record: the first entry that failed and the
// last intact one before it; nullopt when no entry failed. @error kDatabase.
Result<std::optional<core::Finding>> zip_truncation(const core::EntryStore& store,
                                                    const std::vector<EntryResult>& notable,
                                                    std::string_view archive, std::uint64_t size);

}  // namespace restorekit::verify::detail
