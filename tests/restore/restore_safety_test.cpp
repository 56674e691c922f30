// restore never loses data (issue 11): layouts where the documents folder and the live database
// meet, plans tampered with between the dry run and apply, paths that are both a file and a
// folder, symlinked and mounted documents folders, documents changed after the plan, a nearly
// full live filesystem, names and tables this machine cannot restore. Each test failed before
// its fix.
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include <restorekit/core/version.hpp>
#include <restorekit/verify/verify.hpp>

#include "restore_fixture.hpp"

namespace restorekit::test {
namespace {

using nlohmann::json;

json read_json_file(const fs::path& p) {
  return json::parse(read_file(p));
}

void write_json_file(const fs::path& p, const json& j) {
  write_file(p, j.dump(2));
}

bool has_code(const std::vector<core::Finding>& findings, const std::string& code,
              core::Severity s) {
  return std::any_of(findings.begin(), findings.end(),
                     [&](const auto& f) { return f.code == code && f.severity == s; });
}

std::string messages(const std::vector<core::Finding>& findings) {
  std::string out;
  for (const auto& f : findings) out += f.code + ": " + f.message + "\n";
  return out;
}

class RestoreSafetyTest : public RestoreTest {
 protected:
  // Applies a (possibly tampered) kept plan and requires that nothing happened: apply refused
  // or failed, live's database and documents are unchanged, and no journal is left.
  void expect_refused(const fs::path& plan_dir, const std::string& why) {
    SCOPED_TRACE(why);
    auto db_before = content_of(live_);
    auto docs_before = tree_hash(live_docs_);
    auto loaded = restore::load_plan(plan_dir);
    if (loaded) {
      auto r = restore::apply(*loaded, {});
      if (r) {
        EXPECT_FALSE(r->applied) << "a tampered plan was applied";
        EXPECT_FALSE(r->refusal.message.empty());
        last_refusal_ = r->refusal.message;
      } else {
        last_refusal_ = r.error().message;
      }
    } else {
      last_refusal_ = loaded.error().message;
    }
    EXPECT_EQ(content_of(live_), db_before);
    EXPECT_EQ(tree_hash(live_docs_), docs_before);
    EXPECT_FALSE(fs::is_symlink(live_docs_));
    EXPECT_FALSE(fs::exists(core::restore_journal_path(live_)));
  }

  fs::path staged_docs(const fs::path& plan_dir) { return plan_dir / "files" / "docs"; }

  // What this machine cannot restore: verify warns (NOT_RESTORABLE_HERE), the dry run blocks.
  void expect_warned_then_blocked(const fs::path& archive, const restore::PlanOptions& o) {
    verify::VerifyOptions vo;
    auto v = verify::verify(archive, vo);
    ASSERT_TRUE(v) << v.error().message;
    EXPECT_TRUE(has_code(v->findings, "NOT_RESTORABLE_HERE", core::Severity::kWarning))
        << messages(v->findings);
    auto p = restore::plan(archive, o);
    ASSERT_TRUE(p) << p.error().message;
    EXPECT_FALSE(p->safe());
    EXPECT_TRUE(has_code(p->checks, "NOT_RESTORABLE_HERE", core::Severity::kError))
        << messages(p->checks);
  }

  std::string last_refusal_;
};

// --- B1: the documents folder must not hold (or sit inside) anything of live -----------------

TEST_F(RestoreSafetyTest, DocumentsFolderHoldingTheLiveDatabaseIsRefused) {
  auto app = scratch_ / "together";
  fs::create_directories(app);
  fs::copy_file(live_, app / "app.sqlite");
  fs::copy(live_docs_, app / "docs", fs::copy_options::recursive);
  write_file(app / "config.ini", "cfg\n");
  auto before = tree_hash(app);
  auto o = options();
  o.live = app / "app.sqlite";
  o.live_documents = app;
  o.plan_out = scratch_ / "plan-together";
  auto p = restore::plan(backup_, o);
  ASSERT_FALSE(p) << "a documents folder holding the live database was accepted";
  EXPECT_EQ(p.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(p.error().message.find("holds the live database"), std::string::npos)
      << p.error().message;
  EXPECT_EQ(tree_hash(app), before);
  EXPECT_TRUE(fs::exists(app / "config.ini"));
}

TEST_F(RestoreSafetyTest, DocumentsFolderInsideRestoreStateOrHoldingThePlanIsRefused) {
  auto state = core::restore_state_dir(live_);
  fs::create_directories(state / "docs");
  auto inside_state = options();
  inside_state.live_documents = state / "docs";
  EXPECT_FALSE(restore::plan(backup_, inside_state));

  auto plan_in_docs = options();
  plan_in_docs.plan_out = live_docs_ / "plan";
  auto p = restore::plan(backup_, plan_in_docs);
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().message.find("plan"), std::string::npos) << p.error().message;
  EXPECT_FALSE(fs::exists(live_docs_ / "plan"));

  auto docs_is_live = options();
  docs_is_live.live_documents = live_;
  EXPECT_FALSE(restore::plan(backup_, docs_is_live));
}

TEST_F(RestoreSafetyTest, APlanRewrittenToSwapTheDatabaseFolderIsRefused) {
  auto p = kept_plan();
  ASSERT_TRUE(p.safe());
  auto j = read_json_file(*p.plan_dir / "plan.json");
  j["live_documents"] = live_.parent_path().string();  // the folder that holds live
  write_json_file(*p.plan_dir / "plan.json", j);
  auto live_dir_before = fs::exists(live_) ? file_hash(live_) : "";
  expect_refused(*p.plan_dir, "live_documents rewritten to the database's folder");
  EXPECT_EQ(file_hash(live_), live_dir_before);
  EXPECT_TRUE(fs::exists(core::restore_state_dir(live_)));
}

// A journal (left by a kill, or written by hand) whose documents or clean-up point at the
// database's folder: recover moves and removes nothing.
TEST_F(RestoreSafetyTest, RecoverNeverMovesOrRemovesAFolderThatHoldsLive) {
  auto p = kept_plan();
  auto r = restore::apply(p, {});
  ASSERT_TRUE(r && r->applied);
  auto db_before = file_hash(live_);
  auto folder_before = tree_hash(live_.parent_path());
  json journal = {{"schema", std::string(core::schema::kJournal)},
                  {"kind", "restore"},
                  {"state", "committed"},
                  {"live", live_.string()},
                  {"staged_database", (scratch_ / "x.sqlite").string()},
                  {"old_hash", core::Digest128{}.hex()},
                  {"new_hash", content_of(live_).hex()},
                  {"snapshot", r->snapshot.string()},
                  {"remove_after", live_.parent_path().string()},
                  {"documents",
                   {{"live", live_.parent_path().string()},
                    {"staged", (scratch_ / "elsewhere").string()},
                    {"staged_ino", 1},
                    {"live_ino", 2}}},
                  {"selection", nullptr}};
  write_json_file(core::restore_journal_path(live_), journal);
  auto rec = restore::recover(live_);
  ASSERT_FALSE(rec) << "recover followed a journal that moves the database's folder";
  EXPECT_NE(rec.error().message.find("nothing was changed"), std::string::npos)
      << rec.error().message;
  EXPECT_EQ(file_hash(live_), db_before);
  EXPECT_TRUE(fs::exists(core::restore_journal_path(live_))) << "the journal is kept";
  fs::remove(core::restore_journal_path(live_));
  EXPECT_EQ(tree_hash(live_.parent_path()), folder_before);
}

// --- B2: apply installs exactly what the dry run checked ----------------------------------------

TEST_F(RestoreSafetyTest, StagedDocumentsReplacedByASymlinkAreRefused) {
  auto p = kept_plan();
  auto elsewhere = scratch_ / "elsewhere";
  fs::create_directories(elsewhere);
  write_file(elsewhere / "x.txt", "x");
  fs::remove_all(staged_docs(*p.plan_dir));
  fs::create_directory_symlink(elsewhere, staged_docs(*p.plan_dir));
  expect_refused(*p.plan_dir, "files/docs is a symlink");
}

TEST_F(RestoreSafetyTest, LinksFifosAndExtraFilesInTheStagedTreeAreRefused) {
  struct Case {
    std::string name;
    std::function<void(const fs::path&)> tamper;
  };
  std::vector<Case> cases = {
      {"symlink to /etc/passwd",
       [](const fs::path& d) { fs::create_symlink("/etc/passwd", d / "passwd"); }},
      {"symlink to /", [](const fs::path& d) { fs::create_directory_symlink("/", d / "root"); }},
      {"fifo", [](const fs::path& d) { ASSERT_EQ(::mkfifo((d / "fifo").c_str(), 0600), 0); }},
      {"extra file", [](const fs::path& d) { write_file(d / "extra.txt", "planted"); }},
      {"changed file",
       [](const fs::path& d) {
         for (const auto& e : fs::recursive_directory_iterator(d)) {
           if (e.is_regular_file()) {
             write_file(e.path(), "changed");
             return;
           }
         }
       }},
      {"removed file",
       [](const fs::path& d) {
         for (const auto& e : fs::recursive_directory_iterator(d)) {
           if (e.is_regular_file()) {
             fs::remove(e.path());
             return;
           }
         }
       }},
  };
  for (const auto& c : cases) {
    auto p = kept_plan();
    ASSERT_TRUE(p.safe());
    c.tamper(staged_docs(*p.plan_dir));
    expect_refused(*p.plan_dir, c.name);
    EXPECT_NE(last_refusal_.find("staged"), std::string::npos) << c.name << ": " << last_refusal_;
    restore::discard(p);
  }
}

TEST_F(RestoreSafetyTest, AReplacedStagedDatabaseIsRefusedBeforeTheCommit) {
  auto p = kept_plan();
  fs::remove(*p.plan_dir / "database.sqlite");
  fs::copy_file(live_, *p.plan_dir / "database.sqlite");
  exec(*p.plan_dir / "database.sqlite", "DELETE FROM settings");
  expect_refused(*p.plan_dir, "database.sqlite replaced");
  EXPECT_NE(last_refusal_.find("staged database"), std::string::npos) << last_refusal_;
}

TEST_F(RestoreSafetyTest, PlanPathsRewrittenOutsideThePlanAreRefused) {
  auto other = scratch_ / "other.sqlite";
  fs::copy_file(live_, other);
  exec(other, "DELETE FROM settings");
  for (const std::string& path : {other.string(), std::string("../other.sqlite")}) {
    auto p = kept_plan();
    auto j = read_json_file(*p.plan_dir / "plan.json");
    j["staged_database"] = path;
    write_json_file(*p.plan_dir / "plan.json", j);
    expect_refused(*p.plan_dir, "staged_database = " + path);
  }
  auto p = kept_plan();
  auto j = read_json_file(*p.plan_dir / "plan.json");
  auto decoy = scratch_ / "decoy-docs";
  fs::create_directories(decoy);
  write_file(decoy / "keep.txt", "keep");
  j["live_documents"] = decoy.string();
  write_json_file(*p.plan_dir / "plan.json", j);
  expect_refused(*p.plan_dir, "live_documents rewritten");
  EXPECT_EQ(read_file(decoy / "keep.txt"), "keep");
}

// Staged documents named outside the plan's folder, and a hash that is not one, are an edited
// plan: load_plan refuses it by name, before apply reads anything.
TEST_F(RestoreSafetyTest, StagedDocumentsOutsideThePlanOrABadHashAreRefused) {
  auto decoy = scratch_ / "decoy-staged";
  fs::create_directories(decoy);
  write_file(decoy / "keep.txt", "keep");
  auto p = kept_plan();
  ASSERT_TRUE(p.safe());
  auto j = read_json_file(*p.plan_dir / "plan.json");
  ASSERT_FALSE(j.value("staged_documents", "").empty()) << "the kept plan stages documents";
  j["staged_documents"] = decoy.string();
  write_json_file(*p.plan_dir / "plan.json", j);
  expect_refused(*p.plan_dir, "staged_documents outside the plan");
  EXPECT_NE(last_refusal_.find("names staged documents outside the plan"), std::string::npos)
      << last_refusal_;
  EXPECT_EQ(read_file(decoy / "keep.txt"), "keep");

  for (const std::string key : {"live_hash", "result_hash", "staged_database_xxh128"}) {
    p = kept_plan();
    j = read_json_file(*p.plan_dir / "plan.json");
    j[key] = "not-a-hash";
    write_json_file(*p.plan_dir / "plan.json", j);
    expect_refused(*p.plan_dir, key + " not a hash");
    EXPECT_NE(last_refusal_.find("holds a bad hash"), std::string::npos) << last_refusal_;
  }
}

// The trees a plan keeps beside plan.json (what the staged documents and the live folder were)
// are files someone could edit to hide a change: apply refuses one whose bytes are not those
// plan.json records, and a plan.json that names another file. A plan of another version is
// named as such.
TEST_F(RestoreSafetyTest, ADocumentsTreeEditedInThePlanFolderIsRefused) {
  for (const std::string name : {"staged-tree.sqlite", "live-tree.sqlite"}) {
    SCOPED_TRACE(name);
    auto p = kept_plan();
    ASSERT_TRUE(p.safe());
    ASSERT_TRUE(fs::exists(*p.plan_dir / name));
    exec(*p.plan_dir / name, "DELETE FROM tree WHERE path = (SELECT max(path) FROM tree)");
    expect_refused(*p.plan_dir, name + " edited");
    EXPECT_NE(last_refusal_.find("is not the file the dry run wrote"), std::string::npos)
        << last_refusal_;
  }
  auto p = kept_plan();
  fs::copy_file(*p.plan_dir / "live-tree.sqlite", *p.plan_dir / "other.sqlite");
  auto j = read_json_file(*p.plan_dir / "plan.json");
  j["live_tree"]["file"] = "other.sqlite";
  write_json_file(*p.plan_dir / "plan.json", j);
  expect_refused(*p.plan_dir, "live_tree names another file");
  EXPECT_NE(last_refusal_.find("names a file other than"), std::string::npos) << last_refusal_;

  p = kept_plan();
  j = read_json_file(*p.plan_dir / "plan.json");
  j["schema"] = "restorekit.plan/1";
  write_json_file(*p.plan_dir / "plan.json", j);
  expect_refused(*p.plan_dir, "a plan of version 1");
  EXPECT_NE(last_refusal_.find("a plan of another restorekit version (restorekit.plan/1"),
            std::string::npos)
      << last_refusal_;
}

TEST_F(RestoreSafetyTest, APlanFolderOthersCanWriteIsRefused) {
  auto p = kept_plan();
  struct stat st {};
  ASSERT_EQ(::stat(p.plan_dir->c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u) << "a plan folder is private";
  fs::permissions(*p.plan_dir, fs::perms::group_write | fs::perms::others_write,
                  fs::perm_options::add);
  expect_refused(*p.plan_dir, "plan folder writable by others");
  EXPECT_NE(last_refusal_.find("0700"), std::string::npos) << last_refusal_;
}

// --- B3: a path that is both a file and a folder ---------------------------------------------

TEST_F(RestoreSafetyTest, APathThatIsBothFileAndFolderIsAPathConflict) {
  auto db = read_file(app_ / "app.sqlite");
  auto tar = scratch_ / "conflict.tar";
  write_bytes(tar, raw_tar({{"app.sqlite", 0100000, db, ""},
                            {"docs/sub/file", 0100000, "inner", ""},
                            {"docs/sub", 0100000, "outer", ""}}));
  auto zip = scratch_ / "conflict.zip";
  write_bytes(zip, make_archive(core::ArchiveKind::kZip, {{"app.sqlite", db},
                                                          {"docs/sub", "outer"},
                                                          {"docs/sub/file", "inner"},
                                                          {"docs/a/b", "x"}}));
  // An in-tree link followed by an entry through it: the same conflict, never dropped silently.
  auto linked = scratch_ / "linked.tar";
  write_bytes(linked, raw_tar({{"app.sqlite", 0100000, db, ""},
                               {"docs/d/x", 0100000, "x", ""},
                               {"docs/l", 0120000, "", "d"},
                               {"docs/l/f", 0100000, "through the link", ""}}));
  for (const auto& archive : {tar, zip, linked}) {
    SCOPED_TRACE(archive.filename().string());
    for (int run = 0; run < 4; ++run) {
      verify::VerifyOptions vo;
      vo.threads = 2;
      auto v = verify::verify(archive, vo);
      ASSERT_TRUE(v) << v.error().message;
      EXPECT_TRUE(has_code(v->findings, "PATH_CONFLICT", core::Severity::kError))
          << messages(v->findings);
      EXPECT_FALSE(v->intact());
    }
    auto o = options();
    o.plan_out = scratch_ / ("conflict-plan-" + archive.filename().string());
    auto p = restore::plan(archive, o);
    ASSERT_TRUE(p) << p.error().message;
    EXPECT_FALSE(p->safe());
    EXPECT_TRUE(has_code(p->checks, "PATH_CONFLICT", core::Severity::kError));
    restore::discard(*p);
  }
}

// --- B4: a documents folder that is a symlink keeps its link ---------------------------------

TEST_F(RestoreSafetyTest, SymlinkedDocumentsKeepTheirLinkAndRollBack) {
  std::vector<fs::path> targets = {scratch_ / "real-docs"};
  auto shm = fs::path("/dev/shm") / fmt::format("rk-docs-{}", ::getpid());
  struct RemoveAfter {
    fs::path p;
    ~RemoveAfter() {
      std::error_code ec;
      fs::remove_all(p, ec);
    }
  } guard{shm};
  struct stat a {
  }, b{};
  if (::stat("/dev/shm", &a) == 0 && ::stat(scratch_.path().c_str(), &b) == 0 &&
      a.st_dev != b.st_dev) {
    targets.push_back(shm / "docs");  // another filesystem than live's
  }
  auto old_docs = tree_hash(live_docs_);
  auto new_docs = tree_hash(app_ / "docs");
  auto pristine = scratch_ / "pristine-docs";
  fs::copy(live_docs_, pristine, fs::copy_options::recursive);
  fs::remove_all(live_docs_);
  for (const auto& target : targets) {
    SCOPED_TRACE(target.string());
    std::error_code ec;
    fs::remove(live_docs_, ec);
    fs::remove_all(target, ec);
    fs::create_directories(target.parent_path());
    fs::copy(pristine, target, fs::copy_options::recursive);
    fs::create_directory_symlink(target, live_docs_);
    auto p = kept_plan();
    ASSERT_TRUE(p.safe()) << messages(p.checks);
    auto r = restore::apply(p, {});
    ASSERT_TRUE(r) << r.error().message;
    ASSERT_TRUE(r->applied) << r->refusal.message;
    ASSERT_TRUE(fs::is_symlink(live_docs_)) << "the link was replaced by a folder";
    EXPECT_EQ(fs::read_symlink(live_docs_), target);
    EXPECT_EQ(tree_hash(target), new_docs);
    auto back = restore::rollback(live_, {});
    ASSERT_TRUE(back) << back.error().message;
    ASSERT_TRUE(back->applied) << back->refusal.message;
    ASSERT_TRUE(fs::is_symlink(live_docs_));
    EXPECT_EQ(tree_hash(target), old_docs);
    // The next target starts without this one's snapshots.
    fs::remove_all(core::restore_state_dir(live_));
  }
}

// --- documents changed after the dry run -----------------------------------------------------

// The documents are compared whole before the lock; a document uploaded after that, while apply
// takes the lock, still shows under it (its folder's mtime moved) and apply refuses.
TEST_F(RestoreSafetyTest, ADocumentUploadedWhileApplyTakesTheLockMakesItRefuse) {
  auto p = kept_plan();
  restore::ApplyOptions ao;
  ao.on_step = [&](std::string_view step) {
    if (step == "locked") write_file(live_docs_ / "uploaded-at-the-lock.pdf", "late upload");
  };
  auto r = restore::apply(p, ao);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_FALSE(r->applied);
  EXPECT_EQ(r->refusal.code, "DOCUMENTS_CHANGED") << r->refusal.message;
  EXPECT_EQ(read_file(live_docs_ / "uploaded-at-the-lock.pdf"), "late upload");
  EXPECT_FALSE(fs::exists(core::restore_journal_path(live_)));
}

TEST_F(RestoreSafetyTest, DocumentsChangedAfterThePlanMakeApplyRefuse) {
  auto p = kept_plan();
  write_file(live_docs_ / "uploaded-after-plan.pdf", "new upload");
  auto r = restore::apply(p, {});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_FALSE(r->applied);
  EXPECT_NE(r->refusal.message.find("uploaded-after-plan.pdf"), std::string::npos)
      << r->refusal.message;
  EXPECT_EQ(r->refusal.code, "DOCUMENTS_CHANGED");
  EXPECT_NE(r->refusal.message.find("changed since the plan"), std::string::npos)
      << r->refusal.message;
  EXPECT_EQ(read_file(live_docs_ / "uploaded-after-plan.pdf"), "new upload");
  restore::discard(p);

  auto q = kept_plan();
  for (const auto& e : fs::recursive_directory_iterator(live_docs_)) {
    if (e.is_regular_file() && e.path().filename() != "uploaded-after-plan.pdf") {
      std::ofstream(e.path(), std::ios::app) << "edited";
      break;
    }
  }
  auto s = restore::apply(q, {});
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_FALSE(s->applied);
  EXPECT_NE(s->refusal.message.find("changed since the plan"), std::string::npos)
      << s->refusal.message;
  restore::discard(q);

  // Touched (mtime moved) or rewritten with the same bytes: the content is what was planned.
  auto t = kept_plan();
  for (const auto& e : fs::recursive_directory_iterator(live_docs_)) {
    if (!e.is_regular_file()) continue;
    auto same = read_file(e.path());
    fs::remove(e.path());
    write_file(e.path(), same);  // a new inode and mtime, the same bytes
  }
  write_file(live_docs_ / "tmp.lock", "x");
  fs::remove(live_docs_ / "tmp.lock");  // the folder's mtime moves, nothing in it changed
  auto u = restore::apply(t, {});
  ASSERT_TRUE(u) << u.error().message;
  EXPECT_TRUE(u->applied) << u->refusal.message;
}

// --- a nearly full live filesystem -----------------------------------------------------------

TEST_F(RestoreSafetyTest, ADryRunOnANearlyFullFilesystemStagesElsewhereAndLeavesLiveRoom) {
  auto mount = scratch_ / "tight";
  Tmpfs tmpfs(mount, "8m");
  RK_REQUIRE_TMPFS(tmpfs);
  auto live = mount / "app.sqlite";
  fs::copy_file(live_, live);
  ASSERT_LT(fs::file_size(live), 6u << 20);
  // Fill the filesystem to leave less than the live database's size free.
  struct statvfs sv {};
  ASSERT_EQ(::statvfs(mount.c_str(), &sv), 0);
  auto free_bytes = static_cast<std::uint64_t>(sv.f_bavail) * sv.f_frsize;
  std::uint64_t keep = std::min<std::uint64_t>(fs::file_size(live) / 2, 512 * 1024);
  write_file(mount / "filler", std::string(free_bytes - keep, 'f'));
  auto o = options();
  o.live = live;
  o.live_documents.reset();
  auto p = restore::plan(backup_, o);
  ASSERT_TRUE(p) << p.error().message;
  // The prediction is honest: apply would not fit (snapshot + staged copy); nothing else blocks.
  for (const auto& f : p->checks) {
    if (f.severity == core::Severity::kError) {
      EXPECT_EQ(f.code, "DISK_SPACE") << f.message;
    }
  }
  EXPECT_TRUE(has_code(p->checks, "DISK_SPACE", core::Severity::kError));
  EXPECT_NE(p->staging.string().rfind(mount.string(), 0), 0u)
      << "staged on the tight filesystem: " << p->staging;
  // The application can still write.
  exec(live, "INSERT INTO settings(company_id, key, value) VALUES (1, 'after', 'dry run')");
  EXPECT_EQ(query(live, "SELECT count(*) FROM settings WHERE key = 'after'"), 1);

  auto explicit_dir = scratch_ / "stage-here";
  fs::create_directories(explicit_dir);
  o.stage_dir = explicit_dir;
  auto q = restore::plan(backup_, o);
  ASSERT_TRUE(q) << q.error().message;
  EXPECT_EQ(q->staging.parent_path(), explicit_dir);
}

// --- a documents folder that is a mount point ------------------------------------------------

TEST_F(RestoreSafetyTest, AMountedDocumentsFolderIsPredictedInTheDryRun) {
  auto saved = scratch_ / "saved-docs";
  fs::copy(live_docs_, saved, fs::copy_options::recursive);
  Tmpfs tmpfs(live_docs_, "16m");
  RK_REQUIRE_TMPFS(tmpfs);
  fs::copy(saved, live_docs_, fs::copy_options::recursive);
  auto docs_before = tree_hash(live_docs_);
  auto o = options();
  o.plan_out = scratch_ / "mount-plan";
  auto p = restore::plan(backup_, o);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_FALSE(p->safe()) << "a mount point cannot be swapped by rename";
  auto it = std::find_if(p->checks.begin(), p->checks.end(),
                         [](const auto& f) { return f.code == "NOT_RESTORABLE_HERE"; });
  ASSERT_NE(it, p->checks.end()) << messages(p->checks);
  EXPECT_NE(it->message.find("mount point"), std::string::npos) << it->message;
  EXPECT_EQ(tree_hash(live_docs_), docs_before);
  restore::discard(*p);
}

// --- backups this machine cannot restore -----------------------------------------------------

TEST_F(RestoreSafetyTest, NamesTooLongForThisMachineWarnInVerifyAndBlockTheDryRun) {
  auto db = read_file(app_ / "app.sqlite");
  auto archive = scratch_ / "long.tar";
  std::string long_name = "docs/" + std::string(300, 'n') + ".pdf";
  write_bytes(archive, raw_tar({{"app.sqlite", 0100000, db, ""},
                                {long_name, 0100000, "x", ""},
                                {"docs/ok.txt", 0100000, "ok", ""}}));
  expect_warned_then_blocked(archive, options());
}

TEST_F(RestoreSafetyTest, ATableTooWideToSelectWarnsInVerifyAndBlocksTheDryRun) {
  auto wide = scratch_ / "wide.sqlite";
  fs::copy_file(app_ / "app.sqlite", wide);
  std::string cols;
  for (int i = 0; i < 2000; ++i) cols += fmt::format("{}c{}", i ? "," : "", i);
  exec(wide, fmt::format("CREATE TABLE wide({}); INSERT INTO wide(c0) VALUES (1)", cols));
  auto archive = scratch_ / "wide.tar";
  write_bytes(archive, raw_tar({{"app.sqlite", 0100000, read_file(wide), ""}}));
  auto o = options();
  o.live_documents.reset();
  expect_warned_then_blocked(archive, o);
}

}  // namespace
}  // namespace restorekit::test
