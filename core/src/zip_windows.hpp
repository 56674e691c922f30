// A zip's central directory shown to libarchive one window at a time, so that memory does not
// grow with the number of entries.
//
// libarchive's seekable zip reader reads the whole central directory into memory before the
// first header (a tree node of ~150 bytes an entry): a zip of a million entries costs 150 MiB
// in each reader. Where a zip's directory holds more records than one window, the reader instead
// opens libarchive once per window on a virtual file: the real file, unchanged and at the same
// offsets, followed by a directory of the window's records (their bytes verbatim) and an end
// record that points at it, placed so that libarchive applies the same offset correction (a
// self-extracting stub) as it would to the real directory. libarchive then reads each local
// header, entry and password exactly as in the whole zip, holding one window's records.
//
// Where the windows differ from reading the whole directory (both only for directories not in
// local-header order, which no ordinary writer makes): libarchive visits entries sorted by
// local-header offset within a window, not across windows; and two records pointing to the
// same local header are visited once within a window but once per window across windows. The
// directory check (zip_directory.hpp) reports both as central-directory damage.
//
// Input: untrusted. Every record is bounds-checked against the file before it is copied; a
// directory that stops parsing mid-way ends the walk with libarchive's words for it.
// Thread safety: one per reader.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include <restorekit/core/byte_source.hpp>
#include <restorekit/core/error.hpp>
#include <restorekit/core/zip_directory.hpp>

namespace restorekit::core {

class ZipWindows {
 public:
  // Records per window at most (and about 1 MiB of them).
  static constexpr std::size_t kDefaultEntries = 8192;

  // Opens the windows of the zip of `size` bytes read through `read`, or nullopt where
  // libarchive reads it whole: the directory fits one window of `entries` records, or
  // libarchive's seekable reader would not find it (then it fails or streams by its own rules).
  // @error kIo.
  [[nodiscard]] static Result<std::optional<ZipWindows>> open(ReadAt read, std::uint64_t size,
                                                              std::size_t entries);

  // The virtual file: the real file (real_size() bytes), zeros up to tail_at(), then tail(),
  // the window's records and end records.
  [[nodiscard]] std::uint64_t real_size() const { return size_; }
  [[nodiscard]] std::uint64_t tail_at() const { return tail_at_; }
  [[nodiscard]] std::span<const std::byte> tail() const { return tail_; }
  [[nodiscard]] std::uint64_t virtual_size() const { return tail_at_ + tail_.size(); }
  // Windows made so far; the current one is windows() - 1.
  [[nodiscard]] std::uint64_t windows() const { return windows_; }
  // The current window's records, and how many records the windows before it held: the
  // position of its first record in the whole directory.
  [[nodiscard]] std::uint64_t records() const { return records_; }
  [[nodiscard]] std::uint64_t first_record() const { return first_record_; }

  // Moves to the next window. @return false after the last window.
  // @error kCorruptData or kTruncated (the directory stops parsing here: libarchive's words),
  //   kIo.
  [[nodiscard]] Result<bool> advance();

 private:
  ZipWindows(ReadAt read, std::uint64_t size, std::size_t entries)
      : read_(std::move(read)), size_(size), entries_(entries) {}
  // Copies the records of the next window from at_ into tail_; false when none is left.
  Result<bool> fill();
  void close_tail(std::size_t records);

  ReadAt read_;
  std::uint64_t size_ = 0;        // of the real file
  std::size_t entries_ = 0;       // records per window
  std::uint64_t at_ = 0;          // the next record of the real directory
  std::uint64_t correction_ = 0;  // what libarchive adds to every local-header offset
  bool ended_ = false;            // at_ stands at the directory's end
  std::optional<Error> stopped_;  // the directory stops parsing at at_
  std::uint64_t windows_ = 0;
  std::uint64_t records_ = 0;       // in the current window
  std::uint64_t first_record_ = 0;  // records in the windows before it
  std::uint64_t tail_at_ = 0;       // where tail_ starts in the virtual file
  std::vector<std::byte> tail_;     // the window's records and end records
  detail::ZipPiece piece_;          // the real directory, read forward in pieces
};

// One part's share of the windows, where several readers read a zip in parts
// (ReaderOptions::zip_window_part): part k of n reads the windows w with w % n == k.
class ZipWindowPart {
 public:
  // `skipped` is told the records of each window this part passes over (the own-inflate
  // cursor steps over them). `windows` must outlive this.
  ZipWindowPart(ZipWindows& windows, unsigned part, unsigned parts,
                std::function<void(std::uint64_t records)> skipped)
      : windows_(windows), part_(part), parts_(std::max(parts, 1u)), skipped_(std::move(skipped)) {}

  // Before the first header: moves to this part's first window. @return false where it has
  // none. @error as next().
  [[nodiscard]] Result<bool> first();
  // Moves past the current window (read, or not this part's) to this part's next one.
  // @return false after the last. Damage in the directory is reported by the part that read
  // the last window made before it; the others end there as at the directory's end.
  // @error kCorruptData, kTruncated (this part's damage to report), kIo (every part).
  [[nodiscard]] Result<bool> next();
  // Where the current window's entries are numbered from: their place in the whole directory
  // where there are several parts, else `counted`, the entries read so far.
  [[nodiscard]] std::uint64_t first_index(std::uint64_t counted) const {
    return parts_ > 1 ? windows_.first_record() : counted;
  }

 private:
  [[nodiscard]] bool owns(std::uint64_t window) const { return window % parts_ == part_; }

  ZipWindows& windows_;
  unsigned part_;
  unsigned parts_;
  std::function<void(std::uint64_t)> skipped_;
};

// The windows' virtual file as a ByteSource (sequential reads and seeks, as libarchive's
// callbacks use them): the real file's bytes come from `inner` (the zip itself, read as before,
// counted as before), the rest from `windows`, which must outlive it.
class ZipWindowSource final : public ByteSource {
 public:
  ZipWindowSource(std::unique_ptr<ByteSource> inner, ZipWindows& windows)
      : inner_(std::move(inner)), windows_(windows) {}
  Result<std::span<const std::byte>> read() override;
  Result<std::uint64_t> seek(std::int64_t offset, int whence) override;
  [[nodiscard]] bool seekable() const override { return true; }
  [[nodiscard]] std::optional<std::uint64_t> size() const override {
    return windows_.virtual_size();
  }
  [[nodiscard]] std::string name() const override { return inner_->name(); }

 private:
  std::unique_ptr<ByteSource> inner_;
  ZipWindows& windows_;
  std::uint64_t at_ = 0;  // the virtual position; inner_ stands there while it is in the file
};

}  // namespace restorekit::core
