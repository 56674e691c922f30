// ArchiveWriter: writes the archive formats restorekit produces, over libarchive.
//
// Formats: tar (POSIX pax) compressed with gzip, zstd or xz; zip (deflate), optionally
// encrypted with AES-256 (WinZip AE-2) when a password is given.
//
// Lifecycle: 1. open() a file descriptor or a memory buffer; 2. for each entry either
// add_directory() or begin_file() + write()* + end_file(); 3. finish(). A writer that is
// destroyed without finish() leaves an incomplete archive: callers write to a temporary name
// and rename only after finish() succeeded (backup_writer does). One thread per writer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <restorekit/core/error.hpp>

#pragma GCC visibility push(default)  // the public API: exported by the shared libraries

namespace restorekit::core {

enum class ArchiveKind { kZip, kTarGz, kTarZst, kTarXz };

std::string_view archive_kind_name(ArchiveKind kind);  // "zip", "tar.gz", "tar.zst", "tar.xz"

// The kind implied by a file name's extension (.zip, .tar.gz/.tgz, .tar.zst/.tzst,
// .tar.xz/.txz). @error kInvalidArgument naming the file and the supported extensions.
[[nodiscard]] Result<ArchiveKind> archive_kind_from_name(const std::filesystem::path& path);

struct WriterOptions {
  ArchiveKind kind = ArchiveKind::kTarZst;
  std::optional<std::string> password;  // zip only: AES-256 encryption of every entry
  int level = -1;                       // compression level; -1 = the format's default
  int threads = 0;                      // compressor threads (zstd, xz); 0 = single-threaded
  // tar: store every name raw (pax hdrcharset=BINARY) instead of as UTF-8. Needed for names
  // not in NFC: libarchive's readers (bsdtar's, restorekit's) turn UTF-8 names into NFC, raw
  // ones they keep. GNU tar does not know hdrcharset and warns once per entry.
  bool raw_names = false;
};

class ArchiveWriter {
 public:
  // Writes to `fd`, which stays owned by the caller (and open after finish()).
  // @error kInvalidArgument (password with a tar kind), kInternal (libarchive set-up).
  [[nodiscard]] static Result<ArchiveWriter> open_fd(int fd, std::string name,
                                                     const WriterOptions& options);
  // Appends to `out` (tests, fuzz seeds).
  [[nodiscard]] static Result<ArchiveWriter> open_memory(std::vector<std::byte>& out,
                                                         const WriterOptions& options);

  ArchiveWriter(ArchiveWriter&&) noexcept;
  ArchiveWriter& operator=(ArchiveWriter&&) noexcept;
  ~ArchiveWriter();

  // `path` must already be a safe relative path (safe_path.hpp). @error kIo.
  [[nodiscard]] Result<void> add_directory(std::string_view path, std::int64_t mtime);
  // Starts a regular file of exactly `size` bytes. @error kIo.
  [[nodiscard]] Result<void> begin_file(std::string_view path, std::uint64_t size,
                                        std::int64_t mtime, std::uint32_t mode = 0644);
  // @error kIo; kInvalidArgument when more bytes than declared are written.
  [[nodiscard]] Result<void> write(std::span<const std::byte> data);
  // @error kInvalidArgument when fewer bytes than declared were written.
  [[nodiscard]] Result<void> end_file();
  // Flushes the compressor and the archive trailer. @error kIo.
  [[nodiscard]] Result<void> finish();

  // Compressed bytes written so far.
  [[nodiscard]] std::uint64_t bytes_written() const;

 private:
  struct Impl;
  explicit ArchiveWriter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace restorekit::core

#pragma GCC visibility pop
