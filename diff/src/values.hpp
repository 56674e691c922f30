// Value comparison and canonical encoding for diff (private).
//
// Keys are compared the way SQLite's ORDER BY sorts them with the BINARY collation: NULL, then
// numbers by value (integer and real mixed), then text (bytewise), then blobs (bytewise), so
// that a merge of two ordered scans sees keys in the same order. Row contents are hashed in a
// canonical, type-tagged encoding in which an integral REAL equals the INTEGER of the same value
// (as `IS NOT` has it) and text never equals a blob.
#pragma once

#include <string>

#include <restorekit/core/hash.hpp>
#include <restorekit/core/sqlite.hpp>

namespace restorekit::diff::detail {

// The built-in collations a key column may declare.
enum class Collation { kBinary, kNocase, kRtrim };
Collation collation_of(std::string_view name);  // "NOCASE", "RTRIM", anything else: BINARY

// <0, 0, >0 as column `i` of `a` sorts before, with or after column `j` of `b` (text compared
// with `collation`, as ORDER BY ... COLLATE does).
int compare_columns(const core::Cell& a, const core::Cell& b, Collation collation);
int compare_columns(const core::Statement& a, int i, const core::Statement& b, int j,
                    Collation collation = Collation::kBinary);

// Whether column `i` of `a` holds the same value as column `j` of `b`, as SQL's IS says: numbers
// by value (1 IS 1.0), text and blobs byte for byte, NULL only as NULL.
bool same_value(const core::Cell& a, const core::Cell& b);
bool same_value(const core::Statement& a, int i, const core::Statement& b, int j);

// A SQL literal for column `i` (strings quoted, blobs as X'..', long values shortened).
std::string literal(const core::Statement& s, int i);

}  // namespace restorekit::diff::detail
