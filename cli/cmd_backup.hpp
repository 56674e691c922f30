#pragma once
#include <CLI/CLI.hpp>

namespace restorekit::cli {
// `restorekit backup --db DB [--docs DIR] -o OUT [--encrypt]`: write a format-v1 backup.
void setup_backup(CLI::App& app, int& exit_code);
}  // namespace restorekit::cli
