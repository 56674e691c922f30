// extract()'s last step (private to restore): each file the pass wrote to the private folder
// is checked against the caller's checksum list and the backup's own (each a ChecksumIndex,
// walked once with the files in name-key order) and renamed into place only when it matches;
// then the folders are made. With --list, it only records what each file would be checked
// against.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>

#include <restorekit/core/checksum_index.hpp>
#include <restorekit/core/finding.hpp>
#include <restorekit/restore/extract.hpp>

#include "extract_table.hpp"

namespace restorekit::restore::detail {

struct PlaceInput {
  const ExtractOptions& options;
  ExtractTable& table;
  core::ChecksumIndex* caller_list;                      // --checksums, when given
  const std::optional<std::filesystem::path>& own_list;  // our backup's, spooled by the pass
  CheckedBy fallback;                                    // what a file no list names was checked by
  std::filesystem::path temp;                            // the private folder the pass wrote into
  core::FindingCap& findings;  // CHECKSUM_MISMATCH, first ones by archive index
};

// @return the files placed (or listed) and their bytes. @error kConflict (a file appeared in
// the target meanwhile), kUnsafePath (a folder on the way is a link or a file), kIo, kDatabase,
// kCancelled.
[[nodiscard]] Result<ExtractTable::Totals> check_and_place(const PlaceInput& in);

// Where the pass writes entry `index`'s data, inside the private folder `temp`.
[[nodiscard]] std::filesystem::path temp_file(const std::filesystem::path& temp,
                                              std::uint64_t index);

}  // namespace restorekit::restore::detail
