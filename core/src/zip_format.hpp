// Little-endian fields of zip records: shared by the directory check, its cursor and the
// directory windows (zip_directory.cpp, zip_windows.cpp).
#pragma once

#include <cstddef>
#include <cstdint>

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

}  // namespace restorekit::core::zip
