#include "render_common.hpp"

#include <ctime>

#include <fmt/format.h>

namespace restorekit::cli {

nlohmann::ordered_json error_json(const Error& error) {
  return {{"code", code_name(error.code)}, {"message", error.message}, {"subject", error.subject}};
}

std::string json_text(const nlohmann::ordered_json& doc) {
  return doc.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

Result<void> write_json_with_array(nlohmann::ordered_json doc, const std::string& key,
                                   const std::function<Result<void>(const JsonEmit&)>& each,
                                   std::ostream& out) {
  doc[key] = nlohmann::ordered_json::array();  // where `doc` has it already, or last
  std::string text = json_text(doc);
  // A top-level member's line is the only one starting with two spaces and its quoted name: a
  // string holds no newline unescaped, and deeper members are indented further.
  std::string empty = "\n  " + json_text(nlohmann::ordered_json(key)) + ": []";
  auto at = text.find(empty);
  out << std::string_view(text).substr(0, at + empty.size() - 1);  // up to and with '['
  bool any = false;
  std::string piece;
  auto emit = [&](const nlohmann::ordered_json& element) {
    // As dump(2) prints an element of a top-level member: four spaces in.
    std::string lines = json_text(element);
    piece.assign(any ? ",\n    " : "\n    ");
    std::size_t from = 0;
    for (auto nl = lines.find('\n'); nl != std::string::npos; nl = lines.find('\n', from)) {
      piece.append(lines, from, nl + 1 - from).append("    ");
      from = nl + 1;
    }
    piece.append(lines, from);
    out.write(piece.data(), static_cast<std::streamsize>(piece.size()));
    any = true;
  };
  auto done = each(emit);
  if (any) out << "\n  ";
  out << std::string_view(text).substr(at + empty.size() - 1) << "\n";
  return done;
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
