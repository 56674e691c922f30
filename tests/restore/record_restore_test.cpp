// Record-level restore (issue 17, part 1): restore --row / --where brings back the chosen rows,
// their closure through foreign keys (declared, and a profile's [[relations]]) and their
// documents — exactly that: every other row and file of live stays byte-identical, checked
// against an expected database built by hand with sqlite3 and by content hash. An application
// with a deep chain (company -> persons -> appointments, tags (WITHOUT ROWID, composite key),
// documents, notes (no key, no declared foreign key)), made with sqlite3; one company deleted in
// live and others changed afterwards, one deleted person's key reused for somebody else.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <restorekit/core/profile.hpp>
#include <restorekit/restore/restore.hpp>

#include "crash_harness.hpp"
#include "restore_fixture.hpp"

namespace restorekit::test {
namespace {

// Company 2's people: ids 1, 13, 25, ..., 109 (id % 12 == 1).
constexpr const char* kCompanyTwo = "SELECT id FROM b.persons WHERE company_id = 2 AND id <> 13";

class RecordRestore : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!have_tool("sqlite3")) GTEST_SKIP() << "SKIPPED: sqlite3 makes the application";
    write_file(dir_ / "schema.sql", R"sql(
      CREATE TABLE companies(id INTEGER PRIMARY KEY, name TEXT NOT NULL);
      CREATE TABLE persons(id INTEGER PRIMARY KEY,
                           company_id INTEGER NOT NULL REFERENCES companies(id),
                           name TEXT, email TEXT UNIQUE);
      CREATE TABLE appointments(id INTEGER PRIMARY KEY,
                                person_id INTEGER NOT NULL REFERENCES persons(id),
                                starts_at TEXT, subject TEXT);
      CREATE TABLE tags(person_id INTEGER NOT NULL REFERENCES persons(id), tag TEXT NOT NULL,
                        PRIMARY KEY(person_id, tag)) WITHOUT ROWID;
      CREATE TABLE documents(id INTEGER PRIMARY KEY, person_id INTEGER REFERENCES persons(id),
                             path TEXT NOT NULL);
      CREATE TABLE notes(person_ref INTEGER, body TEXT);  -- no key, no declared foreign key
      -- Named to come before appointments: blocking below a reused key takes two rounds.
      CREATE TABLE agenda_items(id INTEGER PRIMARY KEY,
                                appointment_id INTEGER REFERENCES appointments(id), item TEXT);
      WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 12)
        INSERT INTO companies SELECT i, 'company ' || i FROM n;
      WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 120)
        INSERT INTO persons SELECT i, i % 12 + 1, 'person ' || i, 'p' || i || '@example.com'
        FROM n;
      WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 600)
        INSERT INTO appointments SELECT i, (i - 1) % 120 + 1, '2026-11-' || (i % 28 + 1),
                                        'visit ' || i FROM n;
      INSERT INTO tags SELECT id, 'vip' FROM persons WHERE id % 3 = 0;
      INSERT INTO tags SELECT id, 'new' FROM persons WHERE id % 4 = 1;
      INSERT INTO documents SELECT id, id, 'c' || company_id || '/p' || id || '.txt' FROM persons;
      INSERT INTO notes SELECT id, 'note on ' || id FROM persons WHERE id % 5 = 0;
      INSERT INTO agenda_items SELECT id, id, 'bring ' || id FROM appointments WHERE id % 10 = 3;
    )sql");
    ASSERT_EQ(sh("sqlite3 app.sqlite < schema.sql", dir_.path()), 0);
    auto db = core::Database::open(dir_ / "app.sqlite", core::OpenMode::kReadOnly);
    ASSERT_TRUE(db);
    auto paths = db->prepare("SELECT path FROM documents");
    ASSERT_TRUE(paths);
    ASSERT_TRUE(paths->for_each([&]() -> Result<void> {
      std::string p(paths->column_text(0));
      write_file(dir_ / "docs" / p, "document " + p + "\n");
      return {};
    }));
    write_file(dir_ / "app.toml", R"(
      [documents]
      root = "docs/"
      references = ["documents.path"]
      [[relations]]
      child = "notes.person_ref"
      parent = "persons.id"
    )");
    profile_ = core::load_profile(dir_ / "app.toml").value();
    auto made = run({restorekit_exe(), "backup", "--db", (dir_ / "app.sqlite").string(), "--docs",
                     (dir_ / "docs").string(), "-o", backup_.string(), "--quiet"});
    ASSERT_EQ(made.exit_code, 0) << made.err;
    lay_out_live();
    before_db_ = content_of(live_);
    before_docs_ = tree_hash(live_docs_);
  }

  // Live since the backup: company 2 deleted with everything that hangs off it (rows and
  // files); others worked on; person 13's key reused for a new person of company 7.
  void lay_out_live() {
    std::error_code ec;
    fs::remove_all(dir_ / "live", ec);
    fs::create_directories(dir_ / "live");
    fs::copy_file(dir_ / "app.sqlite", live_);
    fs::copy(dir_ / "docs", live_docs_, fs::copy_options::recursive);
    exec(live_, R"sql(
      DELETE FROM agenda_items WHERE appointment_id IN (SELECT a.id FROM appointments a JOIN
        persons p ON a.person_id = p.id WHERE p.company_id = 2);
      DELETE FROM tags WHERE person_id IN (SELECT id FROM persons WHERE company_id = 2);
      DELETE FROM appointments WHERE person_id IN (SELECT id FROM persons WHERE company_id = 2);
      DELETE FROM documents WHERE person_id IN (SELECT id FROM persons WHERE company_id = 2);
      DELETE FROM notes WHERE person_ref IN (SELECT id FROM persons WHERE company_id = 2);
      DELETE FROM persons WHERE company_id = 2;
      DELETE FROM companies WHERE id = 2;
      UPDATE persons SET name = 'renamed' WHERE id = 2;
      INSERT INTO appointments VALUES (601, 3, '2026-12-01', 'booked after the backup');
      DELETE FROM appointments WHERE id = 4;
      INSERT INTO persons VALUES (13, 7, 'newcomer', 'new13@example.com');
    )sql");
    fs::remove_all(live_docs_ / "c2");
    write_file(live_docs_ / "c3/p2.txt", "edited after the backup\n");
  }

  restore::PlanOptions options(restore::Selection sel) {
    restore::PlanOptions o;
    o.live = live_;
    restore::apply_profile(o, profile_);
    o.live_documents = live_docs_;
    sel.relations = profile_.relations;
    o.selection = std::move(sel);
    return o;
  }

  static restore::Selection rows(std::vector<restore::RowRef> r, bool revert = false) {
    restore::Selection s;
    s.rows = std::move(r);
    s.revert_changed = revert;
    return s;
  }

  restore::Plan plan(restore::PlanOptions o) {
    auto p = restore::plan(backup_, o);
    EXPECT_TRUE(p) << p.error().message;
    return p ? std::move(*p) : restore::Plan{};
  }

  restore::Plan kept(restore::Selection sel) {
    auto o = options(std::move(sel));
    o.plan_out = dir_ / fmt::format("plan-{}", ++plans_);
    return plan(o);
  }

  void apply_ok(const restore::Plan& p) {
    ASSERT_TRUE(p.safe());
    auto r = restore::apply(p, {});
    ASSERT_TRUE(r) << r.error().message;
    ASSERT_TRUE(r->applied) << r->refusal.message;
    for (const auto& f : r->checks) EXPECT_NE(f.severity, core::Severity::kError) << f.message;
  }

  // Live before, plus what `sql` inserts from the backup (attached as b): built by hand,
  // independently of the code under test.
  core::Digest128 expected(const std::string& sql) {
    auto path = dir_ / fmt::format("expected-{}.sqlite", ++expected_);
    lay_out_live();
    fs::copy_file(live_, path);
    exec(path, fmt::format("ATTACH '{}' AS b; {}", (dir_ / "app.sqlite").string(), sql));
    lay_out_live();
    return content_of(path);
  }

  std::size_t count(const restore::Plan& p, const std::string& table,
                    restore::RecordChange::Action a) {
    std::size_t n = 0;
    auto listed = restore::for_each_record(p, [&](const restore::RecordChange& r) -> Result<void> {
      n += r.table == table && r.action == a;
      return {};
    });
    EXPECT_TRUE(listed) << listed.error().message;
    return n;
  }

  ScratchDir dir_;
  fs::path live_ = dir_ / "live/app.sqlite";
  fs::path live_docs_ = dir_ / "live/docs";
  fs::path backup_ = dir_ / "backup.tar.zst";
  core::Profile profile_;
  core::Digest128 before_db_;
  std::string before_docs_;
  int plans_ = 0;
  int expected_ = 0;
};

using Action = restore::RecordChange::Action;

TEST_F(RecordRestore, ADeletedCompanyComesBackWithItsSubtreeAndNothingElseChanges) {
  auto want = expected(fmt::format(R"sql(
    INSERT INTO companies SELECT * FROM b.companies WHERE id = 2;
    INSERT INTO persons SELECT * FROM b.persons WHERE id IN ({0});
    INSERT INTO appointments SELECT * FROM b.appointments WHERE person_id IN ({0});
    INSERT INTO tags SELECT * FROM b.tags WHERE person_id IN ({0});
    INSERT INTO documents SELECT * FROM b.documents WHERE person_id IN ({0});
    INSERT INTO notes(rowid, person_ref, body)
      SELECT rowid, person_ref, body FROM b.notes WHERE person_ref IN ({0});
    INSERT INTO agenda_items SELECT * FROM b.agenda_items WHERE appointment_id IN
      (SELECT id FROM b.appointments WHERE person_id IN ({0}));
  )sql",
                                   kCompanyTwo));
  auto p = kept(rows({{"companies", {"2"}}}));
  ASSERT_TRUE(p.safe());
  EXPECT_EQ(count(p, "companies", Action::kInsert), 1u);
  EXPECT_EQ(count(p, "persons", Action::kInsert), 9u);
  EXPECT_EQ(count(p, "persons", Action::kReusedKey), 1u) << "person 13 is somebody else now";
  EXPECT_EQ(count(p, "appointments", Action::kInsert), 45u);
  EXPECT_EQ(count(p, "appointments", Action::kBlocked), 5u) << "person 13's, left out";
  EXPECT_EQ(count(p, "tags", Action::kBlocked), 1u);  // 13 % 4 == 1: 'new'
  EXPECT_EQ(count(p, "agenda_items", Action::kBlocked), 5u) << "below the blocked appointments";
  EXPECT_EQ(count(p, "agenda_items", Action::kInsert), 5u) << "person 73's";
  EXPECT_EQ(count(p, "notes", Action::kInsert), 2u) << "25 and 85, through the relation";
  EXPECT_EQ(chosen_of(p).size(), 9u);
  EXPECT_EQ(content_of(live_), before_db_) << "the dry run writes nothing";
  EXPECT_EQ(tree_hash(live_docs_), before_docs_);

  apply_ok(p);
  EXPECT_EQ(content_of(live_), want);
  EXPECT_EQ(query(live_, "SELECT count(*) FROM pragma_foreign_key_check"), 0);
  EXPECT_EQ(query(live_, "SELECT name = 'newcomer' FROM persons WHERE id = 13"), 1);
  for (int id : {1, 25, 109}) {
    auto file = fmt::format("c2/p{}.txt", id);
    EXPECT_EQ(read_file(live_docs_ / file), "document " + file + "\n");
  }
  EXPECT_FALSE(fs::exists(live_docs_ / "c2/p13.txt")) << "its row was not brought back";
  EXPECT_EQ(read_file(live_docs_ / "c3/p2.txt"), "edited after the backup\n");

  auto back = restore::rollback(live_, {});
  ASSERT_TRUE(back) << back.error().message;
  ASSERT_TRUE(back->applied) << back->refusal.message;
  EXPECT_EQ(content_of(live_), before_db_);
  EXPECT_EQ(tree_hash(live_docs_), before_docs_);
}

TEST_F(RecordRestore, WithoutTheRelationRowsThatOnlyTheProfileTiesAreNotTaken) {
  auto o = options(rows({{"companies", {"2"}}}));
  o.selection.relations.clear();
  auto p = plan(o);
  ASSERT_TRUE(p.safe());
  EXPECT_EQ(count(p, "notes", Action::kInsert), 0u);
  EXPECT_EQ(count(p, "persons", Action::kInsert), 9u);
}

TEST_F(RecordRestore, ARowLiveChangedIsKeptUnlessRevertChangedIsGiven) {
  auto p = kept(rows({{"persons", {"2"}}}));
  EXPECT_EQ(count(p, "persons", Action::kKept), 1u);
  EXPECT_EQ(count(p, "appointments", Action::kUnchanged), 5u);
  apply_ok(p);
  EXPECT_EQ(content_of(live_), before_db_) << "nothing to bring back: the change is kept";

  auto want =
      expected("UPDATE persons SET name = (SELECT name FROM b.persons WHERE id = 2) WHERE id = 2");
  auto r = kept(rows({{"persons", {"2"}}}, /*revert=*/true));
  EXPECT_EQ(count(r, "persons", Action::kRevert), 1u);
  apply_ok(r);
  EXPECT_EQ(content_of(live_), want);
}

TEST_F(RecordRestore, AConditionOnTheBackupChoosesRowsAndBringsTheParentsTheyNeed) {
  auto want = expected(R"sql(
    INSERT INTO companies SELECT * FROM b.companies WHERE id = 2;
    INSERT INTO persons SELECT * FROM b.persons WHERE id = 25;
    INSERT INTO appointments SELECT * FROM b.appointments WHERE person_id = 25;
    INSERT INTO tags SELECT * FROM b.tags WHERE person_id = 25;
    INSERT INTO documents SELECT * FROM b.documents WHERE person_id = 25;
    INSERT INTO notes(rowid, person_ref, body)
      SELECT rowid, person_ref, body FROM b.notes WHERE person_ref = 25;
    INSERT INTO agenda_items SELECT * FROM b.agenda_items WHERE appointment_id IN
      (SELECT id FROM b.appointments WHERE person_id = 25);
  )sql");
  restore::Selection s;
  s.where = {{"persons", "email = 'p25@example.com'"}};
  auto p = kept(s);
  EXPECT_EQ(count(p, "companies", Action::kInsert), 1u) << "the parent live lacks";
  EXPECT_EQ(count(p, "persons", Action::kInsert), 1u) << "not the parent's other children";
  apply_ok(p);
  EXPECT_EQ(content_of(live_), want);
  EXPECT_EQ(query(live_, "SELECT count(*) FROM pragma_foreign_key_check"), 0);
}

TEST_F(RecordRestore, BadChoicesAreClearErrorsAndWriteNothing) {
  struct Case {
    restore::Selection sel;
    ErrorCode code;
    const char* says;
  };
  restore::Selection injected, wrong, nowhere, absent;
  injected.where = {{"companies", "1); DELETE FROM companies; --"}};
  wrong.where = {{"persons", "no_such_column = 1"}};
  nowhere.where = {{"persons", "id > 10000"}};
  absent.rows = {{"no_such_table", {"1"}}};
  std::vector<Case> cases = {
      {rows({{"persons", {"9999"}}}), ErrorCode::kNotFound, "no row"},
      {rows({{"tags", {"1"}}}), ErrorCode::kInvalidArgument, "key of 2 columns"},
      {absent, ErrorCode::kInvalidArgument, "no_such_table"},
      {injected, ErrorCode::kInvalidArgument, "not a condition"},
      {wrong, ErrorCode::kInvalidArgument, "no_such_column"},
      {nowhere, ErrorCode::kNotFound, "no row"},
  };
  for (const auto& c : cases) {
    auto p = restore::plan(backup_, options(c.sel));
    ASSERT_FALSE(p) << c.says;
    EXPECT_EQ(p.error().code, c.code) << p.error().message;
    EXPECT_NE(p.error().message.find(c.says), std::string::npos) << p.error().message;
  }
  EXPECT_EQ(content_of(live_), before_db_);
  EXPECT_EQ(query(dir_ / "app.sqlite", "SELECT count(*) FROM companies"), 12);
}

TEST_F(RecordRestore, TheCommandLineListsTheRowsAndRestoresThem) {
  std::vector<std::string> args = {restorekit_exe(),
                                   "restore",
                                   backup_.string(),
                                   "--live",
                                   live_.string(),
                                   "--live-docs",
                                   live_docs_.string(),
                                   "--profile",
                                   (dir_ / "app.toml").string()};
  auto with = [&](std::vector<std::string> more) {
    auto a = args;
    a.insert(a.end(), more.begin(), more.end());
    return a;
  };
  auto text = run(with({"--row", "companies:2", "--dry-run"}));
  ASSERT_EQ(text.exit_code, 0) << text.out << text.err;
  EXPECT_NE(text.out.find("reused-key"), std::string::npos) << text.out;
  auto json = run(with({"--where", "persons", "email = 'p25@example.com'", "--dry-run", "--json"}));
  ASSERT_EQ(json.exit_code, 0) << json.out << json.err;
  auto doc = nlohmann::ordered_json::parse(json.out);
  // Both lists are printed as they are read (the rows, the documents they bring back): the text
  // is still the one document, as the CLI prints any other.
  EXPECT_EQ(doc.dump(2) + "\n", json.out);
  ASSERT_TRUE(doc["records"].is_array());
  EXPECT_TRUE(std::any_of(doc["records"].begin(), doc["records"].end(), [](const auto& r) {
    return r["table"] == "persons" && r["key"] == "25" && r["action"] == "insert";
  })) << json.out;
  EXPECT_FALSE(doc["chosen_documents"].empty()) << json.out;
  auto misuse = run(with({"--revert-changed", "--dry-run"}));
  EXPECT_EQ(misuse.exit_code, 2) << misuse.out;
  EXPECT_NE(misuse.err.find("--revert-changed"), std::string::npos) << misuse.err;
  auto applied = run(with({"--row", "companies:2", "--yes", "--quiet"}));
  ASSERT_EQ(applied.exit_code, 0) << applied.out << applied.err;
  EXPECT_EQ(query(live_, "SELECT count(*) FROM persons WHERE company_id = 2"), 9);
}

// Killed at every step and at random instants: live holds the company or not, and its
// documents match.
TEST_F(RecordRestore, KilledAtAnyInstantLiveIsOldOrNewAndTheDocumentsMatch) {
  run_crash_harness(
      HarnessCase{live_, live_docs_,
                  [this] {
                    return kept(rows({{"companies", {"2"}}}));
                  },
                  [this] { lay_out_live(); }, Method::kSelective, std::nullopt, std::nullopt},
      20, 10);
}

}  // namespace
}  // namespace restorekit::test
