#include "render_restore.hpp"

#include <algorithm>
#include <map>

#include <sstream>

#include <fmt/format.h>
#include <fmt/ostream.h>

#include <restorekit/core/safe_path.hpp>
#include <restorekit/core/version.hpp>

#include "render_common.hpp"
#include "render_diff.hpp"
#include "render_verify.hpp"

namespace restorekit::cli {

namespace {

using json = nlohmann::ordered_json;

const core::Finding* first_error(const std::vector<core::Finding>& checks) {
  for (const auto& f : checks) {
    if (f.severity == core::Severity::kError) return &f;
  }
  return nullptr;
}

json changes_json(const std::vector<restore::TableChange>& changes) {
  json out = json::array();
  for (const auto& c : changes) {
    out.push_back({{"table", c.table},
                   {"deleted", c.deleted},
                   {"inserted", c.inserted},
                   {"orphaned", c.orphaned},
                   {"reverted", c.reverted}});
  }
  return out;
}

void render_changes(const std::vector<restore::TableChange>& changes, std::ostream& out) {
  if (changes.empty()) return;
  fmt::print(out, "rows changed by the selective restore:\n");
  for (const auto& c : changes) {
    fmt::print(out, "  {:<24} {:>10} deleted {:>10} inserted{}{}\n", core::escape_name(c.table),
               grouped(c.deleted), grouped(c.inserted),
               c.reverted ? fmt::format(" {:>10} reverted", grouped(c.reverted)) : "",
               c.orphaned ? fmt::format("  {} orphaned", grouped(c.orphaned)) : "");
  }
}

// A record restore's rows: per table, what it does with how many, and their first keys.
void render_records(const restore::Plan& p, std::ostream& out) {
  if (!p.records || p.records->count == 0) return;
  fmt::print(out, "rows of the record restore (key: action):\n");
  constexpr std::size_t kShown = 8;
  struct Rows {
    std::uint64_t count = 0;
    std::vector<std::string> first;
  };
  std::string table;
  std::map<std::string, Rows> by_action;  // of `table`
  auto print_table = [&] {
    for (const auto& [action, rows] : by_action) {
      std::string shown;
      for (const auto& key : rows.first) {
        if (!shown.empty()) shown += ' ';
        shown += core::escape_name(key);
      }
      if (rows.count > kShown) shown += fmt::format(" … {} more", grouped(rows.count - kShown));
      fmt::print(out, "  {:<24} {:<10} {:>6}  {}\n", core::escape_name(table), action,
                 grouped(rows.count), shown);
    }
    by_action.clear();
  };
  auto listed = restore::for_each_record(p, [&](const restore::RecordChange& r) -> Result<void> {
    if (r.table != table) {
      print_table();
      table = r.table;
    }
    auto& rows = by_action[std::string(restore::record_action_name(r.action))];
    if (++rows.count <= kShown) rows.first.push_back(r.key);
    return {};
  });
  print_table();
  if (!listed) fmt::print(out, "  (cannot list them: {})\n", listed.error().message);
  if (auto conflicts = p.records->conflicts; conflicts > 0) {
    fmt::print(out,
               "  {} conflict{}: kept = live changed the row since (--revert-changed sets it "
               "back); reused-key = live uses the key for another row (never overwritten); "
               "blocked = hangs off such a row\n",
               grouped(conflicts), conflicts == 1 ? "" : "s");
  }
}

// A tenant restore's documents: how many it replaces and adds, and the first of them.
void render_chosen(const restore::Plan& p, std::ostream& out) {
  if (!p.chosen_documents) return;
  const auto& chosen = *p.chosen_documents;
  fmt::print(out, "documents of the chosen rows: {} ({} replaced, {} added; the others stay):\n",
             grouped(chosen.count), grouped(chosen.replaced),
             grouped(chosen.count - chosen.replaced));
  constexpr std::size_t kShown = 10;
  auto shown = restore::for_each_chosen_document(
      p,
      [&](const restore::ChosenDocument& c) -> Result<void> {
        fmt::print(out, "  {} {}\n", c.replaces ? "replace" : "add    ",
                   core::escape_name(c.live_path));
        return {};
      },
      kShown);
  if (!shown) fmt::print(out, "  (cannot list them: {})\n", shown.error().message);
  if (chosen.count > kShown) fmt::print(out, "  … and {} more\n", grouped(chosen.count - kShown));
}

}  // namespace

std::string restore_verdict(const RestoreOutcome& o) {
  if (o.applied) return o.applied->applied ? "restored" : "refused";
  return o.plan && o.plan->safe() ? "safe" : "blocked";
}

void render_restore_text(const RestoreOutcome& o, std::ostream& out) {
  std::string verdict = restore_verdict(o);
  const restore::Plan* p = o.plan ? &*o.plan : nullptr;
  if (verdict == "safe") {
    double t = p->predicted_apply_seconds;
    fmt::print(out, "SAFE TO APPLY — predicted downtime {:.{}f} s\n", t, t < 1 ? 2 : 1);
  } else if (verdict == "blocked") {
    const auto* f = p ? first_error(p->checks) : nullptr;
    fmt::print(out, "BLOCKED: {}\n",
               f ? fmt::format("{} — {}", f->code, core::escape_name(f->message)) : "see below");
  } else if (verdict == "restored") {
    fmt::print(out, "RESTORED in {:.2f} s (downtime {:.3f} s, by {}); safety snapshot {}\n",
               o.applied->seconds, o.applied->downtime_seconds, o.applied->method,
               o.applied->snapshot.string());
    if (!o.applied->copy_reason.empty()) {
      fmt::print(out, "  copied, not swapped: {}\n", o.applied->copy_reason);
    }
  } else {
    fmt::print(out, "REFUSED ({}): {}; live is unchanged\n", o.applied->refusal.code,
               core::escape_name(o.applied->refusal.message));
  }
  if (p) {
    fmt::print(out, "  {} → {}{}\n", core::escape_name(p->backup), p->live.string(),
               p->live_documents ? " + " + p->live_documents->string() : "");
    if (p->seconds > 0) {
      fmt::print(out, "  dry run {:.2f} s ({}/s over the archive)\n", p->seconds,
                 human_bytes(static_cast<std::uint64_t>(p->throughput)));
    }
    if (!p->checks.empty()) {
      fmt::print(out, "checks:\n");
      render_findings_text(p->checks, out);
    }
    if (!p->effects.database.tables.empty()) {
      fmt::print(out, "{}\n",
                 p->selection.selective()
                     ? "the whole backup against live (what a full restore would do; this "
                       "selective restore's own changes follow):"
                     : "effects:");
      render_diff_text(p->effects, out);
    }
    render_changes(o.applied ? o.applied->changes : p->changes, out);
    render_records(*p, out);
    render_chosen(*p, out);
    if (o.dry_run && !p->steps.empty()) {
      fmt::print(out, "apply would:\n");
      for (std::size_t i = 0; i < p->steps.size(); ++i) {
        fmt::print(out, "  {}. {}\n", i + 1, p->steps[i]);
      }
    }
    if (o.dry_run && p->plan_dir && p->safe()) {
      fmt::print(out, "plan kept in {}; apply it with: restorekit restore --apply {}\n",
                 p->plan_dir->string(), p->plan_dir->string());
    }
  }
  if (o.applied && !o.applied->checks.empty()) {
    fmt::print(out, "after the restore:\n");
    render_findings_text(o.applied->checks, out);
  }
}

std::string recover_verdict(const restore::RecoverReport& r) {
  return r.outcome == restore::RecoverOutcome::kNothingToRecover ? "clean" : "recovered";
}

json restore_json(const RestoreOutcome& o) {
  json doc = {{"schema", core::schema::kRestore}, {"verdict", restore_verdict(o)}};
  const restore::Plan* p = o.plan ? &*o.plan : nullptr;
  json checks = p ? findings_json(p->checks) : json::array();
  if (o.applied) {
    for (auto& f : findings_json(o.applied->checks)) checks.push_back(f);
  }
  doc["checks"] = checks;
  doc["effects"] = p && !p->effects.database.tables.empty() ? diff_json(p->effects) : json(nullptr);
  doc["predicted_apply_seconds"] = p ? p->predicted_apply_seconds : 0.0;
  doc["plan"] = p && p->plan_dir ? json(p->plan_dir->string()) : json(nullptr);
  if (p) {
    doc["backup"] = p->backup;
    doc["live"] = p->live.string();
    doc["live_documents"] = p->live_documents ? json(p->live_documents->string()) : json(nullptr);
    doc["database_entry"] = p->database_entry;
    doc["selective"] = p->selection.selective();
    doc["changes"] = changes_json(o.applied ? o.applied->changes : p->changes);
    doc["chosen_documents"] = json::array();  // written by write_restore_json, one by one
    doc["records"] = json::array();           // written by write_restore_json, one by one
    doc["steps"] = p->steps;
    doc["live_hash"] = p->live_hash.hex();
    doc["result_hash"] = p->result_hash.hex();
    doc["dry_run_seconds"] = p->seconds;
    doc["archive_bytes"] = p->archive_bytes;
    doc["throughput"] = p->throughput;
  }
  if (o.applied) {
    doc["applied"] = {{"restored", o.applied->applied},
                      {"refusal", o.applied->refusal.message},
                      {"refusal_code", o.applied->refusal.code},
                      {"snapshot", o.applied->snapshot.string()},
                      {"downtime_seconds", o.applied->downtime_seconds},
                      {"method", o.applied->method},
                      {"copy_reason", o.applied->copy_reason},
                      {"seconds", o.applied->seconds}};
  }
  return doc;
}

Result<void> write_restore_json(const RestoreOutcome& o, std::ostream& out) {
  auto doc = restore_json(o);
  if (!o.plan) {
    out << json_text(doc) << '\n';
    return {};
  }
  const restore::Plan& p = *o.plan;
  auto documents = [&](const JsonEmit& emit) {
    return restore::for_each_chosen_document(
        p, [&](const restore::ChosenDocument& c) -> Result<void> {
          emit({{"path", c.path}, {"live_path", c.live_path}, {"replaces", c.replaces}});
          return {};
        });
  };
  auto records = [&](const JsonEmit& emit) {
    return restore::for_each_record(p, [&](const restore::RecordChange& r) -> Result<void> {
      emit({{"table", r.table},
            {"key", r.key},
            {"action", std::string(restore::record_action_name(r.action))}});
      return {};
    });
  };
  return write_json_with_arrays(std::move(doc),
                                {{"chosen_documents", documents}, {"records", records}}, out);
}

Result<std::string> restore_json_text(const RestoreOutcome& o) {
  std::ostringstream text;
  RK_TRY(write_restore_json(o, text));
  std::string out = std::move(text).str();
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

void render_recover_text(const restore::RecoverReport& r, std::ostream& out) {
  fmt::print(out, "RECOVERY: {}\n", restore::recover_outcome_name(r.outcome));
  for (const auto& a : r.actions) fmt::print(out, "  {}\n", a);
}

json recover_json(const restore::RecoverReport& r) {
  return {{"schema", core::schema::kRestore},
          {"verdict", recover_verdict(r)},
          {"outcome", restore::recover_outcome_name(r.outcome)},
          {"actions", r.actions}};
}

}  // namespace restorekit::cli
