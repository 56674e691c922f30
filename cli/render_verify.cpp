#include "render_verify.hpp"

#include <map>
#include <set>

#include <fmt/format.h>
#include <fmt/ostream.h>

#include <restorekit/core/safe_path.hpp>
#include <restorekit/core/version.hpp>

#include "render_common.hpp"

namespace restorekit::cli {

namespace {

using json = nlohmann::ordered_json;
using core::Finding;
using core::Severity;

double throughput(std::uint64_t bytes, double seconds) {
  return seconds > 0 ? static_cast<double>(bytes) / seconds : 0.0;
}

std::string verdict_line(const verify::VerifyReport& r) {
  if (r.verdict() == core::Verdict::kLocked) {
    return "LOCKED: the backup is encrypted and could not be read without the right password "
           "(give --password-file FILE or --password-env VAR); nothing about its contents was "
           "checked";
  }
  if (r.intact()) {
    std::size_t warnings = r.count(Severity::kWarning);
    return fmt::format(
        "INTACT: {} entries, {}, {} database{} checked{}", grouped(r.entries), human_bytes(r.bytes),
        r.databases.size(), r.databases.size() == 1 ? "" : "s",
        warnings ? fmt::format(" ({} warning{})", warnings, warnings == 1 ? "" : "s") : "");
  }
  std::size_t errors = r.count(Severity::kError);
  std::size_t warnings = r.count(Severity::kWarning);
  return fmt::format("DAMAGED: {} error{}, {} warning{}", errors, errors == 1 ? "" : "s", warnings,
                     warnings == 1 ? "" : "s");
}

// The JUnit test case a finding belongs to.
std::string check_of(const Finding& f) {
  static const std::map<std::string, std::string, std::less<>> kChecks = {
      {"CRC_ERROR", "archive integrity"},
      {"CORRUPT_DATA", "archive integrity"},
      {"TRUNCATED", "archive integrity"},
      {"RATIO_LIMIT", "archive integrity"},
      {"LIMIT_EXCEEDED", "archive integrity"},
      {"ZSTD_NO_CHECKSUM", "archive integrity"},
      {"XZ_NO_CHECK", "archive integrity"},
      {"GZIP_HEADER", "archive integrity"},
      {"GZIP_TRAILING_DATA", "archive integrity"},
      {"PASSWORD_REQUIRED", "archive integrity"},
      {"BAD_PASSWORD", "archive integrity"},
      {"DUPLICATE_ENTRY", "archive structure"},
      {"UNSAFE_PATH", "archive structure"},
      {"UNSAFE_LINK", "archive structure"},
      {"SIZE_MISMATCH", "archive structure"},
      {"CHECKSUM_MISMATCH", "entry checksums"},
      {"MISSING_ENTRY", "entry checksums"},
      {"EXTRA_ENTRY", "entry checksums"},
      {"BAD_CHECKSUMS", "entry checksums"},
      {"HEADER_MISMATCH", "backup header"},
      {"BAD_HEADER", "backup header"},
      {"DOC_MISSING", "document references"},
      {"NO_DATABASE", "databases"},
      {"EMPTY_ARCHIVE", "archive structure"}};
  if (f.code.rfind("DB_", 0) == 0 || f.code == "UNTRUSTED_SCHEMA") {
    return "database " + f.entry.substr(0, f.entry.find(':'));
  }
  auto it = kChecks.find(f.code);
  return it == kChecks.end() ? "other" : it->second;
}

std::string xml_escape(std::string_view raw) {
  std::string text = core::escape_name(raw);  // no control characters reach the XML
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out += c;
    }
  }
  return out;
}

}  // namespace

void render_verify_text(const verify::VerifyReport& r, std::ostream& out) {
  fmt::print(out, "{}\n", verdict_line(r));
  std::string filters;
  for (const auto& f : r.archive.filters) filters += ", " + f;
  fmt::print(out, "  {} — {} backup, {}{}; {} in {:.2f} s ({}/s, {} thread{})\n",
             core::escape_name(r.path),
             r.kind == core::BackupKind::kRestorekit ? "restorekit" : "foreign",
             r.archive.format.empty() ? "unknown" : r.archive.format, filters,
             human_bytes(r.archive_bytes), r.seconds,
             human_bytes(static_cast<std::uint64_t>(throughput(r.archive_bytes, r.seconds))),
             r.threads, r.threads == 1 ? "" : "s");
  if (r.checksums_checked > 0) {
    fmt::print(out, "  checksums   {} entries compared\n", grouped(r.checksums_checked));
  }
  for (const auto& db : r.databases) {
    fmt::print(out, "  database    {} ({}): {} tables, integrity {}, {} foreign-key violation{}\n",
               core::escape_name(db.entry), human_bytes(db.bytes), db.tables,
               db.integrity_ok ? "ok" : "FAILED", db.foreign_key_violations,
               db.foreign_key_violations == 1 ? "" : "s");
  }
  render_findings_text(r.findings, out);
}

void render_findings_text(const std::vector<core::Finding>& findings, std::ostream& out) {
  for (auto severity : {Severity::kError, Severity::kWarning, Severity::kInfo}) {
    bool header = false;
    for (const auto& f : findings) {
      if (f.severity != severity) continue;
      if (!header) fmt::print(out, "{}s:\n", core::severity_name(severity));
      header = true;
      fmt::print(out, "  {:<18} {}\n", f.code, core::escape_name(f.message));
    }
  }
}

json findings_json(const std::vector<core::Finding>& list) {
  json findings = json::array();
  for (const auto& f : list) {
    json finding{{"code", f.code},
                 {"severity", core::severity_name(f.severity)},
                 {"entry", f.entry},
                 {"message", f.message}};
    if (f.count != 1) finding["count"] = f.count;  // the entries past those listed
    findings.push_back(std::move(finding));
  }
  return findings;
}

json verify_json(const verify::VerifyReport& r) {
  json findings = findings_json(r.findings);
  json databases = json::array();
  for (const auto& db : r.databases) {
    databases.push_back({{"entry", db.entry},
                         {"kind", core::database_format_name(db.kind)},
                         {"bytes", db.bytes},
                         {"tables", db.tables},
                         {"integrity_ok", db.integrity_ok},
                         {"foreign_key_violations", db.foreign_key_violations}});
  }
  return {{"schema", core::schema::kVerify},
          {"path", r.path},
          {"verdict", core::verdict_name(r.verdict())},
          {"kind", r.kind == core::BackupKind::kRestorekit ? "restorekit" : "foreign"},
          {"format", r.archive.format},
          {"filters", r.archive.filters},
          {"findings", findings},
          {"totals",
           {{"entries", r.entries},
            {"bytes", r.bytes},
            {"archive_bytes", r.archive_bytes},
            {"databases", r.databases.size()},
            {"checksums_checked", r.checksums_checked},
            {"errors", r.count(Severity::kError)},
            {"warnings", r.count(Severity::kWarning)}}},
          {"databases", databases},
          {"threads", r.threads},
          {"seconds", r.seconds},
          {"throughput",
           {{"bytes_per_second", throughput(r.bytes, r.seconds)},
            {"archive_bytes_per_second", throughput(r.archive_bytes, r.seconds)}}}};
}

namespace {

// One JUnit test case: a check that ran (its findings, its time) or was skipped (and why).
struct JunitCase {
  std::string name;
  double seconds = 0;
  std::optional<std::string> skipped;
  std::vector<const Finding*> findings;
};

// Why a check did not run, or nullopt when it did.
std::optional<std::string> not_run(const verify::VerifyReport& r, const std::string& check) {
  bool content = check != "archive integrity" && check != "archive structure";
  if (content && r.verdict() == core::Verdict::kLocked) {
    return "the backup is locked: its encrypted entries could not be read without the right "
           "password";
  }
  if (check == "entry checksums" && r.checksums_checked == 0) {
    if (!r.complete) return std::string("the archive could not be read to its end");
    return std::string("no checksum list: the backup has none (give --checksums FILE)");
  }
  if (check == "databases" && r.databases.empty() && !r.complete) {
    return std::string("the archive could not be read to its end");
  }
  return std::nullopt;
}

std::vector<JunitCase> junit_cases(const verify::VerifyReport& r) {
  std::vector<JunitCase> cases = {{"archive integrity", r.timings.pass, {}, {}},
                                  {"archive structure", r.timings.entries, {}, {}},
                                  {"entry checksums", r.timings.contents, {}, {}}};
  if (r.kind == core::BackupKind::kRestorekit) cases.push_back({"backup header", 0, {}, {}});
  for (const auto& db : r.databases) cases.push_back({"database " + db.entry, db.seconds, {}, {}});
  if (r.databases.empty()) cases.push_back({"databases", 0, {}, {}});
  for (const auto& f : r.findings) {
    std::string check = check_of(f);
    auto it = std::find_if(cases.begin(), cases.end(),
                           [&](const JunitCase& c) { return c.name == check; });
    if (it == cases.end()) it = cases.insert(cases.end(), JunitCase{check, 0, {}, {}});
    it->findings.push_back(&f);
  }
  for (auto& c : cases) {
    if (c.findings.empty()) c.skipped = not_run(r, c.name);
  }
  return cases;
}

// A check that could not run (a locked backup, a verify that failed) is a JUnit error, not a
// failure.
bool is_error(const JunitCase& c, const Finding& f) {
  return c.name == "verify" || f.code == "PASSWORD_REQUIRED" || f.code == "BAD_PASSWORD";
}

void print_case(const JunitCase& c, std::ostream& out) {
  fmt::print(out, "    <testcase classname=\"restorekit.verify\" name=\"{}\" time=\"{:.3f}\">\n",
             xml_escape(c.name), c.seconds);
  if (c.skipped) fmt::print(out, "      <skipped message=\"{}\"/>\n", xml_escape(*c.skipped));
  std::string notes;
  for (const auto* f : c.findings) {
    if (f->severity == Severity::kError) {
      // A locked backup could not be checked: an error, not a failed check.
      const char* tag = is_error(c, *f) ? "error" : "failure";
      fmt::print(out, "      <{} type=\"{}\" message=\"{}\">{}: {}</{}>\n", tag,
                 xml_escape(f->code), xml_escape(f->message), xml_escape(f->code),
                 xml_escape(f->message), tag);
    } else {
      notes += fmt::format("{} {}: {}\n", core::severity_name(f->severity), f->code,
                           xml_escape(f->message));
    }
  }
  if (!notes.empty()) fmt::print(out, "      <system-out>{}</system-out>\n", notes);
  fmt::print(out, "    </testcase>\n");
}

void print_suite(const std::string& path, const std::vector<JunitCase>& cases, double seconds,
                 std::ostream& out) {
  std::size_t failures = 0, errors = 0, skipped = 0;
  for (const auto& c : cases) {
    skipped += c.skipped ? 1 : 0;
    bool failed = false, errored = false;
    for (const auto* f : c.findings) {
      if (f->severity != Severity::kError) continue;
      (is_error(c, *f) ? errored : failed) = true;
    }
    failures += failed ? 1 : 0;
    errors += errored ? 1 : 0;
  }
  fmt::print(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
  fmt::print(out,
             "<testsuites name=\"restorekit verify\" tests=\"{}\" failures=\"{}\" "
             "errors=\"{}\" skipped=\"{}\" time=\"{:.3f}\">\n",
             cases.size(), failures, errors, skipped, seconds);
  fmt::print(out,
             "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" "
             "skipped=\"{}\" time=\"{:.3f}\">\n",
             xml_escape(path), cases.size(), failures, errors, skipped, seconds);
  for (const auto& c : cases) print_case(c, out);
  fmt::print(out, "  </testsuite>\n</testsuites>\n");
}

}  // namespace

void render_verify_junit(const verify::VerifyReport& r, std::ostream& out) {
  print_suite(r.path, junit_cases(r), r.seconds, out);
}

void render_verify_junit_error(const std::string& path, const Error& error, std::ostream& out) {
  Finding f{std::string(code_name(error.code)), Severity::kError, error.subject,
            "could not verify: " + error.message};
  print_suite(path, {JunitCase{"verify", 0, {}, {&f}}}, 0, out);
}

}  // namespace restorekit::cli
