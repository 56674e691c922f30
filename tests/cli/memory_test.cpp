// Memory stays bounded by streaming, not by the entry count (DESIGN.md: peak RSS <= 64 MiB for
// any archive size and up to 10M entries). A tar.zst and a zip of many empty entries made by
// bsdtar from an mtree spec are verified (with the catalog on, as the command runs by default)
// and inspected by the real executable under /usr/bin/time, and each child's peak RSS is
// asserted. The zip's directory is what libarchive would hold whole (118 MiB for this one, two
// readers each holding it, before the directory was read in windows).
#include <algorithm>
#include <fstream>
#include <map>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <restorekit/core/backup_format.hpp>
#include <restorekit/core/hash.hpp>

#include "test_support.hpp"

namespace restorekit::test {
namespace {

constexpr std::uint64_t kEntries = 300'000;
constexpr std::uint64_t kBudgetKiB = 64 * 1024;

// Peak RSS in KiB, from GNU time's last line on stderr.
std::uint64_t peak_kib(const CommandResult& r) {
  auto end = r.err.find_last_not_of('\n');
  auto start = r.err.find_last_of('\n', end);
  return std::stoull(r.err.substr(start == std::string::npos ? 0 : start + 1));
}

// restorekit run under GNU time: its peak RSS is peak_kib() of the result.
CommandResult measured(const std::vector<std::string>& command) {
  std::vector<std::string> argv = {"/usr/bin/time", "-f", "%M", restorekit_exe()};
  argv.insert(argv.end(), command.begin(), command.end());
  return run(argv);
}

// `diff --live-docs` of `archive` against `live` and `live_docs`: every one of `documents`
// unchanged, within the budget.
void expect_documents_diffed_within_budget(const fs::path& archive, const fs::path& live,
                                           const fs::path& live_docs, std::uint64_t documents,
                                           const std::string& what) {
  auto diff = measured({"diff", archive.string(), "--live", live.string(), "--live-docs",
                        live_docs.string(), "--no-catalog", "--json"});
  ASSERT_EQ(diff.exit_code, 0) << diff.out.substr(0, 2000) << diff.err;
  auto doc = nlohmann::json::parse(diff.out, nullptr, false);
  ASSERT_FALSE(doc.is_discarded());
  EXPECT_EQ(doc["documents"]["unchanged"], documents) << doc["documents"].dump();
  EXPECT_LE(peak_kib(diff), kBudgetKiB) << "diff of " << what;
}

// A shell step for the tenant and record tests' documents: `count` empty files
// app/docs/<folder>/000001-<pad>.txt ... made with seq and touch.
std::string touch_documents(std::string_view folder, int count, std::string_view pad) {
  return fmt::format(
      "mkdir -p app/docs/{0} && (cd app/docs/{0} && seq -f '%06g-{1}.txt' 1 {2} | "
      "xargs touch)",
      folder, pad, count);
}

// The tenant and record tests' application in `dir` (app/app.sqlite, app/docs) backed up by
// restorekit into backup.tar.zst.
void back_up_app(const ScratchDir& dir) {
  auto backup =
      run({restorekit_exe(), "backup", "--db", (dir / "app/app.sqlite").string(), "--docs",
           (dir / "app/docs").string(), "-o", (dir / "backup.tar.zst").string()});
  ASSERT_EQ(backup.exit_code, 0) << backup.out << backup.err;
}

// `restore` of that backup onto live/ in `dir` with the profile app.toml, and `more`.
std::vector<std::string> restore_app(const ScratchDir& dir, std::vector<std::string> more) {
  std::vector<std::string> args = {"restore",     (dir / "backup.tar.zst").string(),
                                   "--live",      (dir / "live/app.sqlite").string(),
                                   "--live-docs", (dir / "live/docs").string(),
                                   "--profile",   (dir / "app.toml").string()};
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

class Memory : public ::testing::Test {
 protected:
  void SetUp() override {
#ifdef __SANITIZE_ADDRESS__
    GTEST_SKIP() << "SKIPPED: AddressSanitizer's shadow memory is not restorekit's; the release "
                    "suite asserts the budget";
#endif
    if (!fs::exists("/usr/bin/time")) GTEST_SKIP() << "SKIPPED: /usr/bin/time is not installed";
    RK_REQUIRE_TOOL("bsdtar");
  }
};

TEST_F(Memory, ManyEntriesAreVerifiedAndInspectedWithinTheBudget) {
  ScratchDir dir;
  // 300k empty entries in 25 folders, described as an mtree spec that bsdtar turns into
  // archives: with long names for the tar (the GNU format's long-name records), shorter ones for
  // the zip (which stores each name twice).
  for (auto [spec_name, pad] : {std::pair{"long.mtree", 150}, std::pair{"short.mtree", 20}}) {
    std::ofstream spec(dir / spec_name);
    spec << "#mtree\n";
    std::string padding(static_cast<std::size_t>(pad), 'n');
    for (std::uint64_t i = 0; i < kEntries; ++i) {
      spec << fmt::format("./docs/f{:02}/{}-{:07}.txt type=file size=0 mode=0644 time=1700000000\n",
                          i % 25, padding, i);
    }
  }
  ASSERT_EQ(sh("bsdtar --format gnutar --zstd -cf many.tar.zst @long.mtree", dir.path()), 0);
  ASSERT_EQ(sh("bsdtar --format zip -cf many.zip @short.mtree", dir.path()), 0);
  std::string catalog = (dir / "catalog.sqlite").string();
  for (const char* archive : {"many.tar.zst", "many.zip"}) {
    std::string path = (dir / archive).string();
    for (const std::vector<std::string>& command :
         {std::vector<std::string>{"verify", path, "--catalog", catalog},
          std::vector<std::string>{"inspect", path, "--no-catalog"},
          std::vector<std::string>{"inspect", path, "--entries", "--json", "--no-catalog"}}) {
      auto r = measured(command);
      ASSERT_EQ(r.exit_code, 0) << command[0] << " " << archive << ": " << r.err;
      // The listing as JSON: every entry, written as it is walked.
      bool listing = std::find(command.begin(), command.end(), "--entries") != command.end();
      EXPECT_NE(r.out.find(listing ? "\"entries\": 300000" : "300,000"), std::string::npos)
          << r.out.substr(0, 2000);
      if (listing) {
        auto doc = nlohmann::json::parse(r.out, nullptr, false);
        ASSERT_FALSE(doc.is_discarded()) << archive;
        EXPECT_EQ(doc["listing"].size(), kEntries) << archive;
      }
      EXPECT_LE(peak_kib(r), kBudgetKiB)
          << fmt::format("{}", fmt::join(command, " ")) << ", " << kEntries << " entries";
    }
  }
}

// A zip whose every entry fails its CRC, and a tar whose every file is also a folder: verify
// lists the first damaged entries and clashing names and counts the rest (each one kept with
// its finding took 908 and 368 MiB).
TEST_F(Memory, ManyDamagedEntriesAndClashingNamesAreVerifiedWithinTheBudget) {
  ScratchDir dir;
  std::ofstream(dir / "blob") << "the same content in every entry\n";
  {
    std::ofstream spec(dir / "damaged.mtree");
    spec << "#mtree\n";
    for (std::uint64_t i = 0; i < kEntries; ++i) {
      spec << fmt::format(
          "./docs/f{:02}/{:07}.txt type=file mode=0644 time=1700000000 "
          "contents=blob\n",
          i % 25, i);
    }
  }
  ASSERT_EQ(sh("bsdtar --format zip --options zip:compression=store -cf damaged.zip @damaged.mtree",
               dir.path()),
            0);
  auto data = read_file(dir / "damaged.zip");
  std::uint64_t flipped = 0;
  for (auto at = data.find("the same"); at != std::string::npos; at = data.find("the same", at)) {
    data[at] = 'T';  // stored: every entry's CRC-32 is now wrong
    ++flipped;
  }
  ASSERT_EQ(flipped, kEntries);
  write_file(dir / "damaged.zip", data);
  auto r = measured({"verify", (dir / "damaged.zip").string(), "--no-catalog", "--json"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  auto doc = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(doc.is_discarded()) << r.out.substr(0, 2000);
  EXPECT_EQ(doc["verdict"], "damaged");
  EXPECT_EQ(doc["totals"]["errors"], kEntries) << "the listed ones and the one counting the rest";
  EXPECT_NE(r.out.find("299000 more entries have CRC_ERROR"), std::string::npos)
      << r.out.substr(r.out.size() - std::min<std::size_t>(r.out.size(), 2000));
  EXPECT_LE(peak_kib(r), kBudgetKiB) << "verify of " << kEntries << " damaged entries";

  {
    std::ofstream spec(dir / "clash.mtree");
    spec << "#mtree\n";
    for (std::uint64_t i = 0; i < kEntries / 2; ++i) {
      spec << fmt::format(
          "./docs/x{0:07} type=file size=0 mode=0644 time=1700000000\n"
          "./docs/x{0:07}/y type=file size=0 mode=0644 time=1700000000\n",
          i);
    }
  }
  ASSERT_EQ(sh("bsdtar --zstd -cf clash.tar.zst @clash.mtree", dir.path()), 0);
  auto clash = measured({"verify", (dir / "clash.tar.zst").string(), "--no-catalog", "--json"});
  EXPECT_EQ(clash.exit_code, 1) << clash.err;
  EXPECT_NE(clash.out.find("149000 more entries have PATH_CONFLICT"), std::string::npos)
      << clash.out.substr(clash.out.size() - std::min<std::size_t>(clash.out.size(), 2000));
  EXPECT_LE(peak_kib(clash), kBudgetKiB) << "verify of " << kEntries / 2 << " clashing names";
}

// Names of nearly 3,000 bytes (eleven folders of 250 characters, a file name of 207): 40,000 of
// them on each side of a documents diff are 230 MB of names. diff held each side in memory up to
// 50,000 files whatever their length (277 MiB); it goes to disk at 12 MiB of names too.
TEST_F(Memory, LongNamesAreComparedWithinTheBudget) {
  RK_REQUIRE_TOOL("sqlite3");
  ScratchDir dir;
  std::string deep = "tree/docs";
  for (int i = 0; i < 11; ++i) deep += "/" + std::string(250, 'd') + std::to_string(i);
  std::ofstream names(dir / "names");
  for (int i = 0; i < 40'000; ++i) names << fmt::format("{:06}-{}\n", i, std::string(200, 'n'));
  names.close();
  ASSERT_EQ(sh(fmt::format("sqlite3 app.sqlite 'CREATE TABLE t(x)' && mkdir -p '{0}' && "
                           "(cd '{0}' && xargs touch) < names",
                           deep),
               dir.path()),
            0);
  auto backup = run({restorekit_exe(), "backup", "--db", (dir / "app.sqlite").string(), "--docs",
                     (dir / "tree/docs").string(), "-o", (dir / "long.tar.zst").string()});
  ASSERT_EQ(backup.exit_code, 0) << backup.out << backup.err;
  expect_documents_diffed_within_budget(dir / "long.tar.zst", dir / "app.sqlite", dir / "tree/docs",
                                        40'000, "40,000 names of 2,990 bytes");
}

// Our own backups of many documents: backup lists the folder on disk and writes the checksum
// list through a file (held in memory, the folder's listing and the list of 300,000 documents
// took 386 MiB); verify merges the list against the entries on disk (held, parsed and keyed in
// memory, 241 MiB); diff walks the backup's documents and live's folder in name order on disk
// (held in maps, 723 MiB), and so does a dry run (830 MiB). Two backups in format v1: one that
// bsdtar writes from an mtree spec (the header first, the database, the documents, the list last),
// and one that `restorekit backup` writes of the same documents unpacked into a folder; both must
// verify intact. Then the restore of them, planned and applied.
TEST_F(Memory, OurBackupsOfManyDocumentsAreWrittenAndVerifiedWithinTheBudget) {
  RK_REQUIRE_TOOL("sqlite3");
  ScratchDir dir;
  ASSERT_EQ(sh("sqlite3 app.sqlite 'CREATE TABLE t(x); INSERT INTO t VALUES(1)' && : > empty",
               dir.path()),
            0);
  auto db_hash = core::hash_file(dir / "app.sqlite");
  auto empty_hash = core::hash_file(dir / "empty");
  ASSERT_TRUE(db_hash && empty_hash);
  auto db_bytes = fs::file_size(dir / "app.sqlite");
  core::BackupHeader h;
  h.created_at = "2026-12-04T00:00:00Z";
  h.tool_version = "0.2.0";
  h.source_host = "test";
  h.source_database = "/srv/app.sqlite";
  h.source_documents = "/srv/docs";
  h.databases.push_back(core::HeaderDatabase{"db/app.sqlite", db_bytes, 0, 4096, {{"t", 1}}, {}});
  h.document_files = kEntries;
  h.total_entries = kEntries + 3;
  h.total_bytes = db_bytes;
  std::ofstream(dir / "header.json") << core::header_to_json(h);
  std::ofstream list(dir / "checksums.xxh128");
  std::ofstream spec(dir / "ours.mtree");
  std::ofstream docs(dir / "docs.mtree");
  std::string padding(150, 'n');
  spec << "#mtree\n"
       << "./restorekit/header.json type=file mode=0644 time=1700000000 contents=header.json\n"
       << "./db/app.sqlite type=file mode=0644 time=1700000000 contents=app.sqlite\n";
  docs << "#mtree\n";
  list << core::checksum_line("db/app.sqlite", *db_hash);
  for (std::uint64_t i = 0; i < kEntries; ++i) {
    auto name = fmt::format("docs/f{:02}/{}-{:07}.txt", i % 25, padding, i);
    auto line = fmt::format("./{} type=file size=0 mode=0644 time=1700000000\n", name);
    spec << line;
    docs << line;
    list << core::checksum_line(name, *empty_hash);
  }
  spec << "./restorekit/checksums.xxh128 type=file mode=0644 time=1700000000 "
          "contents=checksums.xxh128\n";
  for (auto* f : {&spec, &docs, &list}) f->close();
  ASSERT_EQ(sh("bsdtar --format gnutar --zstd -cf ours.tar.zst @ours.mtree && mkdir tree && "
               "bsdtar -cf - @docs.mtree | bsdtar -xf - -C tree",
               dir.path()),
            0);
  auto backup = measured({"backup", "--db", (dir / "app.sqlite").string(), "--docs",
                          (dir / "tree/docs").string(), "-o", (dir / "real.tar.zst").string()});
  ASSERT_EQ(backup.exit_code, 0) << backup.out << backup.err;
  EXPECT_LE(peak_kib(backup), kBudgetKiB) << "backup of " << kEntries << " documents";
  // What a restore would change in the documents: every one of them compared with live's.
  expect_documents_diffed_within_budget(dir / "real.tar.zst", dir / "app.sqlite", dir / "tree/docs",
                                        kEntries, std::to_string(kEntries) + " documents");
  if (HasFatalFailure()) return;
  // The dry run's documents step walks the pass's listing on disk (it held it as a vector).
  auto dry_run =
      measured({"restore", (dir / "real.tar.zst").string(), "--live", (dir / "app.sqlite").string(),
                "--live-docs", (dir / "tree/docs").string(), "--dry-run", "--json"});
  ASSERT_EQ(dry_run.exit_code, 0) << dry_run.out.substr(0, 2000) << dry_run.err;
  EXPECT_LE(peak_kib(dry_run), kBudgetKiB) << "dry run of " << kEntries << " documents";
  for (const char* archive : {"ours.tar.zst", "real.tar.zst"}) {
    auto r = measured({"verify", (dir / archive).string(), "--no-catalog"});
    ASSERT_EQ(r.exit_code, 0) << archive << ": " << r.out << r.err;
    EXPECT_NE(r.out.find("300,0"), std::string::npos) << r.out;
    EXPECT_LE(peak_kib(r), kBudgetKiB)
        << "verify of " << archive << ", " << kEntries << " documents";
  }
  // A caller's list of every document (held whole, parsed and keyed in memory before):
  // verify merges it against the entries, extract against the files it wrote.
  std::string checksums = (dir / "checksums.xxh128").string();
  auto listed = measured({"verify", (dir / "ours.tar.zst").string(), "--no-catalog", "--checksums",
                          checksums, "--json"});
  ASSERT_EQ(listed.exit_code, 0) << listed.out.substr(0, 2000) << listed.err;
  auto verified = nlohmann::json::parse(listed.out, nullptr, false);
  ASSERT_FALSE(verified.is_discarded());
  EXPECT_EQ(verified["totals"]["checksums_checked"], 2 * (kEntries + 1)) << "our list and theirs";
  EXPECT_LE(peak_kib(listed), kBudgetKiB) << "verify --checksums of " << kEntries << " lines";
  // extract keeps its listing, the names it took and both lists on disk (--list: 501 MiB, the
  // files written: 285 MiB when it held them).
  auto list_only = measured({"extract", (dir / "real.tar.zst").string(), "--list", "--json"});
  ASSERT_EQ(list_only.exit_code, 0) << list_only.out.substr(0, 2000) << list_only.err;
  auto would = nlohmann::json::parse(list_only.out, nullptr, false);
  ASSERT_FALSE(would.is_discarded());
  EXPECT_EQ(would["totals"]["files"], kEntries + 1);
  EXPECT_EQ(would["entries"].back()["checked"], "checksums") << would["entries"].back().dump();
  EXPECT_LE(peak_kib(list_only), kBudgetKiB) << "extract --list of " << kEntries << " documents";
  // 120,000 of the documents (f00-f09): creating files is the slow part on a busy disk.
  auto extracted = measured({"extract", (dir / "ours.tar.zst").string(), "docs/f0*", "-o",
                             (dir / "out").string(), "--checksums", checksums, "--quiet"});
  ASSERT_EQ(extracted.exit_code, 0) << extracted.out.substr(0, 2000) << extracted.err;
  EXPECT_TRUE(fs::exists(dir / "out" / fmt::format("docs/f09/{}-{:07}.txt", padding, 9)));
  EXPECT_FALSE(fs::exists(dir / "out/docs/f10"));
  EXPECT_LE(peak_kib(extracted), kBudgetKiB) << "extract of 120,000 documents";
  // A kept plan keeps both documents trees in files of its folder, and apply compares them with
  // what it scans there (held in vectors and written into plan.json: 1.2 GiB, then 807 MiB).
  auto planned =
      measured({"restore", (dir / "real.tar.zst").string(), "--live", (dir / "app.sqlite").string(),
                "--live-docs", (dir / "tree/docs").string(), "--dry-run", "--plan-out",
                (dir / "plan").string()});
  ASSERT_EQ(planned.exit_code, 0) << planned.out.substr(0, 2000) << planned.err;
  EXPECT_LE(peak_kib(planned), kBudgetKiB) << "dry run of " << kEntries << " documents, kept";
  EXPECT_LT(fs::file_size(dir / "plan/plan.json"), 64u << 10);
  auto applied = measured({"restore", "--apply", (dir / "plan").string()});
  ASSERT_EQ(applied.exit_code, 0) << applied.out.substr(0, 2000) << applied.err;
  EXPECT_LE(peak_kib(applied), kBudgetKiB) << "apply of " << kEntries << " documents";
  EXPECT_TRUE(fs::exists(dir / "tree/docs" / fmt::format("f24/{}-{:07}.txt", padding, 299999)));
}

// A tenant restore that brings back 100,000 documents (the tenant's rows name them through the
// profile's references), made with sqlite3 and touch. The dry run held the keys, the files and
// their places in sets, maps and vectors and wrote the list into plan.json (241 MiB); applying
// it read the list into memory and wrote every file into the journal and the safety snapshot's
// JSON (290 MiB). The choice is a scratch database now, the list chosen.sqlite beside plan.json,
// and apply's list of swaps documents.sqlite in the snapshot.
TEST_F(Memory, ATenantRestoreOfManyDocumentsIsPlannedAppliedAndRolledBackWithinTheBudget) {
  RK_REQUIRE_TOOL("sqlite3");
  ScratchDir dir;
  std::string pad(150, 'n');
  auto script =
      touch_documents("c1", 100000, pad) + " && " + touch_documents("c2", 1000, pad) +
      fmt::format(
          " && sqlite3 app/app.sqlite \"CREATE TABLE companies(id INTEGER PRIMARY KEY, name TEXT); "
          "CREATE TABLE documents(id INTEGER PRIMARY KEY, company_id INTEGER, path TEXT); "
          "INSERT INTO companies VALUES (1, 'Acme'), (2, 'Zeta'); "
          "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000) "
          "INSERT INTO documents(company_id, path) SELECT 1, printf('c1/%06d-{0}.txt', i) FROM n; "
          "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000) "
          "INSERT INTO documents(company_id, path) SELECT 2, printf('c2/%06d-{0}.txt', i) FROM "
          "n;\" "
          "&& printf '[database]\\ntenant_column = \"company_id\"\\ntenant_table = \"companies\"\\n"
          "tenant_key = \"id\"\\n[documents]\\nroot = \"docs/\"\\nreferences = "
          "[\"documents.path\"]\\n' > app.toml",
          pad);
  ASSERT_EQ(sh(script, dir.path()), 0);
  back_up_app(dir);
  if (HasFatalFailure()) return;
  ASSERT_EQ(sh("mkdir live && cp app/app.sqlite live/ && cp -a app/docs live/docs", dir.path()), 0);
  auto planned = measured(
      restore_app(dir, {"--tenant", "1", "--dry-run", "--plan-out", (dir / "plan").string()}));
  ASSERT_EQ(planned.exit_code, 0) << planned.out.substr(0, 2000) << planned.err;
  EXPECT_NE(planned.out.find("documents of the chosen rows: 100,000"), std::string::npos)
      << planned.out.substr(0, 2000);
  EXPECT_LE(peak_kib(planned), kBudgetKiB) << "dry run choosing 100,000 documents";
  auto applied = measured({"restore", "--apply", (dir / "plan").string(), "--json"});
  ASSERT_EQ(applied.exit_code, 0) << applied.out.substr(0, 2000) << applied.err;
  auto doc = nlohmann::json::parse(applied.out, nullptr, false);
  ASSERT_FALSE(doc.is_discarded());
  EXPECT_EQ(doc["verdict"], "restored");
  EXPECT_EQ(doc["chosen_documents"].size(), 100'000u);
  EXPECT_LE(peak_kib(applied), kBudgetKiB) << "apply of 100,000 chosen documents";
  auto rolled = measured({"restore", "--rollback", "--live", (dir / "live/app.sqlite").string()});
  ASSERT_EQ(rolled.exit_code, 0) << rolled.out.substr(0, 2000) << rolled.err;
  EXPECT_LE(peak_kib(rolled), kBudgetKiB) << "rollback of 100,000 documents";
  EXPECT_TRUE(fs::exists(dir / "live/docs/c1" / fmt::format("100000-{}.txt", pad)));
}

// A record restore of 300,001 rows (a company, its 100,000 persons and their 200,000 documents'
// rows; half of those rows deleted in live, some persons changed, some moved to another company)
// whose rows name 100,000 files, made with sqlite3 and touch. Its steps looked keys up in sets
// whose key slots had no affinity, so every lookup from a key column scanned the set (over ten
// minutes for this one); the dry run listed every row and every name in vectors and printed the
// rows from a JSON document (272 MiB), and apply listed them again under the lock.
TEST_F(Memory, ARecordRestoreOfManyRowsIsPlannedAndAppliedWithinTheBudget) {
  RK_REQUIRE_TOOL("sqlite3");
  ScratchDir dir;
  std::string pad(150, 'n');
  auto script =
      touch_documents("c1", 100000, pad) +
      fmt::format(
          " && sqlite3 app/app.sqlite \"CREATE TABLE companies(id INTEGER PRIMARY KEY, name TEXT); "
          "CREATE TABLE persons(id INTEGER PRIMARY KEY, company_id INTEGER REFERENCES "
          "companies(id), "
          "name TEXT); CREATE TABLE documents(id INTEGER PRIMARY KEY, person_id INTEGER REFERENCES "
          "persons(id), path TEXT); INSERT INTO companies VALUES (1, 'Acme'), (2, 'Zeta'); "
          "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000) "
          "INSERT INTO persons SELECT i, 1, 'person ' || i FROM n; "
          "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200000) "
          "INSERT INTO documents SELECT i, (i + 1) / 2, CASE WHEN i <= 100000 THEN "
          "printf('c1/%06d-{0}.txt', i) END FROM n;\" && "
          "printf '[documents]\\nroot = \"docs/\"\\nreferences = [\"documents.path\"]\\n' > "
          "app.toml",
          pad);
  ASSERT_EQ(sh(script, dir.path()), 0);
  back_up_app(dir);
  if (HasFatalFailure()) return;
  ASSERT_EQ(sh("mkdir live && cp app/app.sqlite live/ && cp -a app/docs live/docs && sqlite3 "
               "live/app.sqlite \"DELETE FROM documents WHERE id % 2 = 0; UPDATE persons SET "
               "name = name || '!' WHERE id % 7 = 0; UPDATE persons SET company_id = 2 WHERE "
               "id % 11 = 0;\"",
               dir.path()),
            0);
  auto planned = measured(restore_app(
      dir, {"--row", "companies:1", "--dry-run", "--plan-out", (dir / "plan").string(), "--json"}));
  ASSERT_EQ(planned.exit_code, 0) << planned.out.substr(0, 2000) << planned.err;
  auto doc = nlohmann::json::parse(planned.out, nullptr, false);
  ASSERT_FALSE(doc.is_discarded());
  EXPECT_EQ(doc["verdict"], "safe");
  ASSERT_EQ(doc["records"].size(), 300'001u);
  std::map<std::string, std::uint64_t> actions;
  for (const auto& r : doc["records"])
    ++actions[r["table"].get<std::string>() + " " + r["action"].get<std::string>()];
  // Persons: every 11th is another company's now (its key reused), every 7th else changed (kept).
  EXPECT_EQ(actions["persons reused-key"], 9'090u);
  EXPECT_EQ(actions["persons kept"], 14'285u - 1'298u);  // 7 | id, but not 77 | id
  // Documents: the even ones come back, but not those hanging off a reused key.
  EXPECT_EQ(actions["documents blocked"], 9'090u);
  EXPECT_EQ(actions["documents insert"], 100'000u - 9'090u);
  std::uint64_t named = 0;  // the inserted rows that name a file
  for (const auto& r : doc["records"]) {
    if (r["table"] != "documents" || r["action"] != "insert") continue;
    named += std::stoull(r["key"].get<std::string>()) <= 100'000;
  }
  EXPECT_EQ(doc["chosen_documents"].size(), named);
  EXPECT_LE(peak_kib(planned), kBudgetKiB) << "dry run of a record restore of 300,001 rows";
  auto applied = measured({"restore", "--apply", (dir / "plan").string(), "--json"});
  ASSERT_EQ(applied.exit_code, 0) << applied.out.substr(0, 2000) << applied.err;
  auto after = nlohmann::json::parse(applied.out, nullptr, false);
  ASSERT_FALSE(after.is_discarded());
  EXPECT_EQ(after["verdict"], "restored");
  EXPECT_EQ(after["chosen_documents"].size(), named);
  EXPECT_LE(peak_kib(applied), kBudgetKiB) << "apply of a record restore of 300,001 rows";
  auto count =
      run({"sqlite3", (dir / "live/app.sqlite").string(), "SELECT count(*) FROM documents"});
  EXPECT_EQ(count.out, fmt::format("{}\n", 200'000 - 9'090));
}

}  // namespace
}  // namespace restorekit::test
