// Zip's central directory checker over arbitrary bytes (read through ReadAt, as from a file).
// Oracle: no crash, no read outside the input (ASan), every read is within [0, size), at most
// 20 findings, and a second run gives the same findings.
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
  return 0;
}
