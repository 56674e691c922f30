#include <restorekit/core/names.hpp>

#include <sqlite3.h>
#include <utf8proc.h>

#include <cstdlib>
#include <memory>

namespace restorekit::core {

namespace {

bool is_ascii(std::string_view s) {
  for (unsigned char c : s) {
    if (c >= 0x80) return false;
  }
  return true;
}

}  // namespace

std::string name_key(std::string_view name) {
  if (is_ascii(name)) return std::string(name);  // NFC already; the common case stays cheap
  utf8proc_uint8_t* out = nullptr;
  auto n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(name.data()),
                        static_cast<utf8proc_ssize_t>(name.size()), &out,
                        static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  if (n < 0) return std::string(name);  // not valid UTF-8: compared as bytes
  std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> owned(out, &std::free);
  return std::string(reinterpret_cast<const char*>(out), static_cast<std::size_t>(n));
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
