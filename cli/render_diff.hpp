// Renders a diff report: text (a line per table and a sentence on what a restore destroys) and
// JSON ("restorekit.diff/1").
#pragma once

#include <ostream>

#include <nlohmann/json.hpp>

#include <restorekit/diff/diff.hpp>

namespace restorekit::cli {

void render_diff_text(const diff::DiffReport& report, std::ostream& out);
nlohmann::ordered_json diff_json(const diff::DiffReport& report);

}  // namespace restorekit::cli
