// A tenant or record restore's documents on disk: the working tables the dry run chooses them
// with (the keys the chosen rows name, the backup's files that have them, live's entries by key)
// and the list it keeps for apply, so that a choice of a million documents costs a page cache,
// not memory.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include <restorekit/core/error.hpp>
#include <restorekit/core/sqlite.hpp>
#include <restorekit/core/summary.hpp>
#include <restorekit/diff/diff.hpp>
#include <restorekit/restore/restore.hpp>

#include "tree_file.hpp"

namespace restorekit::restore::detail {

// The dry run's choice, in a private scratch database.
class Choice {
 public:
  [[nodiscard]] static Result<Choice> open();

  // A key (core::name_key of root + value) the chosen rows name; again is a no-op.
  [[nodiscard]] Result<void> want(const std::string& key);
  // Keeps `file` when its key is wanted and no file of that key was kept yet.
  [[nodiscard]] Result<void> offer(const core::EntryRecord& file);
  [[nodiscard]] Result<std::uint64_t> missing();  // keys wanted that no file has
  [[nodiscard]] std::uint64_t files() const { return files_; }
  // The files kept, in the order offered.
  [[nodiscard]] diff::FileWalk walk();

  // Live's entries by key (the first in path order of each): index_live() reads the tree once.
  struct LiveEntry {
    std::string path;
    core::EntryType type = core::EntryType::kFile;
  };
  [[nodiscard]] Result<void> index_live(Tree& live);
  [[nodiscard]] Result<std::optional<LiveEntry>> live_entry(const std::string& key);

 private:
  explicit Choice(core::Database db);
  std::unique_ptr<core::Database> db_;  // statements hold its address
  std::optional<core::Statement> want_, take_, keep_, live_;
  std::uint64_t files_ = 0;
};

// The list apply reads: each chosen document and where it goes in live.
class ChosenList {
 public:
  [[nodiscard]] static Result<ChosenList> create(const std::filesystem::path& file);
  [[nodiscard]] Result<void> add(const ChosenDocument& c);
  [[nodiscard]] Result<ChosenDocuments> save() &&;

 private:
  ChosenList(core::Database db, std::filesystem::path file);
  std::unique_ptr<core::Database> db_;
  std::filesystem::path file_;
  std::optional<core::Statement> add_;
  std::uint64_t count_ = 0, replaced_ = 0;
};

}  // namespace restorekit::restore::detail
