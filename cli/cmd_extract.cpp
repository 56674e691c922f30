#include "cmd_extract.hpp"

#include <iostream>
#include <memory>

#include <fmt/format.h>

#include <restorekit/core/version.hpp>
#include <restorekit/restore/extract.hpp>

#include "common.hpp"
#include "render_extract.hpp"

namespace restorekit::cli {

namespace {

constexpr std::string_view kSchema = core::schema::kExtract;

struct ExtractArgs {
  CommonOptions common;
  std::string backup;
  std::vector<std::string> patterns;
  std::string out;
  std::string checksums;
  std::vector<std::string> tenants;
  std::vector<std::string> rows;
  bool list = false;
  bool overwrite = false;
  core::ReaderLimits limits;
};

int run_extract(const ExtractArgs& a) {
  if (!a.list && a.out.empty()) {
    return report_error(a.common, kSchema,
                        Error(ErrorCode::kInvalidArgument,
                              "say where to extract to: -o DIR (or --list to only list)"));
  }
  auto inputs = load_backup_inputs(a.common, a.limits);
  if (!inputs) return report_error(a.common, kSchema, inputs.error());
  restore::ExtractOptions o;
  o.patterns = a.patterns;
  o.out = a.out;
  o.mode = a.list ? restore::ExtractMode::kListOnly : restore::ExtractMode::kWrite;
  o.overwrite = a.overwrite ? restore::Overwrite::kReplace : restore::Overwrite::kNever;
  o.reader = std::move(inputs->reader);
  o.profile = std::move(inputs->profile);
  o.documents.tenants = a.tenants;
  for (const auto& r : a.rows) {
    auto row = parse_row(r);
    if (!row) return report_error(a.common, kSchema, row.error());
    o.documents.rows.push_back(std::move(*row));
  }
  if (!a.checksums.empty()) o.checksums_file = a.checksums;
  ProgressBar bar(a.common, a.list ? "listing" : "extracting");
  o.progress = bar.callback();
  o.cancel = interrupt_token();
  auto report = restore::extract(a.backup, o);
  bar.clear();
  if (!report) return report_error(a.common, kSchema, report.error());
  Result<void> written;
  if (a.common.json) {
    written = write_extract_json(*report, a.list, std::cout);
  } else if (!a.common.quiet || report->failed()) {
    written = render_extract_text(*report, a.list, std::cout);
  }
  if (!written) return report_error(a.common, kSchema, written.error());
  return report->failed() ? kExitProblems : kExitOk;
}

}  // namespace

void setup_extract(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<ExtractArgs>();
  auto* cmd = app.add_subcommand(
      "extract", "Get chosen files back out of a backup, each checked before it is written");
  cmd->add_option("backup", args->backup, "backup archive")->required();
  cmd->add_option("patterns", args->patterns,
                  "globs (*, ?, [...]) of the entries to extract; one without '/' also matches "
                  "a file name in any folder; none: every entry");
  cmd->add_option("-o,--out", args->out, "folder to extract into (created when absent)");
  cmd->add_flag("--list", args->list, "only list what would be extracted");
  cmd->add_flag("--overwrite", args->overwrite, "replace files that exist in the folder");
  cmd->add_option("--checksums", args->checksums,
                  "xxhsum file to check the files against too (besides the backup's own)");
  cmd->add_option("--tenant", args->tenants,
                  "also the documents this tenant's rows name (needs a profile with "
                  "documents.references and the tenant column); repeatable")
      ->allow_extra_args(false);  // one value each: patterns may follow
  cmd->add_option("--row", args->rows,
                  "also the documents one row names, TABLE:KEY (and rows pointing at it through "
                  "a declared foreign key); repeatable")
      ->allow_extra_args(false);
  add_common_flags(*cmd, args->common, /*catalog=*/false, /*profile=*/true);
  add_limit_flags(*cmd, args->limits);
  cmd->callback([args, &exit_code] { exit_code = run_extract(*args); });
}

}  // namespace restorekit::cli
