// ByteSource: where an archive's raw (compressed) bytes come from.
//
// The archive reader pulls chunks from a ByteSource instead of opening files itself, so that
// archives can be read from files, from memory (tests, fuzzing, embedded callers), or through a
// fault-injecting wrapper that fails the Nth read (tests). A ByteSource is used by one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include <restorekit/core/error.hpp>

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

}  // namespace restorekit::core
