// Apply by swap: the staged database becomes live by one rename exchange and the old file
// becomes the safety snapshot, without a copy. Each hazard of DESIGN.md's restore model is
// provoked here: live's WAL, a process that opens live during the swap, live's mode, owner and
// extended attributes, a live file a rename cannot replace, a live file touched since the plan.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "internal.hpp"
#include "restore_fixture.hpp"

namespace restorekit::test {
namespace {

bool wal_mode(const fs::path& db) {
  auto r = run({"sqlite3", db.string(), "PRAGMA journal_mode"});
  return r.out.find("wal") != std::string::npos;
}

using SwapTest = RestoreTest;

// Overwrites bytes in place after the header: same size, same change counter.
void overwrite_in_place(const fs::path& db) {
  int fd = ::open(db.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::pwrite(fd, "x", 1, 4096 + 100), 1);
  ::close(fd);
}

// A write that lands in the same timestamp tick as the fingerprint before it would leave size
// and times as they were (git's "racy clean" case): a fingerprint counts only once the file's
// newest change lies a tick back (whole seconds on filesystems without nanoseconds).
TEST(Fingerprint, CountsOnlyOnceTheNewestChangeIsATickOld) {
  using std::chrono::milliseconds;
  restore::DatabaseFingerprint f;
  std::int64_t now = 1'800'000'000'123'456'789;
  f.file.ctime_ns = now - 5'000'000;
  EXPECT_EQ(restore::detail::unsettled_for(f, now), milliseconds(15));
  f.file.ctime_ns = now - 30'000'000;
  EXPECT_EQ(restore::detail::unsettled_for(f, now).count(), 0);
  f.wal = {1, 2, 4096, now - 1'000'000, 0, 7};  // a -wal written 1 ms ago
  EXPECT_EQ(restore::detail::unsettled_for(f, now), milliseconds(19));
  restore::DatabaseFingerprint coarse;  // whole seconds: a filesystem without nanoseconds
  coarse.file.ctime_ns = 1'800'000'000'000'000'000;
  EXPECT_EQ(restore::detail::unsettled_for(coarse, coarse.file.ctime_ns + 500'000'000),
            milliseconds(1500));
}

TEST_F(SwapTest, AFingerprintOfAJustWrittenFileWaitsOutTheTick) {
  overwrite_in_place(live_);
  auto t0 = std::chrono::steady_clock::now();
  auto f = restore::detail::fingerprint_around(live_, [] { return Result<void>{}; });
  auto waited = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(f && *f);
  EXPECT_GE(waited, std::chrono::milliseconds(10));
}

// A live database named through a symbolic link: its -wal lies beside the target, and the
// fingerprint sees it there.
TEST_F(SwapTest, AFingerprintThroughASymlinkSeesTheWalBesideTheTarget) {
  RK_REQUIRE_TOOL("python3");
  exec(live_, "PRAGMA journal_mode=WAL");
  auto link = app_ / "link.sqlite";
  fs::create_symlink(live_, link);
  auto before = restore::detail::fingerprint(link);
  ASSERT_TRUE(before);
  EXPECT_EQ(before->wal.inode, 0u);
  ASSERT_NO_FATAL_FAILURE(leave_in_wal(link, "UPDATE settings SET value = 'x'"));
  ASSERT_TRUE(fs::exists(live_.string() + "-wal"));
  auto after = restore::detail::fingerprint(link);
  ASSERT_TRUE(after);
  EXPECT_NE(after->wal.inode, 0u);
  EXPECT_NE(*after, *before);
}

TEST_F(SwapTest, AFingerprintAroundAWriteIsNone) {
  auto f = restore::detail::fingerprint_around(live_, [&]() -> Result<void> {
    overwrite_in_place(live_);
    return {};
  });
  ASSERT_TRUE(f);
  EXPECT_FALSE(*f) << "the file changed while it was read";
  auto g = restore::detail::fingerprint_around(live_, [] { return Result<void>{}; });
  ASSERT_TRUE(g && *g);
  EXPECT_EQ(**g, *restore::detail::fingerprint(live_));
}

TEST_F(SwapTest, TheStagedFileBecomesLiveAndTheOldFileTheSnapshot) {
  auto old_inode = inode_of(live_);
  auto old_content = content_of(live_);
  auto p = kept_plan();
  ASSERT_TRUE(p.live_fingerprint) << "nothing wrote live during the dry run";
  auto staged_inode = inode_of(p.staged_database);
  auto r = restore::apply(p, {});
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_TRUE(r->applied) << r->refusal.message;
  EXPECT_EQ(r->method, "swap") << r->copy_reason;
  EXPECT_EQ(inode_of(live_), staged_inode) << "the checked file itself is live now";
  EXPECT_EQ(inode_of(r->snapshot / "database.sqlite"), old_inode) << "no copy of the old file";
  EXPECT_EQ(content_of(r->snapshot / "database.sqlite"), old_content);
  EXPECT_EQ(content_of(live_), p.result_hash);
  EXPECT_TRUE(r->checks.empty()) << r->checks.front().message;
  for (const char* suffix : {"-wal", "-journal"}) {
    EXPECT_FALSE(fs::exists(live_.string() + suffix)) << suffix;
  }

  // Rollback swaps the snapshot back: the very file live had before.
  auto back = restore::rollback(live_, {});
  ASSERT_TRUE(back) << back.error().message;
  ASSERT_TRUE(back->applied) << back->refusal.message;
  EXPECT_EQ(back->method, "swap") << back->copy_reason;
  EXPECT_EQ(inode_of(live_), old_inode);
  EXPECT_EQ(content_of(live_), old_content);
  EXPECT_EQ(inode_of(back->snapshot / "database.sqlite"), staged_inode);
}

// Rows committed to live's -wal but not yet checkpointed belong to the old file: they reach the
// snapshot, never the new live file, and the new file comes in WAL mode as live was.
TEST_F(SwapTest, LiveWalFramesGoToTheSnapshotAndTheNewFileComesInWalMode) {
  RK_REQUIRE_TOOL("sqlite3");
  RK_REQUIRE_TOOL("python3");
  exec(live_, "PRAGMA journal_mode=WAL");
  ASSERT_NO_FATAL_FAILURE(leave_in_wal(
      live_, "INSERT INTO settings(company_id, key, value) VALUES (1, 'wal', 'only')"));
  auto p = kept_plan();  // reads live without a checkpoint (the last writer to close would)
  ASSERT_GT(fs::file_size(live_.string() + "-wal"), 0u);
  auto old_content = p.live_hash;
  EXPECT_TRUE(wal_mode(p.staged_database)) << "the dry run gives the staged file live's mode";
  auto r = restore::apply(p, {});
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_TRUE(r->applied) << r->refusal.message;
  EXPECT_EQ(r->method, "swap") << r->copy_reason;
  EXPECT_EQ(content_of(live_), p.result_hash);
  EXPECT_TRUE(wal_mode(live_));
  EXPECT_EQ(query(live_, "SELECT count(*) FROM settings WHERE key = 'wal'"), 0);
  EXPECT_EQ(content_of(r->snapshot / "database.sqlite"), old_content);
  EXPECT_EQ(
      query(r->snapshot / "database.sqlite", "SELECT count(*) FROM settings WHERE key = 'wal'"), 1);

  auto back = restore::rollback(live_, {});
  ASSERT_TRUE(back && back->applied);
  EXPECT_EQ(content_of(live_), old_content);
  EXPECT_TRUE(wal_mode(live_)) << "rollback gives the snapshot live's mode again";
}

// A process that opened live after the dry run's checks (it waited on the lock) holds the old
// file after the exchange: the swap is undone and the restore refused, live as before.
TEST_F(SwapTest, AProcessThatOpenedLiveDuringTheSwapMakesItSwapBack) {
  auto old_inode = inode_of(live_);
  auto old_content = content_of(live_);
  auto old_docs = tree_hash(live_docs_);
  auto p = kept_plan();
  auto staged_inode = inode_of(p.staged_database);
  pid_t child = -1;
  restore::ApplyOptions ao;
  ao.on_step = [&](std::string_view step) {
    if (step != "journal") return;
    child = ::fork();
    if (child == 0) {
      int fd = ::open(live_.c_str(), O_RDWR);
      (void)fd;
      ::sleep(30);
      ::_exit(0);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // it has opened live
  };
  auto r = restore::apply(p, ao);
  if (child > 0) {
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
  }
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_FALSE(r->applied);
  EXPECT_EQ(r->refusal.code, "LIVE_IN_USE");
  EXPECT_NE(r->refusal.message.find(fmt::format("pid {}", child)), std::string::npos)
      << r->refusal.message;
  EXPECT_EQ(inode_of(live_), old_inode);
  EXPECT_EQ(inode_of(p.staged_database), staged_inode);
  EXPECT_EQ(content_of(live_), old_content);
  EXPECT_EQ(tree_hash(live_docs_), old_docs);
  EXPECT_FALSE(fs::exists(core::restore_journal_path(live_)));
  EXPECT_TRUE(fs::is_empty(core::restore_snapshots_dir(live_)));
}

TEST_F(SwapTest, TheNewFileGetsLiveModeOwnerAndExtendedAttributes) {
  ASSERT_EQ(::chmod(live_.c_str(), 0640), 0);
  bool xattrs = ::setxattr(live_.c_str(), "user.restorekit.test", "kept", 4, 0) == 0;
  bool root = ::geteuid() == 0;
  if (root) {
    ASSERT_EQ(::chown(live_.c_str(), 4321, 4322), 0);
  }
  auto p = kept_plan();
  auto r = restore::apply(p, {});
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_TRUE(r->applied) << r->refusal.message;
  EXPECT_EQ(r->method, "swap") << r->copy_reason;
  struct stat st {};
  ASSERT_EQ(::stat(live_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  if (root) {
    EXPECT_EQ(st.st_uid, 4321u);
    EXPECT_EQ(st.st_gid, 4322u);
  } else {
    std::printf("SKIPPED (owner part): not root, cannot give live another owner\n");
  }
  if (xattrs) {
    char value[16] = {};
    EXPECT_EQ(::getxattr(live_.c_str(), "user.restorekit.test", value, sizeof value), 4);
    EXPECT_EQ(std::string(value), "kept");
  } else {
    std::printf("SKIPPED (xattr part): this filesystem keeps no user extended attributes\n");
  }
}

// Live named through a symbolic link: the file it names is exchanged, the link stays.
TEST_F(SwapTest, ASymlinkedLiveIsSwappedAtItsTargetAndTheLinkStays) {
  auto real = app_ / "live" / "real.sqlite";
  fs::rename(live_, real);
  fs::create_symlink(real, live_);
  auto p = kept_plan();
  auto r = restore::apply(p, {});
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_TRUE(r->applied) << r->refusal.message;
  EXPECT_EQ(r->method, "swap") << r->copy_reason;
  EXPECT_TRUE(fs::is_symlink(live_));
  EXPECT_EQ(fs::read_symlink(live_), real);
  EXPECT_EQ(content_of(real), p.result_hash);
}

// A second name for live would keep naming the old file: such a live is restored by copy,
// and both names see the restored content.
TEST_F(SwapTest, AHardLinkedLiveIsRestoredByCopy) {
  auto other = app_ / "live" / "other-name.sqlite";
  fs::create_hard_link(live_, other);
  auto p = kept_plan();
  auto r = restore::apply(p, {});
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_TRUE(r->applied) << r->refusal.message;
  EXPECT_EQ(r->method, "copy");
  EXPECT_NE(r->copy_reason.find("hard links"), std::string::npos) << r->copy_reason;
  EXPECT_EQ(content_of(live_), p.result_hash);
  EXPECT_EQ(content_of(other), p.result_hash);
  EXPECT_TRUE(r->checks.empty()) << r->checks.front().message;
}

// Those frames are copied into live's file before the lock, not under it (the swap's downtime
// would grow with them): under the lock the -wal is empty, live is proven by its fingerprint
// after the copy (not read), and the snapshot still holds the rows the frames held.
TEST_F(SwapTest, LiveWalFramesAreCopiedBeforeTheLockAndLiveIsNotReadUnderIt) {
  RK_REQUIRE_TOOL("python3");
  exec(live_, "PRAGMA journal_mode=WAL");
  ASSERT_NO_FATAL_FAILURE(leave_in_wal(
      live_, "INSERT INTO settings(company_id, key, value) VALUES (1, 'wal', 'only')"));
  auto p = kept_plan();
  fs::path wal = live_.string() + "-wal";
  ASSERT_GT(fs::file_size(wal), 0u);
  std::vector<std::string> steps;
  std::uintmax_t wal_under_lock = 1;
  restore::ApplyOptions ao;
  ao.on_step = [&](std::string_view step) {
    steps.emplace_back(step);
    if (step == "locked") wal_under_lock = fs::exists(wal) ? fs::file_size(wal) : 0;
  };
  auto r = restore::apply(p, ao);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_TRUE(r->applied) << r->refusal.message;
  EXPECT_EQ(r->method, "swap") << r->copy_reason;
  EXPECT_NE(std::find(steps.begin(), steps.end(), "wal-copied"), steps.end());
  EXPECT_EQ(std::find(steps.begin(), steps.end(), "live-unproven"), steps.end())
      << "live's fingerprint after the copy proves it";
  EXPECT_EQ(wal_under_lock, 0u);
  EXPECT_EQ(content_of(live_), p.result_hash);
  EXPECT_EQ(content_of(r->snapshot / "database.sqlite"), p.live_hash);
  EXPECT_EQ(
      query(r->snapshot / "database.sqlite", "SELECT count(*) FROM settings WHERE key = 'wal'"), 1);
}

// A commit to live while its frames are being copied (an application that started meanwhile)
// leaves the plan's fingerprint standing: the lock reads live, finds other content and refuses.
TEST_F(SwapTest, ACommitWhileLiveWalIsCopiedIsCaughtUnderTheLock) {
  RK_REQUIRE_TOOL("python3");
  exec(live_, "PRAGMA journal_mode=WAL");
  ASSERT_NO_FATAL_FAILURE(leave_in_wal(
      live_, "INSERT INTO settings(company_id, key, value) VALUES (1, 'wal', 'only')"));
  auto p = kept_plan();
  auto old_inode = inode_of(live_);
  std::vector<std::string> steps;
  restore::ApplyOptions ao;
  ao.on_step = [&](std::string_view step) {
    steps.emplace_back(step);
    if (step == "wal-copied") {
      exec(live_, "INSERT INTO settings(company_id, key, value) VALUES (1, 'late', 'commit')");
    }
  };
  auto r = restore::apply(p, ao);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_FALSE(r->applied);
  EXPECT_EQ(r->refusal.code, "LIVE_CHANGED") << r->refusal.message;
  EXPECT_NE(std::find(steps.begin(), steps.end(), "live-unproven"), steps.end());
  EXPECT_EQ(inode_of(live_), old_inode);
  EXPECT_EQ(query(live_, "SELECT count(*) FROM settings WHERE key IN ('wal', 'late')"), 2);
  EXPECT_TRUE(fs::is_empty(core::restore_snapshots_dir(live_)));
}

// A live file touched after the plan (its times changed, not its rows) loses the fingerprint's
// proof: apply reads it under the lock, finds the planned content and swaps.
TEST_F(SwapTest, ALiveFileTouchedSinceThePlanIsHashedUnderTheLockAndSwapped) {
  auto p = kept_plan();
  ASSERT_EQ(::utimensat(AT_FDCWD, live_.c_str(), nullptr, 0), 0);
  auto r = restore::apply(p, {});
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_TRUE(r->applied) << r->refusal.message;
  EXPECT_EQ(r->method, "swap");
  EXPECT_EQ(content_of(live_), p.result_hash);
}

// The staged file written after the dry run checked it is refused, whatever its hash says.
TEST_F(SwapTest, AStagedFileWrittenAfterItsCheckIsRefused) {
  auto p = kept_plan();
  restore::ApplyOptions ao;
  ao.on_step = [&](std::string_view step) {
    if (step == "locked") {
      ASSERT_EQ(::utimensat(AT_FDCWD, p.staged_database.c_str(), nullptr, 0), 0);
    }
  };
  auto before = content_of(live_);
  auto r = restore::apply(p, ao);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_FALSE(r->applied);
  EXPECT_EQ(r->refusal.code, "STAGED_CHANGED") << r->refusal.message;
  EXPECT_EQ(content_of(live_), before);
  EXPECT_TRUE(fs::is_empty(core::restore_snapshots_dir(live_)));
}

}  // namespace
}  // namespace restorekit::test
