#include "render_extract.hpp"

#include <fmt/format.h>
#include <fmt/ostream.h>

#include <restorekit/core/safe_path.hpp>
#include <restorekit/core/version.hpp>

#include "render_common.hpp"
#include "render_verify.hpp"

namespace restorekit::cli {

namespace {

std::string_view checked_name(restore::CheckedBy c) {
  switch (c) {
    case restore::CheckedBy::kChecksumList: return "checksums";
    case restore::CheckedBy::kArchive: return "archive";
    case restore::CheckedBy::kNothing: return "none";
  }
  return "none";
}

}  // namespace

Result<void> render_extract_text(const restore::ExtractReport& report, bool list_only,
                                 std::ostream& out) {
  RK_TRY(report.listing->for_each([&](const restore::ExtractedEntry& x) -> Result<void> {
    if (x.folder || (!list_only && !x.placed)) return {};
    fmt::print(out, "{:>10}  {}{}\n", human_bytes(x.bytes), core::escape_name(x.path),
               x.checked == restore::CheckedBy::kNothing ? "  (unchecked)" : "");
    return {};
  }));
  render_findings_text(report.findings, out);
  if (list_only) {
    fmt::print(out, "{} file{} ({}) would be extracted from {}\n", grouped(report.files),
               report.files == 1 ? "" : "s", human_bytes(report.bytes),
               core::escape_name(report.archive));
    return {};
  }
  fmt::print(
      out, "extracted {} file{} ({}) into {} in {:.2f} s{}\n", grouped(report.files),
      report.files == 1 ? "" : "s", human_bytes(report.bytes),
      core::escape_name(report.out.string()), report.seconds,
      report.failed() ? "; the files named above failed their checks and were not written" : "");
  return {};
}

Result<void> write_extract_json(const restore::ExtractReport& report, bool list_only,
                                std::ostream& out) {
  nlohmann::ordered_json doc{
      {"schema", core::schema::kExtract},
      {"path", report.archive},
      {"out",
       list_only ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(report.out.string())},
      {"list_only", list_only},
      {"verdict", report.failed() ? "damaged" : "ok"},
      {"entries", nlohmann::ordered_json::array()},  // written as the listing is walked
      {"findings", findings_json(report.findings)},
      {"totals", {{"files", report.files}, {"bytes", report.bytes}}},
      {"seconds", report.seconds}};
  return write_json_with_array(
      std::move(doc), "entries",
      [&](const JsonEmit& emit) {
        return report.listing->for_each([&](const restore::ExtractedEntry& x) -> Result<void> {
          emit({{"path", x.path},
                {"type", x.folder ? "folder" : "file"},
                {"bytes", x.bytes},
                {"xxh128", x.xxh128 ? nlohmann::ordered_json(x.xxh128->hex())
                                    : nlohmann::ordered_json(nullptr)},
                {"checked", checked_name(x.checked)},
                {"extracted", x.placed}});
          return {};
        });
      },
      out);
}

}  // namespace restorekit::cli
