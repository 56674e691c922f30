// Documents in a tenant restore (issue 16, part 4): with a profile's [documents] references, a
// tenant restore brings back the documents that the chosen tenants' rows in the backup name —
// and only those — atomically with the rows, file by file; the dry run shows them; rollback,
// recover and a crash at any instant keep the documents matching the database. Data made with
// sqlite3; archives by restorekit's own backup and by Info-ZIP (documents before the database).
#include <sys/stat.h>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <restorekit/core/profile.hpp>
#include <restorekit/restore/restore.hpp>

#include "crash_harness.hpp"
#include "restore_fixture.hpp"

namespace restorekit::test {
namespace {

const std::string kNfc = "caf\xc3\xa9.pdf";   // "café.pdf" as Linux tools write it
const std::string kNfd = "cafe\xcc\x81.pdf";  // ... and as macOS does

class TenantDocuments : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* tool : {"sqlite3", "zip"}) {
      if (!have_tool(tool)) GTEST_SKIP() << "SKIPPED: " << tool << " is needed";
    }
    auto docs = dir_ / "app/docs";
    write_file(docs / "logo1.png", "acme logo v1\n");
    write_file(docs / "c1/a.pdf", "a v1\n");
    write_file(docs / "c1/photo1.jpg", "photo 1\n");
    write_file(docs / "c1/sub/deep.pdf", "deep\n");
    write_file(docs / "c1" / kNfc, "cafe v1\n");
    write_file(docs / "c2/b.pdf", "b v1\n");
    write_file(docs / "orphan.txt", "orphan v1\n");
    write_file(dir_ / "schema.sql", fmt::format(R"sql(
      CREATE TABLE companies(id INTEGER PRIMARY KEY, name TEXT, logo TEXT);
      CREATE TABLE persons(id INTEGER PRIMARY KEY, company_id INTEGER REFERENCES companies(id),
                           name TEXT, photo TEXT);
      CREATE TABLE documents(id INTEGER PRIMARY KEY, company_id INTEGER, path TEXT);
      INSERT INTO companies VALUES (1, 'Acme', 'logo1.png'), (2, 'Zeta', NULL),
                                   (3, 'Empty', NULL);
      INSERT INTO persons VALUES (1, 1, 'Ann', 'c1/photo1.jpg'), (2, 2, 'Cy', NULL),
                                 (3, 3, 'Dee', NULL);
      INSERT INTO documents VALUES (10, 1, 'c1/a.pdf'), (11, 1, 'c1/sub/deep.pdf'),
                                   (12, 1, 'c1/{}'), (13, 2, 'c2/b.pdf');
    )sql",
                                                kNfc));
    ASSERT_EQ(sh("sqlite3 app/app.sqlite < schema.sql", dir_.path()), 0);
    write_file(dir_ / "app.toml", R"(
      [database]
      tenant_column = "company_id"
      tenant_table = "companies"
      tenant_key = "id"
      tenant_label = "name"
      [documents]
      root = "docs/"
      references = ["documents.path", "persons.photo", "companies.logo"]
    )");
    profile_ = core::load_profile(dir_ / "app.toml").value();
    auto made = run({restorekit_exe(), "backup", "--db", (dir_ / "app/app.sqlite").string(),
                     "--docs", docs.string(), "-o", backup_.string(), "--quiet"});
    ASSERT_EQ(made.exit_code, 0) << made.err;
    // Info-ZIP adds in argument order: the documents come before the database.
    ASSERT_EQ(sh("zip -qr ../foreign.zip docs app.sqlite", dir_ / "app"), 0);
    lay_out_live();
    before_db_ = content_of(live_);
    before_docs_ = tree_hash(live_docs_);
  }

  // Live, worked on since the backup: tenant 1 edited a document, lost two (one in a folder
  // now gone), saved one under the macOS spelling of its name and added one; tenant 2 and the
  // file nobody names changed too.
  void lay_out_live() {
    std::error_code ec;
    fs::remove_all(dir_ / "live", ec);
    fs::create_directories(dir_ / "live");
    fs::copy_file(dir_ / "app/app.sqlite", live_);
    fs::copy(dir_ / "app/docs", live_docs_, fs::copy_options::recursive);
    exec(live_,
         "UPDATE persons SET name = 'Ann (edited)' WHERE id = 1;"
         "UPDATE persons SET name = 'Cy (edited)' WHERE id = 2;"
         "INSERT INTO documents VALUES (14, 1, 'c1/new.pdf')");
    write_file(live_docs_ / "c1/a.pdf", "a v2 live\n");
    fs::remove(live_docs_ / "c1/photo1.jpg");
    fs::remove_all(live_docs_ / "c1/sub");
    fs::remove(live_docs_ / "c1" / kNfc);
    write_file(live_docs_ / "c1" / kNfd, "cafe v2 live\n");
    write_file(live_docs_ / "c1/new.pdf", "new live\n");
    write_file(live_docs_ / "c2/b.pdf", "b v2 live\n");
    write_file(live_docs_ / "orphan.txt", "orphan v2 live\n");
    write_file(live_docs_ / "logo1.png", "acme logo v2 live\n");
  }

  restore::PlanOptions options(std::vector<std::string> tenants = {"1"}) {
    restore::PlanOptions o;
    o.live = live_;
    restore::apply_profile(o, profile_);
    o.live_documents = live_docs_;
    o.selection.tenants = std::move(tenants);
    return o;
  }

  restore::Plan plan(restore::PlanOptions o, const fs::path& archive) {
    auto p = restore::plan(archive, o);
    EXPECT_TRUE(p) << p.error().message;
    return p ? std::move(*p) : restore::Plan{};
  }

  restore::Plan kept_plan(const fs::path& archive) {
    auto o = options();
    o.plan_out = dir_ / fmt::format("plan-{}", ++plans_);
    return plan(o, archive);
  }

  std::string live_file(const std::string& rel) { return read_file(live_docs_ / rel); }

  // Live as a tenant 1 restore leaves it: that tenant's documents are the backup's, the rest
  // is live's.
  void expect_tenant_one_restored() {
    EXPECT_EQ(live_file("logo1.png"), "acme logo v1\n");
    EXPECT_EQ(live_file("c1/a.pdf"), "a v1\n");
    EXPECT_EQ(live_file("c1/photo1.jpg"), "photo 1\n");
    EXPECT_EQ(live_file("c1/sub/deep.pdf"), "deep\n");
    EXPECT_EQ(live_file("c1/" + kNfd), "cafe v1\n") << "replaced under live's own spelling";
    EXPECT_FALSE(fs::exists(live_docs_ / "c1" / kNfc)) << "no second spelling beside it";
    EXPECT_EQ(live_file("c1/new.pdf"), "new live\n") << "a document only live has stays";
    EXPECT_EQ(live_file("c2/b.pdf"), "b v2 live\n") << "another tenant's document stays";
    EXPECT_EQ(live_file("orphan.txt"), "orphan v2 live\n") << "a document no row names stays";
    EXPECT_EQ(query(live_, "SELECT count(*) FROM persons WHERE name = 'Ann'"), 1);
    EXPECT_EQ(query(live_, "SELECT count(*) FROM documents WHERE id = 14"), 0);
    EXPECT_EQ(query(live_, "SELECT count(*) FROM persons WHERE name = 'Cy (edited)'"), 1);
  }

  ScratchDir dir_;
  fs::path live_ = dir_ / "live/app.sqlite";
  fs::path live_docs_ = dir_ / "live/docs";
  fs::path backup_ = dir_ / "ours.tar.zst";
  core::Profile profile_;
  core::Digest128 before_db_;
  std::string before_docs_;
  int plans_ = 0;
};

TEST_F(TenantDocuments, TheDryRunShowsTheTenantsDocumentsAndTouchesNothing) {
  auto p = plan(options(), backup_);
  ASSERT_TRUE(p.safe());
  std::vector<restore::ChosenDocument> want = {
      {"c1/a.pdf", "c1/a.pdf", true},
      {"c1/" + kNfc, "c1/" + kNfd, true},
      {"c1/photo1.jpg", "c1/photo1.jpg", false},
      {"c1/sub/deep.pdf", "c1/sub/deep.pdf", false},
      {"logo1.png", "logo1.png", true},
  };
  EXPECT_EQ(chosen_of(p), want);
  ASSERT_TRUE(p.chosen_documents);
  EXPECT_EQ(p.chosen_documents->count, 5u);
  EXPECT_EQ(p.chosen_documents->replaced, 3u);
  ASSERT_TRUE(p.effects.documents);
  EXPECT_EQ(p.effects.documents->revived, 2u);
  EXPECT_EQ(p.effects.documents->changed, 3u);
  EXPECT_EQ(p.effects.documents->unchanged, 0u);
  EXPECT_EQ(p.effects.documents->lost, 0u) << "the other documents are not the restore's";
  EXPECT_EQ(p.document_files, 5u);
  EXPECT_TRUE(std::any_of(p.steps.begin(), p.steps.end(), [](const std::string& s) {
    return s.find("one by one") != std::string::npos;
  }));
  EXPECT_EQ(content_of(live_), before_db_);
  EXPECT_EQ(tree_hash(live_docs_), before_docs_);
}

TEST_F(TenantDocuments, ApplyBringsBackTheTenantsRowsAndDocumentsOnlyAndRollbackUndoesIt) {
  for (const char* archive : {"ours.tar.zst", "foreign.zip"}) {
    SCOPED_TRACE(archive);
    lay_out_live();
    auto p = kept_plan(dir_ / archive);
    ASSERT_TRUE(p.safe());
    ASSERT_TRUE(p.staged_documents);
    EXPECT_EQ(files_below(*p.staged_documents),
              (std::vector<std::string>{"c1/a.pdf", "c1/" + kNfc, "c1/photo1.jpg",
                                        "c1/sub/deep.pdf", "logo1.png"}))
        << "only the chosen documents stay staged";
    auto r = restore::apply(p, {});
    ASSERT_TRUE(r) << r.error().message;
    ASSERT_TRUE(r->applied) << r->refusal.message;
    expect_tenant_one_restored();
    auto rolled = restore::rollback(live_, {});
    ASSERT_TRUE(rolled) << rolled.error().message;
    ASSERT_TRUE(rolled->applied) << rolled->refusal.message;
    EXPECT_EQ(content_of(live_), before_db_);
    EXPECT_EQ(tree_hash(live_docs_), before_docs_)
        << "every document back, the added ones and the folder made for them gone";
    // Rolling the rollback back is the restore again.
    auto again = restore::rollback(live_, {});
    ASSERT_TRUE(again) << again.error().message;
    ASSERT_TRUE(again->applied) << again->refusal.message;
    expect_tenant_one_restored();
  }
}

// A safety snapshot written before the list moved out of snapshot.json (restorekit.snapshot/1
// listed each file in it) still rolls back, and the list beside a new one is what it reads.
TEST_F(TenantDocuments, ASnapshotThatListsItsDocumentsInItsJsonRollsBackToo) {
  auto p = kept_plan(backup_);
  ASSERT_TRUE(p.safe());
  auto r = restore::apply(p, {});
  ASSERT_TRUE(r && r->applied);
  auto list = r->snapshot / "documents.sqlite";
  ASSERT_TRUE(fs::exists(list));
  auto j = nlohmann::json::parse(read_file(r->snapshot / "snapshot.json"));
  EXPECT_EQ(j["document_files"], "documents.sqlite");
  nlohmann::json files = nlohmann::json::array();
  auto db = core::Database::open(list, core::OpenMode::kReadOnly);
  ASSERT_TRUE(db);
  auto st = db->prepare("SELECT live, staged, live_ino FROM files ORDER BY seq");
  ASSERT_TRUE(st);
  while (*st->step()) {
    files.push_back({{"live", std::string(st->column_text(0))},
                     {"kept", std::string(st->column_text(1))},
                     {"existed", st->column_int(2) != 0}});
  }
  EXPECT_EQ(files.size(), 5u);
  st = tl::unexpected(Error{});
  db = tl::unexpected(Error{});
  fs::remove(list);
  j["schema"] = "restorekit.snapshot/1";
  j["document_files"] = files;
  write_file(r->snapshot / "snapshot.json", j.dump());
  auto rolled = restore::rollback(live_, {});
  ASSERT_TRUE(rolled) << rolled.error().message;
  ASSERT_TRUE(rolled->applied) << rolled->refusal.message;
  EXPECT_EQ(content_of(live_), before_db_);
  EXPECT_EQ(tree_hash(live_docs_), before_docs_);
}

TEST_F(TenantDocuments, WithoutReferencesOrForATableRestoreTheDocumentsAreLeftAlone) {
  auto bare = profile_;
  bare.references.clear();
  for (int table = 0; table < 2; ++table) {
    lay_out_live();
    auto o = options();
    if (table) {
      o.selection.tenants.clear();
      o.selection.tables = {"persons"};
    } else {
      o.profile = bare;
    }
    o.plan_out = dir_ / fmt::format("plan-alone-{}", table);
    auto p = plan(o, backup_);
    ASSERT_TRUE(p.safe());
    EXPECT_TRUE(std::any_of(p.checks.begin(), p.checks.end(), [](const core::Finding& f) {
      return f.code == "DOCUMENTS_LEFT_ALONE";
    }));
    EXPECT_FALSE(p.live_documents);
    auto r = restore::apply(p, {});
    ASSERT_TRUE(r) << r.error().message;
    ASSERT_TRUE(r->applied) << r->refusal.message;
    EXPECT_EQ(tree_hash(live_docs_), before_docs_) << (table ? "table" : "tenant") << " restore";
    EXPECT_NE(content_of(live_), before_db_);
  }
}

TEST_F(TenantDocuments, ATenantWhoseRowsNameNoDocumentRestoresRowsOnly) {
  exec(live_, "UPDATE persons SET name = 'Dee (edited)' WHERE id = 3");
  auto o = options({"3"});
  o.plan_out = dir_ / "plan-3";
  auto p = plan(o, backup_);
  ASSERT_TRUE(p.safe());
  EXPECT_FALSE(p.chosen_documents);
  auto r = restore::apply(p, {});
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_TRUE(r->applied) << r->refusal.message;
  EXPECT_EQ(query(live_, "SELECT count(*) FROM persons WHERE name = 'Dee'"), 1);
  EXPECT_EQ(tree_hash(live_docs_), before_docs_);
}

TEST_F(TenantDocuments, ALinkWhereADocumentGoesBlocksThePlan) {
  auto elsewhere = dir_ / "elsewhere";
  fs::create_directories(elsewhere);
  fs::remove_all(live_docs_ / "c1");
  fs::create_directory_symlink(elsewhere, live_docs_ / "c1");
  auto p = plan(options(), backup_);
  EXPECT_FALSE(p.safe());
  EXPECT_TRUE(std::any_of(p.checks.begin(), p.checks.end(), [](const core::Finding& f) {
    return f.code == "NOT_RESTORABLE_HERE" && f.severity == core::Severity::kError;
  }));
  EXPECT_TRUE(files_below(elsewhere).empty());
}

TEST_F(TenantDocuments, ADocumentChangedAfterThePlanMakesApplyRefuse) {
  auto p = kept_plan(backup_);
  ASSERT_TRUE(p.safe());
  write_file(live_docs_ / "c2/b.pdf", "b v3, written after the plan\n");
  auto r = restore::apply(p, {});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_FALSE(r->applied);
  EXPECT_EQ(r->refusal.code, "DOCUMENTS_CHANGED");
  EXPECT_EQ(content_of(live_), before_db_);
  EXPECT_EQ(live_file("c1/a.pdf"), "a v2 live\n");
}

TEST_F(TenantDocuments, TheCommandLineShowsTheDocumentsAndRestoresThem) {
  std::vector<std::string> args = {restorekit_exe(),
                                   "restore",
                                   backup_.string(),
                                   "--live",
                                   live_.string(),
                                   "--live-docs",
                                   live_docs_.string(),
                                   "--profile",
                                   (dir_ / "app.toml").string(),
                                   "--tenant",
                                   "1"};
  auto with = [&](std::vector<std::string> more) {
    auto a = args;
    a.insert(a.end(), more.begin(), more.end());
    return a;
  };
  auto text = run(with({"--dry-run"}));
  ASSERT_EQ(text.exit_code, 0) << text.out << text.err;
  EXPECT_NE(text.out.find("documents of the chosen rows: 5 (3 replaced, 2 added"),
            std::string::npos)
      << text.out;
  EXPECT_NE(text.out.find("add     c1/sub/deep.pdf"), std::string::npos) << text.out;
  auto json = run(with({"--dry-run", "--json"}));
  ASSERT_EQ(json.exit_code, 0) << json.err;
  auto doc = nlohmann::json::parse(json.out);
  ASSERT_EQ(doc["chosen_documents"].size(), 5u);
  EXPECT_EQ(doc["chosen_documents"][1]["live_path"], "c1/" + kNfd);
  EXPECT_EQ(doc["effects"]["documents"]["lost"], 0);
  EXPECT_EQ(tree_hash(live_docs_), before_docs_);
  // apply removes the staging folder that held the list; the report still lists the documents.
  auto applied = run(with({"--yes", "--json"}));
  ASSERT_EQ(applied.exit_code, 0) << applied.out << applied.err;
  auto after = nlohmann::json::parse(applied.out);
  EXPECT_EQ(after["verdict"], "restored");
  ASSERT_EQ(after["chosen_documents"].size(), 5u) << applied.out;
  EXPECT_EQ(after["chosen_documents"][4]["path"], "logo1.png");
  expect_tenant_one_restored();
}

// The list of a kept plan's documents is a file beside plan.json: one edited to send a document
// elsewhere is refused, live untouched.
TEST_F(TenantDocuments, AnEditedListOfTheDocumentsIsRefused) {
  auto p = kept_plan(backup_);
  ASSERT_TRUE(p.safe());
  ASSERT_TRUE(p.chosen_documents);
  exec(p.chosen_documents->file.path, "UPDATE chosen SET live_path = 'orphan.txt'");
  auto r = restore::apply(p, {});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_FALSE(r->applied);
  EXPECT_EQ(r->refusal.code, "PLAN_TAMPERED") << r->refusal.message;
  EXPECT_EQ(content_of(live_), before_db_);
  EXPECT_EQ(tree_hash(live_docs_), before_docs_);
}

// Killed at every step and at random instants, the tenant's documents always match its rows.
TEST_F(TenantDocuments, KilledAtAnyInstantTheDocumentsMatchTheRows) {
  run_crash_harness(
      HarnessCase{live_, live_docs_, [this] { return kept_plan(backup_); },
                  [this] { lay_out_live(); }, Method::kSelective, std::nullopt, std::nullopt},
      20, 10);
}

}  // namespace
}  // namespace restorekit::test
