// ChecksumIndex: a checksum list (xxhsum's format, checksum_list.hpp) put in name-key order,
// read from a file line by line so that memory does not grow with the list.
//
// Our backups' restorekit/checksums.xxh128 (spooled to a file by the pass) and the lists a
// caller gives (`verify --checksums`, `extract --checksums`) may hold millions of lines. A list
// of up to kInMemoryBytes is sorted in memory (~640 bytes a line: 4 MiB of list, ~13 MiB). A
// longer one already in name-key order (ours: backup writes it in name order) is read from its
// file again by each walk, and holds no memory at all; a longer one out of order goes into a
// private temporary SQLite database (in SQLite's temp folder, deleted with the index), so that
// a list of millions of lines costs a few MiB (300,000 lines held in memory took 190 MiB). All
// three give the same lines in the same order: keys compare byte by byte, as std::string_view
// and SQLite's BINARY collation do.
//
// Thread safety: start()/next()/merge() from one thread at a time; other_algorithm() from any
// number of threads at once (a pass's readers ask it per entry).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <restorekit/core/checksum_list.hpp>
#include <restorekit/core/entry_store.hpp>
#include <restorekit/core/error.hpp>
#include <restorekit/core/hash.hpp>
#include <restorekit/core/progress.hpp>
#include <restorekit/core/sqlite.hpp>

#pragma GCC visibility push(default)  // the public API: exported by the shared libraries

namespace restorekit::core {

class ChecksumIndex {
 public:
  // One line of the list, with its name key.
  struct Line {
    std::string key;           // name_key(path)
    std::uint64_t number = 0;  // 1-based line number
    std::string path;
    HashAlgorithm algorithm = HashAlgorithm::kXxh128;
    Digest128 digest;  // an XXH3-128 line's digest
    std::string hex;   // another algorithm's hex digits (empty for XXH3-128)

    // The line's digest as xxhsum prints it.
    [[nodiscard]] std::string expected_hex() const {
      return algorithm == HashAlgorithm::kXxh128 ? digest.hex() : hex;
    }
  };

  // Which lines a list may hold: our backups' list holds only XXH3-128 lines (any other makes
  // it bad()); a caller's list any algorithm xxhsum writes.
  enum class Accept { kXxh128Only, kAnyAlgorithm };

  // Reads the list at `file`, named `name` in messages. A malformed line (or, kXxh128Only, a
  // line that is not XXH3-128) makes the whole list unusable: bad() says why. Stops early once
  // `cancel` trips. @error kDatabase (the temporary database), kIo (the file), kCancelled.
  // `in_memory_bytes`: the longest list sorted in memory (tests lower it to compare the two).
  static constexpr std::uint64_t kInMemoryBytes = std::uint64_t{4} << 20;
  [[nodiscard]] static Result<ChecksumIndex> build(const std::filesystem::path& file,
                                                   std::string_view name, Accept accept,
                                                   const CancelToken& cancel,
                                                   std::uint64_t in_memory_bytes = kInMemoryBytes);

  // A list a caller gives (`--checksums FILE`), named by its path: any algorithm; a malformed
  // line is the error (kInvalidArgument naming the line), not bad(). @error as build(), kNotFound.
  [[nodiscard]] static Result<ChecksumIndex> callers_list(const std::filesystem::path& file,
                                                          const CancelToken& cancel);

  ChecksumIndex(ChecksumIndex&&) noexcept;
  ChecksumIndex& operator=(ChecksumIndex&&) noexcept;
  ~ChecksumIndex();

  // Where the lines are held: kFile for a long list already in key order, whose walks read the
  // file again; it stays where it is, unchanged, for the index's life.
  enum class Held { kMemory, kFile, kScratchDatabase };
  [[nodiscard]] Held held() const;

  // Why the list cannot be used (its first malformed line), if it cannot.
  [[nodiscard]] const std::optional<Error>& bad() const { return bad_; }
  // Lines read (when not bad()).
  [[nodiscard]] std::uint64_t size() const { return size_; }

  // The lines in name-key order (then line order), one at a time: start() (again) from the
  // first, next() until it returns nullptr. The line is valid until the next call.
  // @error kDatabase.
  [[nodiscard]] Result<void> start();
  [[nodiscard]] Result<const Line*> next();

  // The algorithm of the last line naming `path` (under the name rule) when it is not XXH3-128:
  // what a pass must compute besides XXH3-128 for that entry. Answers without a lookup when
  // every line is XXH3-128. @error kDatabase.
  [[nodiscard]] Result<std::optional<HashAlgorithm>> other_algorithm(std::string_view path) const;

  // Walks the lines and `entries`' files (EntryStore::for_each_by_key) together in name-key
  // order, one scan of each instead of a lookup per line: `on_line` gets every line with the
  // first file of its key (nullptr where no entry holds it), in key order; `on_unlisted` every
  // file whose key no line names. @error kDatabase, or the first error a callback returns.
  using LineFn = std::function<Result<void>(const Line&, const StoredEntry* first)>;
  using UnlistedFn = std::function<void(const StoredEntry&)>;
  [[nodiscard]] Result<void> merge(const EntryStore& entries, const LineFn& on_line,
                                   const UnlistedFn& on_unlisted);
  // The same against a walk already started (EntryStore::start_by_key()), from its next entry.
  [[nodiscard]] Result<void> merge(EntryStore::KeyedWalk& walk, const LineFn& on_line,
                                   const UnlistedFn& on_unlisted);

 private:
  ChecksumIndex();
  // The line `e` is, checked against what list `name` may hold (kBadBackup where it may not).
  static Result<Line> line_of(ExpectedHash&& e, Accept accept, const std::string& name);
  Result<const Line*> next_from_file();
  Result<void> add(ExpectedHash&& e);
  // Reads the whole list, holding nothing: sets bad_ and size_ as a build does. @return whether
  // its keys never go down (and every line is XXH3-128: other_algorithm() needs a lookup).
  Result<bool> read_in_key_order(const std::filesystem::path& file, const CancelToken& cancel);

  Accept accept_ = Accept::kAnyAlgorithm;
  std::string name_;
  std::optional<std::filesystem::path> file_;  // a long list in key order, read by each walk
  struct FileWalk;
  std::unique_ptr<FileWalk> file_walk_;  // ... the walk of it
  std::optional<Database> db_;           // a long list's lines, on disk
  std::optional<Statement> insert_;
  std::vector<Line> lines_;  // a short list's lines, sorted once read
  std::size_t next_ = 0;     // ... the next one start() handed out
  std::optional<Error> bad_;
  std::uint64_t size_ = 0;
  bool other_algorithms_ = false;  // a line is not XXH3-128
  std::optional<Statement> walk_;
  Line line_;
  // other_algorithm() on disk: one statement, one caller at a time.
  std::unique_ptr<std::mutex> lookup_mutex_;
  mutable std::optional<Statement> lookup_;
};

}  // namespace restorekit::core

#pragma GCC visibility pop
