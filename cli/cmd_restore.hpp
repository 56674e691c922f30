#pragma once
#include <CLI/CLI.hpp>

namespace restorekit::cli {
// `restorekit restore`: --dry-run (plan), --yes / --apply PLAN (atomic restore), --rollback,
// --recover. Exit 0 safe/restored/recovered, 1 blocked/refused, 2 error.
void setup_restore(CLI::App& app, int& exit_code);
}  // namespace restorekit::cli
