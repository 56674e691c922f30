#include "table_diff.hpp"

#include <algorithm>
#include <array>

#include <fmt/format.h>

#include "values.hpp"

namespace restorekit::diff::detail {

namespace {

using core::quote_identifier;

// Column positions of one side's scan: key, compared, live-only, tenant.
struct Layout {
  std::vector<int> key_cols;  // positions of the key columns (rowid, or within the compared ones)
  int common_begin = 0;
  int common_count = 0;
  int live_only_begin = 0;
  int live_only_count = 0;
  int tenant = -1;
};

using core::has_column;

std::string column_list(const std::vector<std::string>& cols) {
  std::string out;
  for (const auto& c : cols) out += (out.empty() ? "" : ", ") + quote_identifier(c);
  return out;
}

// In a rowid table ordered by a key that is not the rowid, walking the key's index costs a
// random table lookup per row; a sequential scan and SQLite's sorter (bounded memory, spilling
// to temporary files) is about three times faster.
bool sort_instead_of_index(const core::TableInfo& t, const std::vector<std::string>& key) {
  if (t.without_rowid || key.empty()) return false;
  return !(key.size() == 1 && core::is_rowid_alias(t, key[0]));
}

// "(a, b) > (?1, ?2)": one bound of a key range, its parameters numbered from `first`.
std::string range_bound(const std::vector<std::string>& columns, bool after, std::size_t first) {
  std::string cols;
  std::string params;
  for (std::size_t i = 0; i < columns.size(); ++i) {
    cols += fmt::format("{}{}", i ? ", " : "", quote_identifier(columns[i]));
    params += fmt::format("{}?{}", i ? ", " : "", first + i);
  }
  if (columns.size() > 1) {
    cols = "(" + cols + ")";
    params = "(" + params + ")";
  }
  return fmt::format("{} {} {}", cols, after ? ">" : "<", params);
}

// A scan of one key range (its bounds: 1 after, 2 before), or of all the job's ranges at once.
constexpr int kAllRanges = 4;

// The WHERE terms that keep a scan within the job's ranges, for a scan `variant`.
std::string range_terms(const TableJob& job, int variant) {
  std::size_t n = job.range_key.size();
  if (variant == kAllRanges) {
    std::string any;
    for (std::size_t i = 0; i < job.ranges->size(); ++i) {
      const auto& r = (*job.ranges)[i];
      std::string both = r.after ? range_bound(job.range_key, true, 2 * n * i + 1) : "";
      if (r.before) {
        both +=
            (both.empty() ? "" : " AND ") + range_bound(job.range_key, false, 2 * n * i + n + 1);
      }
      any += fmt::format("{}({})", i ? " OR " : "", both.empty() ? "1" : both);
    }
    return " AND (" + any + ")";
  }
  std::string out;
  if (variant & 1) out += " AND " + range_bound(job.range_key, true, 1);
  if (variant & 2) out += " AND " + range_bound(job.range_key, false, n + 1);
  return out;
}

void bind_key(core::Statement& s, const Key& key, std::size_t first) {
  for (std::size_t i = 0; i < key.size(); ++i) {
    int at = static_cast<int>(first + i);
    const KeyValue& v = key[i];
    switch (v.type) {
      case core::ValueType::kInteger: s.bind(at, v.integer); break;
      case core::ValueType::kReal: s.bind(at, v.real); break;
      case core::ValueType::kText: s.bind(at, std::string_view(v.bytes)); break;
      case core::ValueType::kBlob: s.bind_blob(at, v.cell().bytes); break;
      case core::ValueType::kNull: s.bind_null(at); break;
    }
  }
}

// Binds a range's bounds, its parameters numbered from `first` as range_terms numbers them.
void bind_range(core::Statement& s, const KeyRange& r, std::size_t first, std::size_t n) {
  if (r.after) bind_key(s, *r.after, first);
  if (r.before) bind_key(s, *r.before, first + n);
}

// SELECT <key> <compared> <live-only> <tenant> FROM t ORDER BY <key>, within the job's key ranges
// as `variant` (range_terms) says.
Result<core::Statement> scan(const TableJob& job, const Side& side, bool is_live, int variant,
                             Layout& layout) {
  layout = Layout{};
  std::vector<std::string> key = job.by_content ? job.common : job.key;
  // Both sides sort with live's collations, spelled out, so that their orders agree with each
  // other and with the merge's comparisons (COLLATE BINARY keeps the primary-key index usable).
  std::string order_sql = "rowid";
  if (!key.empty()) {
    order_sql.clear();
    for (std::size_t i = 0; i < key.size(); ++i) {
      std::string coll =
          i < job.key_collations.size() && !job.by_content ? job.key_collations[i] : "BINARY";
      order_sql += fmt::format("{}{} COLLATE {}", i ? ", " : "", quote_identifier(key[i]), coll);
    }
  }
  // Each column is read once: key and tenant columns are found among the compared ones.
  auto position = [&](const std::string& name) -> int {
    auto it = std::find(job.common.begin(), job.common.end(), name);
    return it == job.common.end() ? -1
                                  : layout.common_begin + static_cast<int>(it - job.common.begin());
  };
  std::string select;
  if (key.empty()) {
    select = "rowid";
    layout.common_begin = 1;
    layout.key_cols = {0};
  }
  layout.common_count = static_cast<int>(job.common.size());
  if (!job.common.empty()) select += (select.empty() ? "" : ", ") + column_list(job.common);
  for (const auto& k : key) layout.key_cols.push_back(position(k));
  layout.live_only_begin = layout.common_begin + layout.common_count;
  if (is_live && !job.live_only.empty()) {
    select += ", " + column_list(job.live_only);
    layout.live_only_count = static_cast<int>(job.live_only.size());
  }
  if (job.tenant_column && has_column(*side.table, *job.tenant_column)) {
    layout.tenant = position(*job.tenant_column);
    if (layout.tenant < 0) {
      layout.tenant = layout.live_only_begin + layout.live_only_count;
      select += ", " + quote_identifier(*job.tenant_column);
    }
  }
  std::string where = " WHERE 1";
  if (job.from)
    where += fmt::format(" AND {} >= {}", quote_identifier(job.range_column), *job.from);
  if (job.to) where += fmt::format(" AND {} < {}", quote_identifier(job.range_column), *job.to);
  if (job.ranges) where += range_terms(job, variant);
  return side.db->prepare(
      fmt::format("SELECT {} FROM {}{}{} ORDER BY {}", select, quote_identifier(job.name),
                  sort_instead_of_index(*side.table, key) ? " NOT INDEXED" : "", where, order_sql));
}

class Merge {
 public:
  Merge(const TableJob& job, TenantTally& tenants, const CancelToken& cancel,
        const std::function<void(std::uint64_t)>& progress)
      : job_(job), tenants_(tenants), cancel_(cancel), progress_(progress) {}

  Result<TableDiff> run() {
    out_.name = job_.name;
    out_.key = job_.by_content    ? "content"
               : job_.key.empty() ? "rowid"
                                  : fmt::format("primary key ({})", fmt::join(job_.key, ", "));
    if (!job_.ranges) {
      RK_TRY(merge_range(0, nullptr));
    } else if (job_.ranges_at_once) {
      RK_TRY(merge_range(kAllRanges, nullptr));
    } else {
      // One read transaction on each side for all the ranges (a statement stepped and not reset
      // keeps it open): each scan of its own would lock and check the file again.
      std::vector<core::Statement> holds;
      for (const Side* side : {&job_.live, &job_.backup}) {
        if (!side->db) continue;
        RK_TRY_ASSIGN(auto hold, side->db->prepare("SELECT 1 FROM sqlite_schema"));
        RK_TRY(hold.step());
        holds.push_back(std::move(hold));
      }
      for (const auto& r : *job_.ranges) {
        RK_TRY(merge_range((r.after ? 1 : 0) | (r.before ? 2 : 0), &r));
      }
    }
    out_.unchanged += job_.shared_rows;
    out_.unchanged_unread = job_.shared_rows;
    if (progress_ && job_.shared_rows) progress_(job_.shared_rows);
    return std::move(out_);
  }

 private:
  // Merges the rows of a scan `variant` (range_terms): the whole table, one key range, or all
  // the job's ranges at once. Statements are kept for the next range of the same variant.
  Result<void> merge_range(int variant, const KeyRange* range) {
    auto& live = live_scans_[variant];
    auto& backup = backup_scans_[variant];
    if (job_.live.db && !live) {
      RK_TRY_ASSIGN(live, scan(job_, job_.live, true, variant, live_layout_));
    }
    if (job_.backup.db && !backup) {
      RK_TRY_ASSIGN(backup, scan(job_, job_.backup, false, variant, backup_layout_));
    }
    if (key_collations_.empty()) {
      for (std::size_t k = 0; k < live_layout_.key_cols.size(); ++k) {
        key_collations_.push_back(!job_.by_content && k < job_.key_collations.size()
                                      ? collation_of(job_.key_collations[k])
                                      : Collation::kBinary);
      }
    }
    std::size_t n = job_.range_key.size();
    for (auto* s : {&live, &backup}) {
      if (!*s) continue;
      (*s)->reset();
      if (range) bind_range(**s, *range, 1, n);
      if (variant == kAllRanges) {
        for (std::size_t i = 0; i < job_.ranges->size(); ++i)
          bind_range(**s, (*job_.ranges)[i], 2 * n * i + 1, n);
      }
    }
    RK_TRY_ASSIGN(bool a, step(live));
    RK_TRY_ASSIGN(bool b, step(backup));
    while (a || b) {
      if ((++rows_ & 0xfff) == 0) {
        if (cancel_.cancelled()) return fail(ErrorCode::kCancelled, "diff cancelled");
        if (progress_) progress_(0x1000);
      }
      int c = !a ? 1 : !b ? -1 : compare_keys(*live, *backup);
      if (c < 0) {
        lost(*live);
        RK_TRY_ASSIGN(a, step(live));
      } else if (c > 0) {
        revived(*backup);
        RK_TRY_ASSIGN(b, step(backup));
      } else {
        matched(*live, *backup);
        RK_TRY_ASSIGN(a, step(live));
        RK_TRY_ASSIGN(b, step(backup));
      }
    }
    return {};
  }

  static Result<bool> step(std::optional<core::Statement>& s) {
    if (!s) return false;
    return s->step();
  }

  int compare_keys(const core::Statement& l, const core::Statement& b) const {
    for (std::size_t k = 0; k < live_layout_.key_cols.size(); ++k) {
      int c = compare_columns(l, live_layout_.key_cols[k], b, backup_layout_.key_cols[k],
                              key_collations_[k]);
      if (c != 0) return c;
    }
    return 0;
  }

  // Column by column, stopping at the first difference (no copy, no hash).
  bool same_row(const core::Statement& l, const core::Statement& b) const {
    for (int i = 0; i < live_layout_.common_count; ++i) {
      if (!same_value(l, live_layout_.common_begin + i, b, backup_layout_.common_begin + i)) {
        return false;
      }
    }
    return true;
  }

  TenantDiff* tenant_of(const core::Statement& s, const Layout& layout) {
    if (layout.tenant < 0) return nullptr;
    std::string_view id = s.column_text(layout.tenant);
    auto it = tenants_.find(id);  // no allocation for a tenant already seen
    if (it == tenants_.end())
      it = tenants_.emplace(std::string(id), TenantDiff{std::string(id), {}, 0, 0, 0}).first;
    return &it->second;
  }

  std::string key_text(const core::Statement& s, const Layout& layout) const {
    const std::vector<std::string>& key = job_.by_content ? job_.common : job_.key;
    if (key.empty()) return fmt::format("rowid={}", literal(s, 0));
    std::string out;
    for (std::size_t i = 0; i < key.size(); ++i) {
      out += fmt::format("{}{}={}", i ? ", " : "", key[i], literal(s, layout.key_cols[i]));
    }
    return out;
  }

  void lost(const core::Statement& l) {
    ++out_.lost;
    if (auto* t = tenant_of(l, live_layout_)) ++t->lost;
    if (out_.lost_samples.size() < job_.samples)
      out_.lost_samples.push_back({key_text(l, live_layout_), {}});
  }

  void revived(const core::Statement& b) {
    ++out_.revived;
    if (auto* t = tenant_of(b, backup_layout_)) ++t->revived;
    if (out_.revived_samples.size() < job_.samples) {
      out_.revived_samples.push_back({key_text(b, backup_layout_), {}});
    }
  }

  void matched(const core::Statement& l, const core::Statement& b) {
    bool live_only_value = false;
    for (int i = 0; i < live_layout_.live_only_count; ++i) {
      live_only_value = live_only_value ||
                        l.column_type(live_layout_.live_only_begin + i) != core::ValueType::kNull;
    }
    if (!live_only_value && same_row(l, b)) {
      ++out_.unchanged;
      return;
    }
    ++out_.reverted;
    if (auto* t = tenant_of(l, live_layout_)) ++t->reverted;
    if (out_.reverted_samples.size() < job_.samples) out_.reverted_samples.push_back(changes(l, b));
  }

  RowSample changes(const core::Statement& l, const core::Statement& b) const {
    RowSample sample{key_text(l, live_layout_), {}};
    for (int i = 0; i < live_layout_.common_count; ++i) {
      int li = live_layout_.common_begin + i;
      int bi = backup_layout_.common_begin + i;
      if (!same_value(l, li, b, bi)) {
        sample.changes.push_back(
            {job_.common[static_cast<std::size_t>(i)], literal(l, li), literal(b, bi)});
      }
    }
    for (int i = 0; i < live_layout_.live_only_count; ++i) {
      int li = live_layout_.live_only_begin + i;
      if (l.column_type(li) == core::ValueType::kNull) continue;
      sample.changes.push_back(
          {job_.live_only[static_cast<std::size_t>(i)], literal(l, li), "(no such column)"});
    }
    return sample;
  }

  const TableJob& job_;
  TenantTally& tenants_;
  const CancelToken& cancel_;
  const std::function<void(std::uint64_t)>& progress_;
  Layout live_layout_;
  Layout backup_layout_;
  std::vector<Collation> key_collations_;  // per key column, as compare_keys uses them
  std::array<std::optional<core::Statement>, kAllRanges + 1> live_scans_;  // by variant
  std::array<std::optional<core::Statement>, kAllRanges + 1> backup_scans_;
  std::uint64_t rows_ = 0;
  TableDiff out_;
};

}  // namespace

Result<TableDiff> diff_table(const TableJob& job, TenantTally& tenants, const CancelToken& cancel,
                             const std::function<void(std::uint64_t)>& progress) {
  return Merge(job, tenants, cancel, progress).run();
}

}  // namespace restorekit::diff::detail
