// ExtractTable: extract()'s listing, written as the pass goes (private to restore).
//
// Every matched entry becomes a row of a private temporary SQLite database (deleted with the
// table) instead of an element of a vector: with the names already taken (a file whose name an
// earlier file took under the name rule is a duplicate), the documents a choice names and,
// after the checks, what each file was checked against and whether it was placed. The checks walk
// the files in name-key order, the order a ChecksumIndex hands out its lines in, so that a checksum
// list is merged rather than looked up per file. One thread at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <restorekit/core/hash.hpp>
#include <restorekit/core/sqlite.hpp>
#include <restorekit/restore/extract.hpp>

namespace restorekit::restore::detail {

class ExtractTable final : public ExtractListing {
 public:
  // @error kDatabase (the temp folder cannot be written).
  [[nodiscard]] static Result<std::shared_ptr<ExtractTable>> create();

  // Takes `path`'s name (under the name rule) for a file. @return false when an earlier file
  // took it. @error kDatabase.
  [[nodiscard]] Result<bool> take(std::string_view path);
  // Whether a file took `path`'s name. @error kDatabase.
  [[nodiscard]] Result<bool> taken(std::string_view path);
  // Records a matched entry (archive index `index`). @return its row. @error kDatabase.
  [[nodiscard]] Result<std::int64_t> add(std::string_view path, bool folder, std::uint64_t bytes,
                                         std::uint64_t index);
  // A file's data was read: `bytes` of it, with its hashes when it read cleanly (`xxh128` set).
  // @error kDatabase.
  [[nodiscard]] Result<void> read(std::int64_t row, std::uint64_t bytes,
                                  const std::optional<core::Digest128>& xxh128,
                                  const std::optional<std::string>& extra_hex);

  // The documents a choice (--tenant, --row) names, by name key: choose() each (again is
  // harmless); pick() says whether an entry's path is one and marks it found; missing() counts
  // those no entry held. @error kDatabase.
  [[nodiscard]] Result<void> choose(const std::string& key);
  [[nodiscard]] Result<bool> pick(std::string_view path);
  [[nodiscard]] Result<std::uint64_t> missing();

  // A file to check, as the walk hands it out (views valid during the call).
  struct File {
    std::int64_t row = 0;
    std::uint64_t index = 0;  // in the archive
    std::string_view path;
    std::string_view key;  // name_key(path)
    std::uint64_t bytes = 0;
    std::optional<core::Digest128> xxh128;  // set when it read cleanly
    std::optional<std::string_view> extra_hex;
  };
  // The files in name-key order (then archive order): every one, or only those that read
  // cleanly. @error kDatabase, or the first error `fn` returns.
  using FileFn = std::function<Result<void>(const File&)>;
  [[nodiscard]] Result<void> for_each_file_by_key(bool only_read_cleanly, const FileFn& fn) const;
  // What a file was checked against, and whether it was placed. @error kDatabase.
  [[nodiscard]] Result<void> settle(std::int64_t row, CheckedBy checked, bool placed);
  // The folders' paths in archive order. @error kDatabase, or the first error `fn` returns.
  [[nodiscard]] Result<void> for_each_folder(
      const std::function<Result<void>(std::string_view path)>& fn) const;

  // Ends writing: folders are listed as checked by `folders_checked` and placed or not. @return
  // the files placed (or, `listed_files`, listed) and their bytes. @error kDatabase.
  struct Totals {
    std::uint64_t files = 0;
    std::uint64_t bytes = 0;
  };
  [[nodiscard]] Result<Totals> finish(CheckedBy folders_checked, bool folders_placed,
                                      bool listed_files);

  [[nodiscard]] std::uint64_t size() const override { return rows_; }
  [[nodiscard]] Result<void> for_each(const EntryFn& fn) const override;

 private:
  explicit ExtractTable(core::Database db) : db_(std::move(db)) {}

  mutable core::Database db_;
  std::optional<core::Statement> take_, taken_, add_, read_, settle_, choose_, pick_;
  std::uint64_t rows_ = 0;
  CheckedBy folders_checked_ = CheckedBy::kNothing;
  bool folders_placed_ = false;
};

}  // namespace restorekit::restore::detail
