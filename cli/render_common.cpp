#include "render_common.hpp"

#include <algorithm>
#include <ctime>

#include <fmt/format.h>

namespace restorekit::cli {

nlohmann::ordered_json error_json(const Error& error) {
  return {{"code", code_name(error.code)}, {"message", error.message}, {"subject", error.subject}};
}

std::string json_text(const nlohmann::ordered_json& doc) {
  return doc.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

Result<void> write_json_with_arrays(nlohmann::ordered_json doc,
                                    const std::vector<StreamedArray>& arrays, std::ostream& out) {
  for (const auto& a : arrays) doc[a.key] = nlohmann::ordered_json::array();
  std::string text = json_text(doc);
  // A top-level member's line is the only one starting with two spaces and its quoted name: a
  // string holds no newline unescaped, and deeper members are indented further. Each array's
  // '[' and ']' are where its empty text has them, in the order the document prints them.
  std::vector<std::pair<std::size_t, const StreamedArray*>> at;
  for (const auto& a : arrays) {
    std::string empty = "\n  " + json_text(nlohmann::ordered_json(a.key)) + ": []";
    at.emplace_back(text.find(empty) + empty.size() - 1, &a);  // its ']'
  }
  std::sort(at.begin(), at.end());
  std::size_t from = 0;
  Result<void> done;
  std::string piece;
  for (const auto& [close, array] : at) {
    out << std::string_view(text).substr(from, close - from);  // up to and with '['
    from = close;
    if (!done) continue;
    bool any = false;
    auto emit = [&](const nlohmann::ordered_json& element) {
      // As dump(2) prints an element of a top-level member: four spaces in.
      std::string lines = json_text(element);
      piece.assign(any ? ",\n    " : "\n    ");
      std::size_t line = 0;
      for (auto nl = lines.find('\n'); nl != std::string::npos; nl = lines.find('\n', line)) {
        piece.append(lines, line, nl + 1 - line).append("    ");
        line = nl + 1;
      }
      piece.append(lines, line);
      out.write(piece.data(), static_cast<std::streamsize>(piece.size()));
      any = true;
    };
    done = array->each(emit);
    if (any) out << "\n  ";
  }
  out << std::string_view(text).substr(from) << "\n";
  return done;
}

Result<void> write_json_with_array(nlohmann::ordered_json doc, const std::string& key,
                                   const std::function<Result<void>(const JsonEmit&)>& each,
                                   std::ostream& out) {
  return write_json_with_arrays(std::move(doc), {{key, each}}, out);
}

std::string human_bytes(std::uint64_t bytes) {
  constexpr const char* kUnits[] = {"B", "kB", "MB", "GB", "TB", "PB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1000.0 && unit < 5) {
    value /= 1000.0;
    ++unit;
  }
  return unit == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", value, kUnits[unit]);
}

std::string grouped(std::uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string utc_minute(std::int64_t seconds) {
  if (seconds <= 0) return "unknown";
  std::time_t t = seconds;
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", &tm);
  return buf;
}

}  // namespace restorekit::cli
