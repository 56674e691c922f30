// restorekit/header.json and checksum lists (ours and xxhsum's GNU/BSD styles) over arbitrary
// text: parsed, and what parses is written back and parsed again to the same result.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <restorekit/core/backup_format.hpp>
#include <restorekit/core/checksum_list.hpp>

using namespace restorekit;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto header = core::parse_header(text)) {
    auto again = core::parse_header(core::header_to_json(*header));
    if (!again || core::header_to_json(*again) != core::header_to_json(*header)) __builtin_trap();
  }
  (void)core::parse_checksums(text);
  (void)core::parse_checksum_list(text, "<fuzz>");
  return 0;
}
