// EntryStore: every entry of one archive, kept on disk instead of in memory.
//
// verify and inspect see every entry of an archive, and several checks need the whole list
// (duplicate names under the name rule, a file that is also a folder, lookups by name for a
// checksum list or the header, the listing the catalog records). Held in memory that costs
// hundreds of bytes per entry: 10M entries would need gigabytes. The store writes each entry
// to a private temporary SQLite database (in SQLite's temp folder, $SQLITE_TMPDIR or $TMPDIR,
// deleted when the store is destroyed) with a bounded page cache, and answers those checks
// with queries, so memory stays a few MiB whatever the entry count.
//
// Lifecycle:
//   1. create() (or create_memory() for small tests);
//   2. add() every entry, from any number of threads (batched into large transactions);
//   3. seal() once: commits; add() is refused afterwards;
//   4. query: for_each(), for_each_brief(), for_each_by_key(), find(), duplicates(),
//   path_conflicts(), last_intact_before().
//
// Several readers of one zip may add the same entry (by index): a row marked `owned` (the
// reader that read the entry's data) replaces one that is not, never the reverse.
// Rows are queued in batches to a writer thread of the store's own (bounded: add() waits when
// several batches are pending), so that SQLite's inserts stay off the reading thread; seal()
// writes the rest and joins it. A write error is returned by a later add() or by seal().
// Thread safety: add() may be called concurrently (the store serializes it); queries after
// seal() from one thread at a time — the connection is opened without SQLite's own mutex, which
// cost 18% of a docs-only verify. Names are kept raw (byte-exact) as given.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <restorekit/core/archive_reader.hpp>
#include <restorekit/core/error.hpp>
#include <restorekit/core/hash.hpp>
#include <restorekit/core/summary.hpp>

#pragma GCC visibility push(default)  // the public API: exported by the shared libraries

namespace restorekit::core {

class Database;
class Statement;

// One row of the store: what the listing shows (EntryRecord) plus what verify's checks ask.
struct StoredEntry {
  std::uint64_t index = 0;
  EntryRecord record;
  bool data_read = false;                // the entry's data was read to its end or a failure
  bool failed = false;                   // reading its data failed
  std::optional<std::string> extra_hex;  // a checksum list's other algorithm (XXH32/64, XXH3-64)
};

enum class Ownership { kOwned, kNotOwned };

class EntryStore {
 public:
  // A store in a private temporary file. @error kDatabase (the temp folder cannot be written).
  [[nodiscard]] static Result<std::shared_ptr<EntryStore>> create();
  // A store in memory (tests and small listings). @error kDatabase.
  [[nodiscard]] static Result<std::shared_ptr<EntryStore>> create_memory();
  // A sealed store holding `records` in order (tests, and listings read back from the index).
  [[nodiscard]] static Result<std::shared_ptr<EntryStore>> from_records(
      const std::vector<EntryRecord>& records);

  EntryStore(const EntryStore&) = delete;
  EntryStore& operator=(const EntryStore&) = delete;
  ~EntryStore();

  // Records an entry. @error kDatabase (disk full), kInvalidArgument (after seal()).
  [[nodiscard]] Result<void> add(const StoredEntry& entry, Ownership ownership);
  [[nodiscard]] Result<void> add(StoredEntry&& entry, Ownership ownership);  // takes it
  // Ends adding: commits. @error kDatabase.
  [[nodiscard]] Result<void> seal();

  // Entries stored (distinct indexes).
  [[nodiscard]] std::uint64_t size() const;

  // Every entry in index (archive) order. @error kDatabase, or the first error `fn` returns.
  using RecordFn = std::function<Result<void>(const StoredEntry&)>;
  [[nodiscard]] Result<void> for_each(const RecordFn& fn) const;
  // Every entry in index order, only what a summary or a total counts, without copying names
  // (`path` is valid during the call): the fast walk over a whole listing. @error kDatabase, or the
  // first error `fn` returns.
  struct Brief {
    std::string_view path;
    EntryType type = EntryType::kFile;
    std::optional<std::uint64_t> size;
    std::int64_t mtime = 0;
    bool encrypted = false;
    bool safe = false;
    bool data_read = false;
  };
  using BriefFn = std::function<Result<void>(const Brief&)>;
  [[nodiscard]] Result<void> for_each_brief(const BriefFn& fn) const;
  // What a walk of every entry would total for a summary, kept by the writer as entries were
  // added, so that no walk is needed (a walk costs ~0.2 µs an entry): every entry's encryption
  // and times, and each file under its first folder with the '/' ("docs/"; "" for a file at
  // the top). nullopt where only a walk answers: an entry added twice (a zip's listing by one
  // reader, then its other readers' rows), or files under more than kTallyFolders first
  // folders. Rows may come in any order (readers of a zip's windows). After seal().
  struct Tally {
    struct Files {
      std::uint64_t files = 0;
      std::uint64_t read_bytes = 0;  // the sizes of those whose data was read
      std::uint64_t safe_files = 0;  // those with safe names
      std::uint64_t safe_bytes = 0;  // and their sizes
    };
    static constexpr std::size_t kTallyFolders = 256;
    bool encrypted = false;
    std::optional<std::int64_t> oldest_mtime;  // of the entries with a time (not 0)
    std::optional<std::int64_t> newest_mtime;
    std::map<std::string, Files, std::less<>> by_folder;
  };
  [[nodiscard]] const std::optional<Tally>& tally() const;
  // Whether two entries (not folders) may share a name under the name rule: false proves none
  // do, without a walk. After seal().
  [[nodiscard]] bool may_have_duplicates() const;
  // The listing as a vector (small archives, tests): memory grows with the entry count.
  [[nodiscard]] Result<std::vector<EntryRecord>> records() const;

  // Every entry that is not a folder, ordered by its name under the name rule (name_key, byte
  // order as std::string_view compares) and then by index, each with that key: one sorted
  // stream that a sorted list (a checksum list) is merged against, instead of a lookup per
  // line. @error kDatabase, or the first error `fn` returns.
  using KeyedFn = std::function<Result<void>(std::string_view key, const StoredEntry&)>;
  [[nodiscard]] Result<void> for_each_by_key(const KeyedFn& fn) const;
  // The same walk, started: its sort runs in start_by_key() (so that it may run while another
  // core is still busy, parsing the list it is to be merged with) and the entries are taken one
  // at a time. Used by one thread; the store must outlive it. @error kDatabase.
  class KeyedWalk {
   public:
    KeyedWalk(KeyedWalk&&) noexcept;
    KeyedWalk& operator=(KeyedWalk&&) noexcept;
    ~KeyedWalk();
    // The next entry, or nullptr at the end; it and key() stay valid until the next call.
    [[nodiscard]] Result<const StoredEntry*> next();
    [[nodiscard]] std::string_view key() const;

   private:
    friend class EntryStore;
    explicit KeyedWalk(std::unique_ptr<Statement> walk);
    std::unique_ptr<Statement> walk_;
    bool stepped_ = false;  // the statement stands on a row not yet taken
    bool more_ = false;     // that step found a row
    StoredEntry entry_;
    // A row taken out of the statement's order (files_in_key_order()), handed out at its key.
    std::optional<StoredEntry> aside_;
    std::string aside_key_;
    bool from_aside_ = false;  // entry_ is that row
  };
  [[nodiscard]] Result<KeyedWalk> start_by_key() const;
  // Whether the files (not folders) were added in the walk's order (name key, then index), but
  // for the first one, as our backups' are (their header first, then the files in name order):
  // then the walk needs no sort. After seal(); false before.
  [[nodiscard]] bool files_in_key_order() const;
  // Every entry, folders too, in index order, each with its name_key (stored as the entry was
  // added, not computed again). @error kDatabase, or the first error `fn` returns.
  [[nodiscard]] Result<void> for_each_keyed(const KeyedFn& fn) const;

  // The first entry that is not a folder whose name equals `name` under the name rule
  // (name_key). @error kDatabase.
  [[nodiscard]] Result<std::optional<StoredEntry>> find(std::string_view name) const;

  // Entries (not folders) whose name equals an earlier entry's under the name rule, in index
  // order, each with the first entry's spelling. @error kDatabase.
  struct Duplicate {
    StoredEntry entry;
    std::string first_spelling;
  };
  [[nodiscard]] Result<std::vector<Duplicate>> duplicates() const;

  // Safe entries that are not folders but whose path is also a folder: a folder entry of that
  // path, or any safe entry below it. Index order. @error kDatabase.
  [[nodiscard]] Result<std::vector<StoredEntry>> path_conflicts() const;

  // The same, only the first `limit` (in index order) read, and how many there are in all: an
  // archive of millions of clashing names costs `limit` rows. `spellings`: of the duplicates,
  // those whose spelling differs from the first entry's (NFC and NFD). @error kDatabase.
  template <typename T>
  struct FirstOf {
    std::vector<T> items;
    std::uint64_t total = 0;
    std::uint64_t spellings = 0;
  };
  [[nodiscard]] Result<FirstOf<Duplicate>> duplicates(std::size_t limit) const;
  [[nodiscard]] Result<FirstOf<StoredEntry>> path_conflicts(std::size_t limit) const;

  // The last entry before `index` whose data did not fail (empty when none). @error kDatabase.
  [[nodiscard]] Result<std::string> last_intact_before(std::uint64_t index) const;

 private:
  struct Impl;
  explicit EntryStore(std::unique_ptr<Impl> impl);
  [[nodiscard]] static Result<std::shared_ptr<EntryStore>> open(Result<Database> db);
  [[nodiscard]] Result<void> flush_locked();
  [[nodiscard]] Result<std::vector<StoredEntry>> rows_at(std::vector<std::uint64_t> indexes) const;
  std::unique_ptr<Impl> impl_;
  mutable std::mutex mutex_;
};

}  // namespace restorekit::core

#pragma GCC visibility pop
