#include <restorekit/core/checksum_index.hpp>

#include <algorithm>
#include <tuple>

#include <fmt/format.h>

#include <restorekit/core/entry_store.hpp>
#include <restorekit/core/names.hpp>

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

ChecksumIndex::ChecksumIndex() = default;
ChecksumIndex::ChecksumIndex(ChecksumIndex&&) noexcept = default;
ChecksumIndex& ChecksumIndex::operator=(ChecksumIndex&&) noexcept = default;
ChecksumIndex::~ChecksumIndex() = default;

Result<void> ChecksumIndex::add(ExpectedHash&& e) {
  std::optional<Digest128> digest;
  if (e.algorithm == HashAlgorithm::kXxh128) {
    digest = Digest128::from_hex(e.hex);
  } else if (accept_ == Accept::kAnyAlgorithm) {
    other_algorithms_ = true;
  }
  if (!digest && (e.algorithm == HashAlgorithm::kXxh128 || accept_ == Accept::kXxh128Only)) {
    return fail(ErrorCode::kBadBackup,
                fmt::format("{} line {} is not an XXH3-128 line", name_, e.line), name_);
  }
  ++size_;
  Digest128 d = digest.value_or(Digest128{});
  std::string hex = digest ? std::string() : std::move(e.hex);
  auto key = key_of_its_own(e.path);  // the database keeps NULL for the rest
  if (!db_) {
    lines_.push_back(Line{key ? std::move(*key) : e.path, e.line, std::move(e.path), e.algorithm, d,
                          std::move(hex)});
    return {};
  }
  insert_->bind(1, static_cast<std::int64_t>(e.line));
  if (key) {
    insert_->bind(2, std::string_view(*key));
  } else {
    insert_->bind_null(2);
  }
  insert_->bind(3, std::string_view(e.path));
  insert_->bind(4, static_cast<std::int64_t>(e.algorithm));
  insert_->bind(5, static_cast<std::int64_t>(d.high));
  insert_->bind(6, static_cast<std::int64_t>(d.low));
  if (digest) {
    insert_->bind_null(7);
  } else {
    insert_->bind(7, std::string_view(hex));
  }
  return insert_->run();
}

Result<ChecksumIndex> ChecksumIndex::build(const std::filesystem::path& file, std::string_view name,
                                           Accept accept, const CancelToken& cancel,
                                           std::uint64_t in_memory_bytes) {
  ChecksumIndex index;
  index.accept_ = accept;
  index.name_ = std::string(name);
  std::error_code ec;
  if (std::filesystem::file_size(file, ec) > in_memory_bytes || ec) {
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
  if (!parsed) {
    auto code = parsed.error().code;
    if (code == ErrorCode::kCancelled || code == ErrorCode::kIo || code == ErrorCode::kNotFound ||
        code == ErrorCode::kDatabase) {
      return tl::unexpected(parsed.error());
    }
    index.bad_ = parsed.error();
    index.size_ = 0;
  }
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

Result<void> ChecksumIndex::start() {
  walk_.reset();
  next_ = 0;
  if (!db_ || bad_) return {};
  RK_TRY_ASSIGN(walk_, db_->prepare("SELECT coalesce(key, path), number, path, algorithm, high, "
                                    "low, hex FROM listed ORDER BY 1, 2"));
  return {};
}

Result<const ChecksumIndex::Line*> ChecksumIndex::next() {
  if (bad_) return nullptr;
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
