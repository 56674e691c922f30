// verify's use of core's archive pass (private to verify): one reader's pass with core's
// visitors — metadata, hashes, the database stager — any visitors the caller adds (restore's
// document stager), and verify's recorder, which turns each entry into an EntryResult. Every
// entry goes to the shared EntryStore (on disk); only the few a finding or a later check needs
// (unsafe, failed, staged, metadata, misnamed, too long, size mismatch) stay in memory. With
// several readers (zip), reader w reads the data of entries whose index % readers == w and
// skips the rest; reader 0 also records every entry's metadata.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <restorekit/core/archive_pass.hpp>
#include <restorekit/core/archive_reader.hpp>
#include <restorekit/core/checksum_index.hpp>
#include <restorekit/core/checksum_list.hpp>
#include <restorekit/core/entry_store.hpp>
#include <restorekit/core/entry_visitors.hpp>
#include <restorekit/core/hash.hpp>
#include <restorekit/core/progress.hpp>
#include <restorekit/verify/verify.hpp>

namespace restorekit::verify::detail {

struct EntryResult {
  std::uint64_t index = 0;
  std::string path;  // normalised, or the raw name of an unsafe entry
  core::EntryType type = core::EntryType::kFile;
  bool encrypted = false;
  std::optional<std::uint64_t> declared_size;
  std::optional<Error> problem;  // unsafe path/link, device, damaged header
  // Filled by the reader that read the data:
  bool data_read = false;
  std::uint64_t bytes = 0;
  std::optional<core::Digest128> xxh128;
  std::optional<std::string> extra_hex;  // the algorithm a checksum list asked for, if not XXH128
  std::optional<Error> data_error;
  bool fatal = false;  // data_error also ended the whole pass (reported once, as the stop)
  std::optional<core::StagedDatabase> staged;  // a database staged to a file
  // Named like a database (*.db, *.sqlite, *.sql, ...) but none that restorekit reads.
  std::optional<core::Finding> not_a_database;
  std::string text;  // restorekit/header.json, kept verbatim
  // restorekit/checksums.xxh128, spooled to a file in the staging folder (as far as it was read)
  std::optional<std::filesystem::path> list_file;
  // The header, parsed once by the metadata collector, when this is the first entry.
  std::optional<Result<core::BackupHeader>> header;
  std::int64_t mtime = 0;
  std::optional<std::string> too_long;  // why the name cannot be restored on this machine

  // Whether this entry is kept in memory after the pass (see the top of this file).
  [[nodiscard]] bool notable() const;
  // Notable only for damage of its own (unsafe, failed, too long, wrong size): one of many such
  // entries a damaged archive may hold, listed one by one only up to kDamagedListed.
  [[nodiscard]] bool damage_only() const;
  // Its row in the EntryStore; the second takes the path (for an entry that is not kept).
  [[nodiscard]] core::StoredEntry stored() const&;
  [[nodiscard]] core::StoredEntry stored() &&;
};

struct PassPlan {
  core::EntryStore* store = nullptr;  // every entry is recorded here
  unsigned worker = 0;
  unsigned workers = 1;
  // The workers read a zip's directory windows in parts (ReaderOptions::zip_window_part): each
  // reads and owns every entry it meets. Otherwise every worker meets every entry, worker 0
  // lists them all, and each reads the data of the entries whose index it owns (modulo workers).
  bool by_windows = false;
  // The caller's checksum list: the other algorithms it wants computed, by name.
  const core::ChecksumIndex* extra = nullptr;
  std::filesystem::path stage_dir;                          // where databases are staged
  const VerifyOptions::VisitorFactory* visitors = nullptr;  // the caller's, when any
  CancelToken cancel;
  std::atomic<std::uint64_t>* raw_bytes = nullptr;  // progress across readers
  std::function<void()> on_progress;                // called after each block, throttled by caller
  // Called when an entry's data was read (on the reader's thread): lets the caller start the
  // checks of a staged database while the rest of the archive streams.
  std::function<void(const EntryResult&)> on_entry;
};

// The damaged entries listed one by one, each with its finding: an archive whose every entry is
// damaged (300,000 failed CRCs took 908 MiB) lists the first core::kFindingsListed in archive
// order and counts the rest, so that memory stays bounded.
inline constexpr std::uint64_t kDamagedListed = core::kFindingsListed;

// Damaged entries beyond kDamagedListed, counted instead of kept.
struct LeftOut {
  // By the finding (code and severity) each would have had.
  std::map<std::pair<std::string, core::Severity>, std::uint64_t> by_code;
  // Encrypted entries whose data failed, by error: a wrong password or missing one (or, where
  // no encrypted entry decrypted, a wrong password that passed the 2-byte check).
  std::map<ErrorCode, std::uint64_t> encrypted;
  [[nodiscard]] bool empty() const { return by_code.empty() && encrypted.empty(); }
};

struct PassOutcome {
  core::PassOutcome pass;
  std::vector<EntryResult> notable;  // the entries this reader owns that stay in memory
  std::uint64_t damaged_kept = 0;    // ... of those, damage_only() ones
  LeftOut left_out;                  // damage_only() entries past kDamagedListed
  std::uint64_t bytes = 0;           // data bytes read by this reader
  std::uint64_t decrypted = 0;       // encrypted entries this reader read cleanly
};

// @error kCancelled, kIo (staging), kDatabase (the entry store). Everything else is recorded
// in the outcome.
[[nodiscard]] Result<PassOutcome> run_pass(core::ArchiveReader& reader, const PassPlan& plan);

}  // namespace restorekit::verify::detail
