// The documents diff: a backup's files against the live documents folder, matched by name under
// the name rule. Both sides are listed into a private temporary SQLite database and walked
// together in name-key order, and the live files whose sizes match are hashed in batches, so
// that memory stays a few MiB however many documents there are (held in maps, 300,000 documents
// took ~700 MiB).
#include <algorithm>

#include <fmt/format.h>

#include <restorekit/core/hash.hpp>
#include <restorekit/core/names.hpp>
#include <restorekit/core/sqlite.hpp>
#include <restorekit/diff/diff.hpp>

namespace restorekit::diff {

namespace {

namespace fs = std::filesystem;

constexpr std::string_view kSchema = R"sql(
CREATE TABLE backup(seq INTEGER PRIMARY KEY, key TEXT, rel TEXT NOT NULL, size INTEGER NOT NULL,
                    high INTEGER NOT NULL, low INTEGER NOT NULL);
CREATE TABLE live(seq INTEGER PRIMARY KEY, key TEXT, rel TEXT NOT NULL, size INTEGER NOT NULL,
                  high INTEGER NOT NULL, low INTEGER NOT NULL);
)sql";

// The scratch database, opened when a side first needs it (most folders stay in memory).
class Scratch {
 public:
  Result<core::Database*> get() {
    if (!db_) {
      RK_TRY_ASSIGN(auto db, core::Database::open_scratch());
      RK_TRY(db.use_as_scratch(2));  // the two sorts spill to disk rather than grow
      RK_TRY(db.exec(kSchema));
      RK_TRY(db.exec("BEGIN"));  // never committed: the walks read it, then it is thrown away
      db_.emplace(std::move(db));
    }
    return &*db_;
  }

 private:
  std::optional<core::Database> db_;
};

// What one side holds in memory at most before it goes to disk: both sides' 4 MiB beside the
// rest of a dry run (the entry list's cache, a tenant's scratch databases) keep it well within
// the 64 MiB budget (12 MiB a side took a tenant dry run of 100,000 documents to 59-66 MiB).
constexpr std::size_t kInMemoryBytes = 4u << 20;

// Live files whose sizes match are hashed together (on every core) this many at a time.
constexpr std::size_t kHashBatch = 1024;

// One side's files: in memory while they are few, then in a table of the scratch database;
// walked in name-key order (then in the order they were added).
class Side {
 public:
  struct Row {
    std::string key;  // "" where the name is its own key
    std::string rel;
    std::uint64_t size = 0;
    core::Digest128 digest;  // the backup's; unset for live's
  };

  // More than `in_memory` files, or more than kInMemoryBytes of rows and names (~16,000 files
  // of 150-byte names), go to disk.
  Side(Scratch& scratch, std::string table, std::size_t in_memory)
      : scratch_(scratch), table_(std::move(table)), in_memory_(in_memory) {}

  Result<void> add(Row row) {
    // The bound counts the vector's room, not only its rows: it doubles when full.
    std::size_t room = rows_.size() < rows_.capacity()
                           ? rows_.capacity()
                           : std::max<std::size_t>(16, 2 * rows_.size());
    if (!insert_ && rows_.size() < in_memory_ && names_ + room * sizeof(Row) < kInMemoryBytes) {
      rows_.reserve(room);
      names_ += row.key.capacity() + row.rel.capacity();
      rows_.push_back(std::move(row));
      return {};
    }
    if (!insert_) {  // too many for memory: these and the rest go to disk
      RK_TRY_ASSIGN(db_, scratch_.get());
      RK_TRY_ASSIGN(insert_, db_->prepare(fmt::format(
                                 "INSERT INTO {}(key, rel, size, high, low) VALUES(?1, ?2, ?3, "
                                 "?4, ?5)",
                                 table_)));
      for (auto& r : rows_) RK_TRY(write(r));
      rows_ = {};
    }
    return write(row);
  }

  // Starts the walk; valid() until every row was handed out.
  Result<void> start() {
    if (!insert_) {
      std::stable_sort(rows_.begin(), rows_.end(),
                       [](const Row& a, const Row& b) { return key_of(a) < key_of(b); });
      next_ = 0;
      return advance();
    }
    insert_.reset();
    RK_TRY_ASSIGN(walk_, db_->prepare(fmt::format(
                             "SELECT coalesce(key, rel), rel, size, high, low FROM {} ORDER BY 1, "
                             "seq",
                             table_)));
    return advance();
  }
  [[nodiscard]] bool valid() const { return valid_; }
  [[nodiscard]] const std::string& key() const { return row_.key; }
  [[nodiscard]] const std::string& rel() const { return row_.rel; }
  [[nodiscard]] std::uint64_t size() const { return row_.size; }
  [[nodiscard]] core::Digest128 digest() const { return row_.digest; }

  Result<void> advance() {
    if (!walk_) {
      valid_ = next_ < rows_.size();
      if (valid_) {
        row_ = std::move(rows_[next_++]);
        if (row_.key.empty()) row_.key = row_.rel;
      }
      return {};
    }
    RK_TRY_ASSIGN(valid_, walk_->step());
    if (!valid_) return {};
    row_.key.assign(walk_->column_text(0));
    row_.rel.assign(walk_->column_text(1));
    row_.size = static_cast<std::uint64_t>(walk_->column_int(2));
    row_.digest = core::Digest128{static_cast<std::uint64_t>(walk_->column_int(3)),
                                  static_cast<std::uint64_t>(walk_->column_int(4))};
    return {};
  }

 private:
  static const std::string& key_of(const Row& r) { return r.key.empty() ? r.rel : r.key; }

  Result<void> write(const Row& r) {
    if (r.key.empty()) {
      insert_->bind_null(1);
    } else {
      insert_->bind(1, std::string_view(r.key));
    }
    insert_->bind(2, std::string_view(r.rel));
    insert_->bind(3, static_cast<std::int64_t>(r.size));
    insert_->bind(4, static_cast<std::int64_t>(r.digest.high));
    insert_->bind(5, static_cast<std::int64_t>(r.digest.low));
    return insert_->run();
  }

  Scratch& scratch_;
  core::Database* db_ = nullptr;  // once this side spilled
  std::string table_;
  std::size_t in_memory_;
  std::vector<Row> rows_;
  std::size_t names_ = 0;  // held by rows_' strings
  std::size_t next_ = 0;
  std::optional<core::Statement> insert_;
  std::optional<core::Statement> walk_;
  bool valid_ = false;
  Row row_;
};

class DocumentDiffer {
 public:
  DocumentDiffer(const fs::path& live, std::size_t samples, const LiveHashes& live_hashes,
                 LiveScope scope, std::size_t in_memory)
      : live_(live),
        samples_(samples),
        live_hashes_(live_hashes),
        scope_(scope),
        in_memory_(in_memory) {}

  Result<DocumentDiff> run(const FileWalk& files, const std::string& root) {
    std::error_code ec;
    if (!fs::is_directory(live_, ec)) {
      return fail(ErrorCode::kNotFound,
                  fmt::format("live documents folder {} does not exist", live_.string()),
                  live_.string());
    }
    out_.root = root;
    Scratch scratch;
    Side backup(scratch, "backup", in_memory_);
    Side live(scratch, "live", in_memory_);
    RK_TRY(list_backup(files, root, backup));
    RK_TRY(list_live(live));
    RK_TRY(backup.start());
    RK_TRY(live.start());
    RK_TRY(merge(backup, live));
    return std::move(out_);
  }

 private:
  // Files in restorekit/ and records without a hash are no documents.
  Result<void> list_backup(const FileWalk& files, const std::string& root, Side& backup) {
    return files([&](const core::EntryRecord& file) -> Result<void> {
      const std::string& entry = file.path;
      if (file.type != core::EntryType::kFile || !file.hash || !file.safe) return {};
      if (entry.rfind(root, 0) != 0 || entry.rfind("restorekit/", 0) == 0) return {};
      std::string rel = entry.substr(root.size());
      std::string key = core::key_of_its_own(rel).value_or("");
      return backup.add(
          Side::Row{std::move(key), std::move(rel), file.size.value_or(0), *file.hash});
    });
  }

  // Regular files only (a symbolic link is not followed, and not a document).
  Result<void> list_live(Side& live) {
    std::error_code ec;
    for (fs::recursive_directory_iterator it(live_, ec), end; !ec && it != end; it.increment(ec)) {
      if (!it->is_regular_file(ec) || it->is_symlink(ec)) continue;
      std::string rel = it->path().lexically_relative(live_).generic_string();
      std::error_code size_ec;
      auto size = it->file_size(size_ec);
      std::string key = core::key_of_its_own(rel).value_or("");
      RK_TRY(live.add(Side::Row{std::move(key), std::move(rel), size_ec ? 0 : size, {}}));
    }
    return {};
  }

  void sample(std::vector<std::string>& v, const std::string& path) const {
    if (v.size() < samples_) v.push_back(path);
  }

  // Both sides in name-key order: a backup file whose key live has is compared with live's
  // first file of that key (in the order the folder was walked); a second backup file of a key
  // is revived, a second live spelling of one is a duplicate (and lost, unless only the backup's
  // files are compared).
  Result<void> merge(Side& b, Side& l) {
    while (b.valid() || l.valid()) {
      if (l.valid() && (!b.valid() || l.key() < b.key())) {
        RK_TRY(live_group(l, false));
      } else if (!l.valid() || b.key() < l.key()) {
        ++out_.revived;
        sample(out_.revived_samples, b.rel());
        RK_TRY(b.advance());
      } else {
        std::string key = b.key();
        RK_TRY(compare(b, l));
        RK_TRY(b.advance());
        while (b.valid() && b.key() == key) {
          ++out_.revived;  // a second backup file of the name: live's was taken
          sample(out_.revived_samples, b.rel());
          RK_TRY(b.advance());
        }
        RK_TRY(live_group(l, true));
      }
    }
    return hash_pending();
  }

  // Live's files of one key: the first is lost unless a backup file matched it; each other
  // spelling is a duplicate of the first.
  Result<void> live_group(Side& l, bool matched) {
    std::string key = l.key();
    std::string first = l.rel();
    if (!matched) lost(first, l.size());
    RK_TRY(l.advance());
    while (l.valid() && l.key() == key) {
      // Only the files named (kTheseFiles): a spelling that no backup file names stays as it is.
      if (matched || scope_ == LiveScope::kWholeFolder) {
        out_.live_duplicates.emplace_back(first, l.rel());
      }
      lost(l.rel(), l.size());  // not in the backup under either name
      RK_TRY(l.advance());
    }
    return {};
  }

  void lost(const std::string& rel, std::uint64_t size) {
    if (scope_ == LiveScope::kTheseFiles) return;
    ++out_.lost;
    out_.lost_bytes += size;
    sample(out_.lost_samples, rel);
  }

  // The backup file under `b` against live's file under `l` (the same key): the sizes, a hash
  // live's scan already knows, else the live file's hash (in a batch).
  Result<void> compare(const Side& b, const Side& l) {
    if (l.size() != b.size()) {
      changed(b.rel());
      return {};
    }
    if (live_hashes_) {
      if (auto known = live_hashes_(l.rel())) {
        *known == b.digest() ? unchanged() : changed(b.rel());
        return {};
      }
    }
    pending_.push_back(Pending{live_ / l.rel(), b.digest(), b.rel()});
    return pending_.size() >= kHashBatch ? hash_pending() : Result<void>{};
  }
  void changed(const std::string& rel) {
    ++out_.changed;
    sample(out_.changed_samples, rel);
  }
  void unchanged() { ++out_.unchanged; }

  Result<void> hash_pending() {
    if (pending_.empty()) return {};
    std::vector<fs::path> paths;
    paths.reserve(pending_.size());
    for (const auto& p : pending_) paths.push_back(p.live_file);
    RK_TRY_ASSIGN(auto hashes, core::hash_files(paths));
    for (std::size_t i = 0; i < pending_.size(); ++i) {
      if (hashes[i] == pending_[i].backup) {
        unchanged();
      } else {
        changed(pending_[i].rel);
      }
    }
    pending_.clear();
    return {};
  }

  struct Pending {
    fs::path live_file;
    core::Digest128 backup;
    std::string rel;  // the backup's name, for a sample
  };

  const fs::path& live_;
  std::size_t samples_;
  const LiveHashes& live_hashes_;
  LiveScope scope_;
  std::size_t in_memory_;
  std::vector<Pending> pending_;
  DocumentDiff out_;
};

}  // namespace

Result<std::string> documents_root(const std::optional<std::string>& given, const FileWalk& files) {
  if (given) {
    std::string root = *given;
    if (!root.empty() && root.back() != '/') root += '/';
    return root;
  }
  bool docs = false;
  RK_TRY(files([&](const core::EntryRecord& f) -> Result<void> {
    docs = docs || f.path.rfind("docs/", 0) == 0;
    return {};
  }));
  return std::string(docs ? "docs/" : "");
}

std::string documents_root(const std::optional<std::string>& given,
                           const std::vector<core::EntryRecord>& files) {
  return documents_root(given, walk_of(files)).value_or(std::string());
}

FileWalk walk_of(const std::vector<core::EntryRecord>& files) {
  return [&files](const std::function<Result<void>(const core::EntryRecord&)>& fn) -> Result<void> {
    for (const auto& f : files) RK_TRY(fn(f));
    return {};
  };
}

Result<DocumentDiff> diff_documents(const FileWalk& files, const std::string& root,
                                    const fs::path& live, std::size_t samples,
                                    const LiveHashes& live_hashes, LiveScope scope,
                                    std::size_t in_memory_files) {
  return DocumentDiffer(live, samples, live_hashes, scope, in_memory_files).run(files, root);
}

Result<DocumentDiff> diff_documents(const std::vector<core::EntryRecord>& files,
                                    const std::string& root, const fs::path& live,
                                    std::size_t samples, const LiveHashes& live_hashes,
                                    LiveScope scope) {
  return diff_documents(walk_of(files), root, live, samples, live_hashes, scope);
}

}  // namespace restorekit::diff
