// Path safety for archive-supplied names: every entry name is hostile until normalised here.
//
// An archive entry may only ever land *inside* a target directory. normalize_entry_path() turns
// a raw entry name into a canonical relative path ("docs/a/b.txt") or refuses it; check_link()
// refuses links whose target would leave the tree. Both are pure functions over strings: no
// filesystem access, thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <restorekit/core/error.hpp>

#pragma GCC visibility push(default)  // the public API: exported by the shared libraries

namespace restorekit::core {

// Normalises a raw archive entry name: backslashes become '/', "." components and repeated or
// trailing slashes vanish, a leading "./" is dropped.
// @return the canonical relative path (never empty, no leading or trailing '/').
// @error kUnsafePath when the name is empty, absolute ("/x", "\\x"), starts with a drive letter
//   or holds any component with ':' ("C:", "c:x"), holds a ".." component, holds NUL or another
//   control character, or is not valid UTF-8. The message names the (escaped) entry.
// Input: untrusted.
[[nodiscard]] Result<std::string> normalize_entry_path(std::string_view raw);

enum class LinkKind { kSymbolic, kHard };

// Checks that a link entry at `entry_path` (already normalised) pointing at `target` stays in
// the tree. A symbolic target is resolved relative to the entry's directory; a hard-link target
// is an archive path.
// @error kUnsafeLink when the target is absolute, empty, has a drive letter, or climbs out of
//   the tree with "..". Input: untrusted.
[[nodiscard]] Result<void> check_link(std::string_view entry_path, std::string_view target,
                                      LinkKind kind);

// Why a safe relative path cannot be written on Linux filesystems (a component over NAME_MAX,
// 255 bytes; the whole path at PATH_MAX, 4096, or more), as a sentence; nullopt when it can.
// A target folder's own length adds to the path: restore checks that with its prefix.
std::optional<std::string> too_long_to_restore(std::string_view path, std::size_t prefix = 0);

// Makes an archive-supplied string safe to print on a terminal or in a log line: control
// characters, DEL, backslash and invalid UTF-8 bytes become \n, \t, \\, \xNN escapes;
// invisible code points that reorder or hide text (bidi controls such as U+202E, zero-width
// and format characters, line separators, C1 controls) become \u{XXXX}; other valid
// non-ASCII UTF-8 is kept. Used for every name restorekit prints.
std::string escape_name(std::string_view raw);

// True when `s` is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF).
bool is_valid_utf8(std::string_view s);

}  // namespace restorekit::core

#pragma GCC visibility pop
