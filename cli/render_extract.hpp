// Renders an extract report: text (one line per file, then findings and a summary) and JSON
// ("restorekit.extract/1").
#pragma once

#include <ostream>

#include <nlohmann/json.hpp>

#include <restorekit/restore/extract.hpp>

namespace restorekit::cli {

// The listing is walked from the report's on-disk table as it is printed. @error kDatabase.
Result<void> render_extract_text(const restore::ExtractReport& report, bool list_only,
                                 std::ostream& out);
Result<void> write_extract_json(const restore::ExtractReport& report, bool list_only,
                                std::ostream& out);

}  // namespace restorekit::cli
