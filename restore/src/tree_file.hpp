// Documents trees as a restore sees them (the staged tree apply installs, the live folder it
// replaces), kept in a SQLite file in path order: a tree of a million files costs a page cache,
// not memory, and two trees compare by walking both in order. A tree the plan keeps is a file of
// the staging (or plan) folder whose XXH3-128 the plan records; one apply scans only to compare
// is a scratch file, deleted when closed.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <restorekit/core/error.hpp>
#include <restorekit/core/hash.hpp>
#include <restorekit/core/sqlite.hpp>
#include <restorekit/core/summary.hpp>
#include <restorekit/restore/restore.hpp>

namespace restorekit::restore::detail {

// One file or folder of a tree: the staged tree with hashes, the live folder with inode and
// mtime (and hashes where the dry run read them).
struct TreeEntry {
  std::string path;  // relative to the tree's root, '/'-separated; "" is the root itself
  core::EntryType type = core::EntryType::kFile;  // kOther: neither a file nor a folder
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;
  std::uint64_t inode = 0;
  std::optional<core::Digest128> hash;
  friend bool operator==(const TreeEntry&, const TreeEntry&) = default;
};

class Tree;

// A new SQLite file that the plan keeps (one there is replaced): private to the caller, written
// without a journal (a file cut short has another digest, which apply refuses), 2 MiB of cache.
// @error kIo, kDatabase.
[[nodiscard]] Result<core::Database> create_plan_database(const std::filesystem::path& file);

// The entries of a tree in path order (byte order, as std::string compares), or the reverse.
class TreeCursor {
 public:
  // @return false past the last entry. @error kDatabase.
  [[nodiscard]] Result<bool> next();
  [[nodiscard]] const TreeEntry& entry() const { return entry_; }

 private:
  friend class Tree;
  explicit TreeCursor(core::Statement st) : st_(std::move(st)) {}
  core::Statement st_;
  TreeEntry entry_;
};

class Tree {
 public:
  // A new tree in `file` (one there is replaced), kept with save(). @error kDatabase, kIo.
  [[nodiscard]] static Result<Tree> create(const std::filesystem::path& file);
  // A private tree in SQLite's temporary folder, gone when closed. @error kDatabase.
  [[nodiscard]] static Result<Tree> scratch();
  // A kept tree, read only (its digest is the plan's to check). @error kNotFound, kDatabase.
  [[nodiscard]] static Result<Tree> open(const PlanFile& file);

  // An entry; a second one of a path replaces the first. @error kDatabase.
  [[nodiscard]] Result<void> add(const TreeEntry& e);
  // A folder a file below it implies: an entry of that path already there stays.
  [[nodiscard]] Result<void> add_folder(std::string_view path);

  enum class Order { kAscending, kDescending };
  enum class Only { kAll, kFolders };
  // The entries as added so far. @error kDatabase.
  [[nodiscard]] Result<TreeCursor> walk(Order order = Order::kAscending, Only only = Only::kAll);
  // The entry of `path`, or nullopt. @error kDatabase.
  [[nodiscard]] Result<std::optional<TreeEntry>> find(std::string_view path);

  // Writes a created tree out and closes it: its file and digest. @error kDatabase, kIo.
  [[nodiscard]] Result<PlanFile> save() &&;

 private:
  Tree(core::Database db, std::filesystem::path file);  // statements hold db_'s address
  [[nodiscard]] Result<void> prepare_writes();
  [[nodiscard]] Result<void> settle();
  [[nodiscard]] Result<void> commit();
  std::unique_ptr<core::Database> db_;
  std::filesystem::path file_;  // empty: scratch or opened
  std::optional<core::Statement> add_, add_folder_, find_;
  bool in_transaction_ = false;
  bool adding_ = false;  // entries wait in the table `adding` (settle())
};

enum class HashFiles { kNo, kYes };
// Adds every file and folder below `root` (and `root` itself as "") by lstat: links are never
// followed and show as kOther. kYes hashes the files, a batch at a time on every core.
// @error kIo, kDatabase.
[[nodiscard]] Result<void> scan_tree(const std::filesystem::path& root, HashFiles hash, Tree& into);

// Adds the tree a listing stages under `root` (files with their hashes, folders explicit or
// implied), as scan_tree() would see it with hashes. `walk` calls its argument for each entry.
using RecordFn = std::function<Result<void>(const core::EntryRecord&)>;
[[nodiscard]] Result<void> add_listing(const std::function<Result<void>(const RecordFn&)>& walk,
                                       const std::string& root, Tree& into);

enum class TreeCompare { kContent, kMetadata };
// The first difference between two trees, as a sentence; nullopt when they are equal.
// kContent compares types, sizes and hashes, and refuses anything but files and folders;
// kMetadata compares types, sizes, mtimes and inodes, and where those differ the file's hash
// (below `root`) with the planned one. Folders compare by what they hold. @error kDatabase.
[[nodiscard]] Result<std::optional<std::string>> first_difference(
    Tree& expected, Tree& actual, TreeCompare how, const std::filesystem::path& root = {});

}  // namespace restorekit::restore::detail
