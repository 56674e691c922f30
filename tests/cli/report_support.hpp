// Reading a triage report back in tests (report_test, report_browser_test).
#pragma once

#include <regex>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace restorekit::test {

// The numeric cells (lost, revived, reverted) of the row for `name` in the chart table whose
// id is `chart`, in a report's HTML or a browser's DOM of it; empty when the row is absent.
inline std::vector<std::string> chart_row(const std::string& html, const std::string& chart,
                                          const std::string& name) {
  auto table = html.find(fmt::format("id=\"{}\"", chart));
  if (table == std::string::npos) return {};
  auto row = html.find(fmt::format("data-name=\"{}\"", name), table);
  if (row == std::string::npos) return {};
  std::string text = html.substr(row, html.find("</tr>", row) - row);
  std::regex cell(R"re(<td class="num">([^<]*)</td>)re");
  std::vector<std::string> out;
  for (std::sregex_iterator it(text.begin(), text.end(), cell), end; it != end; ++it) {
    out.push_back((*it)[1]);
  }
  return out;
}

}  // namespace restorekit::test
