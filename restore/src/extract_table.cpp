#include "extract_table.hpp"

#include <fmt/format.h>

#include <restorekit/core/names.hpp>

namespace restorekit::restore {

Result<std::vector<ExtractedEntry>> ExtractListing::records() const {
  std::vector<ExtractedEntry> out;
  RK_TRY(for_each([&](const ExtractedEntry& x) -> Result<void> {
    out.push_back(x);
    return {};
  }));
  return out;
}

namespace detail {

namespace {

// `key` is NULL where it equals the path (almost every name); `high`/`low` (the XXH3-128) are
// set once a file read cleanly; `outcome` holds the checks' verdicts, apart so that the walk
// that makes them never reads a row it changed.
constexpr std::string_view kSchema = R"sql(
CREATE TABLE entries(seq INTEGER PRIMARY KEY, idx INTEGER NOT NULL, path TEXT NOT NULL, key TEXT,
                     folder INTEGER NOT NULL, bytes INTEGER NOT NULL, high INTEGER, low INTEGER,
                     extra_hex TEXT);
CREATE TABLE taken(key TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE outcome(seq INTEGER PRIMARY KEY, checked INTEGER NOT NULL, placed INTEGER NOT NULL);
CREATE TABLE chosen(key TEXT PRIMARY KEY, found INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
)sql";

void bind_key(core::Statement& st, int at, std::string_view path) {
  if (auto key = core::key_of_its_own(path)) {
    st.bind(at, std::string_view(*key));
  } else {
    st.bind_null(at);
  }
}

std::optional<core::Digest128> digest_at(const core::Statement& st, int high) {
  if (st.column_type(high) == core::ValueType::kNull) return std::nullopt;
  return core::Digest128{static_cast<std::uint64_t>(st.column_int(high)),
                         static_cast<std::uint64_t>(st.column_int(high + 1))};
}

}  // namespace

Result<std::shared_ptr<ExtractTable>> ExtractTable::create() {
  RK_TRY_ASSIGN(auto db, core::Database::open_scratch());
  RK_TRY(db.use_as_scratch(4));
  RK_TRY(db.exec(kSchema));
  RK_TRY(db.exec("BEGIN"));
  std::shared_ptr<ExtractTable> t(new ExtractTable(std::move(db)));
  RK_TRY_ASSIGN(t->take_, t->db_.prepare("INSERT OR IGNORE INTO taken VALUES(?1)"));
  RK_TRY_ASSIGN(t->taken_, t->db_.prepare("SELECT 1 FROM taken WHERE key = ?1"));
  RK_TRY_ASSIGN(t->add_, t->db_.prepare("INSERT INTO entries(seq, idx, path, key, folder, bytes) "
                                        "VALUES(?6, ?1, ?2, ?3, ?4, ?5)"));
  RK_TRY_ASSIGN(t->read_, t->db_.prepare("UPDATE entries SET bytes = ?2, high = ?3, low = ?4, "
                                         "extra_hex = ?5 WHERE seq = ?1"));
  RK_TRY_ASSIGN(t->settle_, t->db_.prepare("INSERT OR REPLACE INTO outcome VALUES(?1, ?2, ?3)"));
  RK_TRY_ASSIGN(t->choose_, t->db_.prepare("INSERT OR IGNORE INTO chosen(key) VALUES(?1)"));
  RK_TRY_ASSIGN(t->pick_, t->db_.prepare("UPDATE chosen SET found = 1 WHERE key = ?1"));
  return t;
}

Result<bool> ExtractTable::take(std::string_view path) {
  std::string key = core::name_key(path);
  take_->bind(1, std::string_view(key));
  RK_TRY(take_->run());
  return db_.changes() == 1;
}

Result<bool> ExtractTable::taken(std::string_view path) {
  std::string key = core::name_key(path);
  taken_->bind(1, std::string_view(key));
  auto row = taken_->step();
  taken_->reset();
  return row;
}

Result<std::int64_t> ExtractTable::add(std::string_view path, bool folder, std::uint64_t bytes,
                                       std::uint64_t index) {
  add_->bind(1, static_cast<std::int64_t>(index));
  add_->bind(2, path);
  bind_key(*add_, 3, path);
  add_->bind(4, std::int64_t{folder ? 1 : 0});
  add_->bind(5, static_cast<std::int64_t>(bytes));
  auto row = static_cast<std::int64_t>(rows_ + 1);
  add_->bind(6, row);
  RK_TRY(add_->run());
  ++rows_;
  return row;
}

Result<void> ExtractTable::read(std::int64_t row, std::uint64_t bytes,
                                const std::optional<core::Digest128>& xxh128,
                                const std::optional<std::string>& extra_hex) {
  read_->bind(1, row);
  read_->bind(2, static_cast<std::int64_t>(bytes));
  if (xxh128) {
    read_->bind(3, static_cast<std::int64_t>(xxh128->high));
    read_->bind(4, static_cast<std::int64_t>(xxh128->low));
  }  // else NULL: not read cleanly
  if (extra_hex) read_->bind(5, std::string_view(*extra_hex));
  return read_->run();
}

Result<void> ExtractTable::choose(const std::string& key) {
  choose_->bind(1, std::string_view(key));
  return choose_->run();
}

Result<bool> ExtractTable::pick(std::string_view path) {
  std::string key = core::name_key(path);
  pick_->bind(1, std::string_view(key));
  RK_TRY(pick_->run());
  return db_.changes() == 1;  // a row the key names, found before or not
}

Result<std::uint64_t> ExtractTable::missing() {
  RK_TRY_ASSIGN(auto n, db_.query_int("SELECT count(*) FROM chosen WHERE NOT found"));
  return static_cast<std::uint64_t>(n);
}

Result<void> ExtractTable::for_each_file_by_key(bool only_read_cleanly, const FileFn& fn) const {
  RK_TRY_ASSIGN(auto st, db_.prepare(fmt::format(
                             "SELECT seq, idx, path, coalesce(key, path), bytes, high, low, "
                             "extra_hex FROM entries WHERE folder = 0{} ORDER BY 4, seq",
                             only_read_cleanly ? " AND high IS NOT NULL" : "")));
  File f;
  return st.for_each([&]() -> Result<void> {
    f.row = st.column_int(0);
    f.index = static_cast<std::uint64_t>(st.column_int(1));
    f.path = st.column_text(2);
    f.key = st.column_text(3);
    f.bytes = static_cast<std::uint64_t>(st.column_int(4));
    f.xxh128 = digest_at(st, 5);
    f.extra_hex.reset();
    if (st.column_type(7) != core::ValueType::kNull) f.extra_hex = st.column_text(7);
    return fn(f);
  });
}

Result<void> ExtractTable::settle(std::int64_t row, CheckedBy checked, bool placed) {
  settle_->bind(1, row);
  settle_->bind(2, static_cast<std::int64_t>(checked));
  settle_->bind(3, std::int64_t{placed ? 1 : 0});
  return settle_->run();
}

Result<void> ExtractTable::for_each_folder(
    const std::function<Result<void>(std::string_view path)>& fn) const {
  RK_TRY_ASSIGN(auto st, db_.prepare("SELECT path FROM entries WHERE folder = 1 ORDER BY seq"));
  return st.for_each([&] { return fn(st.column_text(0)); });
}

Result<ExtractTable::Totals> ExtractTable::finish(CheckedBy folders_checked, bool folders_placed,
                                                  bool listed_files) {
  folders_checked_ = folders_checked;
  folders_placed_ = folders_placed;
  take_.reset();
  taken_.reset();
  add_.reset();
  read_.reset();
  settle_.reset();
  choose_.reset();
  pick_.reset();
  RK_TRY(db_.exec("COMMIT"));
  RK_TRY_ASSIGN(auto st, db_.prepare(fmt::format(
                             "SELECT count(*), coalesce(sum(bytes), 0) FROM entries e LEFT JOIN "
                             "outcome o USING(seq) WHERE e.folder = 0{}",
                             listed_files ? "" : " AND o.placed = 1")));
  RK_TRY_ASSIGN(bool row, st.step());
  Totals t;
  if (row) {
    t.files = static_cast<std::uint64_t>(st.column_int(0));
    t.bytes = static_cast<std::uint64_t>(st.column_int(1));
  }
  return t;
}

Result<void> ExtractTable::for_each(const EntryFn& fn) const {
  RK_TRY_ASSIGN(auto st, db_.prepare("SELECT e.path, e.folder, e.bytes, e.high, e.low, o.checked, "
                                     "o.placed FROM entries e LEFT JOIN outcome o USING(seq) "
                                     "ORDER BY e.seq"));
  ExtractedEntry x;
  return st.for_each([&]() -> Result<void> {
    x.path.assign(st.column_text(0));
    x.folder = st.column_int(1) != 0;
    x.bytes = static_cast<std::uint64_t>(st.column_int(2));
    x.xxh128 = digest_at(st, 3);
    if (x.folder) {
      x.checked = folders_checked_;
      x.placed = folders_placed_;
    } else {
      bool settled = st.column_type(5) != core::ValueType::kNull;
      x.checked = settled ? static_cast<CheckedBy>(st.column_int(5)) : CheckedBy::kNothing;
      x.placed = settled && st.column_int(6) != 0;
    }
    return fn(x);
  });
}

}  // namespace detail
}  // namespace restorekit::restore
