// Little-endian fields of zip records, and forward reads of a zip in pieces: shared by the
// directory check, its cursor and the directory windows (zip_directory.cpp, zip_windows.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include <restorekit/core/zip_directory.hpp>

namespace restorekit::core::zip {

inline std::uint16_t u16(const std::byte* p) {
  return static_cast<std::uint16_t>(std::to_integer<unsigned>(p[0]) |
                                    std::to_integer<unsigned>(p[1]) << 8);
}
inline std::uint32_t u32(const std::byte* p) {
  return static_cast<std::uint32_t>(u16(p)) | static_cast<std::uint32_t>(u16(p + 2)) << 16;
}
inline std::uint64_t u64(const std::byte* p) {
  return static_cast<std::uint64_t>(u32(p)) | static_cast<std::uint64_t>(u32(p + 4)) << 32;
}

// Reads through `piece`, a 64 KiB window of the file that starts at `piece_at`: for walks
// that only go forward (the directory's headers one after the other, the local headers in file
// order), so that a zip of many small entries costs a read per 64 KiB instead of two per
// header. A walk forward reads each byte at most once; random access would read 64 KiB per
// header, so nothing else reads this way.
Result<std::size_t> read_piece(const ReadAt& read, std::vector<std::byte>& piece,
                               std::uint64_t& piece_at, std::uint64_t offset,
                               std::span<std::byte> out);

}  // namespace restorekit::core::zip
