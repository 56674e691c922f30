// What to tell someone whose write failed because the file system is full (private to core):
// every writer of core names the file and adds the same advice.
#pragma once

#include <cerrno>
#include <filesystem>
#include <string>

#include <fmt/format.h>

namespace restorekit::core::detail {

// ENOSPC, or EDQUOT (the user's quota on that file system is used up).
inline bool is_full(int err) {
  return err == ENOSPC || err == EDQUOT;
}

// "; free space on the file system that holds <where>", to follow the error's own words. `where`
// is the file or folder the failed call named, not its parent: a folder may be a mount point.
inline std::string free_space_hint(const std::filesystem::path& where) {
  return fmt::format("; free space on the file system that holds {}", where.string());
}

}  // namespace restorekit::core::detail
