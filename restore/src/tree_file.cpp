#include "tree_file.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include <restorekit/core/fs.hpp>

namespace restorekit::restore::detail {

namespace fs = std::filesystem;

namespace {

// `high`/`low`: the XXH3-128, NULL where the tree has no hash for the file. Entries are added
// to `adding` in the order they come (appended: a scan comes in the folders' order, not in path
// order, and inserting it into the path-ordered tree through a 2 MiB cache rewrote a page for
// nearly every file: 127,000 page writes for 100,000 files), then put into `tree` sorted, before
// anything reads it.
constexpr std::string_view kSchema = R"sql(
CREATE TABLE tree(path TEXT PRIMARY KEY, type INTEGER NOT NULL, size INTEGER NOT NULL,
                  mtime_ns INTEGER NOT NULL, inode INTEGER NOT NULL, high INTEGER, low INTEGER)
                  WITHOUT ROWID;
CREATE TABLE adding(implied INTEGER NOT NULL, path TEXT NOT NULL, type INTEGER NOT NULL,
                    size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, inode INTEGER NOT NULL,
                    high INTEGER, low INTEGER);
)sql";
constexpr std::string_view kColumns = "path, type, size, mtime_ns, inode, high, low";
constexpr int kCacheMiB = 2;
constexpr std::size_t kHashBatch = 4096;  // files hashed together on every core

TreeEntry entry_at(const core::Statement& st) {
  TreeEntry e;
  e.path = std::string(st.column_text(0));
  e.type = static_cast<core::EntryType>(st.column_int(1));
  e.size = static_cast<std::uint64_t>(st.column_int(2));
  e.mtime_ns = st.column_int(3);
  e.inode = static_cast<std::uint64_t>(st.column_int(4));
  if (st.column_type(5) != core::ValueType::kNull) {
    e.hash = core::Digest128{static_cast<std::uint64_t>(st.column_int(5)),
                             static_cast<std::uint64_t>(st.column_int(6))};
  }
  return e;
}

}  // namespace

Result<bool> TreeCursor::next() {
  RK_TRY_ASSIGN(bool row, st_.step());
  if (row) entry_ = entry_at(st_);
  return row;
}

Tree::Tree(core::Database db, fs::path file)
    : db_(std::make_unique<core::Database>(std::move(db))), file_(std::move(file)) {}

Result<core::Database> create_plan_database(const fs::path& file) {
  std::error_code ec;
  fs::remove(file, ec);
  // Private like plan.json (it names documents); SQLite takes an empty file as a new one.
  RK_TRY(core::create_new_file(file));
  RK_TRY_ASSIGN(auto db, core::Database::open(file, core::OpenMode::kReadWrite));
  RK_TRY(db.use_as_scratch(kCacheMiB));
  return db;
}

Result<Tree> Tree::create(const fs::path& file) {
  RK_TRY_ASSIGN(auto db, create_plan_database(file));
  Tree t(std::move(db), file);
  RK_TRY(t.prepare_writes());
  return t;
}

Result<Tree> Tree::scratch() {
  RK_TRY_ASSIGN(auto db, core::Database::open_scratch());
  RK_TRY(db.use_as_scratch(kCacheMiB));
  Tree t(std::move(db), {});
  RK_TRY(t.prepare_writes());
  return t;
}

Result<Tree> Tree::open(const PlanFile& file) {
  RK_TRY_ASSIGN(auto db, core::Database::open_untrusted(file.path));
  return Tree(std::move(db), {});
}

Result<void> Tree::prepare_writes() {
  RK_TRY(db_->exec(kSchema));
  RK_TRY_ASSIGN(add_, db_->prepare(fmt::format("INSERT INTO adding(implied, {}) VALUES(0, ?1, "
                                               "?2, ?3, ?4, ?5, ?6, ?7)",
                                               kColumns)));
  RK_TRY_ASSIGN(add_folder_, db_->prepare(fmt::format(
                                 "INSERT INTO adding(implied, {}) VALUES(1, ?1, {}, 0, 0, 0, "
                                 "NULL, NULL)",
                                 kColumns, static_cast<int>(core::EntryType::kDirectory))));
  RK_TRY(db_->exec("BEGIN"));
  in_transaction_ = true;
  return {};
}

// The entries added since, into the tree in path order, as if added one by one: an entry
// replaces one of its path, an implied folder is kept only where no entry has its path.
Result<void> Tree::settle() {
  if (!adding_) return {};
  adding_ = false;
  return db_->exec(fmt::format(
      "INSERT OR IGNORE INTO tree({0}) SELECT {0} FROM adding WHERE implied ORDER BY path; "
      "INSERT OR REPLACE INTO tree({0}) SELECT {0} FROM adding WHERE NOT implied "
      "ORDER BY path, rowid; "
      "DELETE FROM adding;",
      kColumns));
}

Result<void> Tree::commit() {
  RK_TRY(settle());
  if (!in_transaction_) return {};
  in_transaction_ = false;
  return db_->exec("COMMIT");
}

Result<void> Tree::add(const TreeEntry& e) {
  auto& st = *add_;
  st.bind(1, std::string_view(e.path));
  st.bind(2, static_cast<std::int64_t>(e.type));
  st.bind(3, static_cast<std::int64_t>(e.size));
  st.bind(4, e.mtime_ns);
  st.bind(5, static_cast<std::int64_t>(e.inode));
  if (e.hash) {
    st.bind(6, static_cast<std::int64_t>(e.hash->high));
    st.bind(7, static_cast<std::int64_t>(e.hash->low));
  }
  adding_ = true;
  return st.run();
}

Result<void> Tree::add_folder(std::string_view path) {
  add_folder_->bind(1, path);
  adding_ = true;
  return add_folder_->run();
}

Result<TreeCursor> Tree::walk(Order order, Only only) {
  RK_TRY(commit());
  RK_TRY_ASSIGN(
      auto st,
      db_->prepare(fmt::format(
          "SELECT {} FROM tree {} ORDER BY path {}", kColumns,
          only == Only::kFolders
              ? fmt::format("WHERE type = {}", static_cast<int>(core::EntryType::kDirectory))
              : "",
          order == Order::kAscending ? "ASC" : "DESC")));
  return TreeCursor(std::move(st));
}

Result<std::optional<TreeEntry>> Tree::find(std::string_view path) {
  RK_TRY(commit());
  if (!find_) {
    RK_TRY_ASSIGN(find_,
                  db_->prepare(fmt::format("SELECT {} FROM tree WHERE path = ?1", kColumns)));
  }
  find_->bind(1, path);
  auto row = find_->step();
  std::optional<TreeEntry> out;
  if (row && *row) out = entry_at(*find_);
  find_->reset();
  if (!row) return tl::unexpected(row.error());
  return out;
}

Result<PlanFile> Tree::save() && {
  RK_TRY(commit());
  add_.reset();
  add_folder_.reset();
  find_.reset();
  fs::path file = file_;
  db_.reset();  // closed: the file holds every page
  RK_TRY_ASSIGN(auto digest, core::hash_file(file));
  return PlanFile{file, digest};
}

namespace {

std::int64_t mtime_of(const struct stat& st) {
  return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

// Files waiting for their hashes, added to the tree a batch at a time.
class HashBatch {
 public:
  HashBatch(const fs::path& root, Tree& into) : root_(root), into_(into) {}
  Result<void> add(TreeEntry e) {
    paths_.push_back(root_ / e.path);
    entries_.push_back(std::move(e));
    return entries_.size() >= kHashBatch ? flush() : Result<void>{};
  }
  Result<void> flush() {
    RK_TRY_ASSIGN(auto hashes, core::hash_files(paths_));
    for (std::size_t i = 0; i < entries_.size(); ++i) {
      entries_[i].hash = hashes[i];
      RK_TRY(into_.add(entries_[i]));
    }
    paths_.clear();
    entries_.clear();
    return {};
  }

 private:
  const fs::path& root_;
  Tree& into_;
  std::vector<fs::path> paths_;
  std::vector<TreeEntry> entries_;
};

}  // namespace

Result<void> scan_tree(const fs::path& root, HashFiles hash, Tree& into) {
  HashBatch batch(root, into);
  bool root_is_folder = false;
  auto add = [&](const fs::path& p, std::string rel) -> Result<void> {
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) {
      return fail(ErrorCode::kIo,
                  fmt::format("cannot read {}: {}", p.string(), std::strerror(errno)), p.string());
    }
    TreeEntry e;
    e.path = std::move(rel);
    e.type = S_ISREG(st.st_mode)   ? core::EntryType::kFile
             : S_ISDIR(st.st_mode) ? core::EntryType::kDirectory
                                   : core::EntryType::kOther;
    e.inode = static_cast<std::uint64_t>(st.st_ino);
    e.mtime_ns = mtime_of(st);
    if (e.type == core::EntryType::kFile) e.size = static_cast<std::uint64_t>(st.st_size);
    if (e.path.empty()) root_is_folder = e.type == core::EntryType::kDirectory;
    if (hash == HashFiles::kYes && e.type == core::EntryType::kFile) return batch.add(std::move(e));
    return into.add(e);
  };
  RK_TRY(add(root, ""));
  if (!root_is_folder) return {};
  std::error_code ec;
  for (fs::recursive_directory_iterator it(root, ec), end; it != end; it.increment(ec)) {
    RK_TRY(add(it->path(), it->path().lexically_relative(root).generic_string()));
  }
  if (ec) {
    return fail(ErrorCode::kIo, fmt::format("cannot list {}: {}", root.string(), ec.message()),
                root.string());
  }
  return batch.flush();
}

Result<void> add_listing(const std::function<Result<void>(const RecordFn&)>& walk,
                         const std::string& root, Tree& into) {
  RK_TRY(into.add_folder(""));
  std::string last_parent;  // the folders above the last file are in already
  auto add_parents = [&](std::string_view rel) -> Result<void> {
    auto slash = rel.rfind('/');
    std::string_view parent = slash == std::string_view::npos ? "" : rel.substr(0, slash);
    if (parent.empty() || parent == last_parent) return {};
    for (auto at = parent.size(); at != std::string_view::npos && at > 0;
         at = parent.rfind('/', at - 1)) {
      RK_TRY(into.add_folder(parent.substr(0, at)));
    }
    last_parent = std::string(parent);
    return {};
  };
  return walk([&](const core::EntryRecord& f) -> Result<void> {
    if (!f.safe || f.path.rfind(root, 0) != 0 || f.path == core::kHeaderEntry ||
        f.path == core::kChecksumsEntry) {
      return {};  // the stager writes neither unsafe entries nor restorekit's own metadata
    }
    std::string rel = f.path.substr(root.size());
    while (!rel.empty() && rel.back() == '/') rel.pop_back();
    if (rel.empty()) return {};
    if (f.type == core::EntryType::kDirectory) {
      RK_TRY(into.add_folder(rel));
      return add_parents(rel);
    }
    if (f.type != core::EntryType::kFile || !f.hash) return {};
    RK_TRY(into.add(TreeEntry{rel, core::EntryType::kFile, f.size.value_or(0), 0, 0, f.hash}));
    return add_parents(rel);
  });
}

Result<std::optional<std::string>> first_difference(Tree& expected, Tree& actual, TreeCompare how,
                                                    const fs::path& root) {
  auto name = [](const TreeEntry& e) {
    return e.path.empty() ? std::string("the folder itself") : fmt::format("\"{}\"", e.path);
  };
  // A file whose size, mtime or inode moved still has the planned content when its hash says
  // so (touched, copied back, restored from elsewhere).
  auto same_content = [&](const TreeEntry& planned) {
    if (!planned.hash || root.empty()) return false;
    auto now = core::hash_file(root / planned.path);
    return now && *now == *planned.hash;
  };
  RK_TRY_ASSIGN(auto xs, expected.walk());
  RK_TRY_ASSIGN(auto ys, actual.walk());
  RK_TRY_ASSIGN(bool x_more, xs.next());
  RK_TRY_ASSIGN(bool y_more, ys.next());
  while (x_more || y_more) {
    const auto& x = xs.entry();
    const auto& y = ys.entry();
    if (!y_more || (x_more && x.path < y.path)) return fmt::format("{} is missing", name(x));
    if (!x_more || y.path < x.path) return fmt::format("{} was added", name(y));
    if (how == TreeCompare::kContent && y.type == core::EntryType::kOther) {
      return fmt::format("{} is neither a regular file nor a folder", name(y));
    }
    if (x.type != y.type) return fmt::format("{} was changed", name(y));
    // A folder is what it holds (its own mtime moves with any file made and removed again).
    if (x.type != core::EntryType::kDirectory) {
      bool same = how == TreeCompare::kContent
                      ? x.size == y.size && x.hash == y.hash
                      : (x.size == y.size && x.mtime_ns == y.mtime_ns && x.inode == y.inode) ||
                            (x.type == core::EntryType::kFile && same_content(x));
      if (!same) return fmt::format("{} was changed", name(y));
    }
    RK_TRY_ASSIGN(x_more, xs.next());
    RK_TRY_ASSIGN(y_more, ys.next());
  }
  return std::nullopt;
}

}  // namespace restorekit::restore::detail
