// `restorekit extract BACKUP [PATTERN...] -o DIR`: chosen files back out of a backup, each one
// checked before it appears under its name.
#pragma once

#include <CLI/CLI.hpp>

namespace restorekit::cli {

void setup_extract(CLI::App& app, int& exit_code);

}  // namespace restorekit::cli
