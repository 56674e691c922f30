#include "cmd_catalog.hpp"

#include <algorithm>
#include <atomic>
#include <ctime>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include <restorekit/core/safe_path.hpp>
#include <restorekit/verify/verify.hpp>

#include "catalog_ops.hpp"
#include "common.hpp"

namespace restorekit::cli {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;
constexpr std::string_view kSchema = "restorekit.catalog/1";

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
};

struct Row {
  core::ArchiveSummary summary;
  std::optional<core::Verification> verification;
  std::string status;  // intact, damaged, unverified, changed, missing
  std::int64_t created = 0;
};

// When a backup was made: our header's time, else its newest entry.
std::int64_t created_of(const core::ArchiveSummary& s) {
  if (s.header && !s.header->created_at.empty()) {
    std::tm tm{};
    if (::strptime(s.header->created_at.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm)) {
      return static_cast<std::int64_t>(::timegm(&tm));
    }
  }
  return s.newest_mtime.value_or(0);
}

Result<std::vector<Row>> rows(core::Index& index) {
  RK_TRY_ASSIGN(auto all, index.list());
  std::vector<Row> out;
  for (auto& s : all) {
    Row r;
    r.created = created_of(s);
    std::error_code ec;
    auto fp = core::fingerprint_file(s.path);
    RK_TRY_ASSIGN(r.verification, index.verification(s.path));
    if (!fs::exists(s.path, ec)) {
      r.status = "missing";
    } else if (!fp || !(*fp == s.fingerprint)) {
      r.status = "changed";
    } else if (!r.verification) {
      r.status = std::any_of(s.findings.begin(), s.findings.end(),
                             [](const auto& f) { return f.severity == core::Severity::kError; })
                     ? "damaged"
                     : "unverified";
    } else {
      r.status = std::string(core::verdict_name(r.verification->verdict));
    }
    r.summary = std::move(s);
    out.push_back(std::move(r));
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const Row& a, const Row& b) { return a.created > b.created; });
  return out;
}

std::string date(std::int64_t t) {
  if (t <= 0) return "unknown";
  std::time_t tt = t;
  std::tm tm{};
  ::gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", &tm);
  return buf;
}

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

int need_index(const CatalogArgs& a, std::optional<core::Index>& index) {
  std::optional<Error> why;
  index = open_catalog(a.common, &why);
  if (index) return kExitOk;
  if (why) return report_error(a.common, kSchema, *why);
  return report_error(a.common, kSchema,
                      Error(ErrorCode::kInvalidArgument,
                            "no catalog: give --catalog FILE (or set HOME / XDG_CACHE_HOME)"));
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
  std::optional<core::Index> index;
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
  std::uint64_t read = 0, unchanged = 0, damaged = 0, locked = 0, skipped = 0, done = 0;
  json items = json::array();
  for (const auto& f : files) {
    std::string message;
    auto outcome = add_to_catalog(*index, f, *inputs, &message);
    ++done;
    if (progress) progress(Progress{done, files.size(), done, files.size(), f.string()});
    const char* what = "read";
    switch (outcome) {
      case AddOutcome::kRead: ++read; break;
      case AddOutcome::kUnchanged: ++unchanged, what = "unchanged"; break;
      case AddOutcome::kDamaged: ++damaged, what = "damaged"; break;
      case AddOutcome::kLocked: ++locked, what = "locked"; break;
      case AddOutcome::kNotABackup: ++skipped, what = "skipped"; break;
    }
    items.push_back({{"path", core::index_key(f)}, {"outcome", what}, {"message", message}});
    if (!a.common.json && !a.common.quiet && outcome != AddOutcome::kRead &&
        outcome != AddOutcome::kUnchanged) {
      fmt::print("{:<9} {} — {}\n", what, core::escape_name(f.string()),
                 core::escape_name(message));
    }
  }
  bar.clear();
  if (a.common.json) {
    print_json({{"schema", kSchema},
                {"command", "add"},
                {"read", read},
                {"unchanged", unchanged},
                {"damaged", damaged},
                {"locked", locked},
                {"skipped", skipped},
                {"archives", items}});
  } else if (!a.common.quiet) {
    fmt::print(
        "{} files: {} read, {} unchanged (not read again), {} damaged, {} locked, {} skipped\n",
        files.size(), read, unchanged, damaged, locked, skipped);
  }
  return kExitOk;
}

int run_verify_all(const CatalogArgs& a) {
  std::optional<core::Index> index;
  if (int rc = need_index(a, index)) return rc;
  auto inputs = load_backup_inputs(a.common, a.limits);
  if (!inputs) return report_error(a.common, kSchema, inputs.error());
  inputs->reader.passwords.prompt = nullptr;
  std::optional<std::int64_t> older_than;
  if (!a.older_than.empty()) {
    older_than = parse_duration(a.older_than);
    if (!older_than) {
      return report_error(a.common, kSchema,
                          Error(ErrorCode::kInvalidArgument,
                                fmt::format("--older-than {}: give a duration such as 30d, 12h, "
                                            "90m or 45s",
                                            a.older_than)));
    }
  }
  auto all = rows(*index);
  if (!all) return report_error(a.common, kSchema, all.error());
  std::vector<std::string> todo;
  auto now = static_cast<std::int64_t>(std::time(nullptr));
  for (const auto& r : *all) {
    bool stale = older_than && r.verification && r.verification->verified_at <= now - *older_than;
    if (r.status == "unverified" || r.status == "changed" ||
        (r.status != "missing" && (a.recheck || stale))) {
      todo.push_back(r.summary.path);
    }
  }
  index.reset();  // every worker opens its own connection
  unsigned workers = a.threads ? a.threads : std::max(1u, std::thread::hardware_concurrency());
  workers = std::min<unsigned>(workers, std::max<std::size_t>(1, todo.size()));
  std::atomic<std::size_t> next{0};
  std::mutex out_mutex;
  std::uint64_t intact = 0, damaged = 0, locked = 0, failed = 0;
  json items = json::array();
  auto work = [&] {
    auto own = open_catalog(a.common);
    if (!own) return;
    for (std::size_t i; (i = next.fetch_add(1)) < todo.size();) {
      const auto& path = todo[i];
      verify::VerifyOptions o;
      o.reader = inputs->reader;
      o.profile = inputs->profile;
      o.threads = 1;  // the parallelism is across archives
      o.cancel = interrupt_token();
      auto report = verify::verify(path, o);
      std::lock_guard lock(out_mutex);
      if (!report) {
        ++failed;
        items.push_back({{"path", path}, {"status", "error"}, {"message", report.error().message}});
        if (!a.common.json) fmt::print("error     {} — {}\n", path, report.error().message);
        continue;
      }
      (void)record_verify(*own, path, *inputs, *report);
      auto verdict = report->verdict();
      (verdict == core::Verdict::kIntact   ? intact
       : verdict == core::Verdict::kLocked ? locked
                                           : damaged)++;
      items.push_back({{"path", path},
                       {"status", core::verdict_name(verdict)},
                       {"errors", report->count(core::Severity::kError)}});
      if (!a.common.json && !a.common.quiet) {
        fmt::print("{:<9} {}\n",
                   verdict == core::Verdict::kDamaged ? "DAMAGED" : core::verdict_name(verdict),
                   core::escape_name(path));
      }
    }
  };
  std::vector<std::thread> threads;
  for (unsigned w = 0; w < workers; ++w) threads.emplace_back(work);
  for (auto& t : threads) t.join();
  // The verdict is the catalog's, not this run's: a damaged or missing backup fails the run
  // whether or not it was read now.
  std::vector<std::pair<std::string, std::string>> bad;  // path, status
  if (auto fresh = open_catalog(a.common)) {
    if (auto now_rows = rows(*fresh)) {
      for (const auto& r : *now_rows) {
        if (r.status == "damaged" || r.status == "missing")
          bad.emplace_back(r.summary.path, r.status);
      }
    }
  }
  if (a.common.json) {
    json held = json::array();
    for (const auto& [path, status] : bad) held.push_back({{"path", path}, {"status", status}});
    print_json({{"schema", kSchema},
                {"command", "verify"},
                {"verified", intact + damaged + locked},
                {"intact", intact},
                {"damaged", damaged},
                {"locked", locked},
                {"errors", failed},
                {"archives", items},
                {"catalog_problems", held}});
  } else if (!a.common.quiet) {
    fmt::print(
        "{} verified ({} intact, {} damaged, {} locked), {} could not be read; {} already "
        "verified\n",
        intact + damaged + locked, intact, damaged, locked, failed, all->size() - todo.size());
  }
  if (!a.common.json) {
    for (const auto& [path, status] : bad) {
      fmt::print("the catalog holds a {} backup: {}\n", status, core::escape_name(path));
    }
  }
  return !bad.empty() || failed ? kExitProblems : kExitOk;
}

json row_json(const Row& r) {
  const auto& s = r.summary;
  std::uint64_t tenants = 0;
  for (const auto& d : s.databases) tenants += d.tenants.size();
  return {{"path", s.path},
          {"created", r.created},
          {"status", r.status},
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
  std::optional<core::Index> index;
  if (int rc = need_index(a, index)) return rc;
  auto all = rows(*index);
  if (!all) return report_error(a.common, kSchema, all.error());
  if (best_only) {
    auto it =
        std::find_if(all->begin(), all->end(), [](const Row& r) { return r.status == "intact"; });
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
    fmt::print("{:<16}  {:>9}  {:<10} {:>3} {:>7}  {:<10}  {}\n", date(r.created),
               human_bytes(r.summary.archive_bytes),
               r.summary.archive.format.empty() ? "?" : r.summary.archive.format,
               r.summary.databases.size(), tenants, r.status, core::escape_name(r.summary.path));
  }
  return kExitOk;
}

int run_find(const CatalogArgs& a) {
  std::optional<core::Index> index;
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
  std::optional<core::Index> index;
  if (int rc = need_index(a, index)) return rc;
  std::vector<std::string> targets;
  for (const auto& p : a.paths) targets.push_back(core::index_key(p));
  if (a.stale) {
    auto all = rows(*index);
    if (!all) return report_error(a.common, kSchema, all.error());
    for (const auto& r : *all) {
      if (r.status == "missing") targets.push_back(r.summary.path);
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

}  // namespace

void setup_catalog(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand(
      "catalog", "Triage many backups: index them, verify them, find the newest intact one");
  cmd->require_subcommand(1);
  auto args = std::make_shared<CatalogArgs>();
  auto add_common = [&](CLI::App* sub) {
    add_common_flags(*sub, args->common, /*catalog=*/true, /*profile=*/true);
  };
  auto* add = cmd->add_subcommand("add", "index backups (files, or folders recursively)");
  add->add_option("paths", args->paths, "backup files or folders")->required();
  add_common(add);
  add_limit_flags(*add, args->limits);
  add->callback([args, &exit_code] { exit_code = run_add(*args); });

  auto* verify = cmd->add_subcommand(
      "verify",
      "verify every backup not verified since it changed; exit 1 while the catalog holds a "
      "damaged or missing backup");
  verify->add_option("--threads", args->threads, "archives verified in parallel");
  verify->add_flag("--recheck", args->recheck,
                   "read every backup again (bit rot the fingerprint cannot see)");
  verify->add_option("--older-than", args->older_than,
                     "also read again backups last verified longer ago than this (30d, 12h)");
  add_common(verify);
  add_limit_flags(*verify, args->limits);
  verify->callback([args, &exit_code] { exit_code = run_verify_all(*args); });

  auto* list = cmd->add_subcommand("list", "one line per backup, newest first, with status");
  add_common(list);
  list->callback([args, &exit_code] { exit_code = run_list(*args, false); });

  auto* best = cmd->add_subcommand("best", "print the newest intact backup (exit 1 if none)");
  add_common(best);
  best->callback([args, &exit_code] { exit_code = run_list(*args, true); });

  auto* find = cmd->add_subcommand("find", "which backups hold entries matching a glob");
  find->add_option("pattern", args->pattern, "glob, e.g. '*.pdf' or 'docs/acme/*'")->required();
  find->add_option("--limit", args->limit, "at most N matches")->capture_default_str();
  add_common(find);
  find->callback([args, &exit_code] { exit_code = run_find(*args); });

  auto* forget = cmd->add_subcommand("forget", "remove backups from the catalog");
  forget->add_option("paths", args->paths, "backup files");
  forget->add_flag("--stale", args->stale, "also every backup whose file is gone");
  add_common(forget);
  forget->callback([args, &exit_code] { exit_code = run_forget(*args); });
}

}  // namespace restorekit::cli
