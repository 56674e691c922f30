// restore: the dry run leaves live byte-identical; apply makes live equal the backup (checked
// with sqlite3 .dump where available, and by content hash); refusals leave live untouched;
// selective restores change exactly the chosen rows; rollback and recover; and a crash harness
// that SIGKILLs apply at every step boundary and at random instants.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <random>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <restorekit/catalog/index.hpp>
#include <restorekit/core/backup.hpp>
#include <restorekit/core/content_hash.hpp>
#include <restorekit/core/hash.hpp>
#include <restorekit/core/restore_state.hpp>
#include <restorekit/diff/diff.hpp>
#include <restorekit/restore/restore.hpp>
#include <restorekit/verify/verify.hpp>

#include "crash_harness.hpp"
#include "restore_fixture.hpp"

namespace restorekit::test {
namespace {

TEST_F(RestoreTest, DryRunLeavesLiveByteIdenticalAndPredicts) {
  auto db_before = file_hash(live_);
  auto docs_before = tree_hash(live_docs_);
  auto o = options();
  o.allow_schema_changes = false;
  auto blocked = make_plan(o);
  EXPECT_FALSE(blocked.safe());
  EXPECT_TRUE(has_check(blocked, "SCHEMA_NEWER_THAN_BACKUP", core::Severity::kError));
  // Without --plan-out nothing stays behind but the (empty) state folder.
  auto state = core::restore_state_dir(live_);
  EXPECT_TRUE(fs::is_empty(state)) << state;
  auto p = kept_plan();
  EXPECT_TRUE(p.safe());
  EXPECT_GT(p.predicted_apply_seconds, 0);
  EXPECT_GT(p.effects.database.lost, 0u);
  ASSERT_TRUE(p.effects.documents);
  EXPECT_GT(p.effects.documents->lost + p.effects.documents->changed, 0u);
  EXPECT_EQ(p.live_hash, content_of(live_));
  EXPECT_EQ(p.result_hash, content_of(app_ / "app.sqlite"));
  ASSERT_TRUE(p.staged_documents);
  EXPECT_EQ(tree_hash(*p.staged_documents), tree_hash(app_ / "docs"));
  EXPECT_EQ(file_hash(live_), db_before);
  EXPECT_EQ(tree_hash(live_docs_), docs_before);
}

TEST_F(RestoreTest, FullRestoreMakesLiveEqualTheBackupAndRollbackUndoesIt) {
  RK_REQUIRE_TOOL("sqlite3");
  auto old_dump = dump(live_);
  auto old_docs = tree_hash(live_docs_);
  auto p = kept_plan();
  ASSERT_TRUE(p.safe());
  auto r = restore::apply(p, {});
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_TRUE(r->applied) << r->refusal.message;
  EXPECT_TRUE(r->checks.empty()) << r->checks.front().message;
  EXPECT_EQ(dump(live_), dump(app_ / "app.sqlite"));
  EXPECT_EQ(tree_hash(live_docs_), tree_hash(app_ / "docs"));
  EXPECT_FALSE(fs::exists(*p.plan_dir)) << "an applied plan is consumed";
  EXPECT_FALSE(fs::exists(core::restore_journal_path(live_)));
  EXPECT_TRUE(fs::exists(r->snapshot / "database.sqlite"));
  EXPECT_EQ(tree_hash(r->snapshot / "documents"), old_docs);

  auto back = restore::rollback(live_, {});
  ASSERT_TRUE(back) << back.error().message;
  ASSERT_TRUE(back->applied) << back->refusal.message;
  EXPECT_EQ(dump(live_), old_dump);
  EXPECT_EQ(tree_hash(live_docs_), old_docs);
}

// A damaged snapshot.json (a field of the wrong type, a hash that is not one) is an error that
// names it, and live stays as the restore left it; the snapshot is kept for a look by hand.
TEST_F(RestoreTest, RollbackFromADamagedSnapshotJsonIsAnErrorAndChangesNothing) {
  auto p = kept_plan();
  ASSERT_TRUE(p.safe());
  auto r = restore::apply(p, {});
  ASSERT_TRUE(r && r->applied);
  auto file = r->snapshot / "snapshot.json";
  auto good = read_file(file);
  auto restored_db = file_hash(live_);
  auto restored_docs = tree_hash(live_docs_);
  for (const char* damage :
       {R"({"hash": 5})", R"({"hash": "not hex"})", R"({"documents": 7, "live_documents": "x"})"}) {
    SCOPED_TRACE(damage);
    auto j = nlohmann::json::parse(good);
    j.update(nlohmann::json::parse(damage));
    write_file(file, j.dump());
    auto back = restore::rollback(live_, {});
    ASSERT_FALSE(back) << "a damaged snapshot rolled back";
    EXPECT_NE(back.error().message.find(file.string()), std::string::npos) << back.error().message;
    EXPECT_NE(back.error().message.find("damaged"), std::string::npos) << back.error().message;
    EXPECT_EQ(file_hash(live_), restored_db);
    EXPECT_EQ(tree_hash(live_docs_), restored_docs);
    EXPECT_TRUE(fs::exists(r->snapshot / "database.sqlite"));
  }
}

// Pruning old safety snapshots after a restore reads each one's snapshot.json (for a documents
// folder staged beside live's): a damaged one is removed like any other, and the restore that
// pruned it stands.
TEST_F(RestoreTest, ADamagedOldSnapshotIsPrunedWithoutFailingTheRestore) {
  auto first = restore::apply(kept_plan(), {});
  ASSERT_TRUE(first && first->applied);
  auto file = first->snapshot / "snapshot.json";
  auto j = nlohmann::json::parse(read_file(file));
  j["documents"] = 7;
  write_file(file, j.dump());
  restore::ApplyOptions keep_one;
  keep_one.keep_snapshots = 1;
  auto second = restore::apply(kept_plan(), keep_one);
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_TRUE(second->applied) << second->refusal.message;
  EXPECT_FALSE(fs::exists(first->snapshot)) << "the older snapshot is pruned";
  EXPECT_TRUE(fs::exists(second->snapshot / "database.sqlite"));
}

TEST_F(RestoreTest, RefusesWhenLiveChangedSinceThePlan) {
  auto p = kept_plan();
  exec(live_, "INSERT INTO settings(company_id, key, value) VALUES (1, 'late', 'write')");
  auto db_before = file_hash(live_);
  auto docs_before = tree_hash(live_docs_);
  auto r = restore::apply(p, {});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_FALSE(r->applied);
  EXPECT_NE(r->refusal.message.find("changed since the plan"), std::string::npos)
      << r->refusal.message;
  EXPECT_EQ(r->refusal.code, "LIVE_CHANGED");
  EXPECT_EQ(tree_hash(live_docs_), docs_before);
  EXPECT_EQ(query(live_, "SELECT count(*) FROM settings WHERE key = 'late'"), 1);
  EXPECT_FALSE(fs::exists(core::restore_journal_path(live_)));
  (void)db_before;
}

TEST_F(RestoreTest, LiveInUseByAnotherProcessBlocksThePlan) {
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    int fd = ::open(live_.c_str(), O_RDONLY);
    (void)fd;
    ::sleep(30);
    ::_exit(0);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto p = make_plan(options());
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  EXPECT_FALSE(p.safe());
  auto it = std::find_if(p.checks.begin(), p.checks.end(),
                         [](const auto& f) { return f.code == "LIVE_IN_USE"; });
  ASSERT_NE(it, p.checks.end());
  EXPECT_NE(it->message.find(fmt::format("pid {}", child)), std::string::npos) << it->message;
}

TEST_F(RestoreTest, LockFileBlocksThePlan) {
  auto o = options();
  o.lock_file = app_ / "app.lock";
  write_file(*o.lock_file, "4242\n");
  auto p = make_plan(o);
  EXPECT_TRUE(has_check(p, "LIVE_IN_USE", core::Severity::kError));
}

TEST_F(RestoreTest, AnOpenWalConnectionMakesApplyRefuse) {
  exec(live_, "PRAGMA journal_mode=WAL");
  auto p = kept_plan();
  auto reader = core::Database::open(live_, core::OpenMode::kReadOnly);
  ASSERT_TRUE(reader);
  ASSERT_TRUE(reader->exec("BEGIN; SELECT count(*) FROM persons;"));
  auto st = reader->prepare("SELECT count(*) FROM persons");
  ASSERT_TRUE(st && st->step());
  auto before = content_of(live_);
  auto r = restore::apply(p, {});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_FALSE(r->applied);
  EXPECT_EQ(r->refusal.code, "LIVE_IN_USE") << r->refusal.message;
  st->reset();
  (void)reader->exec("COMMIT");
  EXPECT_EQ(content_of(live_), before);
}

// An application that keeps its WAL database open between requests holds no transaction, yet
// a restore under it would break it: the lock (an empty exclusive transaction) refuses it too,
// and leaves live exactly as it was, not even its timestamps touched.
TEST_F(RestoreTest, AnIdleWalConnectionMakesApplyRefuseAndLiveIsNotTouched) {
  exec(live_, "PRAGMA journal_mode=WAL");
  auto p = kept_plan();
  auto reader = core::Database::open(live_, core::OpenMode::kReadOnly);
  ASSERT_TRUE(reader);
  ASSERT_TRUE(reader->query_int("SELECT count(*) FROM persons"));  // then idle
  struct stat before {};
  ASSERT_EQ(::stat(live_.c_str(), &before), 0);
  auto r = restore::apply(p, {});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_FALSE(r->applied);
  EXPECT_EQ(r->refusal.code, "LIVE_IN_USE") << r->refusal.message;
  struct stat after {};
  ASSERT_EQ(::stat(live_.c_str(), &after), 0);
  EXPECT_EQ(after.st_size, before.st_size);
  EXPECT_EQ(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
  EXPECT_EQ(after.st_ctim.tv_nsec, before.st_ctim.tv_nsec);
}

TEST_F(RestoreTest, BackupTriggersAndViewsNeedPermission) {
  exec(app_ / "app.sqlite",
       "CREATE VIEW v_people AS SELECT * FROM persons;"
       "CREATE TRIGGER t_audit AFTER INSERT ON persons BEGIN SELECT 1; END;");
  fs::remove(backup_);
  core::BackupOptions o;
  o.database = app_ / "app.sqlite";
  o.documents = app_ / "docs";
  o.output = backup_;
  ASSERT_TRUE(core::write_backup(o));
  auto p = make_plan(options());  // allows the older schema, not triggers: both need the flag
  EXPECT_TRUE(has_check(p, "UNTRUSTED_SCHEMA", core::Severity::kWarning));
  auto strict = options();
  strict.allow_schema_changes = false;
  auto q = make_plan(strict);
  EXPECT_TRUE(has_check(q, "UNTRUSTED_SCHEMA", core::Severity::kError));
  EXPECT_FALSE(q.safe());
}

TEST_F(RestoreTest, WalLiveWithAnotherPageSizeGetsARebuiltCopy) {
  exec(live_, "PRAGMA page_size=8192; VACUUM; PRAGMA journal_mode=WAL;");
  ASSERT_EQ(query(live_, "PRAGMA page_size"), 8192);
  auto p = kept_plan();
  EXPECT_TRUE(has_check(p, "PAGE_SIZE_REBUILT", core::Severity::kInfo));
  auto r = restore::apply(p, {});
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_TRUE(r->applied) << r->refusal.message;
  EXPECT_TRUE(r->checks.empty()) << r->checks.front().message;
  EXPECT_EQ(query(live_, "PRAGMA page_size"), 8192);
  EXPECT_EQ(content_of(live_), content_of(app_ / "app.sqlite"));
}

TEST_F(RestoreTest, TenantRestoreChangesOnlyThatTenant) {
  auto o = options();
  o.live_documents.reset();
  o.selection.tenants = {"3"};
  o.selection.tenant = core::TenantSpec{"company_id", "companies", "id", "name"};
  o.plan_out = scratch_ / "tenant-plan";
  auto p = make_plan(o);
  ASSERT_TRUE(p.safe());
  ASSERT_FALSE(p.changes.empty());
  auto count = [&](const fs::path& db, const std::string& table, const std::string& where) {
    return query(db, fmt::format("SELECT count(*) FROM {} WHERE {}", table, where));
  };
  auto backup_db = app_ / "app.sqlite";
  auto other_before = count(live_, "appointments", "company_id <> 3");
  auto r = restore::apply(p, {});
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_TRUE(r->applied) << r->refusal.message;
  for (const auto& c : r->changes) {
    if (c.table != "appointments") continue;
    EXPECT_EQ(c.inserted,
              static_cast<std::uint64_t>(count(backup_db, "appointments", "company_id = 3")));
  }
  EXPECT_EQ(count(live_, "appointments", "company_id = 3"),
            count(backup_db, "appointments", "company_id = 3"));
  EXPECT_EQ(count(live_, "appointments", "company_id <> 3"), other_before);
  // Tenant 3's rows now equal the backup's, checked row by row on the common columns.
  auto conn = core::Database::open(live_, core::OpenMode::kReadOnly);
  ASSERT_TRUE(conn);
  ASSERT_TRUE(conn->exec(fmt::format("ATTACH '{}' AS b", backup_db.string())));
  auto diff = conn->query_int(
      "SELECT count(*) FROM (SELECT id, starts_at, subject, price FROM main.appointments WHERE "
      "company_id = 3 EXCEPT SELECT id, starts_at, subject, price FROM b.appointments WHERE "
      "company_id = 3)");
  ASSERT_TRUE(diff) << diff.error().message;
  EXPECT_EQ(*diff, 0);
  EXPECT_EQ(content_of(live_), p.result_hash);
}

TEST_F(RestoreTest, CancelledBeforeTheCommitLeavesLiveUntouched) {
  auto p = kept_plan();
  auto db_before = content_of(live_);
  auto docs_before = tree_hash(live_docs_);
  restore::ApplyOptions ao;
  ao.on_step = [&](std::string_view step) {
    if (step == "documents") ao.cancel.cancel();
  };
  auto r = restore::apply(p, ao);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kCancelled);
  EXPECT_EQ(content_of(live_), db_before);
  EXPECT_EQ(tree_hash(live_docs_), docs_before);
  EXPECT_FALSE(fs::exists(core::restore_journal_path(live_)));
  EXPECT_TRUE(fs::is_empty(core::restore_snapshots_dir(live_)));
}

TEST_F(RestoreTest, AnUnfinishedJournalBlocksEveryCommandUntilRecovered) {
  auto p = kept_plan();
  write_file(core::restore_journal_path(live_), "{}");
  auto again = restore::plan(backup_, options());
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kConflict);
  auto d = diff::diff_databases(app_ / "app.sqlite", live_, {});
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().code, ErrorCode::kConflict);
  auto r = restore::apply(p, {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kConflict);
  fs::remove(core::restore_journal_path(live_));
  auto rec = restore::recover(live_);
  ASSERT_TRUE(rec) << rec.error().message;
  EXPECT_EQ(rec->outcome, restore::RecoverOutcome::kNothingToRecover);
}

// --- crash safety ---------------------------------------------------------------------------

// Crash safety: apply killed at every step and at random instants (crash_harness.hpp), with
// live laid out as the fixture has it after `layout` (which also resets it).
class CrashHarness : public RestoreTest {
 protected:
  // Keeps a copy of the live folder as it is now; the function returned puts it back.
  std::function<void()> pristine_live() {
    auto pristine = scratch_ / "pristine";
    fs::copy(app_ / "live", pristine, fs::copy_options::recursive);
    return [this, pristine] {
      std::error_code ec;
      fs::remove_all(app_ / "live", ec);
      fs::copy(pristine, app_ / "live", fs::copy_options::recursive);
    };
  }

  // A full restore: the new state is the backup's database and documents.
  void run_harness(Method method, int copy_kills, int other_kills,
                   const std::function<void()>& layout) {
    run_crash_harness(HarnessCase{live_, live_docs_, [this] { return kept_plan(); }, layout, method,
                                  content_of(app_ / "app.sqlite"), tree_hash(app_ / "docs")},
                      copy_kills, other_kills);
  }
};

TEST_F(CrashHarness, KilledAtAnyInstantLiveIsOldOrNewAndRecoverCleansUp) {
  run_harness(Method::kSwap, 40, 20, pristine_live());
}

// Live in WAL mode: the swap checkpoints and retires its -wal under the lock; a kill before the
// exchange leaves the old file in rollback mode, and recover puts WAL back.
TEST_F(CrashHarness, KilledAtAnyInstantAWalLiveIsOldOrNewAndKeepsWalMode) {
  exec(live_, "PRAGMA journal_mode=WAL");
  run_harness(Method::kSwap, 20, 10, pristine_live());
}

// Frames an application left in live's -wal are copied into the file before the lock: kills
// during that copy (at its step, and at random instants before the journal) leave live old.
TEST_F(CrashHarness, KilledAtAnyInstantAWalLiveWithFramesLeftIsOldOrNew) {
  RK_REQUIRE_TOOL("python3");
  exec(live_, "PRAGMA journal_mode=WAL");
  ASSERT_NO_FATAL_FAILURE(leave_in_wal(live_, "UPDATE settings SET value = 'in the wal'"));
  ASSERT_GT(fs::file_size(live_.string() + "-wal"), 0u);
  run_harness(Method::kSwap, 10, 20, pristine_live());
}

// A hard-linked live is restored by copy: kills land inside the page copy.
TEST_F(CrashHarness, KilledAtAnyInstantDuringACopyLiveIsOldOrNew) {
  auto reset = pristine_live();
  run_harness(Method::kCopy, 40, 10, [&] {
    reset();
    fs::create_hard_link(live_, app_ / "live" / "second-name.sqlite");
  });
}

// The documents folder is a link (to another filesystem where /dev/shm is one): apply swaps
// the target's contents and the link stays, at every instant.
TEST_F(CrashHarness, KilledAtAnyInstantSymlinkedDocumentsKeepTheirLinkAndMatch) {
  auto reset = pristine_live();
  auto target = scratch_ / "real-docs";
  struct stat shm {
  }, here{};
  if (::stat("/dev/shm", &shm) == 0 && ::stat(scratch_.path().c_str(), &here) == 0 &&
      shm.st_dev != here.st_dev) {
    target = fs::path("/dev/shm") / fmt::format("rk-harness-{}", ::getpid()) / "docs";
  }
  struct Cleanup {
    fs::path p;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(p, ec);
    }
  } cleanup{target.parent_path()};
  run_harness(Method::kSwap, 20, 10, [&] {
    reset();
    std::error_code ec;
    fs::remove_all(target.parent_path(), ec);
    fs::create_directories(target.parent_path());
    fs::rename(live_docs_, target, ec);
    if (ec) {  // across filesystems
      fs::copy(live_docs_, target, fs::copy_options::recursive);
      fs::remove_all(live_docs_);
    }
    fs::create_directory_symlink(target, live_docs_);
  });
}

}  // namespace
}  // namespace restorekit::test

namespace restorekit::test {
namespace {

// diff with an index: the second diff of an unchanged archive reads none of it (the staged
// database is kept, the documents' hashes come from a recorded verify). Asserted by counters.
TEST_F(RestoreTest, DiffReusesTheIndexInsteadOfReadingTheArchiveAgain) {
  auto index = catalog::Index::open(scratch_ / "index.sqlite");
  ASSERT_TRUE(index) << index.error().message;
  diff::BackupDiffOptions o;
  o.index = &*index;
  auto first = diff::diff_backup(backup_, live_, o);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_GT(first->archive_bytes_read, 0u);
  auto second = diff::diff_backup(backup_, live_, o);
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(second->archive_bytes_read, 0u) << "the staged database is reused";
  EXPECT_EQ(second->database.lost, first->database.lost);
  EXPECT_EQ(second->database.reverted, first->database.reverted);

  // Documents: without recorded hashes the archive is read; after verify recorded them, not.
  o.live_documents = live_docs_;
  auto read = diff::diff_backup(backup_, live_, o);
  ASSERT_TRUE(read) << read.error().message;
  EXPECT_GT(read->archive_bytes_read, 0u);
  auto fingerprint = core::fingerprint_file(backup_);
  ASSERT_TRUE(fingerprint);
  core::ArchiveSummary summary;
  summary.path = core::index_key(backup_);
  summary.fingerprint = *fingerprint;
  ASSERT_TRUE(index->put(summary));
  verify::VerifyOptions vo;
  auto verified = verify::verify(backup_, vo);
  ASSERT_TRUE(verified) << verified.error().message;
  auto recorded =
      index->record_verification(summary.path, *fingerprint, verified->listing.get(),
                                 catalog::Verification{0, core::Verdict::kIntact, 0, 0});
  ASSERT_TRUE(recorded && *recorded);
  auto reused = diff::diff_backup(backup_, live_, o);
  ASSERT_TRUE(reused) << reused.error().message;
  EXPECT_EQ(reused->archive_bytes_read, 0u) << "document hashes come from the index";
  ASSERT_TRUE(reused->documents && read->documents);
  EXPECT_EQ(reused->documents->lost, read->documents->lost);
  EXPECT_EQ(reused->documents->revived, read->documents->revived);
  EXPECT_EQ(reused->documents->changed, read->documents->changed);
  EXPECT_EQ(reused->documents->unchanged, read->documents->unchanged);
  EXPECT_GT(read->documents->lost + read->documents->changed, 0u);

  // A changed archive is read again.
  fs::last_write_time(backup_, fs::last_write_time(backup_) + std::chrono::seconds(5));
  auto changed = diff::diff_backup(backup_, live_, o);
  ASSERT_TRUE(changed) << changed.error().message;
  EXPECT_GT(changed->archive_bytes_read, 0u);
}

}  // namespace
}  // namespace restorekit::test

#include <restorekit/verify/rotation.hpp>

namespace restorekit::test {
namespace {

TEST_F(RestoreTest, RotationKeepsTheNewestGoodCopiesAndNeverCountsADamagedOne) {
  verify::RotationOptions o;
  o.backup.database = app_ / "app.sqlite";
  o.backup.documents = app_ / "docs";
  o.folder = scratch_ / "rotation";
  o.keep = 2;
  std::vector<fs::path> written;
  for (int i = 0; i < 3; ++i) {
    auto r = verify::rotate_backup(o);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_TRUE(r->intact);
    written.push_back(r->written);
  }
  auto good = verify::good_copies(o.folder);
  ASSERT_EQ(good.size(), 2u);
  EXPECT_FALSE(fs::exists(written[0])) << "the oldest copy beyond --keep is removed";

  // A backup that fails verification (one byte flipped after writing) is kept aside and no
  // good copy is removed.
  o.verifier = [](const fs::path& p, const verify::VerifyOptions& vo) {
    auto bytes = read_file(p);
    bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x40);
    write_file(p, bytes);
    return verify::verify(p, vo);
  };
  auto bad = verify::rotate_backup(o);
  ASSERT_TRUE(bad) << bad.error().message;
  EXPECT_FALSE(bad->intact);
  EXPECT_EQ(bad->written.extension(), ".damaged");
  EXPECT_TRUE(fs::exists(bad->written));
  EXPECT_EQ(verify::good_copies(o.folder), good) << "every old good copy is still there";
  EXPECT_TRUE(bad->removed.empty());
}

}  // namespace
}  // namespace restorekit::test

namespace restorekit::test {
namespace {

// Found by the hostile-corpus test: a kept plan whose findings name an entry with invalid UTF-8
// made the JSON writer throw (the process aborted). Now it is replaced and the plan is kept.
TEST_F(RestoreTest, AKeptPlanSurvivesEntryNamesThatAreNotUtf8) {
  auto archive = scratch_ / "latin1.tar";
  write_bytes(archive, raw_tar({{"app.sqlite", 0100000, read_file(app_ / "app.sqlite"), ""},
                                {"docs/Gr\xfc\xdf"
                                 "e.txt",
                                 0100000, "hallo", ""},
                                {"docs/../escape.txt", 0100000, "x", ""}}));
  auto o = options();
  o.plan_out = scratch_ / "latin1-plan";
  auto p = restore::plan(archive, o);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_FALSE(p->safe()) << "the unsafe entry blocks";
  auto loaded = restore::load_plan(*o.plan_out);
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(loaded->checks.size(), p->checks.size());
  EXPECT_FALSE(fs::exists(scratch_ / "escape.txt"));
}

}  // namespace
}  // namespace restorekit::test
