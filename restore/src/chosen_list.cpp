#include "chosen_list.hpp"

#include <fmt/format.h>

#include <restorekit/core/names.hpp>

#include "internal.hpp"

namespace restorekit::restore {

namespace fs = std::filesystem;

namespace detail {

namespace {

// `files`: the backup's records of the chosen documents (all of them safe regular files).
constexpr std::string_view kChoiceSchema = R"sql(
CREATE TABLE wanted(key TEXT PRIMARY KEY, found INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
CREATE TABLE files(seq INTEGER PRIMARY KEY, path TEXT NOT NULL, size INTEGER,
                   mtime INTEGER NOT NULL, encrypted INTEGER NOT NULL, high INTEGER, low INTEGER);
CREATE TABLE live(key TEXT PRIMARY KEY, path TEXT NOT NULL, type INTEGER NOT NULL) WITHOUT ROWID;
)sql";

constexpr std::string_view kListSchema = R"sql(
CREATE TABLE chosen(path TEXT PRIMARY KEY, live_path TEXT NOT NULL, replaces INTEGER NOT NULL)
  WITHOUT ROWID;
)sql";

}  // namespace

Choice::Choice(core::Database db) : db_(std::make_unique<core::Database>(std::move(db))) {}

Result<Choice> Choice::open() {
  RK_TRY_ASSIGN(auto db, core::Database::open_scratch());
  RK_TRY(db.use_as_scratch(2));
  RK_TRY(db.exec(kChoiceSchema));
  RK_TRY(db.exec("BEGIN"));  // never committed: thrown away with the connection
  Choice c(std::move(db));
  RK_TRY_ASSIGN(c.want_, c.db_->prepare("INSERT OR IGNORE INTO wanted(key) VALUES(?1)"));
  RK_TRY_ASSIGN(c.take_,
                c.db_->prepare("UPDATE wanted SET found = 1 WHERE key = ?1 AND found = 0"));
  RK_TRY_ASSIGN(c.keep_, c.db_->prepare("INSERT INTO files(path, size, mtime, encrypted, high, "
                                        "low) VALUES(?1, ?2, ?3, ?4, ?5, ?6)"));
  RK_TRY_ASSIGN(c.live_, c.db_->prepare("SELECT path, type FROM live WHERE key = ?1"));
  return c;
}

Result<void> Choice::want(const std::string& key) {
  want_->bind(1, std::string_view(key));
  return want_->run();
}

Result<void> Choice::offer(const core::EntryRecord& file) {
  std::string key = core::name_key(file.path);
  take_->bind(1, std::string_view(key));
  RK_TRY(take_->run());
  if (db_->changes() != 1) return {};
  auto& st = *keep_;
  st.bind(1, std::string_view(file.path));
  if (file.size) st.bind(2, static_cast<std::int64_t>(*file.size));
  st.bind(3, file.mtime);
  st.bind(4, std::int64_t{file.encrypted ? 1 : 0});
  if (file.hash) {
    st.bind(5, static_cast<std::int64_t>(file.hash->high));
    st.bind(6, static_cast<std::int64_t>(file.hash->low));
  }
  RK_TRY(st.run());
  ++files_;
  return {};
}

Result<std::uint64_t> Choice::missing() {
  RK_TRY_ASSIGN(auto n, db_->query_int("SELECT count(*) FROM wanted WHERE found = 0"));
  return static_cast<std::uint64_t>(n);
}

diff::FileWalk Choice::walk() {
  return [this](const std::function<Result<void>(const core::EntryRecord&)>& fn) -> Result<void> {
    RK_TRY_ASSIGN(auto st, db_->prepare("SELECT path, size, mtime, encrypted, high, low FROM files "
                                        "ORDER BY seq"));
    return st.for_each([&]() -> Result<void> {
      core::EntryRecord r;
      r.path = std::string(st.column_text(0));
      r.type = core::EntryType::kFile;
      if (st.column_type(1) != core::ValueType::kNull) {
        r.size = static_cast<std::uint64_t>(st.column_int(1));
      }
      r.mtime = st.column_int(2);
      r.encrypted = st.column_int(3) != 0;
      if (st.column_type(4) != core::ValueType::kNull) {
        r.hash = core::Digest128{static_cast<std::uint64_t>(st.column_int(4)),
                                 static_cast<std::uint64_t>(st.column_int(5))};
      }
      return fn(r);
    });
  };
}

Result<void> Choice::index_live(Tree& live) {
  RK_TRY_ASSIGN(auto add, db_->prepare("INSERT OR IGNORE INTO live VALUES(?1, ?2, ?3)"));
  RK_TRY_ASSIGN(auto all, live.walk());
  for (;;) {
    RK_TRY_ASSIGN(bool more, all.next());
    if (!more) return {};
    const auto& e = all.entry();
    if (e.path.empty()) continue;  // the folder itself
    std::string key = core::name_key(e.path);
    add.bind(1, std::string_view(key));
    add.bind(2, std::string_view(e.path));
    add.bind(3, static_cast<std::int64_t>(e.type));
    RK_TRY(add.run());
  }
}

Result<std::optional<Choice::LiveEntry>> Choice::live_entry(const std::string& key) {
  live_->bind(1, std::string_view(key));
  auto row = live_->step();
  std::optional<LiveEntry> out;
  if (row && *row) {
    out = LiveEntry{std::string(live_->column_text(0)),
                    static_cast<core::EntryType>(live_->column_int(1))};
  }
  live_->reset();
  if (!row) return tl::unexpected(row.error());
  return out;
}

ChosenList::ChosenList(core::Database db, fs::path file)
    : db_(std::make_unique<core::Database>(std::move(db))), file_(std::move(file)) {}

Result<ChosenList> ChosenList::create(const fs::path& file) {
  RK_TRY_ASSIGN(auto db, create_plan_database(file));
  RK_TRY(db.exec(kListSchema));
  RK_TRY(db.exec("BEGIN"));
  ChosenList list(std::move(db), file);
  RK_TRY_ASSIGN(list.add_, list.db_->prepare("INSERT OR REPLACE INTO chosen VALUES(?1, ?2, ?3)"));
  return list;
}

Result<void> ChosenList::add(const ChosenDocument& c) {
  add_->bind(1, std::string_view(c.path));
  add_->bind(2, std::string_view(c.live_path));
  add_->bind(3, std::int64_t{c.replaces ? 1 : 0});
  RK_TRY(add_->run());
  ++count_;
  if (c.replaces) ++replaced_;
  return {};
}

Result<ChosenDocuments> ChosenList::save() && {
  RK_TRY(db_->exec("COMMIT"));
  add_.reset();
  db_.reset();  // closed: the file holds every page
  RK_TRY_ASSIGN(auto digest, core::hash_file(file_));
  return ChosenDocuments{PlanFile{file_, digest}, count_, replaced_, nullptr};
}

}  // namespace detail

Result<void> hold_chosen_documents(Plan& plan) {
  if (!plan.chosen_documents) return {};
  auto& chosen = *plan.chosen_documents;
  RK_TRY_ASSIGN(auto dir, core::TempDir::create({}, "restorekit-chosen-"));
  auto copy = dir.path() / chosen.file.path.filename();
  std::error_code ec;
  fs::copy_file(chosen.file.path, copy, ec);
  if (ec) {
    return fail(ErrorCode::kIo,
                fmt::format("cannot copy {}: {}", chosen.file.path.string(), ec.message()),
                chosen.file.path.string());
  }
  chosen.file.path = copy;
  chosen.holder = std::make_shared<const core::TempDir>(std::move(dir));
  return {};
}

Result<void> for_each_chosen_document(const Plan& plan, const ChosenFn& fn, std::uint64_t limit) {
  if (!plan.chosen_documents || limit == 0) return {};
  const auto& file = plan.chosen_documents->file.path;
  RK_TRY_ASSIGN(auto db, core::Database::open_untrusted(file));
  RK_TRY_ASSIGN(auto st, db.prepare("SELECT path, live_path, replaces FROM chosen ORDER BY path "
                                    "LIMIT ?1"));
  st.bind(1, detail::sql_limit(limit));
  return st.for_each([&]() -> Result<void> {
    ChosenDocument c{std::string(st.column_text(0)), std::string(st.column_text(1)),
                     st.column_int(2) != 0};
    if (!detail::relative_inside(c.path) || !detail::relative_inside(c.live_path)) {
      return fail(ErrorCode::kBadBackup,
                  fmt::format("{} names a document outside the documents folder", file.string()),
                  file.string());
    }
    return fn(c);
  });
}

}  // namespace restorekit::restore
