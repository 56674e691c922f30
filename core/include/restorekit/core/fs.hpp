// Small filesystem helpers with restorekit's error model: private temporary directories that
// are always removed, durable writes (fsync of files and their directory), and safe creation
// of files from archive data (never following links, never overwriting).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <restorekit/core/error.hpp>

#pragma GCC visibility push(default)  // the public API: exported by the shared libraries

namespace restorekit::core {

// A private (0700) directory created under `parent` (default: the system temp dir), removed
// with everything in it when the object dies. Move-only.
//
// A locked one also holds an flock on itself while it lives, so that a later run can tell the
// folder of a killed process (no lock) from one in use: see remove_stale_temp_dirs().
class TempDir {
 public:
  // @error kIo naming `parent` when it cannot be created.
  [[nodiscard]] static Result<TempDir> create(const std::filesystem::path& parent = {},
                                              std::string_view prefix = "restorekit-");
  [[nodiscard]] static Result<TempDir> create_locked(const std::filesystem::path& parent,
                                                     std::string_view prefix);
  TempDir(TempDir&& other) noexcept
      : path_(std::exchange(other.path_, {})), lock_fd_(std::exchange(other.lock_fd_, -1)) {}
  TempDir& operator=(TempDir&& other) noexcept;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();

  [[nodiscard]] const std::filesystem::path& path() const { return path_; }
  // Stops owning the folder (it outlives the object) and returns its path.
  std::filesystem::path release();

 private:
  explicit TempDir(std::filesystem::path p) : path_(std::move(p)) {}
  void reset();
  std::filesystem::path path_;
  int lock_fd_ = -1;
};

// Removes the folders `parent`/`prefix`* that this user owns and that no live process holds
// locked (TempDir::create_locked): what killed runs left behind. @return the removed folders.
std::vector<std::filesystem::path> remove_stale_temp_dirs(const std::filesystem::path& parent,
                                                          std::string_view prefix);

// A file descriptor that is closed on destruction. Move-only.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd();
  [[nodiscard]] int get() const { return fd_; }
  [[nodiscard]] explicit operator bool() const { return fd_ >= 0; }
  // Gives the descriptor up without closing it.
  [[nodiscard]] int release() { return std::exchange(fd_, -1); }

 private:
  int fd_ = -1;
};

// Opens `path` read-only (O_CLOEXEC, and `flags`) without waiting on a FIFO: with O_NONBLOCK,
// which reads of a regular file ignore, a FIFO's open returns at once instead of waiting for a
// writer, and the caller refuses it or reads it as empty. Empty, with errno set, where open fails.
[[nodiscard]] UniqueFd open_for_reading(const std::filesystem::path& path, int flags = 0);

// Creates a new file (O_EXCL, O_NOFOLLOW; `mode` less the umask, private by default).
// @error kIo naming the path (errno is left set, e.g. EEXIST).
[[nodiscard]] Result<UniqueFd> create_new_file(const std::filesystem::path& path,
                                               unsigned mode = 0600);

// Writes all of `data` to `fd`. @error kIo naming `name`.
[[nodiscard]] Result<void> write_all(int fd, const void* data, std::size_t size,
                                     const std::string& name);

// fsync of a file descriptor / of a directory's entry table. @error kIo.
[[nodiscard]] Result<void> sync_fd(int fd, const std::string& name);
[[nodiscard]] Result<void> sync_directory(const std::filesystem::path& dir);

// Atomically renames `from` to `to` (same filesystem) and syncs the directory. @error kIo.
[[nodiscard]] Result<void> rename_durably(const std::filesystem::path& from,
                                          const std::filesystem::path& to);

// Reads a whole small file. @error kNotFound, kIo, kLimitExceeded past `max_bytes`.
[[nodiscard]] Result<std::string> read_small_file(const std::filesystem::path& path,
                                                  std::uint64_t max_bytes = 1u << 20);

}  // namespace restorekit::core

#pragma GCC visibility pop
