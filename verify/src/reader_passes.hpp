// verify's pass over a whole archive (private to verify): one reader, or for a zip of large
// enough entries one per core on threads of their own (each reads the data of its share of the
// entries; reader 0 lists every entry), with the zip's central directory checked beside them.
// Every entry goes to the store; the readers' notable entries are merged in archive order.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <future>
#include <vector>

#include <restorekit/core/archive_reader.hpp>
#include <restorekit/core/checksum_index.hpp>
#include <restorekit/core/entry_store.hpp>
#include <restorekit/core/zip_directory.hpp>
#include <restorekit/verify/verify.hpp>

#include "entry_findings.hpp"
#include "entry_pass.hpp"

namespace restorekit::verify::detail {

struct PassesInput {
  const core::ArchiveSource& archive;
  const VerifyOptions& options;
  core::EntryStore& store;
  const core::ChecksumIndex* caller_list;  // --checksums: the other algorithms it wants
  std::filesystem::path stage_dir;         // where databases are staged
  // Called when an entry's data was read, on its reader's thread.
  std::function<void(const EntryResult&)> on_entry;
};

struct PassesOutcome {
  std::vector<EntryResult> notable;  // in index order; damaged ones up to kDamagedListed
  LeftOut left_out;                  // the damaged ones past them
  std::uint64_t bytes = 0;           // data bytes read
  std::uint64_t decrypted = 0;       // encrypted entries read cleanly
  std::uint64_t archive_bytes = 0;
  unsigned readers = 0;
  bool complete = true;  // every entry was seen
  core::ArchiveInfo archive;
  std::future<Result<core::ZipDirectoryReport>> directory;  // a zip's central directory
};

// Damage (a stream that fails to start, a pass that stopped) goes to `findings`.
// @error kCancelled, kIo, kDatabase: what says nothing about the archive.
Result<PassesOutcome> read_archive(const PassesInput& in, PassFindings& findings);

// How many threads `o` allows (--threads, else every core).
unsigned thread_count(const VerifyOptions& o);

}  // namespace restorekit::verify::detail
