#pragma once
#include <CLI/CLI.hpp>

namespace restorekit::cli {
// `restorekit verify BACKUP [--checksums FILE] [--threads N] [--junit FILE]`: every byte
// checked; exit 0 intact, 1 problems found, 2 could not verify.
void setup_verify(CLI::App& app, int& exit_code);
}  // namespace restorekit::cli
