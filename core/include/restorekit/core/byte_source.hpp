// ByteSource: where an archive's raw (compressed) bytes come from.
//
// The archive reader pulls chunks from a ByteSource instead of opening files itself, so that
// archives can be read from files, from memory (tests, fuzzing, embedded callers), or through a
// fault-injecting wrapper that fails the Nth read (tests). A ByteSource is used by one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include <restorekit/core/error.hpp>

#pragma GCC visibility push(default)  // the public API: exported by the shared libraries

namespace restorekit::core {

class ByteSource {
 public:
  virtual ~ByteSource() = default;

  // The next chunk of bytes; an empty span at the end. The span stays valid until the next
  // call to read() or seek().
  // @error kIo when the underlying read fails.
  virtual Result<std::span<const std::byte>> read() = 0;

  // Moves the read position (whence: SEEK_SET, SEEK_CUR, SEEK_END).
  // @return the new absolute position. @error kIo, or kInvalidArgument when !seekable().
  virtual Result<std::uint64_t> seek(std::int64_t offset, int whence) = 0;

  // Reads up to out.size() bytes at `offset` (random access: the zip directory check). The
  // default seeks and reads chunks; files and memory answer exactly what is asked.
  // @return the bytes read (fewer at the end). @error kIo, kInvalidArgument (!seekable()).
  [[nodiscard]] virtual Result<std::size_t> read_at(std::uint64_t offset, std::span<std::byte> out);
  // Whether read_at() leaves the sequential position and the last read()'s span alone (files,
  // memory), so that a reader may use both at once.
  [[nodiscard]] virtual bool reads_at_in_place() const { return false; }

  [[nodiscard]] virtual bool seekable() const = 0;
  [[nodiscard]] virtual std::optional<std::uint64_t> size() const = 0;
  // A name for messages: the file path, or "<memory>".
  [[nodiscard]] virtual std::string name() const = 0;
};

// Opens a regular file for sequential reading with a 1 MiB buffer.
// @error kNotFound when it does not exist, kInvalidArgument when it is not a regular file
//   (directory, device, FIFO), kIo otherwise.
[[nodiscard]] Result<std::unique_ptr<ByteSource>> open_file_source(
    const std::filesystem::path& path);

// A source over caller-owned memory; `data` must outlive the source.
std::unique_ptr<ByteSource> memory_source(std::span<const std::byte> data,
                                          std::string name = "<memory>");

// ArchiveSource: what every command that reads an archive takes (verify, inspect, diff, the
// restore dry run): a file path, caller-owned memory, or any opener of ByteSources (a
// fault-injecting or counting wrapper in tests, an application's own storage). Each open()
// gives a new, independent source: zip verification reads with one per thread.
// Copyable; the opener must be callable from several threads.
class ArchiveSource {
 public:
  using Opener = std::function<Result<std::unique_ptr<ByteSource>>()>;

  // A file (implicit, so that paths keep working wherever a source is expected).
  ArchiveSource(std::filesystem::path path);  // NOLINT(google-explicit-constructor)
  ArchiveSource(const std::string& path);     // NOLINT(google-explicit-constructor)
  ArchiveSource(const char* path);            // NOLINT(google-explicit-constructor)
  // Caller-owned memory that must outlive every source opened from it.
  static ArchiveSource memory(std::span<const std::byte> data, std::string name = "<memory>");
  // Any opener; `name` is what messages call the archive.
  ArchiveSource(Opener opener, std::string name);

  // A new source positioned at the start. @error as open_file_source, or the opener's.
  [[nodiscard]] Result<std::unique_ptr<ByteSource>> open() const;
  // What messages call the archive: the path, or the given name.
  [[nodiscard]] const std::string& name() const { return name_; }
  // The file, for a path source (fingerprints, the catalog); nullopt otherwise.
  [[nodiscard]] const std::optional<std::filesystem::path>& path() const { return path_; }

 private:
  Opener opener_;
  std::string name_;
  std::optional<std::filesystem::path> path_;
};

}  // namespace restorekit::core

#pragma GCC visibility pop
