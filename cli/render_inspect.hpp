// Renders an inspect report as text (for people) or JSON ("restorekit.inspect/1", for scripts).
#pragma once

#include <ostream>

#include <nlohmann/json.hpp>

#include <restorekit/inspect/inspect.hpp>

namespace restorekit::cli {

void render_inspect_text(const inspect::InspectReport& report, bool list_entries,
                         std::ostream& out);
nlohmann::ordered_json inspect_json(const inspect::InspectReport& report, bool list_entries);

}  // namespace restorekit::cli
