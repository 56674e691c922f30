// The triage report (`restorekit report`): one self-contained HTML page (inline CSS and SVG, no
// script, nothing loaded from the network, A4 print layout) or the same content as Markdown,
// made from the reports the other commands print as JSON: the verify report, the restore plan
// (with a live system) and the catalog's rows (the backup timeline).
//
// Pages come from Mustache templates (mstch), which escape every value for HTML; every string
// from a backup or a database also goes through core::escape_name first, so that bidi controls
// and invisible characters show as \u{...} instead of reordering the page. No markup is built by
// concatenating strings.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <restorekit/catalog/catalog.hpp>
#include <restorekit/restore/restore.hpp>
#include <restorekit/verify/verify.hpp>

namespace restorekit::cli {

enum class ReportFormat { kHtml, kMarkdown };

struct ReportInput {
  const verify::VerifyReport* verification = nullptr;  // always
  const restore::Plan* plan = nullptr;                 // with a live system
  std::vector<catalog::Row> timeline;                  // with a catalog: its backups
  std::string generated_at;                            // e.g. "2026-12-03 05:10 UTC"
};

// "intact" / "damaged" / "locked" and, with a plan, "safe" / "blocked": the exit code's basis.
std::string report_verdict(const ReportInput& in);

std::string render_report(const ReportInput& in, ReportFormat format);

}  // namespace restorekit::cli
