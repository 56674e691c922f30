#include <restorekit/core/backup.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <thread>

#include <gtest/gtest.h>

#include <restorekit/core/archive_reader.hpp>
#include <restorekit/core/sqlite.hpp>

#include "test_support.hpp"

namespace restorekit::core {
namespace {

using test::ScratchDir;
namespace fs = std::filesystem;

struct Archived {
  std::vector<std::string> order;
  std::map<std::string, std::string> files;
};

Archived read_back(const fs::path& path, std::optional<std::string> password = std::nullopt) {
  ReaderOptions o;
  if (password) o.passwords.candidates = {*password};
  auto reader = ArchiveReader::open(path, o);
  EXPECT_TRUE(reader) << reader.error().message;
  Archived out;
  for (;;) {
    auto e = reader->next();
    EXPECT_TRUE(e) << e.error().message;
    if (!e || !*e) break;
    out.order.push_back((*e)->path);
    if ((*e)->type != EntryType::kFile) continue;
    std::string data;
    for (;;) {
      auto b = reader->read_block();
      EXPECT_TRUE(b) << b.error().message;
      if (!b || b->empty()) break;
      data.append(reinterpret_cast<const char*>(b->data()), b->size());
    }
    out.files[(*e)->path] = std::move(data);
  }
  return out;
}

BackupOptions options_for(const fs::path& output) {
  const auto& s = test::small_sample();
  BackupOptions o;
  o.database = s.database;
  o.documents = s.documents;
  o.output = output;
  o.tool_version = "test";
  o.tenants = TenantSpec{"company_id", "companies", "id", "name"};
  return o;
}

std::vector<fs::path> leftovers(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path());
  return out;
}

class BackupKinds : public ::testing::TestWithParam<std::string> {};

TEST_P(BackupKinds, WritesHeaderFirstChecksumsLastAndEveryHashMatches) {
  ScratchDir dir;
  auto out = dir / ("b." + GetParam());
  auto r = write_backup(options_for(out));
  ASSERT_TRUE(r) << r.error().message;
  auto a = read_back(out);
  ASSERT_GE(a.order.size(), 3u);
  EXPECT_EQ(a.order.front(), kHeaderEntry);
  EXPECT_EQ(a.order.back(), kChecksumsEntry);
  EXPECT_EQ(a.order[1], "db/app.sqlite");
  auto header = parse_header(a.files[std::string(kHeaderEntry)]);
  ASSERT_TRUE(header) << header.error().message;
  EXPECT_EQ(header->total_entries, a.order.size());
  EXPECT_EQ(header->document_files, test::small_sample().document_files);
  EXPECT_EQ(header->databases[0].bytes, a.files["db/app.sqlite"].size());
  EXPECT_FALSE(header->databases[0].tenants.empty());
  auto sums = parse_checksums(a.files[std::string(kChecksumsEntry)]);
  ASSERT_TRUE(sums);
  EXPECT_EQ(sums->size(), 1 + test::small_sample().document_files);
  for (const auto& line : *sums) {
    ASSERT_TRUE(a.files.count(line.path)) << line.path;
    EXPECT_EQ(hash128(a.files[line.path]), line.digest) << line.path;
  }
  EXPECT_EQ(leftovers(dir.path()).size(), 1u);  // only the backup, no temporary files
}

TEST_P(BackupKinds, ExtractedBackupPassesXxhsumCheck) {
  RK_REQUIRE_TOOL("bsdtar");
  RK_REQUIRE_TOOL("xxhsum");
  ScratchDir dir;
  auto out = dir / ("b." + GetParam());
  ASSERT_TRUE(write_backup(options_for(out)));
  fs::create_directory(dir / "x");
  ASSERT_EQ(test::sh("bsdtar -xf ../b." + GetParam(), dir / "x"), 0);
  auto check = test::run({"xxhsum", "-c", "--strict", "restorekit/checksums.xxh128"}, dir / "x");
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  EXPECT_EQ(check.out.find("FAILED"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(AllOutputs, BackupKinds,
                         ::testing::Values("zip", "tar.gz", "tar.zst", "tar.xz"));

TEST(Backup, EncryptedZipNeedsThePasswordToRead) {
  ScratchDir dir;
  auto o = options_for(dir / "enc.zip");
  o.password = "open sesame";
  ASSERT_TRUE(write_backup(o));
  auto a = read_back(dir / "enc.zip", "open sesame");
  EXPECT_TRUE(parse_header(a.files[std::string(kHeaderEntry)]));
  auto reader = ArchiveReader::open(dir / "enc.zip");
  ASSERT_TRUE(reader);
  auto first = reader->next();
  ASSERT_TRUE(first && *first);
  EXPECT_TRUE((*first)->encrypted);
  auto block = reader->read_block();
  ASSERT_FALSE(block);
  EXPECT_EQ(block.error().code, ErrorCode::kPasswordRequired);
}

TEST(Backup, PasswordWithTarIsRefusedAndNothingIsWritten) {
  ScratchDir dir;
  auto o = options_for(dir / "b.tar.gz");
  o.password = "x";
  auto r = write_backup(o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_TRUE(leftovers(dir.path()).empty());
}

TEST(Backup, MissingDocumentsFolderFailsWithoutLeavingFiles) {
  ScratchDir dir;
  auto o = options_for(dir / "b.tar.zst");
  o.documents = dir / "nope";
  auto r = write_backup(o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
  EXPECT_NE(r.error().message.find("nope"), std::string::npos);
  EXPECT_TRUE(leftovers(dir.path()).empty());
}

TEST(Backup, CancelledBackupLeavesNoFile) {
  ScratchDir dir;
  auto o = options_for(dir / "b.zip");
  o.progress = [&](const Progress&) { o.cancel.cancel(); };
  auto r = write_backup(o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kCancelled);
  EXPECT_TRUE(leftovers(dir.path()).empty());
}

// A backup killed mid-way leaves its private work folder; the next backup into the same folder
// removes it, but never one that a running backup holds (its lock).
TEST(Backup, StaleWorkFoldersOfKilledBackupsAreRemovedByTheNextOne) {
  ScratchDir dir;
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto o = options_for(dir / "killed.tar.zst");
    o.progress = [](const Progress&) { ::raise(SIGKILL); };
    (void)write_backup(o);
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));
  auto stale = leftovers(dir.path());
  ASSERT_EQ(stale.size(), 1u) << "the killed backup left its work folder";
  fs::create_directory(dir / ".restorekit-backup-running");
  int held = ::open((dir / ".restorekit-backup-running").c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(held, 0);
  ASSERT_EQ(::flock(held, LOCK_EX | LOCK_NB), 0);
  auto r = write_backup(options_for(dir / "next.tar.zst"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_FALSE(fs::exists(stale.front())) << "stale work folder kept";
  EXPECT_TRUE(fs::exists(dir / ".restorekit-backup-running")) << "a running backup's folder";
  ::close(held);
}

// A backup into a full file system: the database's snapshot, written beside the output, fails
// first; the error says where to free space, and nothing is left there.
TEST(Backup, AFullFileSystemIsAnErrorThatSaysWhereToFreeSpaceAndLeavesNothing) {
  ScratchDir dir;
  auto mount = dir / "tight";
  test::Tmpfs tmpfs(mount, "64k");
  RK_REQUIRE_TMPFS(tmpfs);
  auto o = options_for(mount / "b.tar.zst");
  ASSERT_GT(fs::file_size(o.database), 64u * 1024);
  auto r = write_backup(o);
  ASSERT_FALSE(r) << "backed up into a 64 KiB file system";
  const auto& m = r.error().message;
  EXPECT_NE(m.find("free space on the file system that holds " + mount.string()), std::string::npos)
      << m;
  EXPECT_TRUE(fs::is_empty(mount)) << "left behind in " << mount;
}

TEST(Backup, NeverOverwritesAnExistingFile) {
  ScratchDir dir;
  test::write_file(dir / "b.zip", "precious");
  auto r = write_backup(options_for(dir / "b.zip"));
  ASSERT_FALSE(r);
  EXPECT_EQ(test::read_file(dir / "b.zip"), "precious");
  EXPECT_EQ(leftovers(dir.path()).size(), 1u);
}

TEST(Backup, UnknownExtensionIsRefused) {
  ScratchDir dir;
  auto r = write_backup(options_for(dir / "b.rar"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
}

// The snapshot must be consistent while another connection keeps committing: every
// transaction inserts one row and bumps a counter, so a consistent copy has
// count(rows) == counter.
class ConcurrentSnapshot : public ::testing::TestWithParam<std::string> {};

TEST_P(ConcurrentSnapshot, HoldsAStateTheWriterCommitted) {
  ScratchDir dir;
  auto live = dir / "live.sqlite";
  {
    auto db = Database::open(live, OpenMode::kCreate);
    ASSERT_TRUE(db);
    ASSERT_TRUE(db->exec("PRAGMA journal_mode=" + GetParam() +
                         "; CREATE TABLE rows(n INTEGER PRIMARY KEY, pad BLOB);"
                         "CREATE TABLE counter(n INTEGER); INSERT INTO counter VALUES(0);"));
  }
  std::atomic<bool> stop{false};
  std::atomic<int> committed{0};
  std::thread writer([&] {
    auto db = Database::open(live, OpenMode::kReadWrite);
    if (!db) return;
    while (!stop) {
      if (!db->exec("BEGIN IMMEDIATE; INSERT INTO rows(pad) VALUES(randomblob(3000));"
                    "UPDATE counter SET n = n + 1; COMMIT;")) {
        (void)db->exec("ROLLBACK");
        continue;
      }
      ++committed;
    }
  });
  while (committed < 50) std::this_thread::yield();
  for (int i = 0; i < 5; ++i) {
    auto out = dir / ("snap" + std::to_string(i) + ".tar.zst");
    BackupOptions o;
    o.database = live;
    o.output = out;
    int before = committed;
    auto r = write_backup(o);
    ASSERT_TRUE(r) << r.error().message;
    auto a = read_back(out);
    auto copy = dir / ("copy" + std::to_string(i) + ".sqlite");
    test::write_file(copy, a.files["db/live.sqlite"]);
    auto db = Database::open_untrusted(copy);
    ASSERT_TRUE(db);
    auto check = db->prepare("PRAGMA integrity_check");
    ASSERT_TRUE(check && check->step());
    EXPECT_EQ(check->column_text(0), "ok");
    auto rows = db->query_int("SELECT count(*) FROM rows");
    auto counter = db->query_int("SELECT n FROM counter");
    ASSERT_TRUE(rows && counter);
    EXPECT_EQ(*rows, *counter);
    EXPECT_GE(*rows, before);
  }
  stop = true;
  writer.join();
}

INSTANTIATE_TEST_SUITE_P(JournalModes, ConcurrentSnapshot, ::testing::Values("wal", "delete"));

}  // namespace
}  // namespace restorekit::core
