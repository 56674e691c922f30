// DecodingSource (private to core): decompresses gzip, zstd and xz streams itself and hands
// libarchive the plain tar bytes, because libarchive 3.6.2 never checks the gzip CRC-32/ISIZE
// trailer and stops reading at the tar end marker, before the final checksums of zstd and xz
// are decoded. Here every member/frame is decoded to its end and its check verified; drain()
// decodes whatever libarchive left unread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <restorekit/core/archive_reader.hpp>
#include <restorekit/core/byte_source.hpp>
#include <restorekit/core/finding.hpp>

namespace restorekit::core {

enum class Codec { kNone, kGzip, kZstd, kXz };

// Stream observations, appended by the decoding thread and read by the caller's: findings, and
// how many compressed bytes the decoder has consumed (bytes read ahead of it excluded), which
// the compression ratio limit compares the output with.
class StreamNotes {
 public:
  void add(Finding f) {
    std::lock_guard lock(mutex_);
    notes_.push_back(std::move(f));
  }
  [[nodiscard]] std::vector<Finding> snapshot() const {
    std::lock_guard lock(mutex_);
    return notes_;
  }
  void consumed(std::uint64_t n) { consumed_.fetch_add(n, std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t consumed() const { return consumed_.load(std::memory_order_relaxed); }

 private:
  mutable std::mutex mutex_;
  std::vector<Finding> notes_;
  std::atomic<std::uint64_t> consumed_{0};
};

// The codec whose magic starts `head`; kNone for anything else.
Codec detect_codec(std::span<const std::byte> head);
std::string_view codec_name(Codec codec);

// Wraps `inner` (positioned at its start) in a decoder for `codec`. Stream-level observations
// that are not errors (no checksums in a zstd frame, odd gzip header fields) are appended to
// `notes`, which must outlive the source.
// With Prefetch::kYes the decoder runs ahead on its own thread (a few 1 MiB buffers), so
// decompression overlaps the caller's work; `notes` is then complete once the stream ended.
std::unique_ptr<ByteSource> make_decoding_source(std::unique_ptr<ByteSource> inner, Codec codec,
                                                 StreamNotes* notes, Prefetch prefetch);

}  // namespace restorekit::core
