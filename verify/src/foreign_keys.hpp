// Foreign keys that name their parent's rowid, counted without SQLite's lookup per row (private
// to verify). PRAGMA foreign_key_check(T) descends the parent's b-tree once per row of T and
// key: on the sample's 225,000 child rows that is most of the check's 185 ms. Where SQLite's own
// program for the pragma shows that every key of T is looked up by rowid (one SeekRowid per key,
// nothing else but reads), the parents' rowids are read once into a bitmap and T's key columns
// are scanned once.
//
// It answers only where it is sure to agree with the pragma: a key value that is not an integer
// or NULL (a REAL, TEXT or BLOB, which SQLite converts or rejects by its affinity rules), a
// composite or non-rowid key, a missing parent, or any SQLite error (damage, a cancel) give
// nullopt, and the caller runs the pragma. So do bitmaps over `max_set_bytes`, and parents whose
// rowids span more than twice the lookups the scan would spare (the pragma costs less there).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <restorekit/core/sqlite.hpp>

namespace restorekit::verify::detail {

// Rows of a child table whose key names a missing row of `parent` (the parent's name as the
// foreign key declares it: the pragma's "parent" column). Only parents with rows > 0 appear.
struct ParentViolations {
  std::string parent;
  std::uint64_t rows = 0;
  bool operator==(const ParentViolations&) const = default;
};

inline constexpr std::size_t kMaxParentSetBytes = std::size_t{4} << 20;

// What `SELECT parent, count(*) FROM pragma_foreign_key_check(table) GROUP BY parent` returns,
// ordered by parent; nullopt where only the pragma can tell.
std::optional<std::vector<ParentViolations>> count_rowid_key_violations(
    core::Database& db, const std::string& table, std::size_t max_set_bytes = kMaxParentSetBytes);

}  // namespace restorekit::verify::detail
