#include <restorekit/core/fs.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "full_disk.hpp"

namespace restorekit::core {

namespace {

tl::unexpected<Error> io_error(std::string_view what, const std::string& path, int err) {
  // Staging and scratch files go where TMPDIR says: that is the other way out of a full one.
  std::string hint = detail::is_full(err)
                         ? detail::free_space_hint(path) +
                               ", or, for restorekit's temporary files, set TMPDIR to a folder "
                               "on one with room"
                         : "";
  return fail(ErrorCode::kIo,
              fmt::format("cannot {} {}: {}{}", what, path, std::strerror(err), hint), path);
}

}  // namespace

Result<TempDir> TempDir::create(const std::filesystem::path& parent, std::string_view prefix) {
  std::error_code ec;
  std::filesystem::path base = parent.empty() ? std::filesystem::temp_directory_path(ec) : parent;
  if (ec) base = "/tmp";
  std::string pattern = (base / fmt::format("{}XXXXXX", prefix)).string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    return io_error("create a temporary directory in", base.string(), errno);
  }
  return TempDir(std::filesystem::path(pattern));
}

Result<TempDir> TempDir::create_locked(const std::filesystem::path& parent,
                                       std::string_view prefix) {
  RK_TRY_ASSIGN(auto dir, create(parent, prefix));
  dir.lock_fd_ = ::open(dir.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir.lock_fd_ < 0 || ::flock(dir.lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    return io_error("lock", dir.path().string(), errno);
  }
  return dir;
}

void TempDir::reset() {
  std::error_code ec;
  if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  if (lock_fd_ >= 0) ::close(lock_fd_);
  path_.clear();
  lock_fd_ = -1;
}

std::filesystem::path TempDir::release() {
  if (lock_fd_ >= 0) ::close(lock_fd_);
  lock_fd_ = -1;
  return std::exchange(path_, {});
}

TempDir& TempDir::operator=(TempDir&& other) noexcept {
  if (this != &other) {
    reset();
    path_ = std::exchange(other.path_, {});
    lock_fd_ = std::exchange(other.lock_fd_, -1);
  }
  return *this;
}

TempDir::~TempDir() {
  reset();
}

std::vector<std::filesystem::path> remove_stale_temp_dirs(const std::filesystem::path& parent,
                                                          std::string_view prefix) {
  std::vector<std::filesystem::path> removed;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(parent, ec)) {
    if (e.path().filename().string().rfind(prefix, 0) != 0) continue;
    struct stat st {};
    if (::lstat(e.path().c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != ::geteuid()) {
      continue;
    }
    UniqueFd fd(::open(e.path().c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd || ::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) continue;  // in use
    std::filesystem::remove_all(e.path(), ec);
    if (!ec) removed.push_back(e.path());
  }
  return removed;
}

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

UniqueFd::~UniqueFd() {
  if (fd_ >= 0) ::close(fd_);
}

UniqueFd open_for_reading(const std::filesystem::path& path, int flags) {
  return UniqueFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | flags));
}

Result<UniqueFd> create_new_file(const std::filesystem::path& path, unsigned mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) {
    int err = errno;
    auto e = io_error("create", path.string(), err);
    errno = err;
    return e;
  }
  return UniqueFd(fd);
}

Result<void> write_all(int fd, const void* data, std::size_t size, const std::string& name) {
  const auto* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::write(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return io_error("write", name, errno);
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return {};
}

Result<void> sync_fd(int fd, const std::string& name) {
  if (::fsync(fd) != 0) return io_error("sync", name, errno);
  return {};
}

Result<void> sync_directory(const std::filesystem::path& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return io_error("open directory", dir.string(), errno);
  return sync_fd(fd.get(), dir.string());
}

Result<void> rename_durably(const std::filesystem::path& from, const std::filesystem::path& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) {
    return io_error(fmt::format("rename {} to", from.string()), to.string(), errno);
  }
  auto parent = to.parent_path();
  return sync_directory(parent.empty() ? std::filesystem::path(".") : parent);
}

Result<std::string> read_small_file(const std::filesystem::path& path, std::uint64_t max_bytes) {
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  if (ec) {
    return fail(ec == std::errc::no_such_file_or_directory ? ErrorCode::kNotFound : ErrorCode::kIo,
                fmt::format("cannot read {}: {}", path.string(), ec.message()), path.string());
  }
  if (size > max_bytes) {
    return fail(ErrorCode::kLimitExceeded,
                fmt::format("{} is larger than {} bytes", path.string(), max_bytes), path.string());
  }
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  if (!in && !in.eof()) return io_error("read", path.string(), errno);
  return buffer.str();
}

}  // namespace restorekit::core
