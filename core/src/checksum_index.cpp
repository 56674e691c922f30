#include <restorekit/core/checksum_index.hpp>

#include <algorithm>
#include <tuple>

#include <fmt/format.h>

#include <restorekit/core/entry_store.hpp>
#include <restorekit/core/names.hpp>

#include "checksum_line_reader.hpp"
#include "ordered_pipeline.hpp"

namespace restorekit::core {

namespace {

// `key` is NULL where it equals the path (almost every line); `hex` NULL for XXH3-128 lines,
// whose digest is the two integers.
constexpr std::string_view kSchema = R"sql(
CREATE TABLE listed(number INTEGER PRIMARY KEY, key TEXT, path TEXT NOT NULL,
                    algorithm INTEGER NOT NULL, high INTEGER NOT NULL, low INTEGER NOT NULL,
                    hex TEXT);
)sql";

constexpr std::uint64_t kLinesPerCancelCheck = 4096;

}  // namespace

// A walk of a list read from its file (Held::kFile): a thread parses the lines a batch ahead of
// the merge that takes them, which reads the entries meanwhile.
struct ChecksumIndex::FileWalk {
  static constexpr std::size_t kBatchLines = 1024;
  struct Batch {
    std::vector<Line> lines;
    std::size_t count = 0;
  };

  FileWalk(detail::ChecksumLineReader opened, Accept accept, std::string name)
      : reader(std::move(opened)), ahead(name, 3, [this, accept, name](Batch& b) -> Result<bool> {
          b.count = 0;
          while (b.count < kBatchLines) {
            RK_TRY_ASSIGN(auto e, reader.next());
            if (!e) break;
            if (b.lines.size() == b.count) b.lines.emplace_back();
            RK_TRY_ASSIGN(b.lines[b.count], line_of(std::move(*e), accept, name));
            ++b.count;
          }
          return b.count > 0;
        }) {}

  detail::ChecksumLineReader reader;  // the worker's, until `ahead` stops
  OrderedPipeline<Batch> ahead;
  Batch* batch = nullptr;
  std::size_t at = 0;        // the batch's next line
  std::string last_key;      // of the batch before's last line
  std::uint64_t walked = 0;  // lines handed out
};

ChecksumIndex::ChecksumIndex() = default;
ChecksumIndex::ChecksumIndex(ChecksumIndex&&) noexcept = default;
ChecksumIndex& ChecksumIndex::operator=(ChecksumIndex&&) noexcept = default;
ChecksumIndex::~ChecksumIndex() = default;

Result<ChecksumIndex::Line> ChecksumIndex::line_of(ExpectedHash&& e, Accept accept,
                                                   const std::string& name) {
  std::optional<Digest128> digest;
  if (e.algorithm == HashAlgorithm::kXxh128) digest = Digest128::from_hex(e.hex);
  if (!digest && (e.algorithm == HashAlgorithm::kXxh128 || accept == Accept::kXxh128Only)) {
    return fail(ErrorCode::kBadBackup,
                fmt::format("{} line {} is not an XXH3-128 line", name, e.line), name);
  }
  auto key = key_of_its_own(e.path);
  return Line{key ? std::move(*key) : e.path,
              e.line,
              std::move(e.path),
              e.algorithm,
              digest.value_or(Digest128{}),
              digest ? std::string() : std::move(e.hex)};
}

Result<void> ChecksumIndex::add(ExpectedHash&& e) {
  RK_TRY_ASSIGN(Line line, line_of(std::move(e), accept_, name_));
  if (line.algorithm != HashAlgorithm::kXxh128) other_algorithms_ = true;
  ++size_;
  if (!db_) {
    lines_.push_back(std::move(line));
    return {};
  }
  insert_->bind(1, static_cast<std::int64_t>(line.number));
  if (line.key != line.path) {  // the database keeps NULL where the path is the key
    insert_->bind(2, std::string_view(line.key));
  } else {
    insert_->bind_null(2);
  }
  insert_->bind(3, std::string_view(line.path));
  insert_->bind(4, static_cast<std::int64_t>(line.algorithm));
  insert_->bind(5, static_cast<std::int64_t>(line.digest.high));
  insert_->bind(6, static_cast<std::int64_t>(line.digest.low));
  if (line.algorithm == HashAlgorithm::kXxh128) {
    insert_->bind_null(7);
  } else {
    insert_->bind(7, std::string_view(line.hex));
  }
  return insert_->run();
}

Result<bool> ChecksumIndex::read_in_key_order(const std::filesystem::path& file,
                                              const CancelToken& cancel) {
  RK_TRY_ASSIGN(auto reader, detail::ChecksumLineReader::open(file, name_));
  std::string last;
  for (std::uint64_t lines = 1;; ++lines) {
    if (lines % kLinesPerCancelCheck == 0 && cancel.cancelled()) {
      return fail(ErrorCode::kCancelled, "cancelled while reading " + name_);
    }
    RK_TRY_ASSIGN(auto e, reader.next());
    if (!e) return !other_algorithms_;
    RK_TRY_ASSIGN(Line line, line_of(std::move(*e), accept_, name_));
    if (line.algorithm != HashAlgorithm::kXxh128) other_algorithms_ = true;
    if (line.key < last) return false;
    ++size_;
    last = std::move(line.key);
  }
}

Result<ChecksumIndex> ChecksumIndex::build(const std::filesystem::path& file, std::string_view name,
                                           Accept accept, const CancelToken& cancel,
                                           std::uint64_t in_memory_bytes) {
  ChecksumIndex index;
  index.accept_ = accept;
  index.name_ = std::string(name);
  // A malformed line makes the list bad(); failing to read it is the error.
  auto settle = [&](const Error& e) -> Result<void> {
    auto code = e.code;
    if (code == ErrorCode::kCancelled || code == ErrorCode::kIo || code == ErrorCode::kNotFound ||
        code == ErrorCode::kDatabase) {
      return tl::unexpected(e);
    }
    index.bad_ = e;
    index.size_ = 0;
    return {};
  };
  std::error_code ec;
  if (std::filesystem::file_size(file, ec) > in_memory_bytes || ec) {
    auto ordered = index.read_in_key_order(file, cancel);
    if (!ordered) {
      RK_TRY(settle(ordered.error()));
      return index;
    }
    if (*ordered) {
      index.file_ = file;
      return index;
    }
    index.size_ = 0;  // read again, into the database
    index.other_algorithms_ = false;
    RK_TRY_ASSIGN(auto db, Database::open_scratch());
    RK_TRY(db.use_as_scratch(4));  // start()'s sort spills to disk rather than grow
    RK_TRY(db.exec(kSchema));
    RK_TRY(db.exec("BEGIN"));
    index.db_.emplace(std::move(db));
    RK_TRY_ASSIGN(index.insert_,
                  index.db_->prepare("INSERT INTO listed VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
  }
  std::uint64_t lines = 0;
  auto parsed = for_each_checksum_line(file, name, [&](ExpectedHash&& e) -> Result<void> {
    if (++lines % kLinesPerCancelCheck == 0 && cancel.cancelled()) {
      return fail(ErrorCode::kCancelled, "cancelled while reading " + index.name_);
    }
    return index.add(std::move(e));
  });
  if (!parsed) RK_TRY(settle(parsed.error()));
  if (index.db_) {
    index.insert_.reset();
    RK_TRY(index.db_->exec("COMMIT"));
    if (index.other_algorithms_ && !index.bad_) {
      RK_TRY(index.db_->exec("CREATE INDEX by_key ON listed(coalesce(key, path), number)"));
      RK_TRY_ASSIGN(index.lookup_,
                    index.db_->prepare("SELECT algorithm FROM listed WHERE coalesce(key, path) = "
                                       "?1 ORDER BY number DESC LIMIT 1"));
      index.lookup_mutex_ = std::make_unique<std::mutex>();
    }
  } else {
    // Lists are often written in name order (ours, xxhsum over a sorted find): checked in one
    // pass before a sort.
    auto by_key = [](const Line& a, const Line& b) {
      return std::tie(a.key, a.number) < std::tie(b.key, b.number);
    };
    if (!std::is_sorted(index.lines_.begin(), index.lines_.end(), by_key)) {
      std::sort(index.lines_.begin(), index.lines_.end(), by_key);
    }
  }
  return index;
}

Result<ChecksumIndex> ChecksumIndex::callers_list(const std::filesystem::path& file,
                                                  const CancelToken& cancel) {
  RK_TRY_ASSIGN(auto index, build(file, file.string(), Accept::kAnyAlgorithm, cancel));
  if (index.bad()) return tl::unexpected(*index.bad());
  return index;
}

ChecksumIndex::Held ChecksumIndex::held() const {
  if (file_) return Held::kFile;
  return db_ ? Held::kScratchDatabase : Held::kMemory;
}

Result<void> ChecksumIndex::start() {
  walk_.reset();
  file_walk_.reset();
  next_ = 0;
  if (file_ && !bad_) {
    RK_TRY_ASSIGN(auto reader, detail::ChecksumLineReader::open(*file_, name_));
    file_walk_ = std::make_unique<FileWalk>(std::move(reader), accept_, name_);
    return {};
  }
  if (!db_ || bad_) return {};
  RK_TRY_ASSIGN(walk_, db_->prepare("SELECT coalesce(key, path), number, path, algorithm, high, "
                                    "low, hex FROM listed ORDER BY 1, 2"));
  return {};
}

Result<const ChecksumIndex::Line*> ChecksumIndex::next() {
  if (bad_) return nullptr;
  if (file_) return next_from_file();
  if (!db_) return next_ < lines_.size() ? &lines_[next_++] : nullptr;
  if (!walk_) return nullptr;
  RK_TRY_ASSIGN(bool more, walk_->step());
  if (!more) {
    walk_.reset();
    return nullptr;
  }
  line_.key.assign(walk_->column_text(0));
  line_.number = static_cast<std::uint64_t>(walk_->column_int(1));
  line_.path.assign(walk_->column_text(2));
  line_.algorithm = static_cast<HashAlgorithm>(walk_->column_int(3));
  line_.digest = Digest128{static_cast<std::uint64_t>(walk_->column_int(4)),
                           static_cast<std::uint64_t>(walk_->column_int(5))};
  line_.hex.assign(walk_->column_text(6));
  return &line_;
}

// The file was read whole and in order by build(): a walk that finds otherwise would hand out
// lines out of order, and the merge would pair them wrongly.
Result<const ChecksumIndex::Line*> ChecksumIndex::next_from_file() {
  if (!file_walk_) return nullptr;
  auto changed = [&] {
    return fail(ErrorCode::kIo, fmt::format("{} changed while it was being read; run again", name_),
                name_);
  };
  auto& w = *file_walk_;
  if (!w.batch || w.at == w.batch->count) {
    if (w.batch) w.last_key = w.batch->lines[w.batch->count - 1].key;
    auto batch = w.ahead.next();
    if (!batch) {  // a read that failed, or a line that no longer parses
      return batch.error().code == ErrorCode::kIo ? tl::unexpected(batch.error()) : changed();
    }
    if (!*batch) {
      bool whole = w.walked == size_;
      file_walk_.reset();
      if (!whole) return changed();
      return nullptr;
    }
    w.batch = *batch;
    w.at = 0;
  }
  const Line& line = w.batch->lines[w.at];
  const std::string& before = w.at > 0 ? w.batch->lines[w.at - 1].key : w.last_key;
  if (w.walked > 0 && line.key < before) return changed();
  ++w.at;
  ++w.walked;
  return &line;
}

Result<std::optional<HashAlgorithm>> ChecksumIndex::other_algorithm(std::string_view path) const {
  if (!other_algorithms_ || bad_) return std::nullopt;
  std::string key = name_key(path);
  HashAlgorithm found = HashAlgorithm::kXxh128;
  if (!db_) {
    // The last line of the key: the one before the first line of a greater key.
    auto after = std::upper_bound(lines_.begin(), lines_.end(), key,
                                  [](const std::string& k, const Line& l) { return k < l.key; });
    if (after == lines_.begin() || std::prev(after)->key != key) return std::nullopt;
    found = std::prev(after)->algorithm;
  } else {
    std::lock_guard lock(*lookup_mutex_);
    lookup_->reset();
    lookup_->bind(1, std::string_view(key));
    RK_TRY_ASSIGN(bool row, lookup_->step());
    if (!row) return std::nullopt;
    found = static_cast<HashAlgorithm>(lookup_->column_int(0));
    lookup_->reset();
  }
  if (found == HashAlgorithm::kXxh128) return std::nullopt;
  return found;
}

Result<void> ChecksumIndex::merge(const EntryStore& entries, const LineFn& on_line,
                                  const UnlistedFn& on_unlisted) {
  RK_TRY_ASSIGN(auto walk, entries.start_by_key());
  return merge(walk, on_line, on_unlisted);
}

Result<void> ChecksumIndex::merge(EntryStore::KeyedWalk& walk, const LineFn& on_line,
                                  const UnlistedFn& on_unlisted) {
  RK_TRY(start());
  RK_TRY_ASSIGN(const Line* line, next());
  std::optional<std::string> group;  // the key of the entries being walked
  bool listed = false;               // whether a line names that key
  for (;;) {
    RK_TRY_ASSIGN(const StoredEntry* s, walk.next());
    if (!s) break;
    std::string_view key = walk.key();
    if (group && *group == key) {
      if (!listed) on_unlisted(*s);
      continue;
    }
    for (; line && std::string_view(line->key) < key;) {
      RK_TRY(on_line(*line, nullptr));
      RK_TRY_ASSIGN(line, next());
    }
    group = std::string(key);
    listed = false;
    for (; line && line->key == key;) {
      listed = true;
      RK_TRY(on_line(*line, s));
      RK_TRY_ASSIGN(line, next());
    }
    if (!listed) on_unlisted(*s);
  }
  for (; line;) {
    RK_TRY(on_line(*line, nullptr));
    RK_TRY_ASSIGN(line, next());
  }
  return {};
}

}  // namespace restorekit::core
