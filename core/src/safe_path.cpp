#include <restorekit/core/safe_path.hpp>

#include <utf8proc.h>

#include <fmt/format.h>

#include <vector>

namespace restorekit::core {

namespace {

// Length of the UTF-8 sequence starting at s[i], or 0 when it is malformed.
std::size_t utf8_sequence_length(std::string_view s, std::size_t i) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  if (c < 0x80) return 1;
  std::size_t len = 0;
  std::uint32_t cp = 0;
  if ((c & 0xe0) == 0xc0) {
    len = 2;
    cp = c & 0x1f;
  } else if ((c & 0xf0) == 0xe0) {
    len = 3;
    cp = c & 0x0f;
  } else if ((c & 0xf8) == 0xf0) {
    len = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) return 0;
    cp = cp << 6 | (byte(i + k) & 0x3f);
  }
  static constexpr std::uint32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMinForLength[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return len;
}

bool is_control(unsigned char c) {
  return c < 0x20 || c == 0x7f;
}

bool has_drive_letter(std::string_view s) {
  return s.size() >= 2 && s[1] == ':' &&
         ((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z'));
}

std::vector<std::string_view> split_components(std::string_view path) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view part = path.substr(start, end - start);
    if (!part.empty() && part != ".") parts.push_back(part);
    start = end + 1;
  }
  return parts;
}

tl::unexpected<Error> unsafe(std::string_view raw, std::string_view why) {
  return fail(ErrorCode::kUnsafePath,
              fmt::format("entry \"{}\" {}; it is never extracted", raw, why), std::string(raw));
}

}  // namespace

bool is_valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    std::size_t len = utf8_sequence_length(s, i);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

// Whether `raw` is printable ASCII already in the form normalize_entry_path() gives (most
// names): components that are not empty, ".", ".." or hold '\\' or ':'. One scan.
bool canonical_ascii(std::string_view raw) {
  std::size_t start = 0;
  for (std::size_t i = 0; i <= raw.size(); ++i) {
    if (i == raw.size() || raw[i] == '/') {
      std::string_view part = raw.substr(start, i - start);
      if (part.empty() || part == "." || part == "..") return false;
      start = i + 1;
      continue;
    }
    auto c = static_cast<unsigned char>(raw[i]);
    if (is_control(c) || c >= 0x80 || c == '\\' || c == ':') return false;
  }
  return true;
}

Result<std::string> normalize_entry_path(std::string_view raw) {
  if (canonical_ascii(raw)) return std::string(raw);
  if (raw.empty()) return unsafe(raw, "has an empty name");
  for (unsigned char c : raw) {
    if (is_control(c)) return unsafe(raw, "holds a control character in its name");
  }
  if (!is_valid_utf8(raw)) return unsafe(raw, "has a name that is not valid UTF-8");
  // One pass, '\\' read as '/': the components joined by '/', without empty ones and '.'.
  if (raw.front() == '/' || raw.front() == '\\') return unsafe(raw, "has an absolute path");
  if (has_drive_letter(raw)) return unsafe(raw, "starts with a drive letter");
  std::string out;
  out.reserve(raw.size());
  for (std::size_t start = 0; start <= raw.size();) {
    // A plain scan: find_first_of calls memchr over the two separators once per character.
    std::size_t end = start;
    while (end < raw.size() && raw[end] != '/' && raw[end] != '\\') ++end;
    std::string_view part = raw.substr(start, end - start);
    start = end + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") return unsafe(raw, "climbs out of the target with '..'");
    if (part.find(':') != std::string_view::npos) {
      return unsafe(raw, "holds ':' in a path component (a drive or stream name on Windows)");
    }
    if (!out.empty()) out += '/';
    out += part;
  }
  if (out.empty()) return unsafe(raw, "names no file (only '.' and '/')");
  return out;
}

Result<void> check_link(std::string_view entry_path, std::string_view target, LinkKind kind) {
  auto refuse = [&](std::string_view why) {
    return fail(
        ErrorCode::kUnsafeLink,
        fmt::format("link \"{}\" -> \"{}\" {}; it is never extracted", entry_path, target, why),
        std::string(entry_path));
  };
  if (target.empty()) return refuse("has an empty target");
  for (unsigned char c : target) {
    if (is_control(c)) return refuse("has a control character in its target");
  }
  std::string slashed(target);
  for (char& c : slashed) {
    if (c == '\\') c = '/';
  }
  if (slashed.front() == '/') return refuse("points to an absolute path");
  if (has_drive_letter(slashed)) return refuse("points to a drive letter");
  // Depth counting: start in the entry's directory (symlink) or at the root (hard link).
  std::vector<std::string_view> stack;
  if (kind == LinkKind::kSymbolic) {
    stack = split_components(entry_path);
    if (!stack.empty()) stack.pop_back();
  }
  for (auto part : split_components(slashed)) {
    if (part == "..") {
      if (stack.empty()) return refuse("points outside the extraction tree");
      stack.pop_back();
    } else {
      stack.push_back(part);
    }
  }
  if (stack.empty()) return refuse("points at the root of the tree");
  return {};
}

std::string escape_name(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size();) {
    auto c = static_cast<unsigned char>(raw[i]);
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (is_control(c)) {
      out += fmt::format("\\x{:02x}", c);
    } else if (c >= 0x80) {
      std::size_t len = utf8_sequence_length(raw, i);
      if (len == 0) {
        out += fmt::format("\\x{:02x}", c);
      } else {
        // Invisible characters that reorder or hide text (bidi overrides such as U+202E,
        // zero-width spaces, line separators, C1 controls) are shown as code points.
        utf8proc_int32_t cp = 0;
        utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(raw.data() + i),
                         static_cast<utf8proc_ssize_t>(len), &cp);
        auto category = utf8proc_category(cp);
        if (category == UTF8PROC_CATEGORY_CF || category == UTF8PROC_CATEGORY_CC ||
            category == UTF8PROC_CATEGORY_ZL || category == UTF8PROC_CATEGORY_ZP) {
          out += fmt::format("\\u{{{:04x}}}", cp);
        } else {
          out.append(raw.substr(i, len));
        }
        i += len;
        continue;
      }
    } else {
      out += static_cast<char>(c);
    }
    ++i;
  }
  return out;
}

std::optional<std::string> too_long_to_restore(std::string_view path, std::size_t prefix) {
  constexpr std::size_t kNameMax = 255;
  constexpr std::size_t kPathMax = 4096;  // including the terminating NUL
  std::size_t start = 0;
  while (start <= path.size()) {
    auto end = std::min(path.find('/', start), path.size());
    if (end - start > kNameMax) {
      return fmt::format("\"{}\" has a name of {} bytes; Linux filesystems take at most {}", path,
                         end - start, kNameMax);
    }
    start = end + 1;
  }
  if (prefix + path.size() + 1 > kPathMax) {
    return fmt::format("\"{}\" would be a path of {} bytes; Linux takes at most {}", path,
                       prefix + path.size(), kPathMax - 1);
  }
  return std::nullopt;
}

}  // namespace restorekit::core
