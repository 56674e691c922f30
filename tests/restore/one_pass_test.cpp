// One pass: every command reads each archive byte at most once (DESIGN.md, "Data flow"), proven
// with a counting source; and every command that reads an archive takes an ArchiveSource, so a
// fault injected at any offset (an I/O error, a short read) ends it cleanly.
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>

#include <restorekit/catalog/catalog.hpp>
#include <restorekit/catalog/index.hpp>
#include <restorekit/core/byte_source.hpp>
#include <restorekit/core/sqlite.hpp>
#include <restorekit/diff/diff.hpp>
#include <restorekit/inspect/inspect.hpp>
#include <restorekit/restore/restore.hpp>
#include <restorekit/verify/verify.hpp>

#include "restore_fixture.hpp"
#include "test_support.hpp"

namespace restorekit::test {
namespace {

// Counts the bytes every source opened from one ArchiveSource hands out, and the opens. With
// `fail_at`, the source fails (kIo) or ends (a short read) once that many bytes were handed out.
struct Tally {
  std::atomic<std::uint64_t> bytes{0};
  std::atomic<int> opens{0};
};

enum class Fault { kNone, kIoError, kShortRead };

class CountingSource final : public core::ByteSource {
 public:
  CountingSource(std::unique_ptr<core::ByteSource> inner, Tally& tally, Fault fault,
                 std::uint64_t at)
      : inner_(std::move(inner)), tally_(tally), fault_(fault), at_(at) {}

  Result<std::span<const std::byte>> read() override {
    if (fault_ != Fault::kNone && position_ >= at_) {
      if (fault_ == Fault::kIoError) return fail(ErrorCode::kIo, "injected read error");
      return std::span<const std::byte>();
    }
    RK_TRY_ASSIGN(auto chunk, inner_->read());
    if (fault_ != Fault::kNone && position_ + chunk.size() > at_) {
      chunk = chunk.first(at_ - position_);
    }
    position_ += chunk.size();
    tally_.bytes += chunk.size();
    return chunk;
  }
  Result<std::uint64_t> seek(std::int64_t offset, int whence) override {
    RK_TRY_ASSIGN(position_, inner_->seek(offset, whence));
    return position_;
  }
  [[nodiscard]] bool seekable() const override { return inner_->seekable(); }
  [[nodiscard]] std::optional<std::uint64_t> size() const override { return inner_->size(); }
  [[nodiscard]] std::string name() const override { return inner_->name(); }

 private:
  std::unique_ptr<core::ByteSource> inner_;
  Tally& tally_;
  Fault fault_;
  std::uint64_t at_;
  std::uint64_t position_ = 0;
};

core::ArchiveSource counted(const fs::path& file, Tally& tally, Fault fault = Fault::kNone,
                            std::uint64_t at = 0) {
  return core::ArchiveSource(
      [file, &tally, fault, at]() -> Result<std::unique_ptr<core::ByteSource>> {
        ++tally.opens;
        RK_TRY_ASSIGN(auto inner, core::open_file_source(file));
        return std::unique_ptr<core::ByteSource>(
            std::make_unique<CountingSource>(std::move(inner), tally, fault, at));
      },
      file.string());
}

class OnePass : public RestoreTest {
 protected:
  std::uint64_t size() const { return fs::file_size(backup_); }
  // verify, inspect and a dry run over a source that fails at byte `at`.
  void run_with_fault(Fault fault, std::uint64_t at, const fs::path& temp);
};

TEST_F(OnePass, VerifyReadsEveryByteOnceWithOneSource) {
  Tally tally;
  verify::VerifyOptions o;
  auto r = verify::verify(counted(backup_, tally), o);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->verdict(), core::Verdict::kIntact);
  EXPECT_EQ(tally.bytes, size());
  EXPECT_EQ(tally.opens, 1);
}

TEST_F(OnePass, RecordingAVerifyRunReadsNothingMoreAndSaysWhatInspectWould) {
  for (const char* name : {"backup.tar.zst", "foreign.zip"}) {
    SCOPED_TRACE(name);
    fs::path archive = scratch_ / name;
    if (std::string(name) == "foreign.zip") {
      RK_REQUIRE_TOOL("zip");
      ASSERT_EQ(sh("zip -q -r " + archive.string() + " app.sqlite docs", app_), 0);
    }
    Tally tally;
    verify::VerifyOptions o;
    auto r = verify::verify(counted(archive, tally), o);
    ASSERT_TRUE(r) << r.error().message;
    auto index = catalog::Index::open_memory();
    ASSERT_TRUE(index);
    ASSERT_TRUE(catalog::record(*index, archive, *r));
    EXPECT_EQ(tally.opens, r->archive.format == "zip" ? static_cast<int>(r->threads) + 1 : 1)
        << "verify's readers (and the zip directory check); recording opens no source";
    auto key = core::index_key(archive);
    auto fingerprint = core::fingerprint_file(archive);
    ASSERT_TRUE(fingerprint);
    auto recorded = index->find(key, *fingerprint);
    ASSERT_TRUE(recorded && *recorded) << "recorded without inspect reading it";
    auto verification = index->verification(key);
    ASSERT_TRUE(verification && *verification);
    EXPECT_EQ((*verification)->verdict, core::Verdict::kIntact);
    inspect::InspectOptions io;
    auto inspected = inspect::inspect(archive, io);
    ASSERT_TRUE(inspected);
    const auto& want = inspected->summary;
    const auto& got = **recorded;
    EXPECT_EQ(got.kind, want.kind);
    EXPECT_EQ(got.entries, want.entries);
    EXPECT_EQ(got.document_files, want.document_files);
    EXPECT_EQ(got.document_bytes, want.document_bytes);
    EXPECT_EQ(got.bytes, want.bytes);
    ASSERT_EQ(got.databases.size(), want.databases.size());
    EXPECT_EQ(got.databases[0].entry, want.databases[0].entry);
    EXPECT_EQ(got.databases[0].tables.size(), want.databases[0].tables.size());
    EXPECT_TRUE(got.listed);
  }
}

TEST_F(OnePass, ADryRunReadsEveryByteOnce) {
  Tally tally;
  auto p = restore::plan(counted(backup_, tally), options());
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_TRUE(p->effects.documents.has_value());
  EXPECT_EQ(tally.bytes, size());
  EXPECT_EQ(tally.opens, 2) << "the pass, and the size the stage folder is chosen by (no read)";
}

// A dry run holds one session per database for its checks, diff and hashes; besides those,
// verify's check of the staged copy and the diff's second worker open their own.
TEST_F(OnePass, ADryRunOpensEachDatabaseOnceForItsOwnWork) {
  std::mutex m;
  std::map<std::string, int> opens;  // "live" / "staged"
  std::string live = live_.string();
  std::vector<std::string> seen;
  core::set_open_observer([&](std::string_view name) {
    std::lock_guard lock(m);
    if (name == "(scratch)") return;  // the entry store
    ++opens[name == live ? "live" : "staged"];
    seen.emplace_back(name);
  });
  auto p = restore::plan(backup_, options());
  core::set_open_observer({});
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(opens["live"], 2) << "the plan's session and the diff's second worker";
  // verify's checks: one connection describes the schema while the integrity and foreign-key
  // checks (quick_check, one per table, one per table with foreign keys) run on one worker
  // per core, at most one per check.
  auto db = core::Database::open_untrusted(app_ / "app.sqlite");
  ASSERT_TRUE(db);
  auto checks = db->query_int(
      "SELECT 1 + count(*) + (SELECT count(DISTINCT m.name) FROM sqlite_schema m, "
      "pragma_foreign_key_list(m.name) WHERE m.type = 'table') FROM sqlite_schema "
      "WHERE type = 'table' AND rootpage > 0");
  ASSERT_TRUE(checks);
  int workers = static_cast<int>(
      std::min<std::int64_t>(*checks, std::max(1u, std::thread::hardware_concurrency())));
  EXPECT_EQ(opens["staged"], 1 + workers + 2)
      << "verify's checks (schema, and " << workers
      << " workers), the plan's session, the diff's second worker: "
      << fmt::format("{}", fmt::join(seen, ", "));
}

TEST_F(OnePass, DiffReadsOnceAndARepeatedDiffReadsNothing) {
  auto index = catalog::Index::open(scratch_ / "catalog.sqlite");  // keeps staged copies
  ASSERT_TRUE(index);
  diff::BackupDiffOptions o;
  o.live_documents = live_docs_;
  Tally first;
  auto read = diff::diff_backup(counted(backup_, first), live_, o);
  ASSERT_TRUE(read) << read.error().message;
  EXPECT_EQ(first.bytes, size());
  ASSERT_TRUE(read->documents);
  // A path source lets the index answer: after verify recorded the listing, nothing is read.
  verify::VerifyOptions vo;
  auto verified = verify::verify(backup_, vo);
  ASSERT_TRUE(verified);
  ASSERT_TRUE(catalog::record(*index, backup_, *verified));
  o.index = &*index;
  auto staged = diff::diff_backup(backup_, live_, o);  // stages the database once
  ASSERT_TRUE(staged) << staged.error().message;
  auto again = diff::diff_backup(backup_, live_, o);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->archive_bytes_read, 0u);
  EXPECT_EQ(again->documents->lost, read->documents->lost);
  EXPECT_EQ(again->database.lost, read->database.lost);
}

TEST_F(OnePass, InspectOfOurBackupReadsOnlyThroughTheHeader) {
  // A backup larger than one read: documents that do not compress.
  std::string noise(std::size_t{3} << 20, '\0');
  std::mt19937_64 random(42);
  for (auto& c : noise) c = static_cast<char>(random());
  write_file(app_ / "docs" / "noise.bin", noise);
  fs::path big = scratch_ / "big.tar.zst";
  core::BackupOptions b;
  b.database = app_ / "app.sqlite";
  b.documents = app_ / "docs";
  b.output = big;
  ASSERT_TRUE(core::write_backup(b));
  ASSERT_GT(fs::file_size(big), std::uint64_t{2} << 20);
  Tally tally;
  inspect::InspectOptions o;
  auto r = inspect::inspect(counted(big, tally), o);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->summary.kind, core::BackupKind::kRestorekit);
  EXPECT_LE(tally.bytes, std::uint64_t{1} << 20) << "the first buffer holds the header";
  EXPECT_LT(tally.bytes, fs::file_size(big));
}

TEST_F(OnePass, ASqlDumpInABackupIsComparedLikeADatabase) {
  RK_REQUIRE_TOOL("sqlite3");
  RK_REQUIRE_TOOL("zip");
  fs::path dir = scratch_ / "dump";
  fs::create_directories(dir);
  ASSERT_EQ(
      sh("sqlite3 " + (app_ / "app.sqlite").string() + " .dump > " + (dir / "app.sql").string()),
      0);
  ASSERT_EQ(sh("zip -q -r dump.zip app.sql", dir), 0);
  auto r = diff::diff_backup(dir / "dump.zip", live_, diff::BackupDiffOptions{});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->backup_database, "app.sql");
  auto direct = diff::diff_backup(app_ / "app.sqlite", live_, diff::BackupDiffOptions{});
  ASSERT_TRUE(direct);
  EXPECT_EQ(r->database.lost, direct->database.lost);
  EXPECT_EQ(r->database.revived, direct->database.revived);
}

// At offsets through the archive, an I/O error or a short read ends verify, inspect and the dry
// run cleanly: an error (could not verify) or damage, never intact, and nothing left behind.
TEST_F(OnePass, FaultsAtAnyOffsetEndEveryCommandCleanly) {
  std::uint64_t n = size();
  ScratchDir temp;
  for (Fault fault : {Fault::kIoError, Fault::kShortRead}) {
    for (std::uint64_t at : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{100}, n / 8, n / 3,
                             n / 2, n - 40, n - 1}) {
      SCOPED_TRACE(fmt::format("{} at byte {} of {}",
                               fault == Fault::kIoError ? "I/O error" : "short read", at, n));
      run_with_fault(fault, at, temp.path());
      EXPECT_TRUE(fs::is_empty(temp.path())) << "nothing left behind";
    }
  }
}

void OnePass::run_with_fault(Fault fault, std::uint64_t at, const fs::path& temp) {
  {
    Tally tally;
    verify::VerifyOptions vo;
    vo.temp_dir = temp;
    auto v = verify::verify(counted(backup_, tally, fault, at), vo);
    if (v) {
      EXPECT_NE(v->verdict(), core::Verdict::kIntact);
    } else {
      EXPECT_NE(v.error().message, "");
    }
    inspect::InspectOptions io;
    io.temp_dir = temp;
    auto i = inspect::inspect(counted(backup_, tally, fault, at), io);
    if (!i) {
      EXPECT_NE(i.error().message, "");
    } else {  // our backup: only the header is read, which a late fault does not reach
      EXPECT_EQ(i->summary.kind, core::BackupKind::kRestorekit);
    }
    auto o = options();
    o.stage_dir = temp;
    auto p = restore::plan(counted(backup_, tally, fault, at), o);
    if (p) {
      EXPECT_FALSE(p->safe());
    }
  }
}

}  // namespace
}  // namespace restorekit::test
