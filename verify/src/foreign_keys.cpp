#include "foreign_keys.hpp"

#include <algorithm>
#include <array>
#include <map>
#include <string_view>

#include <fmt/format.h>

namespace restorekit::verify::detail {

namespace {

using core::Database;
using core::ValueType;

// The opcodes of PRAGMA foreign_key_check(T) where every key of T is looked up by rowid (SQLite
// 3.40's pragma.c: open T and each parent, then per row and key: read the column, skip NULL,
// SeekRowid, report). Anything else (an index probe, a generated column's expression) is a
// program this file does not model.
constexpr std::array<std::string_view, 18> kRowidCheckOpcodes = {
    "Init",   "Expire", "Transaction",  "TableLock", "OpenRead",  "String8",
    "Rewind", "Column", "RealAffinity", "IsNull",    "SeekRowid", "Goto",
    "Rowid",  "Null",   "Integer",      "ResultRow", "Next",      "Halt"};

// A parent's rowids, read once: a bitmap over their range, or sorted where the range is too wide
// for the memory left.
class RowidSet {
 public:
  // nullopt where SQLite fails or the set needs more than `budget` bytes (taken from it).
  static std::optional<RowidSet> read(Database& db, const std::string& parent,
                                      std::size_t& budget) {
    auto key = primary_key_column(db, parent);
    if (!key) return std::nullopt;
    auto range = db.prepare(
        fmt::format("SELECT min({0}), max({0}) FROM {1}", *key, core::quote_identifier(parent)));
    if (!range) return std::nullopt;
    auto row = range->step();
    if (!row || !*row) return std::nullopt;
    RowidSet set;
    if (range->column_type(0) != ValueType::kInteger) return set;  // no rows
    set.low_ = range->column_int(0);
    // The difference in unsigned arithmetic: exact for any two 64-bit integers.
    std::uint64_t span =
        static_cast<std::uint64_t>(range->column_int(1)) - static_cast<std::uint64_t>(set.low_);
    std::uint64_t words = span / 64 + 1;
    if (words <= budget / sizeof(std::uint64_t)) {
      set.bits_.assign(words, 0);
      budget -= words * sizeof(std::uint64_t);
      set.bitmap_ = true;
    }
    auto keys = db.prepare(fmt::format("SELECT {} FROM {}{}", *key, core::quote_identifier(parent),
                                       set.bitmap_ ? "" : fmt::format(" ORDER BY {}", *key)));
    if (!keys) return std::nullopt;
    auto read = keys->for_each([&]() -> Result<void> {
      std::int64_t k = keys->column_int(0);
      if (set.bitmap_) {
        std::uint64_t at = static_cast<std::uint64_t>(k) - static_cast<std::uint64_t>(set.low_);
        set.bits_[at / 64] |= std::uint64_t{1} << (at % 64);
        return {};
      }
      if (budget < sizeof k) return tl::unexpected(Error{});
      budget -= sizeof k;
      set.sorted_.push_back(k);
      return {};
    });
    if (!read) return std::nullopt;
    return set;
  }

  [[nodiscard]] bool contains(std::int64_t k) const {
    if (!bitmap_) return std::binary_search(sorted_.begin(), sorted_.end(), k);
    std::uint64_t at = static_cast<std::uint64_t>(k) - static_cast<std::uint64_t>(low_);
    return at / 64 < bits_.size() && (bits_[at / 64] >> (at % 64) & 1) != 0;
  }

 private:
  // The parent's INTEGER PRIMARY KEY (its rowid's other name), quoted: `rowid` itself may be
  // an ordinary column's name.
  static std::optional<std::string> primary_key_column(Database& db, const std::string& parent) {
    auto st = db.prepare("SELECT name FROM pragma_table_info(?1) WHERE pk > 0");
    if (!st) return std::nullopt;
    st->bind(1, parent);
    std::optional<std::string> name;
    std::size_t count = 0;
    auto done = st->for_each([&]() -> Result<void> {
      ++count;
      name = core::quote_identifier(st->column_text(0));
      return {};
    });
    if (!done || count != 1) return std::nullopt;
    return name;
  }

  std::int64_t low_ = 0;
  bool bitmap_ = false;
  std::vector<std::uint64_t> bits_;   // bit k - low_: rowid k is present
  std::vector<std::int64_t> sorted_;  // where the range is too wide for a bitmap
};

struct Key {
  std::string parent;  // as declared (the pragma's "parent" column)
  std::string column;  // in the child, quoted
  const RowidSet* parents = nullptr;
  std::uint64_t missing = 0;
};

// The table's foreign keys, where each has one column; nullopt for a composite key or an error.
std::optional<std::vector<Key>> single_column_keys(Database& db, const std::string& table) {
  auto st = db.prepare(
      "SELECT id, seq, \"table\", \"from\" FROM pragma_foreign_key_list(?1) ORDER BY id, seq");
  if (!st) return std::nullopt;
  st->bind(1, table);
  std::vector<Key> keys;
  auto done = st->for_each([&]() -> Result<void> {
    if (st->column_int(1) != 0) return tl::unexpected(Error{});
    keys.push_back(
        Key{std::string(st->column_text(2)), core::quote_identifier(st->column_text(3))});
    return {};
  });
  if (!done) return std::nullopt;
  return keys;
}

// True where SQLite's program for the pragma looks every one of `keys` up by rowid and does
// nothing this file does not model.
bool pragma_seeks_rowids(Database& db, const std::string& table, std::size_t keys) {
  auto st = db.prepare(
      fmt::format("EXPLAIN PRAGMA foreign_key_check({})", core::quote_identifier(table)));
  if (!st) return false;
  std::size_t seeks = 0;
  auto done = st->for_each([&]() -> Result<void> {
    std::string_view op = st->column_text(1);
    if (std::find(kRowidCheckOpcodes.begin(), kRowidCheckOpcodes.end(), op) ==
        kRowidCheckOpcodes.end()) {
      return tl::unexpected(Error{});
    }
    seeks += op == "SeekRowid" ? 1 : 0;
    return {};
  });
  return done && seeks == keys;
}

}  // namespace

std::optional<std::vector<ParentViolations>> count_rowid_key_violations(Database& db,
                                                                        const std::string& table,
                                                                        std::size_t max_set_bytes) {
  auto keys = single_column_keys(db, table);
  if (!keys || keys->empty() || !pragma_seeks_rowids(db, table, keys->size())) {
    return std::nullopt;
  }
  std::map<std::string, RowidSet, std::less<>> sets;
  std::size_t budget = max_set_bytes;
  std::string columns;
  for (auto& key : *keys) {
    auto at = sets.find(key.parent);
    if (at == sets.end()) {
      auto set = RowidSet::read(db, key.parent, budget);
      if (!set) return std::nullopt;
      at = sets.emplace(key.parent, std::move(*set)).first;
    }
    key.parents = &at->second;
    columns += (columns.empty() ? "" : ", ") + key.column;
  }
  // Any order will do (the counts are totals), so SQLite may scan a covering index.
  auto rows = db.prepare(fmt::format("SELECT {} FROM {}", columns, core::quote_identifier(table)));
  if (!rows) return std::nullopt;
  const int n = static_cast<int>(keys->size());
  auto scanned = rows->for_each([&]() -> Result<void> {
    for (int i = 0; i < n; ++i) {
      auto type = rows->column_type(i);
      if (type == ValueType::kNull) continue;
      // SQLite turns a REAL or TEXT key into an integer where it can, by rules not repeated
      // here; a BLOB never names a row. Such a table goes to the pragma.
      if (type != ValueType::kInteger) return tl::unexpected(Error{});
      Key& key = (*keys)[static_cast<std::size_t>(i)];
      if (!key.parents->contains(rows->column_int(i))) ++key.missing;
    }
    return {};
  });
  if (!scanned) return std::nullopt;
  std::map<std::string, std::uint64_t> by_parent;
  for (const auto& key : *keys) {
    if (key.missing > 0) by_parent[key.parent] += key.missing;
  }
  std::vector<ParentViolations> out;
  for (auto& [parent, rows_missing] : by_parent) out.push_back({parent, rows_missing});
  return out;
}

}  // namespace restorekit::verify::detail
