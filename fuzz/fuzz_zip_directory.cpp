// Zip's central directory checker and cursor over arbitrary bytes (read through ReadAt, as from
// a file). Oracle: no crash, no read outside the input (ASan), every read is within [0, size),
// at most 20 findings, a second run gives the same findings, and the cursor's walk ends.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include <restorekit/core/zip_directory.hpp>

using namespace restorekit;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  core::ReadAt read = [&](std::uint64_t offset, std::span<std::byte> out) -> Result<std::size_t> {
    if (offset > size) __builtin_trap();  // the checker bounds every offset by the size
    std::size_t n = std::min<std::size_t>(out.size(), size - static_cast<std::size_t>(offset));
    if (n) std::memcpy(out.data(), data + offset, n);
    return n;
  };
  auto first = core::check_zip_directory(read, size, "fuzz.zip");
  auto second = core::check_zip_directory(read, size, "fuzz.zip");
  if (!first || !second) __builtin_trap();  // reads never fail here
  if (first->findings.size() > 20 || first->findings.size() != second->findings.size()) {
    __builtin_trap();
  }
  // The cursor a reader walks beside libarchive: records never point past the file and the walk
  // ends (each step moves forward).
  auto cursor = core::ZipDirectoryCursor::open(read, size);
  if (!cursor) __builtin_trap();
  if (*cursor) {
    for (std::size_t n = 0;; ++n) {
      auto record = (*cursor)->next();
      if (!record) __builtin_trap();
      if (!*record) break;
      if (n > size) __builtin_trap();  // every record takes directory bytes
      auto data = (*cursor)->data_offset(**record);
      if (!data) __builtin_trap();
      if (*data && **data > size + 2 * 0xffff + 30) __builtin_trap();
    }
  }
  return 0;
}
