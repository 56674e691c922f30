#include <restorekit/catalog/where.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <map>

#include <fmt/format.h>

#include <restorekit/core/hash.hpp>
#include <restorekit/core/sqlite.hpp>
#include <restorekit/diff/diff.hpp>

namespace restorekit::catalog {

namespace {

using core::quote_identifier;

// A row: its key as text, and each column's value exactly (type and bytes) and for people.
struct Found {
  std::string key;
  std::map<std::string, std::string> exact;
  std::vector<std::pair<std::string, std::string>> shown;
};

std::pair<std::string, std::string> value_of(const core::Statement& st, int i) {
  switch (st.column_type(i)) {
    case core::ValueType::kNull: return {"n", "NULL"};
    case core::ValueType::kInteger: {
      auto v = fmt::format("{}", st.column_int(i));
      return {"i" + v, v};
    }
    case core::ValueType::kReal: {
      return {fmt::format("r{:a}", st.column_double(i)), fmt::format("{}", st.column_double(i))};
    }
    case core::ValueType::kText: {
      std::string t(st.column_text(i));
      return {"t" + t, t};
    }
    case core::ValueType::kBlob: {
      auto b = st.column_blob(i);
      core::Hasher h;
      h.update(b);
      return {"b" + h.digest().hex(), fmt::format("<blob {} bytes>", b.size())};
    }
  }
  return {"n", "NULL"};
}

Result<std::vector<Found>> look_up(const std::filesystem::path& file, const RowQuery& q,
                                   const CancelToken& cancel) {
  RK_TRY_ASSIGN(auto db, core::Database::open_untrusted(file));
  db.stop_when(cancel);
  RK_TRY_ASSIGN(auto schema, core::describe_database(db, core::CountRows::kNo));
  const core::TableInfo* t = core::find_table(schema, q.table);
  if (!t) {
    return fail(ErrorCode::kNotFound, fmt::format("its database has no table \"{}\"", q.table));
  }
  std::vector<std::string> key = t->primary_key;
  if (key.empty()) key = {"rowid"};
  std::string key_text;
  for (std::size_t i = 0; i < key.size(); ++i) {
    key_text += fmt::format("{}coalesce(CAST({} AS TEXT), 'NULL')", i ? " || ',' || " : "",
                            quote_identifier(key[i]));
  }
  std::string where;
  if (q.sql) {
    where = "(" + *q.sql + ")";
  } else {
    if (q.key.size() != key.size()) {
      return fail(ErrorCode::kInvalidArgument,
                  fmt::format("{} has a key of {} column{} ({}) here", q.table, key.size(),
                              key.size() == 1 ? "" : "s", fmt::join(key, ", ")));
    }
    for (std::size_t i = 0; i < key.size(); ++i) {
      where += fmt::format("{}{} = ?{}", i ? " AND " : "", quote_identifier(key[i]), i + 1);
    }
  }
  RK_TRY_ASSIGN(auto st, db.prepare_single(fmt::format("SELECT {}, * FROM {} WHERE {}", key_text,
                                                       quote_identifier(q.table), where)));
  if (!q.sql) {
    for (std::size_t i = 0; i < q.key.size(); ++i)
      core::bind_typed(st, static_cast<int>(i) + 1, q.key[i]);
  }
  std::vector<Found> out;
  RK_TRY(st.for_each([&]() -> Result<void> {
    Found f{std::string(st.column_text(0)), {}, {}};
    for (int i = 1; i < st.column_count(); ++i) {
      std::string name(st.column_name(i));
      auto [exact, shown] = value_of(st, i);
      f.exact[name] = std::move(exact);
      f.shown.emplace_back(std::move(name), std::move(shown));
    }
    out.push_back(std::move(f));
    return {};
  }));
  std::sort(out.begin(), out.end(), [](const Found& a, const Found& b) { return a.key < b.key; });
  return out;
}

// This backup's rows against the next newer backup's.
void compare(RowVersion& v, const std::vector<Found>& here, const std::vector<Found>& newer) {
  std::map<std::string, const Found*> by_key;
  for (const auto& f : newer) by_key[f.key] = &f;
  std::vector<std::string> changed;
  for (const auto& f : here) {
    auto it = by_key.find(f.key);
    if (it == by_key.end()) {
      ++v.only_here;
      continue;
    }
    const Found& n = *it->second;
    for (const auto& [column, value] : f.exact) {
      auto c = n.exact.find(column);
      if (c == n.exact.end() || c->second != value) changed.push_back(column);
    }
    for (const auto& [column, value] : n.exact) {
      if (!f.exact.count(column)) changed.push_back(column);  // a column the newer one added
    }
    by_key.erase(it);
  }
  v.only_newer = by_key.size();
  std::sort(changed.begin(), changed.end());
  changed.erase(std::unique(changed.begin(), changed.end()), changed.end());
  v.changed = std::move(changed);
}

}  // namespace

Result<std::vector<RowVersion>> where(Index& index, const RowQuery& query,
                                      const WhereOptions& options) {
  RK_TRY_ASSIGN(auto all, rows(index, options.root));
  if (options.limit && all.size() > options.limit) all.resize(options.limit);
  diff::BackupDiffOptions staging;
  staging.reader = options.reader;
  staging.database_entry = options.database_entry;
  staging.temp_dir = options.temp_dir;
  staging.index = &index;
  std::vector<RowVersion> out;
  std::optional<std::vector<Found>> newer;
  std::string newer_path;
  ProgressThrottle throttle(options.progress);
  for (auto& row : all) {
    if (options.cancel.cancelled()) return fail(ErrorCode::kCancelled, "catalog where cancelled");
    auto started = std::chrono::steady_clock::now();
    RowVersion v;
    v.backup = std::move(row);
    std::string path = options.root.file_of(v.backup.summary.path).string();
    auto found = [&]() -> Result<std::vector<Found>> {
      if (v.backup.status == Status::kMissing) {
        return fail(ErrorCode::kNotFound, "the file is gone");
      }
      RK_TRY_ASSIGN(auto db, diff::backup_database(core::ArchiveSource(path), staging));
      v.from_index = db.archive_bytes_read == 0;
      return look_up(db.file, query, options.cancel);
    }();
    if (!found && found.error().code == ErrorCode::kCancelled) return tl::unexpected(found.error());
    if (found) {
      v.read = true;
      for (const auto& f : *found) v.keys.push_back(f.key);
      if (!found->empty()) v.values = found->front().shown;
      if (newer) {
        v.compared_with = newer_path;
        compare(v, *found, *newer);
      }
      newer = std::move(*found);
      newer_path = v.backup.summary.path;
    } else {
      v.error = found.error().message;
    }
    v.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    out.push_back(std::move(v));
    throttle.update(Progress{out.size(), all.size(), out.size(), all.size(), path});
  }
  return out;
}

}  // namespace restorekit::catalog
