#include "cmd_restore.hpp"

#include <iostream>
#include <memory>

#include <fmt/format.h>

#include <restorekit/core/sqlite.hpp>

#include <restorekit/core/version.hpp>
#include <restorekit/restore/restore.hpp>

#include "common.hpp"
#include "render_restore.hpp"

namespace restorekit::cli {

namespace {

constexpr std::string_view kSchema = core::schema::kRestore;

struct RestoreArgs {
  CommonOptions common;
  std::string backup;
  std::string live;
  std::string live_docs;
  bool no_docs = false;
  bool dry_run = false;
  std::string plan_out;
  std::string stage_dir;
  bool yes = false;
  std::string apply;
  bool rollback = false;
  bool recover = false;
  std::vector<std::string> tenants;
  std::string tenant_column;
  std::vector<std::string> tables;
  std::vector<std::string> exclude_tables;
  bool drop_other_tenants = false;
  std::vector<std::string> records;  // --row TABLE:KEY
  std::vector<std::string> where;    // TABLE, CONDITION pairs
  bool revert_changed = false;
  bool allow_schema_changes = false;
  unsigned keep_snapshots = 3;
  std::size_t rows = 0;
  std::string docs_root;
  core::ReaderLimits limits;
};

Error usage(std::string message) {
  return Error(ErrorCode::kInvalidArgument, std::move(message));
}

std::string live_path(const RestoreArgs& a, const std::optional<core::Profile>& profile) {
  if (!a.live.empty()) return a.live;
  if (profile && profile->live_database) return profile->live_database->string();
  return {};
}

Result<restore::PlanOptions> plan_options(const RestoreArgs& a, BackupInputs inputs) {
  restore::PlanOptions o;
  o.live = live_path(a, inputs.profile);
  if (inputs.profile) restore::apply_profile(o, *inputs.profile);
  if (!a.live_docs.empty()) o.live_documents = a.live_docs;
  if (!a.docs_root.empty()) o.documents_root = a.docs_root;
  o.documents = !a.no_docs;
  if (!a.tenant_column.empty()) {
    core::TenantSpec spec = o.selection.tenant.value_or(core::TenantSpec{});
    spec.column = a.tenant_column;
    o.selection.tenant = spec;
    o.diff.tenants = spec;
  }
  o.selection.tenants = a.tenants;
  o.selection.tables = a.tables;
  for (const auto& t : a.exclude_tables) o.selection.exclude_tables.push_back(t);
  o.selection.drop_other_tenants = a.drop_other_tenants;
  if (o.selection.drop_other_tenants && o.selection.tenants.empty()) {
    return tl::unexpected(usage("--drop-other-tenants needs --tenant"));
  }
  for (const auto& r : a.records) {
    RK_TRY_ASSIGN(auto row, parse_row(r));
    o.selection.rows.push_back(std::move(row));
  }
  for (std::size_t i = 0; i + 1 < a.where.size(); i += 2) {
    o.selection.where.push_back(restore::RowCondition{a.where[i], a.where[i + 1]});
  }
  o.selection.revert_changed = a.revert_changed;
  if (a.revert_changed && !o.selection.records()) {
    return tl::unexpected(usage("--revert-changed goes with --row or --where"));
  }
  o.allow_schema_changes = a.allow_schema_changes;
  o.diff.sample_rows = a.rows;
  if (!a.plan_out.empty()) o.plan_out = a.plan_out;
  if (!a.stage_dir.empty()) o.stage_dir = a.stage_dir;
  o.stage_documents = a.yes;
  o.reader = std::move(inputs.reader);
  o.cancel = interrupt_token();
  return o;
}

int finish(const RestoreArgs& a, const RestoreOutcome& outcome) {
  if (a.common.json) {
    if (auto written = write_restore_json(outcome, std::cout); !written) {
      return report_error(a.common, kSchema, written.error());
    }
  } else if (!a.common.quiet || restore_verdict(outcome) == "blocked" ||
             restore_verdict(outcome) == "refused") {
    render_restore_text(outcome, std::cout);
  }
  std::string verdict = restore_verdict(outcome);
  if (verdict == "blocked" || verdict == "refused") return kExitProblems;
  if (outcome.applied) {
    for (const auto& f : outcome.applied->checks) {
      if (f.severity == core::Severity::kError) return kExitError;
    }
  }
  return kExitOk;
}

// Apply, rollback and recover decide themselves where Ctrl-C may stop them (before the commit
// point, through ApplyOptions::cancel): past it, every SQLite step must run, so the interrupt
// no longer cancels queries.
void journaled_steps_ahead() {
  core::set_query_cancel(CancelToken());
}

int run_recover(const RestoreArgs& a, const std::string& live) {
  journaled_steps_ahead();
  auto r = restore::recover(live);
  if (!r) return report_error(a.common, kSchema, r.error());
  if (a.common.json) {
    print_json(recover_json(*r));
  } else if (!a.common.quiet) {
    render_recover_text(*r, std::cout);
  }
  return kExitOk;
}

int run_rollback(const RestoreArgs& a, const std::string& live,
                 const restore::ApplyOptions& apply_options) {
  journaled_steps_ahead();
  auto r = restore::rollback(live, apply_options);
  if (!r) return report_error(a.common, kSchema, r.error());
  RestoreOutcome outcome;
  outcome.applied = std::move(*r);
  return finish(a, outcome);
}

// --apply PLAN: a plan kept by an earlier dry run.
int run_kept_plan(const RestoreArgs& a, const restore::ApplyOptions& apply_options) {
  auto p = restore::load_plan(a.apply);
  if (!p) return report_error(a.common, kSchema, p.error());
  RestoreOutcome outcome;
  outcome.plan = std::move(*p);
  if (auto held = restore::hold_chosen_documents(*outcome.plan); !held) {
    return report_error(a.common, kSchema, held.error());
  }
  journaled_steps_ahead();
  auto r = restore::apply(*outcome.plan, apply_options);
  if (!r) return report_error(a.common, kSchema, r.error());
  outcome.applied = std::move(*r);
  return finish(a, outcome);
}

// --dry-run, or --yes: plan, then apply a safe plan at once.
int run_plan(const RestoreArgs& a, BackupInputs inputs,
             const restore::ApplyOptions& apply_options) {
  if (a.backup.empty()) {
    return report_error(a.common, kSchema, usage("give the backup to restore from"));
  }
  auto options = plan_options(a, std::move(inputs));
  if (!options) return report_error(a.common, kSchema, options.error());
  if (options->live.empty()) {
    return report_error(a.common, kSchema,
                        usage("restore needs the live database: give --live DB (or [live] "
                              "database in the profile)"));
  }
  ProgressBar bar(a.common, "planning");
  options->progress = bar.callback();
  auto p = restore::plan(a.backup, *options);
  bar.clear();
  if (!p) return report_error(a.common, kSchema, p.error());
  RestoreOutcome outcome;
  outcome.plan = std::move(*p);
  outcome.dry_run = a.dry_run;
  if (a.yes) {
    if (auto held = restore::hold_chosen_documents(*outcome.plan); !held) {
      restore::discard(*outcome.plan);
      return report_error(a.common, kSchema, held.error());
    }
  }
  if (a.yes && outcome.plan->safe()) {
    journaled_steps_ahead();
    auto r = restore::apply(*outcome.plan, apply_options);
    if (!r) {
      restore::discard(*outcome.plan);
      return report_error(a.common, kSchema, r.error());
    }
    outcome.applied = std::move(*r);
  }
  if (a.yes && !outcome.applied) restore::discard(*outcome.plan);
  if (outcome.applied && !outcome.applied->applied) restore::discard(*outcome.plan);
  return finish(a, outcome);
}

int run_restore(const RestoreArgs& a) {
  int modes =
      int(a.dry_run) + int(a.yes) + int(!a.apply.empty()) + int(a.rollback) + int(a.recover);
  if (modes != 1) {
    return report_error(a.common, kSchema,
                        usage("say what to do: --dry-run (plan only), --yes (plan and restore), "
                              "--apply PLAN, --rollback or --recover — exactly one"));
  }
  auto inputs = load_backup_inputs(a.common, a.limits);
  if (!inputs) return report_error(a.common, kSchema, inputs.error());
  restore::ApplyOptions apply_options;
  apply_options.keep_snapshots = a.keep_snapshots;
  apply_options.cancel = interrupt_token();  // honoured by apply up to its commit point
  std::string live = live_path(a, inputs->profile);
  if ((a.rollback || a.recover) && live.empty()) {
    return report_error(a.common, kSchema, usage("give the live database with --live DB"));
  }
  if (a.recover) return run_recover(a, live);
  if (a.rollback) return run_rollback(a, live, apply_options);
  if (!a.apply.empty()) return run_kept_plan(a, apply_options);
  return run_plan(a, std::move(*inputs), apply_options);
}

}  // namespace

void setup_restore(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<RestoreArgs>();
  auto* cmd = app.add_subcommand(
      "restore",
      "Dry-run a restore (checks, effects, predicted downtime), then restore atomically with a "
      "safety snapshot; roll back or recover an interrupted restore");
  cmd->add_option("backup", args->backup, "backup archive to restore from");
  cmd->add_option("--live", args->live, "the live SQLite database");
  cmd->add_option("--live-docs", args->live_docs, "the live documents folder");
  cmd->add_flag("--no-docs", args->no_docs, "leave the documents alone");
  cmd->add_flag("--dry-run", args->dry_run, "plan only: the live system is not touched");
  cmd->add_option("--plan-out", args->plan_out,
                  "with --dry-run: keep the plan and the staged data in this folder");
  cmd->add_option("--stage-dir", args->stage_dir,
                  "with --dry-run (no --plan-out): stage the database here instead of beside "
                  "live (default: beside live, or the temp folder when live's disk is tight)");
  cmd->add_flag("--yes", args->yes, "plan, then restore when every check passes");
  cmd->add_option("--apply", args->apply, "apply a plan kept with --plan-out");
  cmd->add_flag("--rollback", args->rollback, "put back the last safety snapshot");
  cmd->add_flag("--recover", args->recover, "finish or undo an interrupted restore");
  cmd->add_option("--tenant", args->tenants, "restore only this tenant (repeatable)");
  cmd->add_option("--tenant-column", args->tenant_column, "the column that names the tenant");
  cmd->add_option("--tables", args->tables, "restore only these tables")->delimiter(',');
  cmd->add_option("--exclude-tables", args->exclude_tables, "never restore these tables")
      ->delimiter(',');
  cmd->add_flag("--drop-other-tenants", args->drop_other_tenants,
                "with --tenant: also delete every other tenant's rows");
  cmd->add_option("--row", args->records,
                  "restore this row (TABLE:KEY, a composite key as t:1,2; repeatable) with the "
                  "rows that hang off it and the parents it needs");
  cmd->add_option("--where", args->where,
                  "restore the rows of TABLE that meet an SQL condition on the backup (TABLE "
                  "'CONDITION'; repeatable), with what hangs off them")
      ->expected(2)
      ->allow_extra_args(false);
  cmd->add_flag("--revert-changed", args->revert_changed,
                "with --row/--where: also set rows live changed since back (default: keep them, "
                "reported as conflicts)");
  cmd->add_flag("--allow-schema-changes", args->allow_schema_changes,
                "restore even when the backup's schema differs (triggers, views, older schema)");
  cmd->add_option("--keep-snapshots", args->keep_snapshots, "safety snapshots to keep")
      ->capture_default_str();
  cmd->add_option("--rows", args->rows, "show up to N sample rows per category and table");
  cmd->add_option("--docs-root", args->docs_root, "documents root inside the backup");
  add_common_flags(*cmd, args->common, /*catalog=*/false, /*profile=*/true);
  add_limit_flags(*cmd, args->limits);
  cmd->callback([args, &exit_code] { exit_code = run_restore(*args); });
}

}  // namespace restorekit::cli
