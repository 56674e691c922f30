// Zip's central directory, checked against the local headers it points to.
//
// The central directory at the end of a zip is what Windows Explorer, macOS, unzip and 7-Zip
// read; libarchive can read a zip from its local headers alone, so a zip whose directory is
// damaged (the end record pointing past the end of the file, entries missing from it or
// disagreeing with their local headers) would otherwise pass as intact. This module parses the
// end of central directory record (and its zip64 variant), walks the directory and each
// entry's local header, and reports every disagreement as a CENTRAL_DIRECTORY finding (error):
// names, compression methods, CRC-32s and sizes (where the local header carries them), offsets
// that hold no local header, and local headers the directory does not list.
//
// Input: untrusted. Every offset and length is bounds-checked against the file; memory is
// bounded (one directory entry at a time, plus the list of local-header offsets up to
// kMaxTrackedEntries). Thread safety: independent calls may run in parallel.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <restorekit/core/byte_source.hpp>
#include <restorekit/core/error.hpp>
#include <restorekit/core/finding.hpp>

namespace restorekit::core {

// Reads up to out.size() bytes at `offset`; returns how many were read (fewer only at the end).
using ReadAt = std::function<Result<std::size_t>(std::uint64_t offset, std::span<std::byte> out)>;

struct ZipDirectoryReport {
  std::vector<Finding> findings;  // CENTRAL_DIRECTORY errors, at most kMaxFindings
  std::uint64_t entries = 0;      // entries the directory lists
  std::uint64_t prefix = 0;       // bytes before the zip (a self-extracting stub)
  bool end_record = false;        // the end of central directory record was found
};

// Checks the zip of `size` bytes read through `read`. `name` names the archive in sentences.
// @error kIo (a read failed). Damage is never an error: it is a finding.
[[nodiscard]] Result<ZipDirectoryReport> check_zip_directory(const ReadAt& read, std::uint64_t size,
                                                             std::string_view name);

// The same for an archive source (one source of its own, read at random).
// @error kNotFound, kIo, kInvalidArgument (a source that cannot seek or has no size).
[[nodiscard]] Result<ZipDirectoryReport> check_zip_directory(const ArchiveSource& zip);

}  // namespace restorekit::core
