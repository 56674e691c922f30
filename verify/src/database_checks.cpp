#include "database_checks.hpp"

#include "foreign_keys.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <map>
#include <optional>
#include <thread>
#include <tuple>

#include <fmt/format.h>

#include <restorekit/core/names.hpp>
#include <restorekit/core/safe_path.hpp>
#include <restorekit/core/sql_dump.hpp>

namespace restorekit::verify::detail {

namespace {

using core::Finding;
using core::Severity;

constexpr int kMaxIntegrityMessages = 20;
constexpr std::size_t kMaxExampleRows = 10;
// Page cache shared out among the check workers: with SQLite's default 2 MiB, a foreign-key
// check's parent lookups and an index check re-read most pages through pread; 8 MiB halves
// their time. Bounded in total, so that the peak stays under 64 MiB on any machine.
constexpr std::int64_t kCheckCacheKiB = 16 * 1024;
constexpr std::int64_t kMinWorkerCacheKiB = 2 * 1024;
constexpr std::int64_t kMaxSplitTables = 256;
constexpr std::int64_t kSplitEntriesPerPage = 16;  // see plan_jobs

// Functions with effects outside the database (SQLite's shell and extensions).
constexpr std::array<std::string_view, 11> kSideEffectFunctions = {
    "load_extension", "writefile",      "readfile",         "edit",   "fts3_tokenizer", "zipfile",
    "fsdir",          "sqlar_compress", "sqlar_uncompress", "shell_", "system"};

// Virtual table modules that only read and write inside the database.
constexpr std::array<std::string_view, 6> kInnocuousModules = {"fts3",  "fts4",    "fts5",
                                                               "rtree", "geopoly", "fts5vocab"};

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool calls_function(const std::string& sql, std::string_view fn) {
  for (std::size_t pos = sql.find(fn); pos != std::string::npos; pos = sql.find(fn, pos + 1)) {
    bool word_start = pos == 0 || !(std::isalnum(static_cast<unsigned char>(sql[pos - 1])) ||
                                    sql[pos - 1] == '_');
    if (!word_start) continue;
    if (fn.back() == '_') return true;  // a prefix family such as shell_*
    std::size_t after = pos + fn.size();
    while (after < sql.size() && std::isspace(static_cast<unsigned char>(sql[after]))) ++after;
    if (after < sql.size() && sql[after] == '(') return true;
  }
  return false;
}

std::string virtual_module(const std::string& lowered_sql) {
  auto pos = lowered_sql.find(" using ");
  if (pos == std::string::npos) return {};
  std::size_t start = pos + 7;
  while (start < lowered_sql.size() && std::isspace(static_cast<unsigned char>(lowered_sql[start])))
    ++start;
  std::size_t end = start;
  while (end < lowered_sql.size() &&
         (std::isalnum(static_cast<unsigned char>(lowered_sql[end])) || lowered_sql[end] == '_')) {
    ++end;
  }
  return lowered_sql.substr(start, end - start);
}

// One unit of the integrity and foreign-key checks, run on a worker's own connection.
// PRAGMA integrity_check(T) checks table T and its indexes but skips the file-wide accounting
// (the freelist, pages never used or used twice), which PRAGMA quick_check does: together they
// cover what a whole integrity_check covers, and the tables spread over the cores.
struct CheckJob {
  enum class Kind { kWholeFile, kStructure, kTable, kForeignKeys };
  CheckJob(Kind k, std::string t, std::int64_t c) : kind(k), table(std::move(t)), cost(c) {}
  Kind kind;
  std::string table;
  std::int64_t cost = 0;  // for scheduling: the largest first
  std::vector<std::string> problems;
  bool capped = false;
  struct Violations {
    std::string table, parent;
    std::uint64_t rows = 0;
  };
  std::vector<Violations> violations;
};

std::string job_sql(const CheckJob& job) {
  switch (job.kind) {
    case CheckJob::Kind::kWholeFile:
      return fmt::format("PRAGMA integrity_check({})", kMaxIntegrityMessages);
    case CheckJob::Kind::kStructure:
      return fmt::format("PRAGMA quick_check({})", kMaxIntegrityMessages);
    case CheckJob::Kind::kTable:
      return fmt::format("PRAGMA integrity_check({})", core::quote_identifier(job.table));
    case CheckJob::Kind::kForeignKeys:
      // An empty table name: every table (the schema could not be listed).
      return fmt::format(
          "SELECT \"table\", parent, count(*) FROM pragma_foreign_key_check{} GROUP BY 1, 2",
          job.table.empty() ? "" : "(?1)");
  }
  return {};
}

void run_job(core::Database& db, CheckJob& job) {
  if (job.kind == CheckJob::Kind::kForeignKeys && !job.table.empty()) {
    if (auto counted = count_rowid_key_violations(db, job.table)) {
      for (auto& v : *counted) job.violations.push_back({job.table, std::move(v.parent), v.rows});
      return;
    }
  }
  auto st = db.prepare(job_sql(job));
  if (!st) {
    job.problems.push_back(st.error().message);
    return;
  }
  if (job.kind == CheckJob::Kind::kForeignKeys && !job.table.empty()) st->bind(1, job.table);
  auto done = st->for_each([&]() -> Result<void> {
    if (job.kind == CheckJob::Kind::kForeignKeys) {
      job.violations.push_back({std::string(st->column_text(0)), std::string(st->column_text(1)),
                                static_cast<std::uint64_t>(st->column_int(2))});
      return {};
    }
    // A row may hold several problems, one per line, under a "*** in database" heading.
    std::string_view text = st->column_text(0);
    while (!text.empty()) {
      auto end = std::min(text.find('\n'), text.size());
      std::string_view line = text.substr(0, end);
      text.remove_prefix(std::min(end + 1, text.size()));
      if (line.empty() || line == "ok" || line.starts_with("*** in database")) continue;
      if (job.problems.size() >= static_cast<std::size_t>(kMaxIntegrityMessages)) {
        job.capped = true;
      } else {
        job.problems.emplace_back(line);
      }
    }
    return {};
  });
  // The whole-file and structure checks stop at kMaxIntegrityMessages: that many may be more.
  bool limited = job.kind == CheckJob::Kind::kWholeFile || job.kind == CheckJob::Kind::kStructure;
  if (limited && job.problems.size() >= static_cast<std::size_t>(kMaxIntegrityMessages)) {
    job.capped = true;
  }
  // A check that stops half-way (a page SQLite cannot parse) is a problem, not a pass.
  if (!done) job.problems.push_back(done.error().message);
}

// The tables' jobs, with what plan_jobs weighs: an integrity check per table, a foreign-key check
// per table that declares keys, the rows they hold and the index entries pointing at them.
struct TableJobs {
  std::vector<CheckJob> integrity, foreign_keys;
  std::int64_t rows = 0;
  std::int64_t index_entries = 0;  // of rowid tables (the others' rows are not estimated)
};

std::optional<TableJobs> list_table_jobs(core::Database& db) {
  using Kind = CheckJob::Kind;
  std::map<std::string, std::int64_t, std::less<>> indexes;
  auto by_table = db.prepare(
      "SELECT tbl_name, count(*) FROM sqlite_schema WHERE type = 'index' GROUP BY tbl_name");
  if (!by_table) return std::nullopt;
  auto counted = by_table->for_each([&]() -> Result<void> {
    indexes[std::string(by_table->column_text(0))] = by_table->column_int(1);
    return {};
  });
  if (!counted) return std::nullopt;
  auto tables = db.prepare(
      "SELECT m.name, (SELECT count(*) FROM pragma_foreign_key_list(m.name)) "
      "FROM sqlite_schema m WHERE m.type = 'table' AND m.rootpage > 0");
  if (!tables) return std::nullopt;
  TableJobs out;
  auto listed = tables->for_each([&]() -> Result<void> {
    std::string name(tables->column_text(0));
    // max(rowid) is a cheap size estimate (a descent of the b-tree), capped so that sums of
    // hostile rowids cannot overflow; a WITHOUT ROWID table has none and is taken as large, so
    // that it starts early.
    constexpr std::int64_t kLarge = std::int64_t{1} << 40;
    std::int64_t rows = kLarge;
    auto idx = indexes.find(name);
    std::int64_t index_count = idx == indexes.end() ? 0 : idx->second;
    if (auto n = db.query_int(
            fmt::format("SELECT coalesce(max(rowid), 0) FROM {}", core::quote_identifier(name)))) {
      rows = std::clamp<std::int64_t>(*n, 1, kLarge);
      out.index_entries += rows * index_count;
    }
    out.rows += rows;
    out.integrity.emplace_back(Kind::kTable, name, rows * (1 + index_count));
    if (tables->column_int(1) > 0) {
      out.foreign_keys.emplace_back(Kind::kForeignKeys, name, rows * tables->column_int(1));
    }
    return {};
  });
  if (!listed) return std::nullopt;
  return out;
}

// The checks to run: file-wide structure plus one integrity check per table, and one
// foreign-key check per table that declares foreign keys; a single whole integrity_check and
// foreign_key_check where the file has one table, more than kMaxSplitTables, or a schema that
// cannot be listed. Split, the structure walk visits every page a second time (crm: 56 + 79 ms
// against the whole check's 83; the sample: 48 + 204 against 204), which only pays where the
// whole check would be the one long job: three workers or more, or two where the whole check
// spends its time on index entries (each looked up from its row, ~0.5-0.7 us) rather than on
// pages (~4-8 us each), kSplitEntriesPerPage or more of them per page. Elsewhere on two the
// whole integrity_check runs beside the foreign-key checks, and beside the archive still
// being decoded (the sample, 36 entries a page: verify of its Info-ZIP zip 0.255 -> 0.228 s
// split; crm, 6.5 a page: 0.191 -> 0.197 s, so it stays whole).
std::vector<CheckJob> plan_jobs(core::Database& db, unsigned threads) {
  using Kind = CheckJob::Kind;
  auto whole = [&] {
    std::vector<CheckJob> all;
    all.emplace_back(Kind::kWholeFile, "", 2);
    all.emplace_back(Kind::kForeignKeys, "", 1);
    return all;
  };
  // integrity_check(T) walks the whole schema to find T's b-trees: split, n tables cost n^2
  // (2,000 tables: 9x one whole check). Past kMaxSplitTables a hostile or unusual schema gets
  // the whole-file checks instead.
  auto count =
      db.query_int("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND rootpage > 0");
  if (!count || *count > kMaxSplitTables) return whole();
  auto tables = list_table_jobs(db);
  if (!tables) return whole();
  auto pages = db.query_int("PRAGMA page_count");
  bool index_heavy = pages && tables->index_entries >= kSplitEntriesPerPage * *pages;
  bool split = tables->integrity.size() > 1 && (threads > 2 || (threads == 2 && index_heavy));
  std::vector<CheckJob> jobs;
  if (split) {
    jobs.emplace_back(Kind::kStructure, "", tables->rows);
    for (auto& j : tables->integrity) jobs.push_back(std::move(j));
  } else {
    jobs.emplace_back(Kind::kWholeFile, "", tables->rows);
  }
  for (auto& j : tables->foreign_keys) jobs.push_back(std::move(j));
  return jobs;
}

// Runs `jobs` on up to `threads` workers, each on its own read-only connection, largest first.
void run_jobs(const std::filesystem::path& db_path, std::vector<CheckJob>& jobs, unsigned threads,
              const CancelToken& cancel) {
  std::vector<std::size_t> order(jobs.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return jobs[a].cost > jobs[b].cost; });
  std::atomic<std::size_t> next{0};
  unsigned n = static_cast<unsigned>(std::min<std::size_t>(std::max(1u, threads), jobs.size()));
  std::int64_t cache_kib = std::max(kMinWorkerCacheKiB, kCheckCacheKiB / std::max(1u, n));
  auto worker = [&] {
    auto db = core::Database::open_untrusted(db_path);
    if (db) {
      db->stop_when(cancel);
      (void)db->exec(fmt::format("PRAGMA cache_size = -{}", cache_kib));
    }
    for (std::size_t i; (i = next.fetch_add(1)) < order.size();) {
      CheckJob& job = jobs[order[i]];
      if (db) {
        run_job(*db, job);
      } else {
        job.problems.push_back(db.error().message);
      }
    }
  };
  std::vector<std::thread> pool;
  for (unsigned w = 1; w < n; ++w) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
}

void integrity_findings(const std::vector<CheckJob>& jobs, const std::string& entry,
                        DatabaseCheck& out) {
  std::vector<std::string> problems;
  bool capped = false;
  for (const auto& job : jobs) {
    if (job.kind == CheckJob::Kind::kForeignKeys) {
      // A foreign-key check that could not run says nothing about integrity.
      continue;
    }
    capped = capped || job.capped;
    for (const auto& p : job.problems) {
      // quick_check and a table's integrity_check walk the same b-tree: one line per problem.
      if (std::find(problems.begin(), problems.end(), p) != problems.end()) continue;
      if (problems.size() >= static_cast<std::size_t>(kMaxIntegrityMessages)) {
        capped = true;
        break;
      }
      problems.push_back(p);
    }
  }
  out.result.integrity_ok = problems.empty();
  out.integrity_problems = problems;
  if (problems.empty()) return;
  std::string joined;
  for (std::size_t i = 0; i < problems.size() && i < 3; ++i) {
    joined += (i ? "; " : "") + problems[i];
  }
  out.findings.push_back(
      Finding{"DB_INTEGRITY", Severity::kError, entry,
              fmt::format("database {} fails PRAGMA integrity_check ({} problem{}{}): {}", entry,
                          problems.size(), problems.size() == 1 ? "" : "s",
                          capped ? " or more" : "", joined)});
}

void foreign_key_findings(const std::vector<CheckJob>& jobs, const std::string& entry,
                          DatabaseCheck& out) {
  std::vector<CheckJob::Violations> all;
  for (const auto& job : jobs) {
    all.insert(all.end(), job.violations.begin(), job.violations.end());
  }
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
    return std::tie(a.table, a.parent) < std::tie(b.table, b.parent);
  });
  for (const auto& v : all) {
    out.result.foreign_key_violations += v.rows;
    out.findings.push_back(Finding{
        "DB_FOREIGN_KEY", Severity::kWarning, fmt::format("{}:{}", entry, v.table),
        fmt::format("{} row{} of table {} in {} reference{} missing rows of {} (declared foreign "
                    "key not enforced by the application)",
                    v.rows, v.rows == 1 ? "" : "s", v.table, entry, v.rows == 1 ? "s" : "",
                    v.parent)});
  }
}

void untrusted_schema(const core::DatabaseSummary& s, const std::string& entry,
                      DatabaseCheck& out) {
  auto flag = [&](std::string_view type, const std::string& name, const std::string& why) {
    out.findings.push_back(
        Finding{"UNTRUSTED_SCHEMA", Severity::kWarning, fmt::format("{}:{}", entry, name),
                fmt::format("{} {} in {} {}; restorekit never runs it, but the application would",
                            type, name, entry, why)});
  };
  for (const auto& o : s.objects) {
    if (o.type == "index") continue;
    std::string sql = lower(o.sql);
    for (auto fn : kSideEffectFunctions) {
      if (calls_function(sql, fn)) {
        flag(o.type, o.name,
             fmt::format("calls {}(), a function with effects outside the "
                         "database",
                         fn));
        break;
      }
    }
  }
  for (const auto& t : s.tables) {
    if (t.kind != "virtual") continue;
    std::string module = virtual_module(lower(t.sql));
    bool innocuous = std::find(kInnocuousModules.begin(), kInnocuousModules.end(), module) !=
                     kInnocuousModules.end();
    if (!innocuous) {
      flag("virtual table", t.name,
           fmt::format("uses module \"{}\", which may reach outside the database", module));
    }
  }
}

void too_wide(const core::DatabaseSummary& s, const std::string& entry, DatabaseCheck& out) {
  for (const auto& t : s.tables) {
    if (!core::too_wide_to_select(t)) continue;
    out.findings.push_back(Finding{
        "NOT_RESTORABLE_HERE", Severity::kWarning, fmt::format("{}:{}", entry, t.name),
        fmt::format("table {} in {} has {} columns, more than SQLite reads with its rowid in one "
                    "query: restorekit cannot diff or restore it (sqlite3 .restore can)",
                    t.name, entry, t.columns.size())});
  }
}

}  // namespace

DatabaseCheck check_database(const std::filesystem::path& staged, const std::string& entry,
                             bool sql_dump, const std::optional<std::string>& tenant_column,
                             unsigned threads, const CancelToken& cancel) {
  DatabaseCheck out;
  out.result.entry = entry;
  out.result.kind = sql_dump ? core::DatabaseFormat::kSqlDump : core::DatabaseFormat::kSqlite;
  std::error_code ec;
  out.result.bytes = std::filesystem::file_size(staged, ec);
  std::filesystem::path db_path = staged;
  auto unreadable = [&](const Error& e) {
    out.findings.push_back(
        Finding{"DB_INTEGRITY", Severity::kError, entry,
                fmt::format("database {} cannot be read: {}", entry, e.message)});
    return out;
  };
  if (sql_dump) {
    db_path = staged.string() + ".sqlite";
    if (auto loaded = core::load_sql_dump(staged, db_path, entry); !loaded) {
      return unreadable(loaded.error());
    }
  }
  auto db = core::Database::open_untrusted(db_path);
  if (!db) return unreadable(db.error());
  db->stop_when(cancel);
  // The integrity and foreign-key checks are the slowest: they run on `threads` workers, each
  // with its own connection, while this one describes the schema.
  auto jobs = plan_jobs(*db, threads);
  std::thread checks([&] { run_jobs(db_path, jobs, threads, cancel); });
  auto summary = core::describe_database(*db);
  if (summary) {
    out.summary = std::move(*summary);
    out.result.tables = out.summary.tables.size();
    out.result.user_version = out.summary.user_version;
    untrusted_schema(out.summary, entry, out);
    too_wide(out.summary, entry, out);
  }
  checks.join();
  DatabaseCheck checked;
  integrity_findings(jobs, entry, checked);
  // Rows read through damaged pages are no evidence of missing parents (and what SQLite reads
  // there depends on which connection reached the damage first): a damaged file's foreign
  // keys are not judged.
  if (checked.result.integrity_ok) foreign_key_findings(jobs, entry, checked);
  out.result.integrity_ok = checked.result.integrity_ok;
  out.result.foreign_key_violations = checked.result.foreign_key_violations;
  out.integrity_problems = std::move(checked.integrity_problems);
  out.findings.insert(out.findings.begin(), checked.findings.begin(), checked.findings.end());
  if (!summary) return unreadable(summary.error());
  if (tenant_column) {
    if (auto t =
            core::count_tenants(*db, out.summary, core::TenantSpec{*tenant_column, {}, "id", {}})) {
      out.tenants = std::move(*t);
    }
  }
  if (sql_dump) std::filesystem::remove(db_path, ec);
  return out;
}

std::vector<Finding> check_document_references(const std::filesystem::path& staged,
                                               const std::string& entry,
                                               const std::vector<core::ColumnRef>& refs,
                                               const std::string& root,
                                               const core::EntryStore& files,
                                               const CancelToken& cancel) {
  std::vector<Finding> out;
  auto db = core::Database::open_untrusted(staged);
  if (!db) return out;
  db->stop_when(cancel);
  for (const auto& ref : refs) {
    auto st = db->prepare(
        fmt::format("SELECT rowid, CAST({} AS TEXT) FROM {} WHERE {} IS NOT NULL "
                    "AND {} != ''",
                    core::quote_identifier(ref.column), core::quote_identifier(ref.table),
                    core::quote_identifier(ref.column), core::quote_identifier(ref.column)));
    if (!st) continue;  // this database has no such table/column
    std::uint64_t missing = 0;
    std::string examples;
    (void)st->for_each([&]() -> Result<void> {
      std::string value(st->column_text(1));
      auto normalised = core::normalize_entry_path(root + value);
      if (normalised) {
        RK_TRY_ASSIGN(auto found, files.find(*normalised));
        if (found) return {};
      }
      if (++missing <= kMaxExampleRows) {
        examples +=
            fmt::format("{}rowid {} \"{}\"", missing == 1 ? "" : ", ", st->column_int(0), value);
      }
      return {};
    });
    if (missing == 0) continue;
    out.push_back(Finding{
        "DOC_MISSING", Severity::kError, fmt::format("{}:{}.{}", entry, ref.table, ref.column),
        fmt::format("{} row{} of {}.{} in {} name documents that are not in the backup under "
                    "\"{}\": {}{}",
                    missing, missing == 1 ? "" : "s", ref.table, ref.column, entry, root, examples,
                    missing > kMaxExampleRows ? ", …" : "")});
  }
  return out;
}

}  // namespace restorekit::verify::detail
