#include "cmd_backup.hpp"

#include <unistd.h>

#include <chrono>
#include <iostream>
#include <memory>

#include <fmt/format.h>
#include <fmt/ostream.h>

#include <restorekit/core/backup.hpp>
#include <restorekit/core/safe_path.hpp>
#include <restorekit/core/version.hpp>
#include <restorekit/verify/rotation.hpp>

#include "common.hpp"

namespace restorekit::cli {

namespace {

constexpr std::string_view kSchema = core::schema::kBackup;

struct BackupArgs {
  CommonOptions common;
  std::string db;
  std::string docs;
  std::string output;
  bool encrypt = false;
  std::string tenant_column;
  int level = -1;
  int threads = 0;
  unsigned keep = 0;
  std::string format = "tar.zst";
  core::ReaderLimits limits;
};

Result<std::string> encryption_password(const CommonOptions& o) {
  RK_TRY_ASSIGN(auto pw, load_passwords(o));
  if (!pw.candidates.empty()) return pw.candidates.front();
  if (pw.prompt) {
    auto first = pw.prompt();
    auto second = first ? pw.prompt() : std::nullopt;
    if (first && second && *first == *second && !first->empty()) return *first;
    return fail(ErrorCode::kInvalidArgument, "the passwords did not match (or were empty)");
  }
  return fail(ErrorCode::kInvalidArgument,
              "--encrypt needs a password: give --password-file FILE or --password-env VAR");
}

Result<core::BackupOptions> build_options(const BackupArgs& a) {
  core::BackupOptions o;
  o.database = a.db;
  if (!a.docs.empty()) o.documents = a.docs;
  o.output = a.output;
  o.level = a.level;
  o.threads = a.threads;
  o.tool_version = std::string(core::version());
  o.cancel = interrupt_token();
  if (a.encrypt) {
    RK_TRY_ASSIGN(o.password, encryption_password(a.common));
  }
  RK_TRY_ASSIGN(auto profile, load_profile_option(a.common));
  if (profile) o.tenants = profile->tenant_spec();
  if (!a.tenant_column.empty()) {
    core::TenantSpec spec = o.tenants.value_or(core::TenantSpec{});
    spec.column = a.tenant_column;
    o.tenants = spec;
  }
  if (!o.documents && profile && profile->live_documents) o.documents = profile->live_documents;
  return o;
}

void render_text(const core::BackupResult& r, double seconds, std::ostream& out) {
  const auto& h = r.header;
  std::uint64_t rows = 0;
  for (const auto& t : h.databases.front().tables) rows += t.rows;
  fmt::print(out, "wrote {}: {} ({} tables, {} rows), {} documents ({}); {} archive in {:.2f} s\n",
             core::escape_name(r.path.string()), h.databases.front().entry,
             h.databases.front().tables.size(), grouped(rows), grouped(h.document_files),
             human_bytes(h.document_bytes), human_bytes(r.archive_bytes), seconds);
  for (const auto& s : r.skipped) {
    fmt::print(out, "  skipped {} (not a regular file or folder)\n", core::escape_name(s));
  }
}

// `--keep N`: -o names a folder; the new backup is verified before old ones are deleted.
int run_rotation(const BackupArgs& a, core::BackupOptions options) {
  verify::RotationOptions o;
  o.folder = a.output;
  o.keep = a.keep;
  o.extension = a.format;
  options.output.clear();
  o.backup = std::move(options);
  auto inputs = load_backup_inputs(a.common, a.limits);
  if (!inputs) return report_error(a.common, kSchema, inputs.error());
  o.verify.reader = inputs->reader;
  if (o.backup.password) o.verify.reader.passwords.candidates = {*o.backup.password};
  o.verify.profile = inputs->profile;
  auto r = verify::rotate_backup(o);
  if (!r) return report_error(a.common, kSchema, r.error());
  if (a.common.json) {
    std::vector<std::string> removed;
    for (const auto& p : r->removed) removed.push_back(p.string());
    print_json({{"schema", kSchema},
                {"path", r->written.string()},
                {"verdict", r->intact ? "intact" : "damaged"},
                {"removed", removed},
                {"kept", verify::good_copies(o.folder).size()}});
  } else if (!a.common.quiet || !r->intact) {
    if (r->intact) {
      fmt::print("wrote and verified {}; {} good cop{} kept, {} old one{} removed\n",
                 r->written.string(), verify::good_copies(o.folder).size(),
                 verify::good_copies(o.folder).size() == 1 ? "y" : "ies", r->removed.size(),
                 r->removed.size() == 1 ? "" : "s");
    } else {
      fmt::print(
          "DAMAGED: the new backup failed verification and was kept aside as {}; no old "
          "copy was removed\n",
          r->written.string());
      for (const auto& f : r->report.findings) {
        fmt::print("  {:<18} {}\n", f.code, core::escape_name(f.message));
      }
    }
  }
  return r->intact ? kExitOk : kExitProblems;
}

int run_backup(const BackupArgs& a) {
  auto started = std::chrono::steady_clock::now();
  auto options = build_options(a);
  if (!options) return report_error(a.common, kSchema, options.error());
  if (a.keep > 0) return run_rotation(a, std::move(*options));
  ProgressBar bar(a.common, "backing up");
  options->progress = bar.callback();
  auto result = core::write_backup(*options);
  bar.clear();
  if (!result) return report_error(a.common, kSchema, result.error());
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (a.common.json) {
    nlohmann::ordered_json doc = {
        {"schema", kSchema},
        {"path", result->path.string()},
        {"archive_bytes", result->archive_bytes},
        {"header", nlohmann::ordered_json::parse(core::header_to_json(result->header))},
        {"skipped", result->skipped},
        {"seconds", seconds},
    };
    print_json(doc);
  } else if (!a.common.quiet) {
    render_text(*result, seconds, std::cout);
  }
  return kExitOk;
}

}  // namespace

void setup_backup(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<BackupArgs>();
  auto* cmd = app.add_subcommand("backup", "Write a restorekit backup of a database and documents");
  cmd->add_option("--db", args->db, "the live SQLite database")->required();
  cmd->add_option("--docs", args->docs, "the live documents folder");
  cmd->add_option("-o,--output", args->output,
                  "backup file: .zip, .tar.gz, .tar.zst or .tar.xz (with --keep: a folder)")
      ->required();
  cmd->add_option("--keep", args->keep,
                  "rotate: write a dated backup into the -o folder, verify it, then keep the N "
                  "newest good copies");
  cmd->add_option("--format", args->format, "with --keep: zip, tar.gz, tar.zst or tar.xz")
      ->capture_default_str();
  cmd->add_flag("--encrypt", args->encrypt, "AES-256 encryption (zip only)");
  cmd->add_option("--tenant-column", args->tenant_column,
                  "column naming the tenant (overrides the profile)");
  cmd->add_option("--level", args->level, "compression level (default: the format's)");
  cmd->add_option("--threads", args->threads, "compressor threads for zstd and xz");
  add_common_flags(*cmd, args->common, /*catalog=*/false, /*profile=*/true);
  cmd->callback([args, &exit_code] { exit_code = run_backup(*args); });
}

}  // namespace restorekit::cli
