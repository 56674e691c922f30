// ArchiveReader: safe, streaming reading of backup archives over libarchive.
//
// Lifecycle:
//   1. open() a file or a ByteSource (format detection happens on the first next());
//   2. next() to reach each entry (metadata with a normalised, safety-checked path);
//   3. read_block() repeatedly for the entry's data (zero-copy views), or skip();
//   4. next() again, until it yields nullptr at the end of the archive.
//
// Compressed tar streams (gzip, zstd, xz) are decoded by restorekit itself (zlib, libzstd,
// liblzma), so that every gzip member's CRC-32/ISIZE trailer and every zstd/xz check is
// verified — libarchive 3.6.2 skips the gzip trailer. bzip2 and lz4 are left to libarchive.
//
// Guarantees (DESIGN.md, "Untrusted input"):
// - Only zip, tar (all variants), 7z and cpio, with the gzip, bzip2, xz, zstd and lz4 filters.
// - Every negative libarchive return, ARCHIVE_WARN included, fails the entry (or the handle).
//   No byte of an entry counts as verified until read_block() returned its final empty block:
//   a bad zip CRC is only reported at the entry's end.
// - Entry names are normalised and checked by safe_path.hpp; unsafe entries are still listed
//   (Entry::problem says why) so callers can report them, but never extracted by restorekit.
// - Entry count, total uncompressed bytes and the compression ratio are bounded (ReaderLimits);
//   exceeding one stops the reader before memory or disk suffer.
// - Encrypted 7z and other schemes libarchive cannot decrypt fail with kEncryptionUnsupported.
//
// Errors: an Error from read_block()/skip() fails the current entry; the reader may continue
// with next() unless `dead()` says the handle is unusable (a fatal error: truncation, corrupt
// stream, limit exceeded). Thread safety: one thread per reader; readers are independent, so
// several readers over the same file may run on several threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <restorekit/core/byte_source.hpp>
#include <restorekit/core/error.hpp>
#include <restorekit/core/finding.hpp>

#pragma GCC visibility push(default)  // the public API: exported by the shared libraries

namespace restorekit::core {

enum class EntryType { kFile, kDirectory, kSymlink, kHardlink, kOther };

std::string_view entry_type_name(EntryType type);

struct Entry {
  std::uint64_t index = 0;  // 0-based position in the archive
  std::string raw_path;     // the name as stored (UTF-8); untrusted, escape before printing
  std::string path;         // normalised relative path; empty when the name is unsafe
  EntryType type = EntryType::kFile;
  std::optional<std::uint64_t> size;  // declared uncompressed size, when the format records it
  std::int64_t mtime = 0;             // seconds since the epoch; 0 when absent
  std::uint32_t mode = 0;             // permission bits
  bool encrypted = false;
  std::string link_target;       // for links; untrusted
  std::optional<Error> problem;  // why the entry must not be extracted (unsafe path/link,
                                 // device/FIFO, unreadable name); nullopt for a safe entry

  [[nodiscard]] bool safe() const { return !problem.has_value(); }
};

struct ReaderLimits {
  std::uint64_t max_entries = 10'000'000;
  std::uint64_t max_total_bytes = std::uint64_t{4} << 40;  // 4 TiB of uncompressed data
  double max_ratio = 1000.0;  // uncompressed bytes per raw archive byte read
  std::uint64_t ratio_grace_bytes = std::uint64_t{256} << 20;  // ratio checked past this
};

struct Passwords {
  std::vector<std::string> candidates;  // tried in order
  // Asked for one more candidate once the list is exhausted; nullopt gives up. May be empty.
  // Readers opened from copies of one Passwords (verify's readers on several threads) share
  // the answers: the person is asked once, whichever reader asks first, and the others wait.
  std::function<std::optional<std::string>()> prompt;

  [[nodiscard]] bool any() const { return !candidates.empty() || prompt != nullptr; }

  // The `index`-th prompted answer (0-based), asking for it if nobody has yet. Thread safe.
  [[nodiscard]] std::optional<std::string> prompted(std::size_t index) const;

  // The candidate that read an encrypted entry of the archive whole and clean, found once by
  // the first reader opened from any copy of this Passwords (ArchiveReader::open); offered
  // first. nullopt before, or where none did. Thread safe.
  [[nodiscard]] std::optional<std::string> proven() const;

 private:
  friend class ArchiveReader;
  // Runs `prove` once for every copy of this Passwords, the other readers waiting, and keeps
  // what it finds.
  void prove_once(const std::function<std::optional<std::string>()>& prove) const;

  struct Answers;
  std::shared_ptr<Answers> answers_ = make_answers();
  static std::shared_ptr<Answers> make_answers();
};

// Whether a compressed tar stream is decompressed ahead on a second thread (verify: hashing
// and tar parsing then hide behind decompression) or on the caller's thread (inspect).
enum class Prefetch { kNo, kYes };

struct ReaderOptions {
  ReaderLimits limits;
  Passwords passwords;
  Prefetch prefetch = Prefetch::kNo;
  // Zip entries stored or deflated without encryption are read and inflated by restorekit
  // (ISA-L; the CRC-32 and both sizes checked against the central directory) where the zip is a
  // file or memory; libarchive still reads every header. false: libarchive inflates them too
  // (tests compare the two).
  bool own_zip_inflate = true;
  // A zip file (or memory) whose central directory holds more records than this is read one
  // window of records at a time, so that memory does not grow with the entries (libarchive keeps
  // the directory it reads in memory); 0 reads every directory whole. Tests lower it to compare
  // the two.
  std::size_t zip_window_entries = 8192;
  // Readers of one zip on several threads, each reading its own windows: this reader reads the
  // windows w with w % zip_window_parts == zip_window_part, and each entry's index is its
  // position in the whole directory, so that the parts together list what one reader lists.
  // With several parts, the windows are of equal size (at most zip_window_entries records), the
  // same number for each part, by the count the zip's end record lists. A zip not read in
  // windows (zip_windows() is 0) is read whole by part 0 and not at all by the others. Damage in
  // the directory ends every part; the part that read the last window before it reports it, the
  // others end as at the directory's end.
  unsigned zip_window_part = 0;
  unsigned zip_window_parts = 1;
};

struct ArchiveInfo {
  std::string format;                // "zip", "tar", "7z", "cpio"; empty before the first next()
  std::string format_detail;         // libarchive's own name, e.g. "POSIX pax interchange format"
  std::vector<std::string> filters;  // outermost last, e.g. {"zstd"}; empty for none
};

class ArchiveReader {
 public:
  // Opens a new source of `archive` (a file, memory, any opener; zip files through the
  // seekable reader, so names and sizes come from the central directory).
  // @error kNotFound, kIo, kInvalidArgument (not a regular file), or the opener's error.
  [[nodiscard]] static Result<ArchiveReader> open(const ArchiveSource& archive,
                                                  ReaderOptions options = {});
  // Opens any ByteSource (memory, fault-injecting, ...).
  [[nodiscard]] static Result<ArchiveReader> open(std::unique_ptr<ByteSource> source,
                                                  ReaderOptions options = {});

  ArchiveReader(ArchiveReader&&) noexcept;
  ArchiveReader& operator=(ArchiveReader&&) noexcept;
  ~ArchiveReader();

  // Advances to the next entry, skipping any unread data of the current one.
  // @return the entry (valid until the next call to next()), or nullptr at the end.
  // @error kNotAnArchive (first call, unrecognised bytes), kTruncated, kCorruptData,
  //   kEncryptionUnsupported, kLimitExceeded (too many entries), kIo. All are fatal.
  [[nodiscard]] Result<const Entry*> next();

  // The next block of the current entry's data; an empty span once the entry ended cleanly.
  // Sparse holes are returned as zero blocks. The view is valid until the next call.
  // @error kCrcError, kCorruptData, kTruncated, kPasswordRequired, kBadPassword,
  //   kEncryptionUnsupported, kRatioLimit, kLimitExceeded, kIo.
  [[nodiscard]] Result<std::span<const std::byte>> read_block();

  // Skips the rest of the current entry without decompressing where the format allows.
  [[nodiscard]] Result<void> skip();

  // After next() returned nullptr: decodes the rest of a gzip/zstd/xz stream that the tar
  // reader left unread (it stops at the tar end marker), so that the final checks — the gzip
  // trailer, the last zstd frame's checksum, the xz index and check — are verified.
  // @error kCrcError, kCorruptData, kTruncated, kIo.
  [[nodiscard]] Result<void> drain();

  // Observations about the compressed stream that are not errors: a zstd stream without
  // checksums (ZSTD_NO_CHECKSUM), an xz stream without a check (XZ_NO_CHECK), implausible gzip
  // header fields (GZIP_HEADER), zero padding after gzip data (GZIP_TRAILING_DATA).
  // Thread-safe: a prefetching decoder may still be adding notes.
  [[nodiscard]] std::vector<Finding> stream_notes() const;

  // True when the archive starts like a zip (a local header or an empty zip's end record):
  // known at open(), before any entry, from the bytes read to detect the compression.
  [[nodiscard]] bool starts_like_zip() const;

  // True once a fatal error made the handle unusable.
  [[nodiscard]] bool dead() const;

  [[nodiscard]] const ArchiveInfo& info() const;
  [[nodiscard]] const std::string& name() const;       // the source's name
  [[nodiscard]] std::uint64_t raw_bytes_read() const;  // compressed bytes consumed so far
  [[nodiscard]] std::uint64_t bytes_produced() const;  // uncompressed bytes handed out so far
  // Zip entries whose data restorekit read and inflated itself (ReaderOptions::own_zip_inflate).
  [[nodiscard]] std::uint64_t own_zip_entries() const;
  // The entries a zip file's (or memory's) end record lists, read at the first call: a hint,
  // which the directory may contradict; nullopt for other archives and sources. @error kIo.
  [[nodiscard]] Result<std::optional<std::uint64_t>> zip_listed_entries();
  // Windows of a zip's directory read so far (ReaderOptions::zip_window_entries); 0 where the
  // directory is read whole.
  [[nodiscard]] std::uint64_t zip_windows() const;
  [[nodiscard]] std::optional<std::uint64_t> raw_size() const;

 private:
  struct Impl;
  explicit ArchiveReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The locale is the application's: libarchive converts entry names through LC_CTYPE, and
// restorekit reads and writes them as UTF-8, so LC_CTYPE must be a UTF-8 locale. The library
// never changes it; ArchiveReader::open() and the ArchiveWriter refuse to start without one
// (kInvalidArgument naming this function).
//
// Makes LC_CTYPE a UTF-8 locale (C.UTF-8) when the current one is not. Call it once at
// start-up, before threads start (setlocale is process-wide); the restorekit executable does.
void ensure_utf8_locale();
// True when LC_CTYPE is a UTF-8 locale.
bool utf8_locale();
// kInvalidArgument, saying what to do, unless LC_CTYPE is a UTF-8 locale.
[[nodiscard]] Result<void> require_utf8_locale();

}  // namespace restorekit::core

#pragma GCC visibility pop
