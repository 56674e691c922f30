#pragma once
#include <CLI/CLI.hpp>

namespace restorekit::cli {
// `restorekit catalog add|verify|list|best|find|forget`: triage many backups with the catalog.
void setup_catalog(CLI::App& app, int& exit_code);
}  // namespace restorekit::cli
