#include "cmd_verify.hpp"

#include <algorithm>
#include <fstream>
#include <iostream>
#include <memory>

#include <fmt/format.h>

#include <restorekit/catalog/catalog.hpp>
#include <restorekit/core/fs.hpp>
#include <restorekit/core/safe_path.hpp>
#include <restorekit/core/version.hpp>
#include <restorekit/verify/verify.hpp>

#include "common.hpp"
#include "render_verify.hpp"

namespace restorekit::cli {

namespace {

constexpr std::string_view kSchema = core::schema::kVerify;

struct VerifyArgs {
  CommonOptions common;
  std::string backup;
  std::string checksums;
  std::string junit;
  unsigned threads = 0;
  bool require_database = false;
  core::ReaderLimits limits;
};

Result<void> write_junit(const Result<verify::VerifyReport>& report, const VerifyArgs& a) {
  const std::string& path = a.junit;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (report) {
    render_verify_junit(*report, out);
  } else {
    render_verify_junit_error(a.backup, report.error(), out);
  }
  out.close();
  if (!out) {
    return fail(ErrorCode::kIo, fmt::format("cannot write the JUnit report {}", path), path);
  }
  return {};
}

// Records the listing with hashes (diff and restore then need not read the documents again),
// the verdict and, for an archive the catalog does not know yet, the summary verify made.
void record_in_catalog(const VerifyArgs& a, const verify::VerifyReport& report) {
  auto index = open_catalog(a.common);
  if (!index) return;
  if (auto recorded = catalog::record(*index, a.backup, report); !recorded && !a.common.quiet) {
    fmt::print(stderr, "note: the result was not recorded in the catalog: {}\n",
               recorded.error().message);
  }
}

// An error (exit 2) that also lands in the JUnit report, as one case that could not run: a CI
// job that reads the file sees why nothing was verified.
int verify_error(const VerifyArgs& a, const Error& error) {
  if (!a.junit.empty()) (void)write_junit(Result<verify::VerifyReport>(tl::unexpected(error)), a);
  return report_error(a.common, kSchema, error);
}

int exit_code_of(const VerifyArgs& a, const verify::VerifyReport& report) {
  switch (report.verdict()) {
    case core::Verdict::kIntact: return kExitOk;
    case core::Verdict::kDamaged: return kExitProblems;
    case core::Verdict::kLocked: break;  // could not verify: not damage
  }
  bool wrong = std::any_of(report.findings.begin(), report.findings.end(),
                           [](const auto& f) { return f.code == "BAD_PASSWORD"; });
  fmt::print(stderr, "restorekit: error: {} could not be verified: {}\n",
             core::escape_name(a.backup),
             wrong ? "the password is wrong" : "it is encrypted and no password was given");
  return kExitError;
}

int run_verify(const VerifyArgs& a) {
  auto inputs = load_backup_inputs(a.common, a.limits);
  if (!inputs) return verify_error(a, inputs.error());
  verify::VerifyOptions o;
  o.reader = inputs->reader;
  o.profile = inputs->profile;
  if (!a.checksums.empty()) o.checksums_file = a.checksums;
  o.threads = a.threads;
  o.require_database = a.require_database;
  ProgressBar bar(a.common, "verifying");
  o.progress = bar.callback();
  o.cancel = interrupt_token();
  auto report = verify::verify(a.backup, o);
  bar.clear();
  if (!report) return verify_error(a, report.error());
  record_in_catalog(a, *report);
  if (!a.junit.empty()) {
    if (auto written = write_junit(report, a); !written) {
      return report_error(a.common, kSchema, written.error());
    }
  }
  if (a.common.json) {
    print_json(verify_json(*report));
  } else if (!a.common.quiet || !report->intact()) {
    render_verify_text(*report, std::cout);
  }
  return exit_code_of(a, *report);
}

}  // namespace

void setup_verify(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<VerifyArgs>();
  auto* cmd = app.add_subcommand(
      "verify", "Read every byte of a backup: checksums, structure, databases, documents");
  cmd->add_option("backup", args->backup, "backup archive")->required();
  cmd->add_option("--checksums", args->checksums,
                  "xxhsum file (XXH32/XXH64/XXH3/XXH128, GNU or BSD style) to check entries "
                  "against");
  cmd->add_option("--threads", args->threads, "readers in parallel for zip (default: all cores)");
  cmd->add_option("--junit", args->junit, "also write a JUnit XML report to this file");
  cmd->add_flag("--require-database", args->require_database,
                "a backup without a readable database is damaged (exit 1), not a warning");
  add_common_flags(*cmd, args->common, /*catalog=*/true, /*profile=*/true);
  add_limit_flags(*cmd, args->limits);
  cmd->callback([args, &exit_code] { exit_code = run_verify(*args); });
}

}  // namespace restorekit::cli
