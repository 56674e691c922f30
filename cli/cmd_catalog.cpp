#include "cmd_catalog.hpp"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <iostream>
#include <map>
#include <memory>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <restorekit/catalog/catalog.hpp>
#include <restorekit/catalog/where.hpp>
#include <restorekit/core/safe_path.hpp>
#include <restorekit/core/version.hpp>
#include <restorekit/verify/verify.hpp>

#include "common.hpp"
#include "render_common.hpp"

namespace restorekit::cli {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;
constexpr std::string_view kSchema = core::schema::kCatalog;

struct CatalogArgs {
  CommonOptions common;
  std::vector<std::string> paths;
  std::string pattern;
  unsigned threads = 0;
  std::size_t limit = 1000;
  bool stale = false;
  bool recheck = false;
  std::string older_than;
  core::ReaderLimits limits;
  std::string row;                 // where: TABLE:KEY
  std::vector<std::string> where;  // where: TABLE, CONDITION
  std::size_t backups = 0;         // where: the newest N backups (0: all)
  std::string root;                // the mount point the catalog's names are relative to
  bool worker = false;             // verify: one of many workers sharing the catalog
  bool until_empty = false;
  double claim_ttl = 60;  // seconds
  std::string worker_name;

  [[nodiscard]] catalog::Root catalog_root() const {
    return catalog::Root{root.empty() ? std::nullopt : std::optional<fs::path>(root)};
  }
};

using catalog::Row;
using catalog::Status;

std::vector<fs::path> expand(const std::vector<std::string>& paths) {
  std::vector<fs::path> out;
  for (const auto& p : paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      for (fs::recursive_directory_iterator it(p, ec), end; !ec && it != end; it.increment(ec)) {
        if (it->is_regular_file(ec) && !it->is_symlink(ec)) out.push_back(it->path());
      }
    } else {
      out.emplace_back(p);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

int need_index(const CatalogArgs& a, std::optional<catalog::Index>& index) {
  std::optional<Error> why;
  index = open_catalog(a.common, &why);
  if (index) return kExitOk;
  if (why) return report_error(a.common, kSchema, *why);
  return report_error(
      a.common, kSchema,
      Error(ErrorCode::kInvalidArgument,
            "no catalog: give --catalog FILE|URI (or set RESTOREKIT_CATALOG, HOME or "
            "XDG_CACHE_HOME)"));
}

// "30d", "12h", "90m", "45s" or plain seconds, as seconds; nullopt when malformed.
std::optional<std::int64_t> parse_duration(const std::string& text) {
  if (text.empty()) return std::nullopt;
  std::size_t used = 0;
  long long n = 0;
  try {
    n = std::stoll(text, &used);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (n < 0) return std::nullopt;
  std::string unit = text.substr(used);
  static const std::map<std::string, std::int64_t, std::less<>> kUnits = {
      {"", 1}, {"s", 1}, {"m", 60}, {"h", 3600}, {"d", 86400}, {"w", 604800}};
  auto it = kUnits.find(unit);
  if (it == kUnits.end()) return std::nullopt;
  return static_cast<std::int64_t>(n) * it->second;
}

int run_add(const CatalogArgs& a) {
  std::optional<catalog::Index> index;
  if (int rc = need_index(a, index)) return rc;
  auto inputs = load_backup_inputs(a.common, a.limits);
  if (!inputs) return report_error(a.common, kSchema, inputs.error());
  for (const auto& p : a.paths) {
    std::error_code ec;
    if (!fs::exists(p, ec)) {
      return report_error(
          a.common, kSchema,
          Error(ErrorCode::kNotFound, fmt::format("{} does not exist; check the path", p), p));
    }
  }
  auto files = expand(a.paths);
  ProgressBar bar(a.common, "indexing");
  auto progress = bar.callback();
  catalog::AddOptions options{inputs->reader, inputs->profile, a.catalog_root()};
  std::map<catalog::AddOutcome, std::uint64_t> counts;
  json items = json::array();
  std::uint64_t done = 0;
  for (const auto& f : files) {
    std::string message;
    auto outcome = catalog::add(*index, f, options, &message);
    ++counts[outcome];
    ++done;
    if (progress) progress(Progress{done, files.size(), done, files.size(), f.string()});
    auto what = catalog::outcome_name(outcome);
    items.push_back({{"path", options.root.name_of(f)}, {"outcome", what}, {"message", message}});
    if (!a.common.json && !a.common.quiet && outcome != catalog::AddOutcome::kRead &&
        outcome != catalog::AddOutcome::kUnchanged) {
      fmt::print("{:<9} {} — {}\n", what, core::escape_name(f.string()),
                 core::escape_name(message));
    }
  }
  bar.clear();
  using catalog::AddOutcome;
  if (a.common.json) {
    print_json({{"schema", kSchema},
                {"command", "add"},
                {"read", counts[AddOutcome::kRead]},
                {"unchanged", counts[AddOutcome::kUnchanged]},
                {"damaged", counts[AddOutcome::kDamaged]},
                {"locked", counts[AddOutcome::kLocked]},
                {"skipped", counts[AddOutcome::kNotABackup]},
                {"archives", items}});
  } else if (!a.common.quiet) {
    fmt::print(
        "{} files: {} read, {} unchanged (not read again), {} damaged, {} locked, {} skipped\n",
        files.size(), counts[AddOutcome::kRead], counts[AddOutcome::kUnchanged],
        counts[AddOutcome::kDamaged], counts[AddOutcome::kLocked], counts[AddOutcome::kNotABackup]);
  }
  return kExitOk;
}

// The line a finished archive prints (text output).
void print_verified(const CatalogArgs& a, const catalog::VerifiedArchive& v) {
  if (!v.verdict) {
    fmt::print("error     {} — {}\n", core::escape_name(v.path), core::escape_name(v.message));
  } else if (!a.common.quiet) {
    fmt::print("{:<9} {}\n",
               *v.verdict == core::Verdict::kDamaged ? "DAMAGED" : core::verdict_name(*v.verdict),
               core::escape_name(v.path));
  }
  std::fflush(stdout);
}

json verified_json(const catalog::VerifiedArchive& v) {
  if (!v.verdict) return {{"path", v.path}, {"status", "error"}, {"message", v.message}};
  return {{"path", v.path}, {"status", core::verdict_name(*v.verdict)}, {"errors", v.errors}};
}

json problems_json(const std::vector<Row>& problems) {
  json held = json::array();
  for (const auto& p : problems) {
    held.push_back({{"path", p.summary.path}, {"status", catalog::status_name(p.status)}});
  }
  return held;
}

void print_verify_all(const CatalogArgs& a, const catalog::VerifyManyReport& r) {
  if (a.common.json) {
    json items = json::array();
    for (const auto& v : r.archives) items.push_back(verified_json(v));
    json held = problems_json(r.problems);
    print_json({{"schema", kSchema},
                {"command", "verify"},
                {"verified", r.intact + r.damaged + r.locked},
                {"intact", r.intact},
                {"damaged", r.damaged},
                {"locked", r.locked},
                {"errors", r.failed},
                {"archives", items},
                {"catalog_problems", held}});
    return;
  }
  if (!a.common.quiet) {
    fmt::print(
        "{} verified ({} intact, {} damaged, {} locked), {} could not be read; {} already "
        "verified\n",
        r.intact + r.damaged + r.locked, r.intact, r.damaged, r.locked, r.failed, r.already);
  }
  for (const auto& p : r.problems) {
    fmt::print("the catalog holds a {} backup: {}\n", catalog::status_name(p.status),
               core::escape_name(p.summary.path));
  }
}

// catalog verify --worker: one of any number of workers sharing the catalog's rounds.
int run_worker(const CatalogArgs& a, const std::string& catalog, const BackupInputs& inputs) {
  if (a.claim_ttl <= 0) {
    return report_error(a.common, kSchema,
                        Error(ErrorCode::kInvalidArgument, "--claim-ttl takes seconds above 0"));
  }
  catalog::WorkerOptions o;
  o.reader = inputs.reader;
  o.profile = inputs.profile;
  o.root = a.catalog_root();
  o.name = a.worker_name;
  o.claim_ttl_ms = static_cast<std::int64_t>(a.claim_ttl * 1000);
  o.until_empty = a.until_empty;
  o.recheck = a.recheck;
  o.cancel = interrupt_token();
  if (!a.older_than.empty()) o.older_than = parse_duration(a.older_than);
  if (!a.common.json)
    o.on_archive = [&a](const catalog::VerifiedArchive& v) { print_verified(a, v); };
  auto report = catalog::run_worker(catalog, o);
  if (!report) return report_error(a.common, kSchema, report.error());
  if (a.common.json) {
    json items = json::array();
    for (const auto& v : report->archives) items.push_back(verified_json(v));
    print_json({{"schema", kSchema},
                {"command", "verify"},
                {"worker", report->name},
                {"verified", report->intact + report->damaged + report->locked},
                {"intact", report->intact},
                {"damaged", report->damaged},
                {"locked", report->locked},
                {"errors", report->failed},
                {"archives", items},
                {"catalog_problems", problems_json(report->problems)}});
  } else if (!a.common.quiet) {
    fmt::print("worker {}: {} verified ({} intact, {} damaged, {} locked), {} could not be read\n",
               report->name, report->intact + report->damaged + report->locked, report->intact,
               report->damaged, report->locked, report->failed);
  }
  return report->ok() ? kExitOk : kExitProblems;
}

int run_verify_all(const CatalogArgs& a) {
  auto path = catalog_location(a.common);
  if (!path) {
    return report_error(
        a.common, kSchema,
        Error(ErrorCode::kInvalidArgument,
              "no catalog: give --catalog FILE|URI (or set RESTOREKIT_CATALOG, HOME or "
              "XDG_CACHE_HOME)"));
  }
  {
    std::optional<catalog::Index> index;  // opened once here to report (and set aside) damage
    if (int rc = need_index(a, index)) return rc;
  }
  auto inputs = load_backup_inputs(a.common, a.limits);
  if (!inputs) return report_error(a.common, kSchema, inputs.error());
  if (a.worker) return run_worker(a, *path, *inputs);
  if (a.until_empty) {
    return report_error(a.common, kSchema,
                        Error(ErrorCode::kInvalidArgument, "--until-empty goes with --worker"));
  }
  catalog::VerifyManyOptions o;
  o.reader = inputs->reader;
  o.profile = inputs->profile;
  o.root = a.catalog_root();
  o.threads = a.threads;
  o.recheck = a.recheck;
  o.cancel = interrupt_token();
  if (!a.older_than.empty()) {
    o.older_than = parse_duration(a.older_than);
    if (!o.older_than) {
      return report_error(a.common, kSchema,
                          Error(ErrorCode::kInvalidArgument,
                                fmt::format("--older-than {}: give a duration such as 30d, 12h, "
                                            "90m or 45s",
                                            a.older_than)));
    }
  }
  if (!a.common.json)
    o.on_archive = [&a](const catalog::VerifiedArchive& v) { print_verified(a, v); };
  auto report = catalog::verify_many(*path, o);
  if (!report) return report_error(a.common, kSchema, report.error());
  print_verify_all(a, *report);
  return report->ok() ? kExitOk : kExitProblems;
}

json row_json(const Row& r) {
  const auto& s = r.summary;
  std::uint64_t tenants = 0;
  for (const auto& d : s.databases) tenants += d.tenants.size();
  return {{"path", s.path},
          {"created", r.created},
          {"status", catalog::status_name(r.status)},
          {"kind", s.kind == core::BackupKind::kRestorekit ? "restorekit" : "foreign"},
          {"format", s.archive.format},
          {"archive_bytes", s.archive_bytes},
          {"bytes", s.bytes},
          {"databases", s.databases.size()},
          {"tenants", tenants},
          {"documents", s.document_files},
          {"verified_at", r.verification ? json(r.verification->verified_at) : json(nullptr)}};
}

int run_list(const CatalogArgs& a, bool best_only) {
  std::optional<catalog::Index> index;
  if (int rc = need_index(a, index)) return rc;
  auto all = catalog::rows(*index, a.catalog_root());
  if (!all) return report_error(a.common, kSchema, all.error());
  if (best_only) {
    auto it = std::find_if(all->begin(), all->end(),
                           [](const Row& r) { return r.status == Status::kIntact; });
    if (it == all->end()) {
      if (!a.common.quiet) fmt::print(stderr, "no intact backup in the catalog\n");
      return kExitProblems;
    }
    if (a.common.json) {
      print_json({{"schema", kSchema}, {"command", "best"}, {"best", row_json(*it)}});
    } else {
      fmt::print("{}\n", it->summary.path);
    }
    return kExitOk;
  }
  if (a.common.json) {
    json list = json::array();
    for (const auto& r : *all) list.push_back(row_json(r));
    print_json({{"schema", kSchema}, {"command", "list"}, {"backups", list}});
    return kExitOk;
  }
  fmt::print("{:<16}  {:>9}  {:<10} {:>3} {:>7}  {:<10}  {}\n", "created (UTC)", "size", "format",
             "dbs", "tenants", "status", "path");
  for (const auto& r : *all) {
    std::uint64_t tenants = 0;
    for (const auto& d : r.summary.databases) tenants += d.tenants.size();
    fmt::print("{:<16}  {:>9}  {:<10} {:>3} {:>7}  {:<10}  {}\n", utc_minute(r.created),
               human_bytes(r.summary.archive_bytes),
               r.summary.archive.format.empty() ? "?" : r.summary.archive.format,
               r.summary.databases.size(), tenants, catalog::status_name(r.status),
               core::escape_name(r.summary.path));
  }
  return kExitOk;
}

int run_find(const CatalogArgs& a) {
  std::optional<catalog::Index> index;
  if (int rc = need_index(a, index)) return rc;
  auto found = index->find_entries(a.pattern, a.limit);
  if (!found) return report_error(a.common, kSchema, found.error());
  if (a.common.json) {
    json list = json::array();
    for (const auto& m : *found) {
      list.push_back({{"archive", m.archive},
                      {"entry", m.entry.path},
                      {"size", m.entry.size ? json(*m.entry.size) : json(nullptr)},
                      {"hash", m.entry.hash ? json(m.entry.hash->hex()) : json(nullptr)}});
    }
    print_json({{"schema", kSchema}, {"command", "find"}, {"matches", list}});
  } else {
    for (const auto& m : *found) {
      fmt::print("{}  {:>9}  {}  {}\n", m.entry.hash ? m.entry.hash->hex() : std::string(32, '-'),
                 m.entry.size ? human_bytes(*m.entry.size) : "?", core::escape_name(m.archive),
                 core::escape_name(m.entry.path));
    }
    if (found->size() == a.limit) fmt::print("(first {} matches; --limit N for more)\n", a.limit);
  }
  return found->empty() ? kExitProblems : kExitOk;
}

int run_forget(const CatalogArgs& a) {
  std::optional<catalog::Index> index;
  if (int rc = need_index(a, index)) return rc;
  std::vector<std::string> targets;
  for (const auto& p : a.paths) targets.push_back(a.catalog_root().name_of(p));
  if (a.stale) {
    auto all = catalog::rows(*index, a.catalog_root());
    if (!all) return report_error(a.common, kSchema, all.error());
    for (const auto& r : *all) {
      if (r.status == Status::kMissing) targets.push_back(r.summary.path);
    }
  }
  for (const auto& t : targets) {
    if (auto gone = index->forget(t); !gone) return report_error(a.common, kSchema, gone.error());
    if (!a.common.quiet && !a.common.json) fmt::print("forgot {}\n", core::escape_name(t));
  }
  if (a.common.json) {
    print_json({{"schema", kSchema}, {"command", "forget"}, {"forgotten", targets}});
  }
  return kExitOk;
}

void print_status_json(const catalog::Index::Round& r, catalog::RoundProgress& progress,
                       std::int64_t now) {
  json list = json::array();
  for (const auto& [name, w] : progress.workers) {
    list.push_back(
        {{"name", name},
         {"done", w.done},
         {"holding", w.holding},
         {"heartbeat_ms_ago", w.heartbeat_ms ? json(now - *w.heartbeat_ms) : json(nullptr)}});
  }
  auto& states = progress.states;
  print_json({{"schema", kSchema},
              {"command", "status"},
              {"round",
               {{"id", r.id},
                {"started_at", r.started_at},
                {"finished_at", r.finished_at ? json(*r.finished_at) : json(nullptr)},
                {"archives", r.items.size()},
                {"todo", states["todo"]},
                {"claimed", states["claimed"]},
                {"expired", states["expired"]},
                {"done", states["done"]},
                {"verdicts", progress.verdicts},
                {"workers", list}}}});
}

void print_status_text(const catalog::Index::Round& r, catalog::RoundProgress& progress,
                       std::int64_t now) {
  auto& states = progress.states;
  auto& verdicts = progress.verdicts;
  fmt::print(
      "round {} started {} UTC{}: {} of {} done ({} intact, {} damaged, {} locked, {} "
      "errors), {} claimed, {} claims expired, {} to do\n",
      r.id, utc_minute(r.started_at),
      r.finished_at ? fmt::format(", finished {} UTC", utc_minute(*r.finished_at)) : "",
      states["done"], r.items.size(), verdicts["intact"], verdicts["damaged"], verdicts["locked"],
      verdicts["error"], states["claimed"], states["expired"], states["todo"]);
  if (progress.workers.empty()) return;
  fmt::print("{:<32} {:>6}  {:>10}  {}\n", "worker", "done", "heartbeat", "holding");
  for (const auto& [name, w] : progress.workers) {
    fmt::print(
        "{:<32} {:>6}  {:>10}  {}\n", core::escape_name(name), w.done,
        w.heartbeat_ms ? fmt::format("{:.1f} s ago", (now - *w.heartbeat_ms) / 1000.0) : "-",
        w.holding.empty() ? "-" : core::escape_name(fmt::format("{}", fmt::join(w.holding, ", "))));
  }
}

// The last verify round across workers: how far it is, who holds what.
int run_status(const CatalogArgs& a) {
  std::optional<catalog::Index> index;
  if (int rc = need_index(a, index)) return rc;
  auto round = index->last_round();
  if (!round) return report_error(a.common, kSchema, round.error());
  if (!*round) {
    if (a.common.json) {
      print_json({{"schema", kSchema}, {"command", "status"}, {"round", nullptr}});
    } else {
      fmt::print("no verify round yet (catalog verify --worker starts one)\n");
    }
    return kExitOk;
  }
  const auto& r = **round;
  auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  auto progress = catalog::progress_of(r, now, static_cast<std::int64_t>(a.claim_ttl * 1000));
  if (a.common.json) {
    print_status_json(r, progress, now);
  } else {
    print_status_text(r, progress, now);
  }
  return kExitOk;
}

// What a backup holds of the row, against the next newer backup, in a few words.
std::string compared(const catalog::RowVersion& v) {
  if (!v.read) return "? " + v.error;
  if (!v.compared_with) return v.error.empty() ? "(newest read)" : v.error;
  std::vector<std::string> parts;
  if (!v.changed.empty())
    parts.push_back("differs in " + fmt::format("{}", fmt::join(v.changed, ", ")));
  if (v.only_here) parts.push_back(fmt::format("{} gone in the newer", v.only_here));
  if (v.only_newer) parts.push_back(fmt::format("{} new in the newer", v.only_newer));
  if (parts.empty()) return v.keys.empty() ? "" : "same as the newer";
  return fmt::format("{}", fmt::join(parts, "; "));
}

// The row the command looks for: TABLE:KEY, or --where TABLE 'CONDITION'.
Result<catalog::RowQuery> row_query(const CatalogArgs& a) {
  catalog::RowQuery query;
  if (!a.where.empty()) {
    if (!a.row.empty() || a.where.size() != 2) {
      return fail(ErrorCode::kInvalidArgument,
                  "give one row, TABLE:KEY, or --where TABLE 'CONDITION'");
    }
    query.table = a.where[0];
    query.sql = a.where[1];
    return query;
  }
  if (a.row.empty()) {
    return fail(ErrorCode::kInvalidArgument,
                "say which row: TABLE:KEY (e.g. persons:42) or --where TABLE 'CONDITION'");
  }
  RK_TRY_ASSIGN(auto row, parse_row(a.row));
  query.table = row.table;
  query.key = row.key;
  return query;
}

void print_where_json(const catalog::RowQuery& query,
                      const std::vector<catalog::RowVersion>& found) {
  json list = json::array();
  for (const auto& v : found) {
    json values = json::object();
    for (const auto& [column, value] : v.values) values[column] = value;
    list.push_back({{"path", v.backup.summary.path},
                    {"created", v.backup.created},
                    {"status", catalog::status_name(v.backup.status)},
                    {"read", v.read},
                    {"error", v.error.empty() ? json(nullptr) : json(v.error)},
                    {"keys", v.keys},
                    {"values", values},
                    {"compared_with", v.compared_with ? json(*v.compared_with) : json(nullptr)},
                    {"changed", v.changed},
                    {"only_here", v.only_here},
                    {"only_newer", v.only_newer},
                    {"from_index", v.from_index},
                    {"seconds", v.seconds}});
  }
  print_json({{"schema", kSchema},
              {"command", "where"},
              {"table", query.table},
              {"key", query.sql ? json(nullptr) : json(query.key)},
              {"where", query.sql ? json(*query.sql) : json(nullptr)},
              {"backups", list}});
}

void print_where_text(const catalog::RowQuery& query,
                      const std::vector<catalog::RowVersion>& found) {
  fmt::print("{:<16}  {:<10} {:>6}  {:<40} {:>7}  {}\n", "created (UTC)", "status", "holds",
             "against the next newer backup", "time", "path");
  for (const auto& v : found) {
    std::string holds = !v.read          ? "?"
                        : v.keys.empty() ? "no"
                        : query.sql      ? fmt::format("{}", v.keys.size())
                                         : "yes";
    fmt::print("{:<16}  {:<10} {:>6}  {:<40} {:>6.2f}s  {}\n", utc_minute(v.backup.created),
               catalog::status_name(v.backup.status), holds, core::escape_name(compared(v)),
               v.seconds, core::escape_name(v.backup.summary.path));
  }
}

int run_where(const CatalogArgs& a) {
  auto query = row_query(a);
  if (!query) return report_error(a.common, kSchema, query.error());
  std::optional<catalog::Index> index;
  if (int rc = need_index(a, index)) return rc;
  auto inputs = load_backup_inputs(a.common, a.limits);
  if (!inputs) return report_error(a.common, kSchema, inputs.error());
  ProgressBar bar(a.common, "reading backups");
  catalog::WhereOptions o;
  o.reader = inputs->reader;
  if (inputs->profile) o.database_entry = inputs->profile->database_entry;
  o.limit = a.backups;
  o.root = a.catalog_root();
  o.progress = bar.callback();
  o.cancel = interrupt_token();
  auto found = catalog::where(*index, *query, o);
  bar.clear();
  if (!found) return report_error(a.common, kSchema, found.error());
  bool anywhere =
      std::any_of(found->begin(), found->end(), [](const auto& v) { return !v.keys.empty(); });
  if (a.common.json) {
    print_where_json(*query, *found);
  } else if (!a.common.quiet || !anywhere) {
    print_where_text(*query, *found);
    if (!anywhere) {
      fmt::print(stderr, "no backup in the catalog holds {}\n",
                 query->sql ? fmt::format("a row of {} where {}", query->table, *query->sql)
                            : fmt::format("{}:{}", query->table, fmt::join(query->key, ",")));
    }
  }
  return anywhere ? kExitOk : kExitProblems;
}

}  // namespace

namespace {

using Args = std::shared_ptr<CatalogArgs>;

void add_common(CLI::App* sub, const Args& args) {
  add_common_flags(*sub, args->common, /*catalog=*/true, /*profile=*/true);
}

void add_root(CLI::App* sub, const Args& args) {
  sub->add_option("--root", args->root,
                  "the folder the catalog names backups relative to (a NAS share: each "
                  "machine gives its own mount point)");
}

void setup_catalog_verify(CLI::App* cmd, const Args& args, int& exit_code) {
  auto* verify = cmd->add_subcommand(
      "verify",
      "verify every backup not verified since it changed; exit 1 while the catalog holds a "
      "damaged or missing backup");
  verify->add_option("--threads", args->threads, "archives verified in parallel");
  verify->add_flag("--recheck", args->recheck,
                   "read every backup again (bit rot the fingerprint cannot see)");
  verify->add_option("--older-than", args->older_than,
                     "also read again backups last verified longer ago than this (30d, 12h)");
  verify->add_flag("--worker", args->worker,
                   "be one of any number of workers, on any machines, sharing the catalog's "
                   "verify round (claim an archive, verify it, record it, next)");
  verify->add_flag("--until-empty", args->until_empty,
                   "with --worker: exit when the round is done (else wait for the next)");
  verify
      ->add_option("--claim-ttl", args->claim_ttl,
                   "with --worker: seconds without a heartbeat after which another worker "
                   "takes a claim over")
      ->capture_default_str();
  verify->add_option("--worker-name", args->worker_name,
                     "with --worker: the name status shows (default host:pid)");
  add_root(verify, args);
  add_common(verify, args);
  add_limit_flags(*verify, args->limits);
  verify->callback([args, &exit_code] { exit_code = run_verify_all(*args); });
}

void setup_catalog_where(CLI::App* cmd, const Args& args, int& exit_code) {
  auto* where = cmd->add_subcommand(
      "where",
      "which backups hold a row (TABLE:KEY, or --where TABLE 'CONDITION'), newest first, and "
      "which columns changed between them; exit 1 if none holds it");
  where->add_option("row", args->row, "TABLE:KEY, e.g. persons:42 (a composite key as t:7,2)");
  where
      ->add_option("--where", args->where,
                   "TABLE 'CONDITION': the rows an SQL condition chooses, instead of a key")
      ->expected(2);
  where->add_option("--limit", args->backups, "only the newest N backups");
  add_root(where, args);
  add_common(where, args);
  add_limit_flags(*where, args->limits);
  where->callback([args, &exit_code] { exit_code = run_where(*args); });
}

// list, best and find: what the catalog holds.
void setup_catalog_listings(CLI::App* cmd, const Args& args, int& exit_code) {
  auto* list = cmd->add_subcommand("list", "one line per backup, newest first, with status");
  add_root(list, args);
  add_common(list, args);
  list->callback([args, &exit_code] { exit_code = run_list(*args, false); });

  auto* best = cmd->add_subcommand("best", "print the newest intact backup (exit 1 if none)");
  add_root(best, args);
  add_common(best, args);
  best->callback([args, &exit_code] { exit_code = run_list(*args, true); });

  auto* find = cmd->add_subcommand("find", "which backups hold entries matching a glob");
  find->add_option("pattern", args->pattern, "glob, e.g. '*.pdf' or 'docs/acme/*'")->required();
  find->add_option("--limit", args->limit, "at most N matches")->capture_default_str();
  add_common(find, args);
  find->callback([args, &exit_code] { exit_code = run_find(*args); });
}

}  // namespace

void setup_catalog(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand(
      "catalog", "Triage many backups: index them, verify them, find the newest intact one");
  cmd->require_subcommand(1);
  auto args = std::make_shared<CatalogArgs>();
  auto* add = cmd->add_subcommand("add", "index backups (files, or folders recursively)");
  add->add_option("paths", args->paths, "backup files or folders")->required();
  add_root(add, args);
  add_common(add, args);
  add_limit_flags(*add, args->limits);
  add->callback([args, &exit_code] { exit_code = run_add(*args); });

  setup_catalog_verify(cmd, args, exit_code);
  setup_catalog_listings(cmd, args, exit_code);
  setup_catalog_where(cmd, args, exit_code);

  auto* forget = cmd->add_subcommand("forget", "remove backups from the catalog");
  forget->add_option("paths", args->paths, "backup files");
  forget->add_flag("--stale", args->stale, "also every backup whose file is gone");
  add_root(forget, args);
  add_common(forget, args);
  forget->callback([args, &exit_code] { exit_code = run_forget(*args); });

  auto* status = cmd->add_subcommand(
      "status", "the last verify round across workers: how far it is and who holds what");
  status
      ->add_option("--claim-ttl", args->claim_ttl, "seconds after which a claim counts as expired")
      ->capture_default_str();
  add_common(status, args);
  status->callback([args, &exit_code] { exit_code = run_status(*args); });
}

}  // namespace restorekit::cli
