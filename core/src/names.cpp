#include <restorekit/core/names.hpp>

#include <sqlite3.h>
#include <utf8proc.h>

#include <array>
#include <cstdlib>
#include <memory>

namespace restorekit::core {

namespace {

// The last segments normalised on this thread: an archive or list names the same folders
// entry after entry ("zürich-Петрова/…" for each file in it), and utf8proc's NFC (a
// decomposition, an allocation and a recomposition) was most of a name's cost.
struct SegmentCache {
  static constexpr std::size_t kSlots = 8;
  static constexpr std::size_t kLongest = 255;  // a longer segment is not kept
  struct Slot {
    std::string segment;
    std::string nfc;
    bool valid = false;  // is valid UTF-8
  };
  std::array<Slot, kSlots> slots;
  std::size_t next = 0;  // the slot replaced next

  const Slot* find(std::string_view segment) const {
    for (const auto& s : slots) {
      if (!s.segment.empty() && s.segment == segment) return &s;
    }
    return nullptr;
  }
  void keep(std::string_view segment, std::string_view nfc, bool valid) {
    if (segment.size() > kLongest) return;
    Slot& s = slots[next];
    next = (next + 1) % kSlots;
    s.segment.assign(segment);
    s.nfc.assign(nfc);
    s.valid = valid;
  }
};

thread_local SegmentCache t_segments;

bool append_nfc_uncached(std::string_view segment, std::string& out) {
  utf8proc_uint8_t* nfc = nullptr;
  auto n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(segment.data()),
                        static_cast<utf8proc_ssize_t>(segment.size()), &nfc,
                        static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  if (n < 0) return false;
  std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> owned(nfc, &std::free);
  out.append(reinterpret_cast<const char*>(nfc), static_cast<std::size_t>(n));
  return true;
}

// NFC of one segment; false where it is not valid UTF-8.
bool append_nfc(std::string_view segment, std::string& out) {
  if (const auto* hit = t_segments.find(segment)) {
    if (hit->valid) out.append(hit->nfc);
    return hit->valid;
  }
  std::size_t start = out.size();
  bool valid = append_nfc_uncached(segment, out);
  t_segments.keep(segment, valid ? std::string_view(out).substr(start) : std::string_view(), valid);
  return valid;
}

}  // namespace

// Segment by segment: '/' is a starter that nothing composes with or reorders across, so NFC
// of the path is the segments' NFC joined by '/', and the ASCII segments (most folders and
// file names, even under a non-ASCII folder) skip utf8proc.
std::optional<std::string> key_of_its_own(std::string_view name) {
  if (is_ascii(name)) return std::nullopt;
  std::string key = name_key(name);
  if (key == name) return std::nullopt;
  return key;
}

bool is_ascii(std::string_view name) {
  for (unsigned char c : name) {
    if (c >= 0x80) return false;
  }
  return true;
}

std::string name_key(std::string_view name) {
  if (is_ascii(name)) return std::string(name);  // NFC already; the common case stays cheap
  std::string out;
  out.reserve(name.size() + 8);
  for (std::size_t start = 0;;) {
    auto slash = name.find('/', start);
    auto segment = name.substr(start, slash == std::string_view::npos ? slash : slash - start);
    if (is_ascii(segment)) {
      out.append(segment);
    } else if (!append_nfc(segment, out)) {
      return std::string(name);  // not valid UTF-8: compared as bytes
    }
    if (slash == std::string_view::npos) return out;
    out.push_back('/');
    start = slash + 1;
  }
}

bool same_name(std::string_view a, std::string_view b) {
  return a == b || name_key(a) == name_key(b);
}

NamePattern::NamePattern(std::string_view glob)
    : text_(glob), key_(name_key(glob)), anywhere_(glob.find('/') == std::string_view::npos) {}

bool NamePattern::matches(std::string_view path) const {
  std::string key = name_key(path);
  if (sqlite3_strglob(key_.c_str(), key.c_str()) == 0) return true;
  if (!anywhere_) return false;
  auto slash = key.rfind('/');
  return slash != std::string::npos && sqlite3_strglob(key_.c_str(), key.c_str() + slash + 1) == 0;
}

}  // namespace restorekit::core
