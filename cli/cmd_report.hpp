// `restorekit report BACKUP [--live DB [--live-docs DIR]] -o FILE [--format html|md]`: the
// triage report a support engineer attaches to a ticket (render_report.hpp).
#pragma once

#include <CLI/CLI.hpp>

namespace restorekit::cli {

void setup_report(CLI::App& app, int& exit_code);

}  // namespace restorekit::cli
