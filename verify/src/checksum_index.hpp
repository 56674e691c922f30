// restorekit/checksums.xxh128 of a backup being verified, put in name-key order on disk
// (private to verify): the pass spools the list to a file, and this reads it line by line into
// a private temporary SQLite database, so that a list of millions of lines costs a few MiB of
// memory (the list held as text, parsed and keyed in memory took ~640 bytes a line: 300,000
// documents, 190 MiB). check_backup merges it against the entry store in the same order.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

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
  [[nodiscard]] static Result<ChecksumIndex> build(const std::filesystem::path& file,
                                                   const CancelToken& cancel);

  [[nodiscard]] const std::optional<Error>& bad() const { return bad_; }

  // The lines in name-key order (then line order), one at a time: start() (again) from the
  // first, next() until it returns nullptr. The line is valid until the next call.
  // @error kDatabase.
  [[nodiscard]] Result<void> start();
  [[nodiscard]] Result<const Line*> next();

 private:
  explicit ChecksumIndex(core::Database db) : db_(std::move(db)) {}
  core::Database db_;
  std::optional<Error> bad_;
  std::optional<core::Statement> walk_;
  Line line_;
};

}  // namespace restorekit::verify::detail
