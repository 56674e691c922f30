// Restore by swap: whether one rename exchange can install the staged database in place of
// live (DESIGN.md, "Restore model", step 2), and the file metadata the new file takes from live.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>

#include <fmt/format.h>

#include <restorekit/core/fs.hpp>
#include <restorekit/core/restore_state.hpp>

#include "internal.hpp"

namespace restorekit::restore::detail {

namespace {

tl::unexpected<Error> metadata_error(const std::string& what, const fs::path& p) {
  return fail(ErrorCode::kIo,
              fmt::format("cannot {} on {}: {}", what, p.string(), std::strerror(errno)),
              p.string());
}

// The names of a file's extended attributes (none where the filesystem keeps none).
Result<std::vector<std::string>> xattr_names(const std::function<ssize_t(char*, size_t)>& list,
                                             const fs::path& p) {
  std::vector<char> buf;
  for (;;) {
    ssize_t n = list(nullptr, 0);
    if (n < 0 && (errno == ENOTSUP || errno == ENOSYS)) return std::vector<std::string>{};
    if (n < 0) return metadata_error("list the extended attributes", p);
    buf.resize(static_cast<std::size_t>(n));
    n = list(buf.data(), buf.size());
    if (n < 0 && errno == ERANGE) continue;  // grew meanwhile
    if (n < 0) return metadata_error("list the extended attributes", p);
    std::vector<std::string> names;
    for (std::size_t i = 0; i < static_cast<std::size_t>(n);) {
      std::string name(buf.data() + i);
      i += name.size() + 1;
      if (!name.empty()) names.push_back(std::move(name));
    }
    return names;
  }
}

}  // namespace

std::optional<std::string> swap_blocker(const Job& job, const fs::path& target) {
  if (job.selection) return "a selective restore changes rows inside live, in one transaction";
  struct stat live {
  }, staged{}, snapshots{};
  if (::stat(target.c_str(), &live) != 0 || !S_ISREG(live.st_mode)) {
    return fmt::format("{} is not a regular file", target.string());
  }
  if (live.st_nlink != 1) {
    return fmt::format("{} has {} hard links, which would keep naming the old file",
                       target.string(), live.st_nlink);
  }
  if (::lstat(job.staged_database.c_str(), &staged) != 0 || !S_ISREG(staged.st_mode) ||
      staged.st_nlink != 1) {
    return fmt::format("the staged database {} is not a file with one link",
                       job.staged_database.string());
  }
  if (staged.st_dev != live.st_dev) {
    return fmt::format("the staged database {} is on another filesystem than {}",
                       job.staged_database.string(), target.string());
  }
  auto snaps = core::restore_snapshots_dir(job.live);
  if (::stat(snaps.c_str(), &snapshots) != 0 || snapshots.st_dev != live.st_dev) {
    return fmt::format("the snapshots folder {} is not on the filesystem of {}", snaps.string(),
                       target.string());
  }
  return std::nullopt;
}

Result<void> copy_file_metadata(const fs::path& from, const fs::path& to) {
  struct stat src {};
  if (::stat(from.c_str(), &src) != 0) return metadata_error("read the owner and mode", from);
  core::UniqueFd fd(::open(to.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return metadata_error("open", to);
  struct stat dst {};
  if (::fstat(fd.get(), &dst) != 0) return metadata_error("read the owner", to);
  if ((dst.st_uid != src.st_uid || dst.st_gid != src.st_gid) &&
      ::fchown(fd.get(), src.st_uid, src.st_gid) != 0) {
    return metadata_error(fmt::format("give owner {}:{} (as live has)", src.st_uid, src.st_gid),
                          to);
  }
  if (::fchmod(fd.get(), src.st_mode & 07777) != 0) {  // after chown, which clears set-id bits
    return metadata_error(fmt::format("set mode {:o} (as live has)", src.st_mode & 07777), to);
  }
  RK_TRY_ASSIGN(
      auto wanted,
      xattr_names([&](char* b, size_t n) { return ::listxattr(from.c_str(), b, n); }, from));
  RK_TRY_ASSIGN(auto present,
                xattr_names([&](char* b, size_t n) { return ::flistxattr(fd.get(), b, n); }, to));
  for (const auto& name : present) {
    if (std::find(wanted.begin(), wanted.end(), name) != wanted.end()) continue;
    if (::fremovexattr(fd.get(), name.c_str()) != 0 && errno != ENODATA) {
      return metadata_error("remove the extended attribute " + name, to);
    }
  }
  std::vector<char> value;
  for (const auto& name : wanted) {
    ssize_t n = ::getxattr(from.c_str(), name.c_str(), nullptr, 0);
    if (n >= 0) {
      value.resize(static_cast<std::size_t>(n));
      n = ::getxattr(from.c_str(), name.c_str(), value.data(), value.size());
    }
    if (n < 0) return metadata_error("read the extended attribute " + name, from);
    if (::fsetxattr(fd.get(), name.c_str(), value.data(), static_cast<std::size_t>(n), 0) != 0) {
      return metadata_error("set the extended attribute " + name + " (as live has)", to);
    }
  }
  return {};
}

}  // namespace restorekit::restore::detail
