// Renders an inspect report as text (for people) or JSON ("restorekit.inspect/1", for scripts).
#pragma once

#include <ostream>

#include <nlohmann/json.hpp>

#include <restorekit/inspect/inspect.hpp>

namespace restorekit::cli {

void render_inspect_text(const inspect::InspectReport& report, bool list_entries,
                         std::ostream& out);
// The whole document, the listing too (the C API's answer: its memory grows with the entries).
nlohmann::ordered_json inspect_json(const inspect::InspectReport& report, bool list_entries);
// The same text, written as the listing is walked (the CLI: memory stays bounded).
// @error kDatabase (the listing could not be read; the output ends there).
Result<void> write_inspect_json(const inspect::InspectReport& report, bool list_entries,
                                std::ostream& out);

}  // namespace restorekit::cli
