// Archive reading + path safety over arbitrary bytes: every entry is listed (names normalised
// and checked by the reader), every block read, the stream drained. Limits are small so that a
// decompression bomb is refused rather than slow.
#include <cstddef>
#include <cstdint>
#include <span>

#include <restorekit/core/archive_reader.hpp>
#include <restorekit/core/safe_path.hpp>

using namespace restorekit;

// The fuzzer is the application: it sets the UTF-8 locale the reader asks for.
[[maybe_unused]] static const bool kUtf8Locale = (restorekit::core::ensure_utf8_locale(), true);

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  core::ReaderOptions o;
  o.limits.max_entries = 10'000;
  o.limits.max_total_bytes = 64u << 20;
  o.limits.ratio_grace_bytes = 1u << 20;
  o.passwords.candidates = {"password", "secret"};
  // Both decoding paths: frames decoded whole on worker threads (prefetching) and streamed.
  o.prefetch = size > 0 && (data[size - 1] & 1) ? core::Prefetch::kYes : core::Prefetch::kNo;
  // A zip's directory read whole and in windows of two records (zip_windows.hpp).
  o.zip_window_entries = size > 0 && (data[size - 1] & 2) ? 2 : 0;
  // And one of two readers' share of its windows: the second reader's skips the first's.
  o.zip_window_parts = size > 0 && (data[size - 1] & 4) ? 2 : 1;
  o.zip_window_part = size > 0 && (data[size - 1] & 8) ? 1 : 0;
  auto bytes = std::as_bytes(std::span(data, size));
  auto reader = core::ArchiveReader::open(core::memory_source(bytes), o);
  if (!reader) return 0;
  for (;;) {
    auto e = reader->next();
    if (!e || !*e) break;
    const core::Entry& entry = **e;
    // A safe entry's path is normalised: it must pass the check again unchanged.
    if (entry.safe() && !entry.path.empty()) {
      auto again = core::normalize_entry_path(entry.path);
      if (!again || *again != entry.path) __builtin_trap();
    }
    (void)core::escape_name(entry.raw_path);
    for (;;) {
      auto block = reader->read_block();
      if (!block || block->empty()) break;
    }
    if (reader->dead()) break;
  }
  (void)reader->drain();
  return 0;
}
