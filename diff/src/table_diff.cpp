#include "table_diff.hpp"

#include <algorithm>

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

// SELECT <key> <compared> <live-only> <tenant> FROM t ORDER BY <key>
Result<core::Statement> scan(const TableJob& job, const Side& side, bool is_live, Layout& layout) {
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
  std::string where;
  if (job.from)
    where += fmt::format(" WHERE {} >= {}", quote_identifier(job.range_column), *job.from);
  if (job.to) {
    where += fmt::format("{} {} < {}", where.empty() ? " WHERE" : " AND",
                         quote_identifier(job.range_column), *job.to);
  }
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
    std::optional<core::Statement> live;
    std::optional<core::Statement> backup;
    if (job_.live.db) {
      RK_TRY_ASSIGN(live, scan(job_, job_.live, true, live_layout_));
    }
    if (job_.backup.db) {
      RK_TRY_ASSIGN(backup, scan(job_, job_.backup, false, backup_layout_));
    }
    for (std::size_t k = 0; k < live_layout_.key_cols.size(); ++k) {
      key_collations_.push_back(!job_.by_content && k < job_.key_collations.size()
                                    ? collation_of(job_.key_collations[k])
                                    : Collation::kBinary);
    }
    RK_TRY_ASSIGN(bool a, step(live));
    RK_TRY_ASSIGN(bool b, step(backup));
    std::uint64_t rows = 0;
    while (a || b) {
      if ((++rows & 0xfff) == 0) {
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
    return std::move(out_);
  }

 private:
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
  TableDiff out_;
};

}  // namespace

Result<TableDiff> diff_table(const TableJob& job, TenantTally& tenants, const CancelToken& cancel,
                             const std::function<void(std::uint64_t)>& progress) {
  return Merge(job, tenants, cancel, progress).run();
}

}  // namespace restorekit::diff::detail
