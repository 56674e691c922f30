#pragma once
#include <CLI/CLI.hpp>

namespace restorekit::cli {
// `restorekit inspect BACKUP [--entries] [--json]`: what is in a backup.
void setup_inspect(CLI::App& app, int& exit_code);
}  // namespace restorekit::cli
