#include "cmd_report.hpp"

#include <unistd.h>

#include <ctime>
#include <iostream>
#include <memory>

#include <fmt/format.h>

#include <restorekit/catalog/catalog.hpp>
#include <restorekit/core/fs.hpp>
#include <restorekit/core/version.hpp>
#include <restorekit/restore/restore.hpp>
#include <restorekit/verify/verify.hpp>

#include "common.hpp"
#include "render_common.hpp"
#include "render_report.hpp"

namespace restorekit::cli {

namespace {

namespace fs = std::filesystem;

constexpr std::string_view kSchema = core::schema::kReport;

struct ReportArgs {
  CommonOptions common;
  std::string backup;
  std::string live;
  std::string live_docs;
  std::string out;
  std::string format;
  core::ReaderLimits limits;
};

Result<ReportFormat> format_of(const ReportArgs& a) {
  std::string f = a.format;
  if (f.empty()) f = fs::path(a.out).extension() == ".md" ? "md" : "html";
  if (f == "html") return ReportFormat::kHtml;
  if (f == "md" || f == "markdown") return ReportFormat::kMarkdown;
  return fail(ErrorCode::kInvalidArgument, fmt::format("--format {}: give html or md", f));
}

// Written beside the target under a temporary name, then renamed: never half a report.
Result<void> write_report(const fs::path& out, const std::string& text) {
  fs::path temp = out;
  temp += fmt::format(".restorekit-{}.tmp", ::getpid());
  {
    RK_TRY_ASSIGN(auto fd, core::create_new_file(temp, 0644));
    auto written = core::write_all(fd.get(), text.data(), text.size(), temp.string());
    if (!written) {
      std::error_code ec;
      fs::remove(temp, ec);
      return written;
    }
  }
  auto renamed = core::rename_durably(temp, out);
  if (!renamed) {
    std::error_code ec;
    fs::remove(temp, ec);
  }
  return renamed;
}

Result<restore::Plan> dry_run(const ReportArgs& a, BackupInputs inputs) {
  restore::PlanOptions o;
  if (inputs.profile) restore::apply_profile(o, *inputs.profile);
  o.live = a.live;
  if (!a.live_docs.empty()) o.live_documents = a.live_docs;
  o.stage_documents = false;
  o.diff.sample_rows = 10;  // the first names of lost, revived and changed documents
  o.reader = std::move(inputs.reader);
  o.cancel = interrupt_token();
  return restore::plan(a.backup, o);
}

int exit_code_of(const std::string& verdict) {
  if (verdict == "intact" || verdict == "safe") return kExitOk;
  if (verdict == "locked") return kExitError;  // could not look inside: not a verdict
  return kExitProblems;
}

int run_report(const ReportArgs& a) {
  auto format = format_of(a);
  if (!format) return report_error(a.common, kSchema, format.error());
  auto inputs = load_backup_inputs(a.common, a.limits);
  if (!inputs) return report_error(a.common, kSchema, inputs.error());
  ReportInput in;
  in.generated_at = utc_minute(std::time(nullptr)) + " UTC";
  std::optional<restore::Plan> plan;
  std::optional<verify::VerifyReport> verification;
  ProgressBar bar(a.common, "checking");
  if (!a.live.empty()) {
    auto made = dry_run(a, std::move(*inputs));
    bar.clear();
    if (!made) return report_error(a.common, kSchema, made.error());
    plan = std::move(*made);
    restore::discard(*plan);
    in.plan = &*plan;
    in.verification = &*plan->verification;
  } else {
    verify::VerifyOptions o;
    o.reader = std::move(inputs->reader);
    o.profile = std::move(inputs->profile);
    o.progress = bar.callback();
    o.cancel = interrupt_token();
    auto checked = verify::verify(a.backup, o);
    bar.clear();
    if (!checked) return report_error(a.common, kSchema, checked.error());
    verification = std::move(*checked);
    in.verification = &*verification;
  }
  if (auto index = open_catalog(a.common)) {
    // A verify pass is recorded as `restorekit verify` records its own (the dry run's report
    // has no listing to record).
    if (verification) (void)catalog::record(*index, a.backup, *verification);
    if (auto rows = catalog::rows(*index)) in.timeline = std::move(*rows);
  }
  if (auto written = write_report(a.out, render_report(in, *format)); !written) {
    return report_error(a.common, kSchema, written.error());
  }
  std::string verdict = report_verdict(in);
  if (a.common.json) {
    print_json({{"schema", kSchema},
                {"path", a.backup},
                {"verdict", verdict},
                {"report", a.out},
                {"format", *format == ReportFormat::kHtml ? "html" : "md"}});
  } else if (!a.common.quiet) {
    fmt::print("{}: {} (report: {})\n", verdict, a.backup, a.out);
  }
  return exit_code_of(verdict);
}

}  // namespace

void setup_report(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<ReportArgs>();
  auto* cmd = app.add_subcommand("report",
                                 "Write a triage report (HTML or Markdown) to attach to a ticket");
  cmd->add_option("backup", args->backup, "backup archive")->required();
  cmd->add_option("--live", args->live, "the live database: show what a restore would do");
  cmd->add_option("--live-docs", args->live_docs, "the live documents folder");
  cmd->add_option("-o,--out", args->out, "the report file to write")->required();
  cmd->add_option("--format", args->format, "html (default) or md (default for a .md file)");
  add_common_flags(*cmd, args->common, /*catalog=*/true, /*profile=*/true);
  add_limit_flags(*cmd, args->limits);
  cmd->callback([args, &exit_code] { exit_code = run_report(*args); });
}

}  // namespace restorekit::cli
