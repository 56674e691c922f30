#include <restorekit/core/entry_store.hpp>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <limits>
#include <thread>
#include <utility>

#include <fmt/format.h>

#include <restorekit/core/names.hpp>
#include <restorekit/core/sqlite.hpp>

#include "name_filter.hpp"

namespace restorekit::core {

namespace {

constexpr std::size_t kBatchRows = 20'000;  // rows per transaction while adding
constexpr int kDirectory = static_cast<int>(EntryType::kDirectory);
constexpr std::uint64_t kScanLookups = 4;  // find() scans this often before it builds an index

constexpr std::string_view kSchema = R"sql(
CREATE TABLE entries(
  idx INTEGER PRIMARY KEY, path TEXT NOT NULL, key TEXT, type INTEGER NOT NULL,
  size INTEGER, mtime INTEGER NOT NULL, encrypted INTEGER NOT NULL, safe INTEGER NOT NULL,
  hash_high INTEGER, hash_low INTEGER, extra_hex TEXT, data_read INTEGER NOT NULL,
  failed INTEGER NOT NULL, owned INTEGER NOT NULL);
)sql";

constexpr int kColumnCount = 14;
// Rows per INSERT statement while adding: one statement's step, reset and bindings' upkeep
// shared by 16 rows (the writer thread's time per row 1.35 -> ~1.0 us on 100,000 entries).
constexpr std::size_t kRowsPerInsert = 16;

// An INSERT of `rows` rows. A row that read the data (owned) replaces one that only listed the
// entry, never the reverse; rows of one statement are inserted in order, each upserted alone.
std::string insert_sql(std::size_t rows) {
  std::string sql = "INSERT INTO entries VALUES";
  for (std::size_t r = 0; r < rows; ++r) {
    sql += r == 0 ? "(" : ",(";
    for (int c = 1; c <= kColumnCount; ++c) {
      sql += fmt::format("{}?{}", c == 1 ? "" : ",", static_cast<int>(r) * kColumnCount + c);
    }
    sql += ")";
  }
  sql += R"sql(
ON CONFLICT(idx) DO UPDATE SET path=excluded.path, key=excluded.key, type=excluded.type,
  size=excluded.size, mtime=excluded.mtime, encrypted=excluded.encrypted, safe=excluded.safe,
  hash_high=excluded.hash_high, hash_low=excluded.hash_low, extra_hex=excluded.extra_hex,
  data_read=excluded.data_read, failed=excluded.failed, owned=1
WHERE excluded.owned AND NOT entries.owned)sql";
  return sql;
}

constexpr std::string_view kColumns =
    "idx, path, type, size, mtime, encrypted, safe, hash_high, hash_low, extra_hex, data_read, "
    "failed";

StoredEntry read_row(const Statement& st) {
  StoredEntry e;
  e.index = static_cast<std::uint64_t>(st.column_int(0));
  auto& r = e.record;
  r.path = std::string(st.column_text(1));
  r.type = static_cast<EntryType>(st.column_int(2));
  if (st.column_type(3) != ValueType::kNull) {
    r.size = static_cast<std::uint64_t>(st.column_int(3));
  }
  r.mtime = st.column_int(4);
  r.encrypted = st.column_int(5) != 0;
  r.safe = st.column_int(6) != 0;
  if (st.column_type(7) != ValueType::kNull) {
    r.hash = Digest128{static_cast<std::uint64_t>(st.column_int(7)),
                       static_cast<std::uint64_t>(st.column_int(8))};
  }
  if (st.column_type(9) != ValueType::kNull) e.extra_hex = std::string(st.column_text(9));
  e.data_read = st.column_int(10) != 0;
  e.failed = st.column_int(11) != 0;
  return e;
}

// Every row that `rest` (a WHERE and ORDER BY) selects, each with its name_key in column
// kKeyColumn.
constexpr int kKeyColumn = 12;
Result<Statement> keyed_rows(Database& db, std::string_view rest) {
  return db.prepare(fmt::format("SELECT {}, coalesce(key, path) FROM entries {}", kColumns, rest));
}

Result<void> keyed_walk(Database& db, std::string_view rest, const EntryStore::KeyedFn& fn) {
  RK_TRY_ASSIGN(auto st, keyed_rows(db, rest));
  return st.for_each(
      [&]() -> Result<void> { return fn(st.column_text(kKeyColumn), read_row(st)); });
}

// The key column is NULL where the name is its own key (almost all), which keeps the file and
// its index small; lookups use coalesce(key, path). `key`: the name's key where it has one of
// its own (key_of_its_own).
// Binds a row as the statement's row number `row` (0-based). Its text is read in place: `e` and
// `key` must outlive the statement's run().
void bind_row(Statement& st, std::size_t row, const StoredEntry& e, Ownership ownership,
              const std::optional<std::string>& key) {
  const int at = static_cast<int>(row) * kColumnCount;
  const auto& r = e.record;
  st.bind(at + 1, static_cast<std::int64_t>(e.index));
  st.bind_view(at + 2, r.path);
  if (key) {
    st.bind_view(at + 3, *key);
  } else {
    st.bind_null(at + 3);
  }
  st.bind(at + 4, static_cast<std::int64_t>(r.type));
  if (r.size) {
    st.bind(at + 5, static_cast<std::int64_t>(*r.size));
  } else {
    st.bind_null(at + 5);
  }
  st.bind(at + 6, r.mtime);
  st.bind(at + 7, std::int64_t{r.encrypted});
  st.bind(at + 8, std::int64_t{r.safe});
  if (r.hash) {
    st.bind(at + 9, static_cast<std::int64_t>(r.hash->high));
    st.bind(at + 10, static_cast<std::int64_t>(r.hash->low));
  } else {
    st.bind_null(at + 9);
    st.bind_null(at + 10);
  }
  if (e.extra_hex) {
    st.bind_view(at + 11, *e.extra_hex);
  } else {
    st.bind_null(at + 11);
  }
  st.bind(at + 12, std::int64_t{e.data_read});
  st.bind(at + 13, std::int64_t{e.failed});
  st.bind(at + 14, std::int64_t{ownership == Ownership::kOwned});
}

// The `limit` smallest of the items offered (by index: an item is an index, or a pair led by
// one), and how many were offered: a max-heap of at most `limit` items.
template <typename T>
class FirstByIndex {
 public:
  explicit FirstByIndex(std::size_t limit) : limit_(limit) {}
  void offer(T item) {
    ++total_;
    if (heap_.size() < limit_) {
      heap_.push_back(std::move(item));
      std::push_heap(heap_.begin(), heap_.end());
    } else if (limit_ > 0 && item < heap_.front()) {
      std::pop_heap(heap_.begin(), heap_.end());
      heap_.back() = std::move(item);
      std::push_heap(heap_.begin(), heap_.end());
    }
  }
  [[nodiscard]] std::uint64_t total() const { return total_; }
  // The items kept, in order.
  [[nodiscard]] std::vector<T> sorted() const {
    auto out = heap_;
    std::sort_heap(out.begin(), out.end());
    return out;
  }

 private:
  std::size_t limit_;
  std::vector<T> heap_;
  std::uint64_t total_ = 0;
};

// path_conflicts()'s walk, fed the safe entries in path order (then type). Every path that
// starts with a name P, P itself and "P/..." among them, follows P without a gap, so the paths
// of files that are a prefix of the current one form a stack: a file's path is popped once a
// path no longer starts with it; meanwhile a path "P/..." below it, or a folder named P, is a
// conflict.
class ConflictWalk {
 public:
  explicit ConflictWalk(std::size_t limit) : conflicting_(limit) {}
  void row(std::string_view path, bool folder, std::uint64_t index) {
    while (!open_.empty() && !path.starts_with(open_.back().path)) pop();
    if (!open_.empty() && open_.back().path == path) {  // the same path again
      if (folder) {
        open_.back().conflict = true;
      } else {
        open_.back().indexes.push_back(index);
      }
      return;
    }
    // The open paths are prefixes of this one, shortest first: one whose end meets a '/' here
    // holds it. Found by length, per '/', so that a deep stack costs no more than the name.
    for (auto slash = path.find('/'); slash != std::string_view::npos;
         slash = path.find('/', slash + 1)) {
      auto o = std::lower_bound(open_.begin(), open_.end(), slash,
                                [](const Open& a, std::size_t n) { return a.path.size() < n; });
      if (o != open_.end() && o->path.size() == slash) o->conflict = true;
    }
    if (folder) {
      folder_path_.assign(path);
    } else {
      open_.push_back(Open{std::string(path), {index}, path == folder_path_});
    }
  }
  // The first indexes of the conflicting entries, and how many there are.
  FirstByIndex<std::uint64_t> finish() {
    while (!open_.empty()) pop();
    return std::move(conflicting_);
  }

 private:
  struct Open {
    std::string path;
    std::vector<std::uint64_t> indexes;  // the entries (not folders) of this path
    bool conflict = false;
  };
  void pop() {
    auto& top = open_.back();
    if (top.conflict) {
      for (auto i : top.indexes) conflicting_.offer(i);
    }
    open_.pop_back();
  }
  std::vector<Open> open_;
  std::string folder_path_;  // the last folder's: one of the same path may come before a link's
  FirstByIndex<std::uint64_t> conflicting_;
};

}  // namespace

// Rows are written by a thread of the store's own once an archive has more than a batch of
// entries: the reading thread only queues them (SQLite's insert cost 8% of a docs-only verify's
// reading thread). At most kQueued batches wait, so memory stays bounded.
struct EntryStore::Impl {
  using Row = std::pair<StoredEntry, Ownership>;
  static constexpr std::size_t kHandOff = 512;  // rows per batch handed to the writer
  static constexpr std::size_t kQueued = 8;     // batches waiting, at most

  explicit Impl(Database opened) : db(std::move(opened)) {}

  Database db;
  std::optional<Statement> insert;       // one row
  std::optional<Statement> insert_many;  // kRowsPerInsert rows
  std::optional<Statement> find;         // prepared once: a checksum list looks up every entry
  std::uint64_t lookups = 0;             // find() calls so far
  std::size_t pending = 0;               // rows in the open transaction
  bool sealed = false;
  bool keyed = false;         // some name has a key of its own (written by whoever writes rows)
  detail::NameFilter filter;  // fed by whoever writes rows
  // Where no name is keyed, one walk answers duplicates() and path_conflicts() (walk_names()).
  struct Names {
    std::size_t limit = 0;
    FirstByIndex<std::pair<std::uint64_t, std::string>> later{0};  // index, first spelling
    FirstByIndex<std::uint64_t> conflicting{0};
  };
  std::optional<Names> names;
  std::uint64_t size = 0;
  std::optional<EntryStore::Tally> tally{EntryStore::Tally{}};  // kept by write()
  std::vector<bool> tallied;  // the indexes tallied so far (rows may come in any order)
  EntryStore::Tally::Files* last_folder = nullptr;  // of the last file tallied (entries in a
  std::string_view last_folder_name;                // folder come one after the other)

  std::vector<Row> batch;  // being filled by add() (under EntryStore::mutex_)
  std::thread writer;
  std::mutex queue_mutex;
  std::condition_variable queue_cv;
  std::deque<std::vector<Row>> queue;  // guarded by queue_mutex, like the two below
  bool closing = false;
  std::optional<Error> write_error;  // the first failure: later rows are dropped

  ~Impl() {  // an unsealed store: rows still queued are written, then the thread ends
    if (!writer.joinable()) return;
    {
      std::lock_guard lock(queue_mutex);
      closing = true;
    }
    queue_cv.notify_all();
    writer.join();
  }

  Result<void> write(const std::vector<Row>& rows) {
    std::vector<std::optional<std::string>> keys;
    std::vector<detail::NameFilter::Name> filter_rows;
    keys.reserve(rows.size());
    filter_rows.reserve(rows.size());
    for (const auto& [entry, ownership] : rows) {
      const auto& r = entry.record;
      const auto& key = keys.emplace_back(key_of_its_own(r.path));
      filter_rows.push_back({entry.index, r.path,
                             key ? std::optional<std::string_view>(*key) : std::nullopt,
                             r.type == EntryType::kDirectory, r.safe});
      if (r.type != EntryType::kDirectory) note_order(entry.index, key ? *key : r.path);
    }
    filter.add(filter_rows);
    for (std::size_t i = 0; i < rows.size();) {
      std::size_t n = rows.size() - i >= kRowsPerInsert ? kRowsPerInsert : 1;
      Statement& st = n > 1 ? *insert_many : *insert;
      if (pending == 0) RK_TRY(db.exec("BEGIN"));
      for (std::size_t k = 0; k < n; ++k) {
        const auto& [entry, ownership] = rows[i + k];
        count(entry, ownership);
        bind_row(st, k, entry, ownership, keys[i + k]);
        if (keys[i + k]) keyed = true;
      }
      RK_TRY(st.run());
      i += n;
      pending += n;
      if (pending >= kBatchRows) {
        pending = 0;
        RK_TRY(db.exec("COMMIT"));
      }
    }
    return {};
  }

  // Whether the files' rows (not folders') came in name-key order, none before the one written
  // before it, leaving out the first file: then the walk by key is the walk by index with that
  // file put in its place (start_by_key()), and needs no sort. Our backups list their files in
  // name order after their header, restorekit/header.json.
  bool files_in_key_order = true;
  std::optional<std::uint64_t> first_file;  // its index
  std::optional<std::uint64_t> last_file;   // the index of the last file after it
  std::string last_file_key;
  void note_order(std::uint64_t index, std::string_view key) {
    if (!files_in_key_order) return;
    if (!first_file) {
      first_file = index;
      return;
    }
    if (index <= *first_file || (last_file && (index < *last_file || key < last_file_key))) {
      files_in_key_order = false;
      return;
    }
    last_file = index;
    last_file_key.assign(key);
  }

  // Whether no row of `index` was tallied before; false too past kTalliedIndexes, where a walk
  // answers (a bit an index: at most 8 MiB).
  static constexpr std::uint64_t kTalliedIndexes = std::uint64_t{1} << 26;
  bool first_of_its_index(std::uint64_t index) {
    if (index >= kTalliedIndexes) return false;
    auto at = static_cast<std::size_t>(index);
    if (at >= tallied.size()) tallied.resize(std::max(at + 1, tallied.size() * 2));
    if (tallied[at]) return false;
    tallied[at] = true;
    return true;
  }

  void count(const StoredEntry& entry, Ownership ownership) {
    if (!tally) return;
    if (ownership != Ownership::kOwned || !first_of_its_index(entry.index)) {
      tally.reset();  // a row may replace another: only a walk sees which one stays
      return;
    }
    const auto& r = entry.record;
    tally->encrypted = tally->encrypted || r.encrypted;
    if (r.mtime != 0) {
      tally->oldest_mtime = std::min(tally->oldest_mtime.value_or(r.mtime), r.mtime);
      tally->newest_mtime = std::max(tally->newest_mtime.value_or(r.mtime), r.mtime);
    }
    if (r.type != EntryType::kFile) return;
    auto slash = r.path.find('/');
    std::string_view folder = slash == std::string::npos
                                  ? std::string_view()
                                  : std::string_view(r.path).substr(0, slash + 1);
    if (!last_folder || folder != last_folder_name) {
      auto at = tally->by_folder.find(folder);
      if (at == tally->by_folder.end()) {
        if (tally->by_folder.size() >= EntryStore::Tally::kTallyFolders) {
          tally.reset();
          last_folder = nullptr;
          return;
        }
        at = tally->by_folder.emplace(std::string(folder), EntryStore::Tally::Files{}).first;
      }
      last_folder = &at->second;
      last_folder_name = at->first;
    }
    std::uint64_t bytes = r.size.value_or(0);
    ++last_folder->files;
    if (entry.data_read) last_folder->read_bytes += bytes;
    if (r.safe) {
      ++last_folder->safe_files;
      last_folder->safe_bytes += bytes;
    }
  }

  // Where no name has a key of its own (ASCII and NFC names: almost every archive), the name
  // rule's order is the path order, and one walk of every entry in path order answers both
  // duplicates() and path_conflicts(): the first of them asked runs it (after seal()), the
  // other takes its half. Within a path, the entries that are not folders come in type and
  // index order: the lowest index is the first, every other one a duplicate of it.
  Result<const Names*> walk_names(std::size_t limit) {
    if (names && names->limit == limit) return &*names;
    RK_TRY_ASSIGN(auto walk,
                  db.prepare("SELECT path, type, idx, safe FROM entries ORDER BY path, type, idx"));
    Names out{limit, FirstByIndex<std::pair<std::uint64_t, std::string>>(limit),
              FirstByIndex<std::uint64_t>(limit)};
    ConflictWalk conflicts(limit);
    std::string path;                 // of the entries below
    std::vector<std::uint64_t> same;  // the entries (not folders) of that path
    auto close = [&] {
      if (same.size() > 1) {
        auto first = *std::min_element(same.begin(), same.end());
        for (auto i : same) {
          if (i != first) out.later.offer({i, path});
        }
      }
      same.clear();
    };
    RK_TRY(walk.for_each([&]() -> Result<void> {
      std::string_view p = walk.column_text(0);
      bool folder = walk.column_int(1) == kDirectory;
      auto index = static_cast<std::uint64_t>(walk.column_int(2));
      if (walk.column_int(3) != 0) conflicts.row(p, folder, index);
      if (folder) return {};
      if (p != path) {
        close();
        path.assign(p);
      }
      same.push_back(index);
      return {};
    }));
    close();
    out.conflicting = conflicts.finish();
    names = std::move(out);
    return &*names;
  }

  // Queues the batch for the writer (started by the first one), waiting while kQueued wait.
  Result<void> hand_off() {
    if (batch.empty()) return {};
    std::unique_lock lock(queue_mutex);
    if (write_error) return tl::unexpected(*write_error);
    if (!writer.joinable()) writer = std::thread([this] { write_queued(); });
    queue_cv.wait(lock, [&] { return queue.size() < kQueued; });
    queue.push_back(std::exchange(batch, {}));
    batch.reserve(kHandOff);
    queue_cv.notify_all();
    return {};
  }

  void write_queued() {
    std::unique_lock lock(queue_mutex);
    for (;;) {
      queue_cv.wait(lock, [&] { return closing || !queue.empty(); });
      if (queue.empty()) return;
      auto rows = std::move(queue.front());
      queue.pop_front();
      queue_cv.notify_all();
      bool failed = write_error.has_value();
      lock.unlock();
      auto written = failed ? Result<void>{} : write(rows);
      lock.lock();
      if (!written && !write_error) write_error = written.error();
    }
  }

  // Writes what is still queued or batched; afterwards the caller's thread owns the database.
  Result<void> stop_writer() {
    if (writer.joinable()) {
      {
        std::lock_guard lock(queue_mutex);
        closing = true;
      }
      queue_cv.notify_all();
      writer.join();
      closing = false;
    }
    if (write_error) return tl::unexpected(*write_error);
    RK_TRY(write(batch));
    batch.clear();
    return {};
  }
};

EntryStore::EntryStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EntryStore::~EntryStore() = default;

Result<std::shared_ptr<EntryStore>> EntryStore::open(Result<Database> db) {
  if (!db) return tl::unexpected(db.error());
  // 8 MiB of page cache: enough for the indexes' hot pages, small beside the 64 MiB budget.
  RK_TRY(db->use_as_scratch(8));
  RK_TRY(db->exec(kSchema));
  RK_TRY_ASSIGN(auto insert, db->prepare(insert_sql(1)));
  RK_TRY_ASSIGN(auto insert_many, db->prepare(insert_sql(kRowsPerInsert)));
  auto impl = std::make_unique<Impl>(std::move(*db));
  impl->insert = std::move(insert);
  impl->insert_many = std::move(insert_many);
  return std::shared_ptr<EntryStore>(new EntryStore(std::move(impl)));
}

Result<std::shared_ptr<EntryStore>> EntryStore::create() {
  return open(Database::open_scratch());
}

Result<std::shared_ptr<EntryStore>> EntryStore::create_memory() {
  return open(Database::open_memory());
}

Result<std::shared_ptr<EntryStore>> EntryStore::from_records(
    const std::vector<EntryRecord>& records) {
  RK_TRY_ASSIGN(auto store, records.size() > kBatchRows ? create() : create_memory());
  for (std::size_t i = 0; i < records.size(); ++i) {
    RK_TRY(store->add(StoredEntry{i, records[i], records[i].hash.has_value(), false, std::nullopt},
                      Ownership::kOwned));
  }
  RK_TRY(store->seal());
  return store;
}

Result<void> EntryStore::flush_locked() {
  RK_TRY(impl_->stop_writer());
  if (impl_->pending == 0) return {};
  impl_->pending = 0;
  return impl_->db.exec("COMMIT");
}

Result<void> EntryStore::add(const StoredEntry& entry, Ownership ownership) {
  return add(StoredEntry(entry), ownership);
}

Result<void> EntryStore::add(StoredEntry&& entry, Ownership ownership) {
  std::lock_guard lock(mutex_);
  if (impl_->sealed) {
    return fail(ErrorCode::kInvalidArgument, "the entry store was sealed; nothing more is added");
  }
  impl_->batch.emplace_back(std::move(entry), ownership);
  if (impl_->batch.size() >= Impl::kHandOff) RK_TRY(impl_->hand_off());
  return {};
}

Result<void> EntryStore::seal() {
  std::lock_guard lock(mutex_);
  if (impl_->sealed) return {};
  RK_TRY(flush_locked());
  impl_->insert.reset();
  impl_->insert_many.reset();
  RK_TRY_ASSIGN(auto n, impl_->db.query_int("SELECT count(*) FROM entries"));
  impl_->size = static_cast<std::uint64_t>(n);
  impl_->sealed = true;
  return {};
}

std::uint64_t EntryStore::size() const {
  return impl_->size;
}

const std::optional<EntryStore::Tally>& EntryStore::tally() const {
  return impl_->tally;
}

bool EntryStore::may_have_duplicates() const {
  return impl_->filter.may_have_duplicates();
}

Result<void> EntryStore::for_each(const RecordFn& fn) const {
  RK_TRY_ASSIGN(auto st,
                impl_->db.prepare(fmt::format("SELECT {} FROM entries ORDER BY idx", kColumns)));
  return st.for_each([&]() -> Result<void> { return fn(read_row(st)); });
}

Result<void> EntryStore::for_each_brief(const BriefFn& fn) const {
  RK_TRY_ASSIGN(auto st, impl_->db.prepare("SELECT path, type, size, mtime, encrypted, safe, "
                                           "data_read FROM entries ORDER BY idx"));
  return st.for_each([&]() -> Result<void> {
    Brief b;
    b.path = st.column_text(0);
    b.type = static_cast<EntryType>(st.column_int(1));
    if (st.column_type(2) != ValueType::kNull)
      b.size = static_cast<std::uint64_t>(st.column_int(2));
    b.mtime = st.column_int(3);
    b.encrypted = st.column_int(4) != 0;
    b.safe = st.column_int(5) != 0;
    b.data_read = st.column_int(6) != 0;
    return fn(b);
  });
}

Result<std::vector<EntryRecord>> EntryStore::records() const {
  std::vector<EntryRecord> out;
  RK_TRY(for_each([&](const StoredEntry& e) -> Result<void> {
    out.push_back(e.record);
    return {};
  }));
  return out;
}

Result<void> EntryStore::for_each_by_key(const KeyedFn& fn) const {
  RK_TRY_ASSIGN(auto walk, start_by_key());
  for (;;) {
    RK_TRY_ASSIGN(const StoredEntry* e, walk.next());
    if (!e) return {};
    RK_TRY(fn(walk.key(), *e));
  }
}

bool EntryStore::files_in_key_order() const {
  return impl_->sealed && impl_->files_in_key_order;
}

Result<EntryStore::KeyedWalk> EntryStore::start_by_key() const {
  // One sorted walk (the by_key index if a lookup built it; its WHERE clause is repeated so that
  // the planner may use it): the first step sorts. Files added in key order need no sort: they
  // are walked by index, and the first one, read aside, is handed out at its key.
  std::string rest = "WHERE type != 1 ORDER BY coalesce(key, path), idx";
  std::optional<StoredEntry> aside;
  std::string aside_key;
  if (files_in_key_order() && impl_->first_file) {
    std::uint64_t first = *impl_->first_file;
    RK_TRY_ASSIGN(auto row,
                  keyed_rows(impl_->db, fmt::format("WHERE type != 1 AND idx = {}", first)));
    RK_TRY_ASSIGN(bool found, row.step());
    if (found) {
      aside = read_row(row);
      aside_key = row.column_text(kKeyColumn);
    }
    rest = fmt::format("WHERE type != 1 AND idx != {} ORDER BY idx", first);
  }
  RK_TRY_ASSIGN(auto st, keyed_rows(impl_->db, rest));
  KeyedWalk walk(std::make_unique<Statement>(std::move(st)));
  walk.aside_ = std::move(aside);
  walk.aside_key_ = std::move(aside_key);
  RK_TRY_ASSIGN(walk.more_, walk.walk_->step());
  walk.stepped_ = true;
  return walk;
}

EntryStore::KeyedWalk::KeyedWalk(std::unique_ptr<Statement> walk) : walk_(std::move(walk)) {}
EntryStore::KeyedWalk::KeyedWalk(KeyedWalk&&) noexcept = default;
EntryStore::KeyedWalk& EntryStore::KeyedWalk::operator=(KeyedWalk&&) noexcept = default;
EntryStore::KeyedWalk::~KeyedWalk() = default;

Result<const StoredEntry*> EntryStore::KeyedWalk::next() {
  if (!stepped_ && more_) {  // after the last row the statement is not stepped again
    RK_TRY_ASSIGN(more_, walk_->step());
  }
  stepped_ = true;  // the statement stands on a row not handed out yet (where more_)
  from_aside_ = false;
  // The row set aside goes before the first row of a greater key (its index is the lowest).
  if (aside_ && (!more_ || std::string_view(aside_key_) <= walk_->column_text(kKeyColumn))) {
    entry_ = std::move(*aside_);
    aside_.reset();
    from_aside_ = true;
    return &entry_;
  }
  if (!more_) return nullptr;
  stepped_ = false;
  entry_ = read_row(*walk_);
  return &entry_;
}

std::string_view EntryStore::KeyedWalk::key() const {
  return from_aside_ ? std::string_view(aside_key_) : walk_->column_text(kKeyColumn);
}

Result<void> EntryStore::for_each_keyed(const KeyedFn& fn) const {
  return keyed_walk(impl_->db, "ORDER BY idx", fn);
}

Result<std::optional<StoredEntry>> EntryStore::find(std::string_view name) const {
  // A backup's header names a database or two: those first lookups scan the table, which costs
  // a fraction of building an index. A checksum list given by the user looks up every entry:
  // from the (kScanLookups + 1)th lookup on, an index answers (the prepared statement picks it
  // up when it is re-prepared for the new schema).
  if (++impl_->lookups == kScanLookups + 1) {
    RK_TRY(
        impl_->db.exec("CREATE INDEX by_key ON entries(coalesce(key, path), idx) WHERE "
                       "type != 1;"));
    static_assert(kDirectory == 1, "the partial index above names the folder type as 1");
  }
  if (!impl_->find) {
    RK_TRY_ASSIGN(impl_->find, impl_->db.prepare(fmt::format(
                                   "SELECT {} FROM entries WHERE coalesce(key, path) = ?1 AND "
                                   "type != 1 ORDER BY idx LIMIT 1",
                                   kColumns)));
  }
  Statement& st = *impl_->find;
  std::string key = name_key(name);
  st.bind(1, std::string_view(key));
  auto row = st.step();
  std::optional<StoredEntry> out;
  if (row && *row) out = read_row(st);
  st.reset();
  if (!row) return tl::unexpected(row.error());
  return out;
}

// The rows at `indexes` (what findings name: few), in index order.
Result<std::vector<StoredEntry>> EntryStore::rows_at(std::vector<std::uint64_t> indexes) const {
  std::sort(indexes.begin(), indexes.end());
  RK_TRY_ASSIGN(auto st,
                impl_->db.prepare(fmt::format("SELECT {} FROM entries WHERE idx = ?1", kColumns)));
  std::vector<StoredEntry> out;
  out.reserve(indexes.size());
  for (auto index : indexes) {
    st.bind(1, static_cast<std::int64_t>(index));
    RK_TRY_ASSIGN(bool row, st.step());
    if (row) out.push_back(read_row(st));
    st.reset();
  }
  return out;
}

Result<std::vector<EntryStore::Duplicate>> EntryStore::duplicates() const {
  RK_TRY_ASSIGN(auto all, duplicates(std::numeric_limits<std::size_t>::max()));
  return std::move(all.items);
}

Result<std::vector<StoredEntry>> EntryStore::path_conflicts() const {
  RK_TRY_ASSIGN(auto all, path_conflicts(std::numeric_limits<std::size_t>::max()));
  return std::move(all.items);
}

Result<EntryStore::FirstOf<EntryStore::Duplicate>> EntryStore::duplicates(std::size_t limit) const {
  FirstOf<Duplicate> out;
  if (impl_->sealed && !impl_->filter.may_have_duplicates()) return out;
  std::vector<std::pair<std::uint64_t, std::string>> later;  // index, first spelling
  if (!impl_->keyed) {  // every name is its own key: a duplicate is the same spelling
    RK_TRY_ASSIGN(const auto* names, impl_->walk_names(limit));
    later = names->later.sorted();
    out.total = names->later.total();
  } else {
    // One sorted walk of the keys (then index): a key equal to the one before is a duplicate
    // of the first entry of that key. Only what findings name is read whole.
    RK_TRY_ASSIGN(auto walk, impl_->db.prepare("SELECT coalesce(key, path), idx, path FROM "
                                               "entries WHERE type != 1 ORDER BY 1, 2"));
    FirstByIndex<std::pair<std::uint64_t, std::string>> first_ones(limit);
    std::string key;
    std::string first;
    bool any = false;
    RK_TRY(walk.for_each([&]() -> Result<void> {
      std::string_view k = walk.column_text(0);
      if (any && k == key) {
        first_ones.offer({static_cast<std::uint64_t>(walk.column_int(1)), first});
        if (walk.column_text(2) != first) ++out.spellings;
      } else {
        key.assign(k);
        first.assign(walk.column_text(2));
        any = true;
      }
      return {};
    }));
    later = first_ones.sorted();
    out.total = first_ones.total();
  }
  std::vector<std::uint64_t> indexes;
  for (const auto& l : later) indexes.push_back(l.first);
  RK_TRY_ASSIGN(auto rows, rows_at(std::move(indexes)));
  if (rows.size() != later.size()) {
    return fail(ErrorCode::kInternal, "the entry store lost rows while it was read");
  }
  for (std::size_t i = 0; i < rows.size(); ++i) {
    out.items.push_back(Duplicate{std::move(rows[i]), std::move(later[i].second)});
  }
  return out;
}

Result<EntryStore::FirstOf<StoredEntry>> EntryStore::path_conflicts(std::size_t limit) const {
  FirstOf<StoredEntry> out;
  if (impl_->sealed && !impl_->filter.may_have_conflicts()) return out;
  if (!impl_->keyed) {
    RK_TRY_ASSIGN(const auto* names, impl_->walk_names(limit));
    out.total = names->conflicting.total();
    RK_TRY_ASSIGN(out.items, rows_at(names->conflicting.sorted()));
    return out;
  }
  RK_TRY_ASSIGN(auto walk, impl_->db.prepare("SELECT path, type, idx FROM entries WHERE safe "
                                             "ORDER BY path, type"));
  ConflictWalk conflicts(limit);
  RK_TRY(walk.for_each([&]() -> Result<void> {
    conflicts.row(walk.column_text(0), walk.column_int(1) == kDirectory,
                  static_cast<std::uint64_t>(walk.column_int(2)));
    return {};
  }));
  auto found = conflicts.finish();
  out.total = found.total();
  RK_TRY_ASSIGN(out.items, rows_at(found.sorted()));
  return out;
}

Result<std::string> EntryStore::last_intact_before(std::uint64_t index) const {
  RK_TRY_ASSIGN(auto st, impl_->db.prepare("SELECT path FROM entries WHERE idx < ?1 AND NOT failed "
                                           "ORDER BY idx DESC LIMIT 1"));
  st.bind(1, static_cast<std::int64_t>(index));
  RK_TRY_ASSIGN(bool row, st.step());
  return row ? std::string(st.column_text(0)) : std::string();
}

}  // namespace restorekit::core
