// Rows two database files hold byte for byte, found from their B-tree pages (private to diff).
//
// A diff of a backup against a live database a day later compares mostly equal rows: most of
// the B-tree pages of a table are the same in both files, and where a page differs most of its
// rows usually do not (a few changed, or rows moved to a neighbouring page): such pages are
// compared row by row, each cell's bytes (and its overflow pages) hashed. Reading the pages and
// comparing hashes costs a fraction of decoding and comparing every row, and Debian's SQLite offers
// no page access (no sqlite_dbpage), so the pages are read from the files as SQLite's file format
// describes them (https://www.sqlite.org/fileformat2.html). The result only narrows what the
// row-by-row merge reads: whatever does not parse, or any doubt, leaves a table to the merge.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <restorekit/core/sqlite.hpp>

namespace restorekit::diff::detail {

// One value of a key as a B-tree orders it: a rowid, or a key column of a WITHOUT ROWID table.
struct KeyValue {
  core::ValueType type = core::ValueType::kInteger;
  std::int64_t integer = 0;
  double real = 0;
  std::string bytes;  // text (UTF-8) or blob
  [[nodiscard]] core::Cell cell() const;
};
using Key = std::vector<KeyValue>;

// The rows with keys from `first` to `last` (both included) are the same, byte for byte, in
// both files: B-tree cells (and their overflow pages) that are identical in both, whole leaf
// pages of them or one by one.
struct SharedRun {
  Key first;
  Key last;
  std::uint64_t rows = 0;
};

// A table's B-tree in each file.
struct TreePair {
  std::uint32_t live_root = 0;
  std::uint32_t backup_root = 0;
  // 0: a rowid table, whose keys are rowids. Otherwise a WITHOUT ROWID table whose key is the
  // first `key_columns` values of each record, in ascending BINARY order.
  std::size_t key_columns = 0;
};

// Opens both files for find_shared_runs. nullopt where their pages cannot be compared: a
// header that is not SQLite's, or page sizes, reserved bytes or text encodings that differ.
class PagePair;
std::optional<std::shared_ptr<const PagePair>> open_page_pair(const std::filesystem::path& live,
                                                              const std::filesystem::path& backup);

// Whether live's -wal or -journal holds data: then its latest pages may not be in its main file
// and the pages must not be compared. Ask while holding the read transaction the walk is for.
bool live_journal_holds_data(const std::filesystem::path& live);

// About how many rows live's tree holds: the cell counts down its leftmost path multiplied (0
// where a page does not parse). Reads a page per level.
std::uint64_t estimate_rows(const PagePair& files, std::uint32_t live_root);

// A key range's scan of its own costs the merge about as much as reading this many rows on
// each side: shorter runs are not left out.
constexpr std::uint64_t kRangeCostRows = 16;

// What a table's two trees share: the runs, in key order, at most `max_runs` (the rest is left
// to the merge), and the rows each tree holds in all.
struct SharedRows {
  std::vector<SharedRun> runs;
  std::uint64_t live_rows = 0;
  std::uint64_t backup_rows = 0;
};

// nullopt where a tree does not parse as the file format says or its keys are out of order,
// or where the first quarter of the backup's tree matched nothing in live's.
// Both files must stay unchanged while this reads them (a read transaction open on each).
// Thread-safe.
std::optional<SharedRows> find_shared_runs(const PagePair& files, const TreePair& trees,
                                           std::size_t max_runs = 100'000);

}  // namespace restorekit::diff::detail
