#include "cmd_diff.hpp"

#include <iostream>
#include <memory>

#include <fmt/format.h>

#include <restorekit/core/version.hpp>
#include <restorekit/diff/diff.hpp>

#include "common.hpp"
#include "render_diff.hpp"

namespace restorekit::cli {

namespace {

constexpr std::string_view kSchema = core::schema::kDiff;

struct DiffArgs {
  CommonOptions common;
  std::string backup;
  std::string live;
  std::string live_docs;
  std::string tenant_column;
  std::vector<std::string> tables;
  std::string docs_root;
  bool by_content = false;
  bool every_row = false;
  std::size_t rows = 0;
  core::ReaderLimits limits;
};

// Flags first, then the profile, for every setting both can give.
Result<diff::BackupDiffOptions> build_options(const DiffArgs& a, diff::BackupDiffOptions o,
                                              const std::optional<core::Profile>& profile) {
  o.diff.tables = a.tables;
  o.diff.sample_rows = a.rows;
  o.diff.no_key = a.by_content ? diff::NoKeyTables::kByContent : diff::NoKeyTables::kByRowid;
  o.diff.every_row = a.every_row;
  if (profile) diff::apply_profile(o, *profile);
  if (!a.tenant_column.empty()) {
    core::TenantSpec spec = o.diff.tenants.value_or(core::TenantSpec{});
    spec.column = a.tenant_column;
    o.diff.tenants = spec;
  }
  if (!a.docs_root.empty()) o.documents_root = a.docs_root;
  if (!a.live_docs.empty()) {
    o.live_documents = a.live_docs;
    o.without_documents = diff::BackupDiffOptions::WithoutDocuments::kError;
  }
  return o;
}

int run_diff(const DiffArgs& a) {
  auto inputs = load_backup_inputs(a.common, a.limits);
  if (!inputs) return report_error(a.common, kSchema, inputs.error());
  diff::BackupDiffOptions base;
  base.reader = std::move(inputs->reader);
  base.diff.cancel = interrupt_token();
  auto options = build_options(a, std::move(base), inputs->profile);
  if (!options) return report_error(a.common, kSchema, options.error());
  std::string live = a.live;
  if (live.empty() && inputs->profile && inputs->profile->live_database) {
    live = inputs->profile->live_database->string();
  }
  if (live.empty()) {
    return report_error(a.common, kSchema,
                        Error(ErrorCode::kInvalidArgument,
                              "diff needs the live database: give --live DB (or [live] database "
                              "in the profile)"));
  }
  auto index = open_catalog(a.common);
  if (index) options->index = &*index;
  ProgressBar bar(a.common, "comparing");
  options->diff.progress = bar.callback();
  auto report = diff::diff_backup(a.backup, live, *options);
  bar.clear();
  if (!report) return report_error(a.common, kSchema, report.error());
  if (a.common.json) {
    print_json(diff_json(*report));
  } else if (!a.common.quiet || report->changed()) {
    render_diff_text(*report, std::cout);
  }
  return report->changed() ? kExitProblems : kExitOk;
}

}  // namespace

void setup_diff(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<DiffArgs>();
  auto* cmd = app.add_subcommand(
      "diff",
      "What a restore would do to the live database and documents (lost, revived, "
      "reverted rows per table and tenant)");
  cmd->add_option("backup", args->backup, "backup archive or SQLite file")->required();
  cmd->add_option("--live", args->live, "the live SQLite database");
  cmd->add_option("--live-docs", args->live_docs, "the live documents folder");
  cmd->add_option("--tenant-column", args->tenant_column, "break every count down per tenant");
  cmd->add_option("--tables", args->tables, "only these tables")->delimiter(',');
  cmd->add_option("--docs-root", args->docs_root, "documents root inside the backup");
  cmd->add_flag("--by-content", args->by_content,
                "match rows of tables without a primary key by content, not rowid");
  cmd->add_flag("--every-row", args->every_row,
                "read every row, also those in B-tree pages both files hold byte for byte");
  cmd->add_option("--rows", args->rows, "show up to N sample rows per category and table");
  add_common_flags(*cmd, args->common, /*catalog=*/true, /*profile=*/true);
  add_limit_flags(*cmd, args->limits);
  cmd->callback([args, &exit_code] { exit_code = run_diff(*args); });
}

}  // namespace restorekit::cli
