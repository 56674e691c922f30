// restorekit/checksums.xxh128 of a backup being verified, put in name-key order (private to
// verify): the pass spools the list to a file, and this reads it line by line. A list of up to
// kInMemoryBytes is sorted in memory (~640 bytes a line: 4 MiB of list, ~13 MiB); a longer one
// goes into a private temporary SQLite database, so that a list of millions of lines costs a
// few MiB (300,000 documents held in memory took 190 MiB). Both give the same lines in the same
// order; check_backup merges them against the entry store in that order.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <restorekit/core/checksum_list.hpp>
#include <restorekit/core/hash.hpp>
#include <restorekit/core/sqlite.hpp>

namespace restorekit::verify::detail {

class ChecksumIndex {
 public:
  // One line of the list, with its name key.
  struct Line {
    std::string key;
    std::uint64_t number = 0;  // 1-based line number
    std::string path;
    core::Digest128 digest;
  };

  // Reads the list spooled at `file`. A malformed line (or a line that is not XXH3-128) makes
  // the whole list unusable: bad() says why, as BAD_CHECKSUMS reports it. Stops early once
  // `cancel` trips. @error kDatabase (the temporary database), kIo (the spooled file),
  // kCancelled.
  // `in_memory_bytes`: the longest list sorted in memory (tests lower it to compare the two).
  static constexpr std::uint64_t kInMemoryBytes = std::uint64_t{4} << 20;
  [[nodiscard]] static Result<ChecksumIndex> build(const std::filesystem::path& file,
                                                   const CancelToken& cancel,
                                                   std::uint64_t in_memory_bytes = kInMemoryBytes);

  [[nodiscard]] const std::optional<Error>& bad() const { return bad_; }

  // The lines in name-key order (then line order), one at a time: start() (again) from the
  // first, next() until it returns nullptr. The line is valid until the next call.
  // @error kDatabase.
  [[nodiscard]] Result<void> start();
  [[nodiscard]] Result<const Line*> next();

 private:
  ChecksumIndex() = default;
  Result<void> add(core::ExpectedHash&& e);

  std::optional<core::Database> db_;  // a long list's lines, on disk
  std::optional<core::Statement> insert_;
  std::vector<Line> lines_;  // a short list's lines, sorted once read
  std::size_t next_ = 0;     // ... the next one start() handed out
  std::optional<Error> bad_;
  std::optional<core::Statement> walk_;
  Line line_;
};

}  // namespace restorekit::verify::detail
