#pragma once
#include <CLI/CLI.hpp>

namespace restorekit::cli {
// `restorekit diff BACKUP --live DB [--live-docs DIR]`: what a restore would do; exit 0 no
// differences, 1 differences, 2 error.
void setup_diff(CLI::App& app, int& exit_code);
}  // namespace restorekit::cli
