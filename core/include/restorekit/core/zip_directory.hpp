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

#pragma GCC visibility push(default)  // the public API: exported by the shared libraries

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

// How many entries the end of central directory record of the zip of `size` bytes lists (the
// zip64 record's count where there is one): a hint (the directory may disagree;
// check_zip_directory judges), nullopt without an end record. @error kIo.
[[nodiscard]] Result<std::optional<std::uint64_t>> zip_listed_entries(const ReadAt& read,
                                                                      std::uint64_t size);

namespace detail {
// A window of a zip read at random, for walks that mostly go forward (zip_directory.cpp: the
// directory's headers one after the other, the local headers and small entries' data in file
// order): each miss that continues the last one reads twice as much as it did, up to 64 KiB,
// so that a walk forward costs a read per 64 KiB instead of one or two per header; any other
// miss starts again at 4 KiB (random access reads about what it asks for); a read of 64 KiB or
// more goes straight to the file.
class ZipPiece {
 public:
  Result<std::size_t> read(const ReadAt& read, std::uint64_t offset, std::span<std::byte> out);

 private:
  std::vector<std::byte> bytes_;  // the file's bytes from at_
  std::uint64_t at_ = 0;
  std::size_t next_ = 0;  // bytes the next miss reads, if it continues this one
};
}  // namespace detail

// One entry of a zip's central directory, and where its data starts (after its local header).
struct ZipRecord {
  std::string name;          // as stored
  std::uint16_t flags = 0;   // bit 0: encrypted
  std::uint16_t method = 0;  // 0 stored, 8 deflate, ...
  std::uint32_t crc = 0;
  std::uint64_t compressed = 0;
  std::uint64_t uncompressed = 0;
  std::uint64_t local_offset = 0;  // of its local header, in the file
};

// A zip's central directory in its own order, one record at a time (memory does not grow with
// the entries): what a reader needs to read an entry's data without libarchive. Damage is not
// judged here (check_zip_directory does): where the directory or a local header does not parse,
// the walk ends. Thread safety: one cursor per thread.
class ZipDirectoryCursor {
 public:
  // @return nullopt where the zip has no usable directory (no end record, split, out of bounds).
  // @error kIo (a read failed).
  [[nodiscard]] static Result<std::optional<ZipDirectoryCursor>> open(ReadAt read,
                                                                      std::uint64_t size);
  // The next record; nullopt at the end of the directory or where it stops parsing. The
  // directory is read in 64 KiB pieces. @error kIo.
  [[nodiscard]] Result<std::optional<ZipRecord>> next();
  // Where the record's data starts (after its local header); nullopt when there is no local
  // header at its offset. @error kIo.
  [[nodiscard]] Result<std::optional<std::uint64_t>> data_offset(const ZipRecord& record);
  // Up to out.size() bytes of the zip at `offset` (fewer at its end), for a record's data: small
  // reads that follow one another through the file (local headers, small entries' data) come
  // from a piece of it (detail::ZipPiece), so that a zip of small entries costs a read per 64
  // KiB, not two per entry. @error kIo.
  [[nodiscard]] Result<std::size_t> read(std::uint64_t offset, std::span<std::byte> out);

 private:
  ZipDirectoryCursor(ReadAt read, std::uint64_t size) : read_(std::move(read)), size_(size) {}
  ReadAt read_;
  std::uint64_t size_ = 0;
  std::uint64_t at_ = 0;      // the next directory header
  std::uint64_t end_ = 0;     // where the directory ends
  std::uint64_t prefix_ = 0;  // bytes before the zip
  detail::ZipPiece directory_;
  detail::ZipPiece local_;  // local headers and data
};

}  // namespace restorekit::core

#pragma GCC visibility pop
