#include "cmd_inspect.hpp"

#include <iostream>
#include <memory>

#include <restorekit/core/version.hpp>
#include <restorekit/inspect/inspect.hpp>

#include "common.hpp"
#include "render_inspect.hpp"

namespace restorekit::cli {

namespace {

constexpr std::string_view kSchema = core::schema::kInspect;

struct InspectArgs {
  CommonOptions common;
  std::string backup;
  bool entries = false;
  core::ReaderLimits limits;
};

int run_inspect(const InspectArgs& a) {
  auto inputs = load_backup_inputs(a.common, a.limits);
  if (!inputs) return report_error(a.common, kSchema, inputs.error());
  inspect::InspectOptions o;
  o.reader = std::move(inputs->reader);
  o.profile = std::move(inputs->profile);
  o.list_entries = a.entries ? inspect::ListEntries::kYes : inspect::ListEntries::kNo;
  auto index = open_catalog(a.common);
  if (index) o.index = &*index;
  ProgressBar bar(a.common, "inspecting");
  o.progress = bar.callback();
  o.cancel = interrupt_token();
  auto report = inspect::inspect(a.backup, o);
  bar.clear();
  if (!report) return report_error(a.common, kSchema, report.error());
  if (a.common.json) {
    if (auto written = write_inspect_json(*report, a.entries, std::cout); !written) {
      return report_error(a.common, kSchema, written.error());
    }
  } else {
    render_inspect_text(*report, a.entries, std::cout);
  }
  if (report->incomplete) {
    CommonOptions text_only = a.common;
    text_only.json = false;  // the JSON document above already carries the error
    return report_error(text_only, kSchema, *report->incomplete);
  }
  return kExitOk;
}

}  // namespace

void setup_inspect(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<InspectArgs>();
  auto* cmd = app.add_subcommand(
      "inspect", "Show what is in a backup: format, databases, tables, tenants, documents");
  cmd->add_option("backup", args->backup, "backup archive")->required();
  cmd->add_flag("--entries", args->entries, "list every entry");
  add_common_flags(*cmd, args->common, /*catalog=*/true, /*profile=*/true);
  add_limit_flags(*cmd, args->limits);
  cmd->callback([args, &exit_code] { exit_code = run_inspect(*args); });
}

}  // namespace restorekit::cli
