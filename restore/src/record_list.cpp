#include "record_list.hpp"

#include <algorithm>
#include <limits>

#include <fmt/format.h>

#include <restorekit/core/fs.hpp>

#include "tree_file.hpp"

namespace restorekit::restore {

namespace {

using Action = RecordChange::Action;

constexpr std::string_view kSchema = R"sql(
CREATE TABLE records(seq INTEGER PRIMARY KEY, tbl TEXT NOT NULL, key TEXT NOT NULL,
                     action INTEGER NOT NULL);
CREATE TABLE names(name TEXT NOT NULL);
)sql";

}  // namespace

namespace detail {

RecordListWriter::RecordListWriter(core::Database db, std::shared_ptr<const core::TempDir> dir)
    : db_(std::make_unique<core::Database>(std::move(db))), dir_(std::move(dir)) {}

Result<RecordListWriter> RecordListWriter::create() {
  RK_TRY_ASSIGN(auto dir, core::TempDir::create({}, "restorekit-records-"));
  auto file = dir.path() / "records.sqlite";
  RK_TRY_ASSIGN(auto db, create_plan_database(file));
  RK_TRY(db.exec(kSchema));
  RK_TRY(db.exec("BEGIN"));
  RecordListWriter w(std::move(db), std::make_shared<const core::TempDir>(std::move(dir)));
  RK_TRY_ASSIGN(w.add_, w.db_->prepare("INSERT INTO records(tbl, key, action) VALUES(?1, ?2, ?3)"));
  RK_TRY_ASSIGN(w.name_, w.db_->prepare("INSERT INTO names VALUES(?1)"));
  return w;
}

Result<void> RecordListWriter::add(std::string_view table, std::string_view key, Action action) {
  add_->bind(1, table);
  add_->bind(2, key);
  add_->bind(3, static_cast<std::int64_t>(action));
  RK_TRY(add_->run());
  ++count_;
  if (action == Action::kKept || action == Action::kReusedKey || action == Action::kBlocked) {
    ++conflicts_;
  }
  return {};
}

Result<void> RecordListWriter::add_name(std::string_view name) {
  name_->bind(1, name);
  return name_->run();
}

Result<RecordList> RecordListWriter::save() && {
  RK_TRY(db_->exec("COMMIT"));
  add_.reset();
  name_.reset();
  db_.reset();
  return RecordList{dir_->path() / "records.sqlite", count_, conflicts_, dir_};
}

std::int64_t sql_limit(std::uint64_t limit) {
  constexpr auto kMost = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  return static_cast<std::int64_t>(std::min(limit, kMost));
}

Result<void> for_each_record_name(const RecordList& list,
                                  const std::function<Result<void>(std::string_view)>& fn) {
  RK_TRY_ASSIGN(auto db, core::Database::open_untrusted(list.file));
  RK_TRY_ASSIGN(auto st, db.prepare("SELECT name FROM names"));
  return st.for_each([&] { return fn(st.column_text(0)); });
}

}  // namespace detail

Result<void> for_each_record(const Plan& plan, const RecordFn& fn, std::uint64_t limit) {
  if (!plan.records || limit == 0) return {};
  const auto& file = plan.records->file;
  RK_TRY_ASSIGN(auto db, core::Database::open_untrusted(file));
  RK_TRY_ASSIGN(auto st, db.prepare("SELECT tbl, key, action FROM records ORDER BY seq LIMIT ?1"));
  st.bind(1, detail::sql_limit(limit));
  return st.for_each([&]() -> Result<void> {
    auto a = st.column_int(2);
    if (a < 0 || a > static_cast<std::int64_t>(Action::kBlocked)) {
      return fail(ErrorCode::kBadBackup,
                  fmt::format("{} lists a row with an unknown action", file.string()),
                  file.string());
    }
    return fn(RecordChange{std::string(st.column_text(0)), std::string(st.column_text(1)),
                           static_cast<Action>(a)});
  });
}

}  // namespace restorekit::restore
