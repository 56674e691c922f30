// ArchivePass: one pass of one reader over an archive, feeding every visitor attached to it.
//
// DESIGN.md, "Data flow": one pass over an archive feeds every consumer that needs its bytes.
// verify, inspect, diff and the restore dry run each attach the visitors they need (core's
// shared ones in entry_visitors.hpp, plus their own) and run one pass; no command decompresses
// an archive twice.
//
// Lifecycle, per entry:
//   1. every visitor's begin(entry) says whether it wants the entry's data;
//   2. when one does (only safe regular files are read, and only those `reads` accepts), the
//      data is read once, block by block, and each block goes to every visitor still
//      interested; once none is, the rest of the entry is skipped unread;
//   3. every visitor's end(entry, how) hears how the entry ended, whatever it asked;
//   4. the pass ends at the archive's end, at a fatal reader error (recorded in the outcome),
//      or once every visitor is done().
//
// Reader errors are outcomes, not errors: a failed entry is EntryEnd::failure, a fatal one
// also ends the pass (PassOutcome::stopped). run() fails only when a visitor fails or the pass
// is cancelled. Thread safety: a pass and its visitors belong to one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <restorekit/core/archive_reader.hpp>
#include <restorekit/core/error.hpp>
#include <restorekit/core/progress.hpp>

#pragma GCC visibility push(default)  // the public API: exported by the shared libraries

namespace restorekit::core {

enum class Interest { kSkip, kData };

// How an entry ended.
struct EntryEnd {
  bool data_read = false;        // the pass read the entry's data (to its end, or a failure)
  std::uint64_t bytes = 0;       // data bytes read
  std::optional<Error> failure;  // reading the data failed
  bool fatal = false;            // ... and the failure ended the whole pass
};

class EntryVisitor {
 public:
  virtual ~EntryVisitor() = default;
  // At each entry's header. kData asks for its data blocks.
  [[nodiscard]] virtual Result<Interest> begin(const Entry& entry) = 0;
  // Each block of an entry this visitor asked for, in order; kSkip: no more blocks for it.
  [[nodiscard]] virtual Result<Interest> block(std::span<const std::byte> data) {
    (void)data;
    return Interest::kData;
  }
  // The entry ended. Visitors hear in the order they were attached.
  [[nodiscard]] virtual Result<void> end(const Entry& entry, const EntryEnd& how) {
    (void)entry;
    (void)how;
    return {};
  }
  // True once the visitor needs no more entries.
  [[nodiscard]] virtual bool done() const { return false; }
};

struct PassOptions {
  CancelToken cancel;
  // Whether this pass reads an entry's data at all (zip readers on several threads share the
  // entries out); visitors still hear of every entry. Unset: every entry.
  std::function<bool(const Entry&)> reads;
  // Progress counts only the bytes of the entries' data this pass reads, not what its reader
  // reads to reach them (headers, another reader's entries, a zip window's directory): set where
  // several passes read one zip, so that together they count each byte of data once.
  bool data_progress_only = false;
  // Raw archive bytes newly consumed, after each block (progress).
  std::function<void(std::uint64_t raw_bytes)> progress;
  // Called once, after the first entry's header, when the archive's format is known.
  std::function<void(const ArchiveInfo&)> on_format;
  // At the archive's end, decode what is left of a compressed stream so that its final checks
  // (gzip trailer, zstd and xz checksums) run (ArchiveReader::drain).
  bool drain = false;
};

struct PassOutcome {
  std::uint64_t entries = 0;         // entries whose header was read
  std::optional<Error> stopped;      // the fatal error that ended the pass early
  std::string last_good_entry;       // the last entry that ended cleanly before `stopped`
  std::uint64_t raw_offset = 0;      // raw archive bytes read when the pass ended
  std::optional<Error> drain_error;  // the final stream checks failed
  bool finished_early = false;       // every visitor was done before the archive's end
};

class ArchivePass {
 public:
  explicit ArchivePass(PassOptions options = {}) : o_(std::move(options)) {}
  // Visitors are borrowed: they must outlive run().
  void attach(EntryVisitor& visitor) { visitors_.push_back(&visitor); }
  // @error kCancelled, or the first error a visitor returned.
  [[nodiscard]] Result<PassOutcome> run(ArchiveReader& reader);

 private:
  [[nodiscard]] Result<void> visit(ArchiveReader& reader, const Entry& entry);
  [[nodiscard]] Result<void> read_data(ArchiveReader& reader, std::vector<EntryVisitor*>& readers,
                                       EntryEnd& how);
  [[nodiscard]] bool all_done() const;
  [[nodiscard]] Result<void> check_cancel(const ArchiveReader& reader) const;
  void progress(const ArchiveReader& reader);

  PassOptions o_;
  std::vector<EntryVisitor*> visitors_;
  std::vector<EntryVisitor*> readers_;  // the visitors reading the current entry
  PassOutcome out_;
  std::uint64_t reported_ = 0;  // raw bytes already reported as progress
};

}  // namespace restorekit::core

#pragma GCC visibility pop
