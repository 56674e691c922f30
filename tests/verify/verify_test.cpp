#include <restorekit/verify/verify.hpp>

#include <archive_entry.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <restorekit/core/backup.hpp>
#include <restorekit/core/sqlite.hpp>

#include "test_support.hpp"

namespace restorekit::verify {
namespace {

using test::ScratchDir;
namespace fs = std::filesystem;

fs::path our_backup(const fs::path& out, const fs::path& db, const fs::path& docs) {
  core::BackupOptions o;
  o.database = db;
  o.documents = docs;
  o.output = out;
  o.tenants = core::TenantSpec{"company_id", "companies", "id", "name"};
  auto r = core::write_backup(o);
  EXPECT_TRUE(r) << r.error().message;
  return out;
}

fs::path our_backup(const ScratchDir& dir, const std::string& name) {
  const auto& s = test::small_sample();
  return our_backup(dir / name, s.database, s.documents);
}

VerifyOptions options_in(const ScratchDir& dir) {
  VerifyOptions o;
  o.temp_dir = dir / "tmp";
  fs::create_directories(o.temp_dir);
  return o;
}

std::set<std::string> codes(const VerifyReport& r) {
  std::set<std::string> out;
  for (const auto& f : r.findings) out.insert(f.code);
  return out;
}

const core::Finding* find_code(const VerifyReport& r, std::string_view code) {
  for (const auto& f : r.findings) {
    if (f.code == code) return &f;
  }
  return nullptr;
}

std::string describe(const VerifyReport& r) {
  std::string out;
  for (const auto& f : r.findings) out += f.code + ": " + f.message + "\n";
  return out;
}

class OurBackups : public ::testing::TestWithParam<std::pair<std::string, unsigned>> {};

TEST_P(OurBackups, AreIntactWithEveryEntryChecksummed) {
  ScratchDir dir;
  auto path = our_backup(dir, "b." + GetParam().first);
  auto o = options_in(dir);
  o.threads = GetParam().second;
  {
    auto r = verify(path, o);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_TRUE(r->intact()) << describe(*r);
    EXPECT_TRUE(r->findings.empty()) << describe(*r);
    EXPECT_EQ(r->kind, core::BackupKind::kRestorekit);
    EXPECT_EQ(r->checksums_checked, 1 + test::small_sample().document_files);
    ASSERT_EQ(r->databases.size(), 1u);
    EXPECT_TRUE(r->databases[0].integrity_ok);
    ASSERT_TRUE(r->databases[0].staged);
    EXPECT_TRUE(fs::is_regular_file(*r->databases[0].staged)) << "the report keeps its copy";
  }
  EXPECT_TRUE(fs::is_empty(o.temp_dir)) << "staged databases go with the report";
}

INSTANTIATE_TEST_SUITE_P(Formats, OurBackups,
                         ::testing::Values(std::pair<std::string, unsigned>{"zip", 1},
                                           std::pair<std::string, unsigned>{"zip", 4},
                                           std::pair<std::string, unsigned>{"tar.gz", 0},
                                           std::pair<std::string, unsigned>{"tar.zst", 0},
                                           std::pair<std::string, unsigned>{"tar.xz", 0}));

// Flips every byte of a tar.gz made by GNU tar and gzip. Every flip must be reported, except
// one that leaves the stream decoding to the very same bytes with a matching CRC (deflate has
// a little redundancy, e.g. in a dynamic Huffman header): such an archive is intact by any
// definition, and the oracle for that is the peer tool, `gzip -dc | cmp`.
TEST(Verify, EveryFlippedByteOfAGnuTarGzIsReported) {
  RK_REQUIRE_TOOL("tar");
  RK_REQUIRE_TOOL("gzip");
  ScratchDir dir;
  test::write_file(dir / "d/a.txt", "hello\n");
  std::string text;
  for (int i = 0; i < 200; ++i) text += "line " + std::to_string(i * 7919) + "\n";
  test::write_file(dir / "d/b.txt", text);
  ASSERT_EQ(test::sh("tar czf t.tgz d && gzip -dc t.tgz > t.tar", dir.path()), 0);
  auto data = test::read_file(dir / "t.tgz");
  auto o = options_in(dir);
  auto clean = verify(dir / "t.tgz", o);
  ASSERT_TRUE(clean);
  EXPECT_EQ(codes(*clean), std::set<std::string>{"NO_DATABASE"}) << describe(*clean);
  std::vector<std::size_t> missed;
  int harmless = 0;
  for (std::size_t i = 0; i < data.size(); ++i) {
    std::string flipped = data;
    flipped[i] = static_cast<char>(flipped[i] ^ 0xff);
    test::write_file(dir / "f.tgz", flipped);
    auto r = verify(dir / "f.tgz", o);
    if (!r || codes(*r) != std::set<std::string>{"NO_DATABASE"}) continue;
    bool identical =
        test::run({"/bin/sh", "-c", "gzip -dc f.tgz | cmp -s - t.tar"}, dir.path()).exit_code == 0;
    if (identical) {
      ++harmless;
    } else {
      missed.push_back(i);
    }
  }
  EXPECT_TRUE(missed.empty()) << missed.size() << " of " << data.size()
                              << " flips that change the data went unreported; first at byte "
                              << missed.front();
  EXPECT_LE(harmless, 3) << "flips decoding to identical data should be rare";
}

TEST(Verify, TamperedDocumentIsAChecksumMismatch) {
  ScratchDir dir;
  auto path = our_backup(dir, "b.tar.zst");
  std::string victim;
  auto bytes = test::rewrite_archive(path, core::ArchiveKind::kTarZst,
                                     [&](const std::string& p, std::string data) {
                                       if (victim.empty() && p.rfind("docs/", 0) == 0) {
                                         victim = p;
                                         data += "tampered";
                                       }
                                       return std::optional<std::string>(data);
                                     });
  test::write_bytes(dir / "t.tar.zst", bytes);
  auto r = verify(dir / "t.tar.zst", options_in(dir));
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->intact());
  const auto* f = find_code(*r, "CHECKSUM_MISMATCH");
  ASSERT_NE(f, nullptr) << describe(*r);
  EXPECT_EQ(f->entry, victim);
  EXPECT_TRUE(find_code(*r, "HEADER_MISMATCH")) << "document bytes differ from the header";
}

TEST(Verify, MissingAndExtraEntriesAreNamed) {
  ScratchDir dir;
  auto path = our_backup(dir, "b.zip");
  std::string dropped;
  auto bytes = test::rewrite_archive(
      path, core::ArchiveKind::kZip,
      [&](const std::string& p, std::string data) -> std::optional<std::string> {
        if (dropped.empty() && p.rfind("docs/", 0) == 0) {
          dropped = p;
          return std::nullopt;
        }
        return data;
      },
      {{"docs/smuggled.txt", "not in the checksums"}});
  test::write_bytes(dir / "t.zip", bytes);
  auto r = verify(dir / "t.zip", options_in(dir));
  ASSERT_TRUE(r);
  const auto* missing = find_code(*r, "MISSING_ENTRY");
  ASSERT_NE(missing, nullptr) << describe(*r);
  EXPECT_EQ(missing->entry, dropped);
  const auto* extra = find_code(*r, "EXTRA_ENTRY");
  ASSERT_NE(extra, nullptr);
  EXPECT_EQ(extra->entry, "docs/smuggled.txt");
}

// The checksum list is merged against the entries in name order: the findings must still come
// in the list's line order, then the extra entries in archive order, and a second entry of a
// listed name is a duplicate, never an extra one.
TEST(Verify, ChecksumFindingsComeInLineOrderThenExtrasInArchiveOrder) {
  ScratchDir dir;
  auto path = our_backup(dir, "b.tar.zst");
  std::vector<std::string> docs;
  std::string list;
  test::rewrite_archive(path, core::ArchiveKind::kTarZst,
                        [&](const std::string& p, std::string data) {
                          if (p.rfind("docs/", 0) == 0) docs.push_back(p);
                          if (p == "restorekit/checksums.xxh128") list = data;
                          return std::optional<std::string>(data);
                        });
  ASSERT_GE(docs.size(), 6u);
  const std::string dropped = docs[4], tampered_a = docs[1], tampered_b = docs[3];
  const std::string twice = docs[2];
  auto bytes = test::rewrite_archive(
      path, core::ArchiveKind::kTarZst,
      [&](const std::string& p, std::string data) -> std::optional<std::string> {
        if (p == dropped) return std::nullopt;
        if (p == tampered_a || p == tampered_b) data += "!";
        return data;
      },
      {{"zz-last.txt", "after every name"}, {twice, "a second copy"}, {"docs/0.txt", "first"}});
  test::write_bytes(dir / "t.tar.zst", bytes);
  auto r = verify(dir / "t.tar.zst", options_in(dir));
  ASSERT_TRUE(r);
  std::vector<std::pair<std::size_t, std::string>> by_line;
  for (const auto* p : {&dropped, &tampered_a, &tampered_b}) {
    auto at = list.find("  " + *p + "\n");
    ASSERT_NE(at, std::string::npos) << *p;
    by_line.emplace_back(at, *p);
  }
  std::sort(by_line.begin(), by_line.end());
  std::vector<std::string> expected;
  for (const auto& [at, p] : by_line) {
    expected.push_back((p == dropped ? "MISSING_ENTRY " : "CHECKSUM_MISMATCH ") + p);
  }
  expected.push_back("EXTRA_ENTRY zz-last.txt");
  expected.push_back("EXTRA_ENTRY docs/0.txt");
  std::vector<std::string> got;
  for (const auto& f : r->findings) {
    if (f.code == "MISSING_ENTRY" || f.code == "CHECKSUM_MISMATCH" || f.code == "EXTRA_ENTRY") {
      got.push_back(f.code + " " + f.entry);
    }
  }
  EXPECT_EQ(got, expected) << describe(*r);
  EXPECT_TRUE(find_code(*r, "DUPLICATE_ENTRY")) << describe(*r);
}

TEST(Verify, HeaderThatLiesAboutRowCountsIsAMismatch) {
  ScratchDir dir;
  auto path = our_backup(dir, "b.tar.gz");
  auto bytes = test::rewrite_archive(path, core::ArchiveKind::kTarGz,
                                     [&](const std::string& p, std::string data) {
                                       if (p == "restorekit/header.json") {
                                         auto pos = data.find("\"name\": \"persons\"");
                                         auto rows = data.find("\"rows\": ", pos);
                                         data.insert(rows + 8, 1, '1');  // 123 rows become 1123
                                       }
                                       return std::optional<std::string>(data);
                                     });
  test::write_bytes(dir / "t.tar.gz", bytes);
  auto r = verify(dir / "t.tar.gz", options_in(dir));
  ASSERT_TRUE(r);
  const auto* f = find_code(*r, "HEADER_MISMATCH");
  ASSERT_NE(f, nullptr) << describe(*r);
  EXPECT_NE(f->message.find("persons"), std::string::npos);
}

TEST(Verify, DuplicateAndUnsafeEntriesAreStructuralErrors) {
  ScratchDir dir;
  test::write_bytes(dir / "h.tar", test::raw_tar({{"docs/a.txt", AE_IFREG, "one", ""},
                                                  {"docs/a.txt", AE_IFREG, "two", ""},
                                                  {"../escape.txt", AE_IFREG, "x", ""},
                                                  {"docs/link", AE_IFLNK, "", "/etc/passwd"}}));
  auto r = verify(dir / "h.tar", options_in(dir));
  ASSERT_TRUE(r);
  auto c = codes(*r);
  EXPECT_TRUE(c.count("DUPLICATE_ENTRY"));
  EXPECT_TRUE(c.count("UNSAFE_PATH"));
  EXPECT_TRUE(c.count("UNSAFE_LINK"));
  EXPECT_FALSE(r->intact());
}

TEST(Verify, ZipCrcErrorNamesTheEntry) {
  RK_REQUIRE_TOOL("zip");
  ScratchDir dir;
  std::string body(20000, 'A');
  test::write_file(dir / "in/a.txt", "first");
  test::write_file(dir / "in/b.txt", body);
  ASSERT_EQ(test::sh("zip -q0r stored.zip in", dir.path()), 0);
  auto data = test::read_file(dir / "stored.zip");
  auto pos = data.find(std::string(100, 'A'));
  ASSERT_NE(pos, std::string::npos);
  data[pos + 50] = 'B';
  test::write_file(dir / "stored.zip", data);
  for (unsigned threads : {1u, 3u}) {
    auto o = options_in(dir);
    o.threads = threads;
    auto r = verify(dir / "stored.zip", o);
    ASSERT_TRUE(r);
    const auto* f = find_code(*r, "CRC_ERROR");
    ASSERT_NE(f, nullptr) << describe(*r);
    EXPECT_EQ(f->entry, "in/b.txt");
  }
}

// An archive whose every entry is damaged lists the first damaged entries one by one, in
// archive order, and counts the rest in one finding per code: memory stays bounded (300,000
// failed CRCs took 908 MiB when every one was kept). One reader or several, the same findings.
TEST(Verify, ManyDamagedEntriesAreListedUpToALimitAndTheRestCounted) {
  RK_REQUIRE_TOOL("zip");
  RK_REQUIRE_TOOL("unzip");
  ScratchDir dir;
  constexpr int kFiles = 2500;
  ASSERT_EQ(
      test::sh(fmt::format("mkdir in && cd in && for i in $(seq -w 1 {}); do "
                           "echo content-$i > f$i.txt; done && cd .. && zip -q0r stored.zip in",
                           kFiles),
               dir.path()),
      0);
  auto data = test::read_file(dir / "stored.zip");
  int damaged = 0;
  for (auto at = data.find("content-"); at != std::string::npos; at = data.find("content-", at)) {
    data[at] = 'C';  // stored: the entry's bytes as they are, its CRC-32 now wrong
    ++damaged;
  }
  ASSERT_EQ(damaged, kFiles);
  test::write_file(dir / "stored.zip", data);
  // The first 1,000 files as zip stored them (in the order the folder listed them).
  std::vector<std::string> in_archive_order;
  std::istringstream names(test::run({"unzip", "-Z1", "stored.zip"}, dir.path()).out);
  for (std::string name; std::getline(names, name) && in_archive_order.size() < 1000;) {
    if (name.back() != '/') in_archive_order.push_back(name);
  }
  ASSERT_EQ(in_archive_order.size(), 1000u);
  std::vector<std::string> first;
  // Readers that each read every header, or (its directory read in windows of 300 records)
  // each its own windows.
  for (auto [threads, window] : {std::pair{1u, 8192u}, {2u, 8192u}, {2u, 300u}, {3u, 300u}}) {
    SCOPED_TRACE(fmt::format("{} readers, windows of {} records", threads, window));
    auto o = options_in(dir);
    o.threads = threads;
    o.reader.zip_window_entries = window;
    auto r = verify(dir / "stored.zip", o);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_FALSE(r->intact());
    std::vector<std::string> listed;
    std::vector<std::string> counted;
    for (const auto& f : r->findings) {
      if (f.code != "CRC_ERROR") continue;
      (f.entry.empty() ? counted : listed).push_back(f.entry.empty() ? f.message : f.entry);
    }
    ASSERT_EQ(listed.size(), 1000u) << describe(*r);
    EXPECT_EQ(listed, in_archive_order) << "the first ones in archive order";
    ASSERT_EQ(counted.size(), 1u) << describe(*r);
    EXPECT_NE(counted[0].find("1500 more entries have CRC_ERROR"), std::string::npos) << counted[0];
    if (first.empty()) first = listed;
    EXPECT_EQ(listed, first) << threads << " readers";
    EXPECT_EQ(r->count(core::Severity::kError), static_cast<std::size_t>(kFiles))
        << "the one finding for the rest counts them all";
    EXPECT_EQ(r->entries, static_cast<std::uint64_t>(kFiles + 1));
  }
}

// Names that clash are listed up to the same limit, the rest counted: 1,200 files that are also
// folders (bsdtar from an mtree spec: "x0001" and "x0001/y").
TEST(Verify, ManyClashingNamesAreListedUpToALimitAndTheRestCounted) {
  RK_REQUIRE_TOOL("bsdtar");
  ScratchDir dir;
  {
    std::ofstream spec(dir / "clash.mtree");
    spec << "#mtree\n";
    for (int i = 0; i < 1200; ++i) {
      spec << fmt::format(
          "./x{0:04} type=file size=0 mode=0644 time=1700000000\n"
          "./x{0:04}/y type=file size=0 mode=0644 time=1700000000\n",
          i);
    }
  }
  ASSERT_EQ(test::sh("bsdtar -cf clash.tar @clash.mtree", dir.path()), 0);
  auto r = verify(dir / "clash.tar", options_in(dir));
  ASSERT_TRUE(r) << r.error().message;
  std::vector<std::string> listed;
  std::vector<std::string> counted;
  for (const auto& f : r->findings) {
    if (f.code != "PATH_CONFLICT") continue;
    (f.entry.empty() ? counted : listed).push_back(f.entry.empty() ? f.message : f.entry);
  }
  ASSERT_EQ(listed.size(), 1000u);
  EXPECT_EQ(listed.front(), "x0000");
  EXPECT_EQ(listed.back(), "x0999");
  ASSERT_EQ(counted.size(), 1u);
  EXPECT_NE(counted[0].find("200 more entries have PATH_CONFLICT"), std::string::npos)
      << counted[0];
}

// Encrypted entries beyond the listing limit still count in the one PASSWORD_REQUIRED /
// BAD_PASSWORD finding; ZipCrypto's 1-byte check lets about 1 in 256 wrong-password entries
// through to fail their CRC instead, and those count as the wrong password too when no entry
// decrypted.
TEST(Verify, EveryEncryptedEntryCountsInTheLockedFindingHoweverMany) {
  RK_REQUIRE_TOOL("zip");
  ScratchDir dir;
  ASSERT_EQ(test::sh("mkdir in && cd in && for i in $(seq -w 1 2500); do echo secret-$i > "
                     "f$i.txt; done && cd .. && zip -qr -P pw enc.zip in",
                     dir.path()),
            0);
  auto none = verify(dir / "enc.zip", options_in(dir));
  ASSERT_TRUE(none) << none.error().message;
  ASSERT_TRUE(find_code(*none, "PASSWORD_REQUIRED")) << describe(*none);
  EXPECT_NE(find_code(*none, "PASSWORD_REQUIRED")->message.find("2500 encrypted entries"),
            std::string::npos)
      << find_code(*none, "PASSWORD_REQUIRED")->message;
  auto o = options_in(dir);
  o.reader.passwords.candidates = {"nope"};
  auto wrong = verify(dir / "enc.zip", o);
  ASSERT_TRUE(wrong) << wrong.error().message;
  std::vector<std::string> codes;
  for (const auto& f : wrong->findings) {
    if (f.severity == core::Severity::kError) codes.push_back(f.code);
  }
  EXPECT_EQ(codes, std::vector<std::string>{"BAD_PASSWORD"}) << describe(*wrong);
  ASSERT_TRUE(find_code(*wrong, "BAD_PASSWORD"));
  EXPECT_NE(find_code(*wrong, "BAD_PASSWORD")->message.find("2500 encrypted entries"),
            std::string::npos)
      << find_code(*wrong, "BAD_PASSWORD")->message;
}

TEST(Verify, TruncationNamesTheLastGoodEntryAndTheOffset) {
  ScratchDir dir;
  auto path = our_backup(dir, "b.tar.zst");
  fs::resize_file(path, fs::file_size(path) * 2 / 3);
  auto r = verify(path, options_in(dir));
  ASSERT_TRUE(r) << r.error().message;
  const auto* f = find_code(*r, "TRUNCATED");
  ASSERT_NE(f, nullptr) << describe(*r);
  EXPECT_FALSE(f->entry.empty());
  EXPECT_NE(f->message.find("last intact entry"), std::string::npos);
  EXPECT_NE(f->message.find("stopped at byte"), std::string::npos);
  EXPECT_FALSE(find_code(*r, "NO_DATABASE")) << "an incomplete pass cannot say that";
}

TEST(Verify, EncryptedZipWithoutOrWithWrongPasswordIsReported) {
  RK_REQUIRE_TOOL("zip");
  ScratchDir dir;
  test::write_file(dir / "in/a.txt", "secret");
  test::write_file(dir / "in/b.txt", "secret too");
  ASSERT_EQ(test::sh("zip -qr -P pw enc.zip in", dir.path()), 0);
  auto none = verify(dir / "enc.zip", options_in(dir));
  ASSERT_TRUE(none);
  ASSERT_TRUE(find_code(*none, "PASSWORD_REQUIRED")) << describe(*none);
  EXPECT_NE(find_code(*none, "PASSWORD_REQUIRED")->message.find("2 encrypted entries"),
            std::string::npos);
  auto o = options_in(dir);
  o.reader.passwords.candidates = {"nope"};
  auto wrong = verify(dir / "enc.zip", o);
  ASSERT_TRUE(wrong);
  EXPECT_TRUE(find_code(*wrong, "BAD_PASSWORD")) << describe(*wrong);
  o.reader.passwords.candidates = {"pw"};
  auto right = verify(dir / "enc.zip", o);
  ASSERT_TRUE(right);
  EXPECT_TRUE(right->intact()) << describe(*right);
}

// An encrypted zip holding a symbolic link (zip -y -P, 7z -p): libarchive reads a link's target
// with its header, before any decryption, so the target cannot be read. That is a warning on
// the link (links are never restored), not damage, and every entry after it is still read:
// before, the link's unreadable header stopped the whole pass and the backup was "damaged".
TEST(Verify, AnEncryptedLinkIsAWarningAndTheEntriesAfterItAreRead) {
  RK_REQUIRE_TOOL("zip");
  ScratchDir dir;
  test::write_file(dir / "in/a.txt", "first");
  test::write_file(dir / "in/z.txt", "after the link");
  fs::create_symlink("a.txt", dir / "in/link");
  std::vector<std::pair<std::string, std::string>> made = {
      {"zipcrypto.zip", "zip -qry -P pw zipcrypto.zip in/a.txt in/link in/z.txt"}};
  if (test::have_tool("7z")) {
    made.emplace_back("aes.zip",
                      "7z a -tzip -bso0 -bsp0 -ppw -mem=AES256 aes.zip in/a.txt in/link in/z.txt");
  }
  for (const auto& [name, cmd] : made) {
    SCOPED_TRACE(cmd);
    ASSERT_EQ(test::sh(cmd, dir.path()), 0);
    fs::path zip = dir / name;
    auto o = options_in(dir);
    o.reader.passwords.candidates = {"pw"};
    auto r = verify(zip, o);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_TRUE(r->intact()) << describe(*r);
    EXPECT_EQ(r->entries, 3u) << describe(*r);
    EXPECT_EQ(r->bytes, 5u + 14u) << "both files read: " << describe(*r);
    const auto* f = find_code(*r, "ENCRYPTION_UNSUPPORTED");
    ASSERT_NE(f, nullptr) << describe(*r);
    EXPECT_EQ(f->severity, core::Severity::kWarning);
    EXPECT_EQ(f->entry, "in/link");
    EXPECT_NE(f->message.find("never restored"), std::string::npos) << f->message;
  }
}

// Every zip reader parses every header, so up to --threads readers split a zip's data only where
// its entries are big enough to pay for it: tiny entries are read by one.
TEST(Verify, AZipOfTinyEntriesIsReadByOneReaderAndOfLargerOnesByMore) {
  RK_REQUIRE_TOOL("zip");
  ScratchDir dir;
  for (int i = 0; i < 40; ++i) {
    test::write_file(dir / fmt::format("tiny/{}.txt", i), fmt::format("note {}\n", i));
    test::write_file(dir / fmt::format("large/{}.bin", i), test::noise(3000, 5 + i));
  }
  ASSERT_EQ(test::sh("zip -qr tiny.zip tiny && zip -qr large.zip large", dir.path()), 0);
  for (auto [name, readers] : {std::pair{"tiny.zip", 1u}, std::pair{"large.zip", 2u}}) {
    auto o = options_in(dir);
    o.threads = 2;
    auto r = verify(dir / name, o);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_TRUE(r->intact()) << describe(*r);
    EXPECT_EQ(r->threads, readers) << name;
    EXPECT_EQ(r->entries, 41u) << name;  // the folder and its 40 files
  }
}

// The summary a verify records (what inspect would say): a foreign backup without a docs/
// folder has as documents every file but its database; encrypted entries mark it encrypted.
TEST(Verify, TheSummaryCountsAForeignBackupsDocumentsWithoutItsDatabase) {
  RK_REQUIRE_TOOL("zip");
  RK_REQUIRE_TOOL("sqlite3");
  ScratchDir dir;
  test::write_file(dir / "in/a.txt", "first letter");
  test::write_file(dir / "in/b.txt", "second, longer letter");
  ASSERT_EQ(test::sh("sqlite3 in/app.db 'CREATE TABLE t(x); INSERT INTO t VALUES (1);' && "
                     "touch -d '2020-01-02 10:00' in/a.txt && touch -d '2021-05-06 10:00' "
                     "in/b.txt && cd in && zip -q -P pw ../enc.zip app.db a.txt b.txt",
                     dir.path()),
            0);
  auto o = options_in(dir);
  o.reader.passwords.candidates = {"pw"};
  auto r = verify(dir / "enc.zip", o);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->intact()) << describe(*r);
  const auto& s = r->summary;
  ASSERT_EQ(s.databases.size(), 1u);
  EXPECT_EQ(s.databases.front().entry, "app.db");
  EXPECT_EQ(s.document_files, 2u) << "the database is no document";
  EXPECT_EQ(s.document_bytes, 12u + 21u);
  EXPECT_TRUE(s.encrypted);
  ASSERT_TRUE(s.oldest_mtime && s.newest_mtime);
  EXPECT_LT(*s.oldest_mtime, *s.newest_mtime);
}

// A locked backup is not a damaged one: only PASSWORD_REQUIRED / BAD_PASSWORD, nothing derived
// from what could not be read (header, database, checksums), verdict locked.
TEST(Verify, OurEncryptedBackupWithoutTheRightPasswordIsLockedNotDamaged) {
  ScratchDir dir;
  const auto& s = test::small_sample();
  core::BackupOptions b;
  b.database = s.database;
  b.documents = s.documents;
  b.output = dir / "enc.zip";
  b.password = "right";
  ASSERT_TRUE(core::write_backup(b));
  for (std::optional<std::string> pw :
       {std::optional<std::string>(), std::optional<std::string>("wrong")}) {
    SCOPED_TRACE(pw.value_or("no password"));
    auto o = options_in(dir);
    if (pw) o.reader.passwords.candidates = {*pw};
    auto r = verify(dir / "enc.zip", o);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->verdict(), core::Verdict::kLocked) << describe(*r);
    ASSERT_EQ(r->findings.size(), 1u) << describe(*r);
    EXPECT_EQ(r->findings.front().code, pw ? "BAD_PASSWORD" : "PASSWORD_REQUIRED");
  }
}

// Damage inside an encrypted entry, read with the right password, is damage; a failure to
// decrypt when no encrypted entry decrypted at all is the wrong password (what a password that
// passes AES's 2-byte check value looks like), so the backup is locked, not damaged.
TEST(Verify, EncryptedEntriesFailingAloneMeanAWrongPasswordNotDamage) {
  ScratchDir dir;
  std::string big(1 << 20, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 2654435761u) >> 13);
  auto flip_middle = [](std::vector<std::byte> bytes, std::size_t at) {
    bytes[at] ^= std::byte{0x5a};
    return bytes;
  };
  auto two =
      test::make_archive(core::ArchiveKind::kZip, {{"a.txt", "first"}, {"b.bin", big}}, "pw");
  test::write_bytes(dir / "two.zip", flip_middle(two, two.size() / 2));
  auto o = options_in(dir);
  o.reader.passwords.candidates = {"pw"};
  auto damaged = verify(dir / "two.zip", o);
  ASSERT_TRUE(damaged) << damaged.error().message;
  EXPECT_EQ(damaged->verdict(), core::Verdict::kDamaged) << describe(*damaged);

  auto one = test::make_archive(core::ArchiveKind::kZip, {{"b.bin", big}}, "pw");
  test::write_bytes(dir / "one.zip", flip_middle(one, one.size() / 2));
  auto locked = verify(dir / "one.zip", o);
  ASSERT_TRUE(locked) << locked.error().message;
  EXPECT_EQ(locked->verdict(), core::Verdict::kLocked) << describe(*locked);
  EXPECT_TRUE(find_code(*locked, "BAD_PASSWORD")) << describe(*locked);
  EXPECT_FALSE(find_code(*locked, "CORRUPT_DATA")) << describe(*locked);
}

// On a terminal the password is asked once, however many readers verify the zip.
TEST(Verify, ThePasswordPromptIsAskedOnceForEveryReader) {
  ScratchDir dir;
  std::vector<test::MemoryEntry> entries;
  for (int i = 0; i < 40; ++i) {  // entries large enough for every reader (kSmallZipEntry)
    entries.push_back({fmt::format("f{}.txt", i), test::noise(2000, 3 + i)});
  }
  test::write_bytes(dir / "enc.zip", test::make_archive(core::ArchiveKind::kZip, entries, "pw"));
  auto o = options_in(dir);
  o.threads = 4;
  std::atomic<int> asked{0};
  o.reader.passwords.prompt = [&]() -> std::optional<std::string> {
    ++asked;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // a person typing
    return "pw";
  };
  auto r = verify(dir / "enc.zip", o);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->intact()) << describe(*r);
  EXPECT_EQ(r->threads, 4u);
  EXPECT_EQ(asked.load(), 1);
}

// Verify stages each database in its temporary folder: where that file system is full, the
// error names the file and says what to do, and nothing is left behind.
TEST(Verify, AFullTemporaryFileSystemIsAnErrorThatSaysWhatToDo) {
  ScratchDir dir;
  auto backup = our_backup(dir, "b.tar.zst");
  ASSERT_GT(fs::file_size(test::small_sample().database), 64u * 1024);
  auto mount = dir / "tight";
  test::Tmpfs tmpfs(mount, "64k");
  RK_REQUIRE_TMPFS(tmpfs);
  VerifyOptions o;
  o.temp_dir = mount;
  auto r = verify(core::ArchiveSource(backup), o);
  ASSERT_FALSE(r) << "verified with its database staged on a full file system";
  EXPECT_EQ(r.error().code, ErrorCode::kIo);
  const auto& m = r.error().message;
  EXPECT_NE(m.find(mount.string()), std::string::npos) << m;
  EXPECT_NE(m.find(std::strerror(ENOSPC)), std::string::npos) << m;
  EXPECT_NE(m.find("free space on the file system that holds " + mount.string()), std::string::npos)
      << m;
  EXPECT_TRUE(fs::is_empty(mount)) << "left behind in " << mount;

  // The same under $TMPDIR, the CLI's way.
  auto res =
      test::run({test::restorekit_exe(), "verify", backup.string(), "--no-catalog", "--quiet"},
                dir.path(), {"TMPDIR=" + mount.string()});
  EXPECT_EQ(res.exit_code, 2) << res.err;
  EXPECT_NE(res.err.find(mount.string()), std::string::npos) << res.err;
  EXPECT_NE(res.err.find("set TMPDIR to a folder on one with room"), std::string::npos) << res.err;
  EXPECT_TRUE(fs::is_empty(mount)) << "left behind in " << mount;
}

// No database where one is expected is damage; a file named like a database that is none, or
// a dump in another SQL dialect, is named in a warning.
TEST(Verify, AMissingDatabaseIsAnErrorWhereOneIsExpected) {
  ScratchDir dir;
  test::write_bytes(dir / "text.zip",
                    test::make_archive(core::ArchiveKind::kZip,
                                       {{"backup.db", "just text\n"}, {"docs/a.txt", "a"}}));
  auto plain = verify(dir / "text.zip", options_in(dir));
  ASSERT_TRUE(plain) << plain.error().message;
  EXPECT_TRUE(plain->intact()) << describe(*plain);
  ASSERT_TRUE(find_code(*plain, "NOT_A_DATABASE")) << describe(*plain);
  EXPECT_NE(find_code(*plain, "NOT_A_DATABASE")->message.find("backup.db"), std::string::npos);
  EXPECT_EQ(find_code(*plain, "NO_DATABASE")->severity, core::Severity::kWarning);

  auto required = options_in(dir);
  required.require_database = true;
  auto r = verify(dir / "text.zip", required);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->intact());
  EXPECT_EQ(find_code(*r, "NO_DATABASE")->severity, core::Severity::kError) << describe(*r);

  auto profiled = options_in(dir);
  profiled.profile = core::Profile{};
  profiled.profile->database_entry = "*.db";
  auto p = verify(dir / "text.zip", profiled);
  ASSERT_TRUE(p);
  EXPECT_EQ(find_code(*p, "NO_DATABASE")->severity, core::Severity::kError) << describe(*p);

  // Our backup's header lists its database: without it the backup is damaged.
  auto ours = our_backup(dir, "b.tar.gz");
  test::write_bytes(dir / "nodb.tar.gz",
                    test::rewrite_archive(ours, core::ArchiveKind::kTarGz,
                                          [](const std::string& path,
                                             std::string data) -> std::optional<std::string> {
                                            if (path.rfind("db/", 0) == 0) return std::nullopt;
                                            return data;
                                          }));
  auto h = verify(dir / "nodb.tar.gz", options_in(dir));
  ASSERT_TRUE(h);
  ASSERT_TRUE(find_code(*h, "NO_DATABASE")) << describe(*h);
  EXPECT_EQ(find_code(*h, "NO_DATABASE")->severity, core::Severity::kError);
  EXPECT_NE(find_code(*h, "NO_DATABASE")->message.find("header lists"), std::string::npos);
}

TEST(Verify, AMysqlDumpIsNamedForWhatItIs) {
  ScratchDir dir;
  std::string dump =
      "-- MySQL dump 10.13  Distrib 8.0.36, for Linux (x86_64)\n"
      "/*!40101 SET NAMES utf8mb4 */;\n"
      "CREATE TABLE `customers` (\n  `id` int NOT NULL AUTO_INCREMENT,\n  PRIMARY KEY (`id`)\n"
      ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n"
      "INSERT INTO `customers` VALUES (1),(2);\n";
  test::write_bytes(dir / "my.zip", test::make_archive(core::ArchiveKind::kZip,
                                                       {{"dump.sql", dump}, {"docs/a.txt", "a"}}));
  auto r = verify(dir / "my.zip", options_in(dir));
  ASSERT_TRUE(r) << r.error().message;
  const auto* f = find_code(*r, "FOREIGN_SQL_DUMP");
  ASSERT_NE(f, nullptr) << describe(*r);
  EXPECT_NE(f->message.find("MySQL"), std::string::npos) << f->message;
  EXPECT_FALSE(find_code(*r, "DB_INTEGRITY")) << "not loaded as a SQLite dump: " << describe(*r);
}

// A zip cut short is TRUNCATED once, naming where reading stopped, however many readers ran.
TEST(Verify, ATruncatedZipIsOneTruncationNotManyCorruptions) {
  ScratchDir dir;
  auto zip = our_backup(dir, "b.zip");
  auto bytes = test::read_file(zip);
  test::write_file(dir / "cut.zip", bytes.substr(0, bytes.size() * 2 / 3));
  for (unsigned threads : {1u, 4u}) {
    auto o = options_in(dir);
    o.threads = threads;
    auto r = verify(dir / "cut.zip", o);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->verdict(), core::Verdict::kDamaged);
    EXPECT_FALSE(find_code(*r, "CORRUPT_DATA")) << describe(*r);
    const auto* t = find_code(*r, "TRUNCATED");
    ASSERT_NE(t, nullptr) << describe(*r);
    EXPECT_NE(t->message.find("last intact entry"), std::string::npos) << t->message;
    EXPECT_NE(t->message.find(std::to_string(bytes.size() * 2 / 3)), std::string::npos)
        << t->message;
  }
}

// Several readers of one zip report the archive's bytes once, never more than the file holds.
TEST(Verify, ZipProgressNeverOvershoots) {
  ScratchDir dir;
  auto zip = our_backup(dir, "b.zip");
  for (std::size_t window : {8192, 3}) {  // every reader meets every header, or its own windows
    auto o = options_in(dir);
    o.threads = 4;
    o.reader.zip_window_entries = window;
    std::atomic<std::uint64_t> most{0}, total{0};
    o.progress = [&](const Progress& p) {
      most = std::max<std::uint64_t>(most, p.bytes_done);
      total = p.bytes_total;
    };
    auto r = verify(zip, o);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_TRUE(r->intact()) << describe(*r);
    EXPECT_EQ(r->threads, 4u);
    ASSERT_GT(total.load(), 0u);
    EXPECT_LE(most.load(), total.load()) << "windows of " << window;
  }
}

TEST(Verify, RatioBombStopsWithAFinding) {
  ScratchDir dir;
  test::write_bytes(
      dir / "bomb.tar.zst",
      test::make_archive(core::ArchiveKind::kTarZst, {{"zeros.bin", std::string(16 << 20, '\0')}}));
  auto o = options_in(dir);
  o.reader.limits.ratio_grace_bytes = 1 << 20;
  o.reader.limits.max_ratio = 100;
  auto r = verify(dir / "bomb.tar.zst", o);
  ASSERT_TRUE(r);
  EXPECT_TRUE(find_code(*r, "RATIO_LIMIT")) << describe(*r);
}

// A database with a corrupt page, an unenforced foreign key and a trigger calling
// load_extension, packed in a zip.
TEST(Verify, DatabaseProblemsAreFound) {
  ScratchDir dir;
  {
    auto db = core::Database::open(dir / "good.sqlite", core::OpenMode::kCreate);
    ASSERT_TRUE(
        db->exec("CREATE TABLE p(id INTEGER PRIMARY KEY);"
                 "CREATE TABLE c(id INTEGER PRIMARY KEY, p INTEGER REFERENCES p(id));"
                 "INSERT INTO c VALUES(1, 42);"
                 "CREATE TRIGGER t AFTER INSERT ON p BEGIN "
                 "SELECT load_extension('/tmp/x.so'); END;"));
    ASSERT_TRUE(
        db->exec("CREATE TABLE big(x); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL "
                 "SELECT i + 1 FROM n WHERE i < 2000) INSERT INTO big SELECT "
                 "randomblob(100) FROM n;"));
  }
  fs::copy_file(dir / "good.sqlite", dir / "bad.sqlite");
  {
    std::fstream f(dir / "bad.sqlite", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(4096 * 3 + 100);
    std::string junk(600, '\x5a');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  auto good = test::read_file(dir / "good.sqlite");
  auto bad = test::read_file(dir / "bad.sqlite");
  test::write_bytes(
      dir / "dbs.zip",
      test::make_archive(core::ArchiveKind::kZip, {{"good.sqlite", good}, {"bad.sqlite", bad}}));
  auto r = verify(dir / "dbs.zip", options_in(dir));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->databases.size(), 2u);
  const auto* integrity = find_code(*r, "DB_INTEGRITY");
  ASSERT_NE(integrity, nullptr) << describe(*r);
  EXPECT_EQ(integrity->entry, "bad.sqlite");
  EXPECT_EQ(integrity->severity, core::Severity::kError);
  const auto* fk = find_code(*r, "DB_FOREIGN_KEY");
  ASSERT_NE(fk, nullptr);
  EXPECT_EQ(fk->severity, core::Severity::kWarning);
  const auto* schema = find_code(*r, "UNTRUSTED_SCHEMA");
  ASSERT_NE(schema, nullptr);
  EXPECT_NE(schema->message.find("load_extension"), std::string::npos);
  EXPECT_FALSE(fs::exists("/tmp/x.so"));
}

TEST(Verify, DocumentsOnlyArchiveHasNoDatabaseWarning) {
  ScratchDir dir;
  test::write_bytes(dir / "docs.tar.gz",
                    test::make_archive(core::ArchiveKind::kTarGz, {{"docs/a.txt", "a"}}));
  auto r = verify(dir / "docs.tar.gz", options_in(dir));
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->intact());
  ASSERT_TRUE(find_code(*r, "NO_DATABASE"));
  EXPECT_EQ(find_code(*r, "NO_DATABASE")->severity, core::Severity::kWarning);
}

TEST(Verify, ReferencedDocumentsMustBeInTheBackup) {
  ScratchDir dir;
  const auto& s = test::small_sample();
  fs::copy(s.documents, dir / "docs", fs::copy_options::recursive);
  auto db = core::Database::open_untrusted(s.database);
  auto st = db->prepare("SELECT path FROM documents ORDER BY id LIMIT 1");
  ASSERT_TRUE(st && st->step());
  std::string removed(st->column_text(0));
  fs::remove(dir / "docs" / fs::u8path(removed));
  auto path = our_backup(dir / "b.tar.zst", s.database, dir / "docs");
  auto o = options_in(dir);
  o.profile = core::Profile{};
  o.profile->references = {{"documents", "path"}};
  auto r = verify(path, o);
  ASSERT_TRUE(r);
  const auto* f = find_code(*r, "DOC_MISSING");
  ASSERT_NE(f, nullptr) << describe(*r);
  EXPECT_NE(f->message.find(removed), std::string::npos) << f->message;
  EXPECT_NE(f->message.find("1 row"), std::string::npos) << f->message;
}

TEST(Verify, ForeignBackupIsCheckedAgainstAnXxhsumList) {
  RK_REQUIRE_TOOL("xxhsum");
  RK_REQUIRE_TOOL("bsdtar");
  ScratchDir dir;
  test::write_file(dir / "d/a.txt", "alpha");
  test::write_file(dir / "d/b.txt", "beta");
  test::write_file(dir / "d/c.txt", "gamma");
  test::write_file(dir / "d/e.txt", "epsilon");
  ASSERT_EQ(test::sh("xxhsum -H0 d/a.txt > sums && xxhsum -H1 d/b.txt >> sums && "
                     "xxhsum -H2 d/c.txt >> sums && xxhsum --tag -H3 d/e.txt >> sums && "
                     "bsdtar -czf f.tar.gz d",
                     dir.path()),
            0);
  auto o = options_in(dir);
  o.checksums_file = dir / "sums";
  auto r = verify(dir / "f.tar.gz", o);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->intact()) << describe(*r);
  EXPECT_EQ(r->checksums_checked, 4u);

  test::write_file(dir / "d/b.txt", "BETA");
  test::write_file(dir / "d/e.txt", "EPSILON");
  ASSERT_EQ(test::sh("rm d/c.txt && bsdtar -czf g.tar.gz d", dir.path()), 0);
  auto bad = verify(dir / "g.tar.gz", o);
  ASSERT_TRUE(bad);
  std::set<std::string> mismatched;
  for (const auto& f : bad->findings) {
    if (f.code == "CHECKSUM_MISMATCH") mismatched.insert(f.entry);
  }
  EXPECT_EQ(mismatched, (std::set<std::string>{"d/b.txt", "d/e.txt"})) << describe(*bad);
  ASSERT_TRUE(find_code(*bad, "MISSING_ENTRY"));
  EXPECT_EQ(find_code(*bad, "MISSING_ENTRY")->entry, "d/c.txt");
}

TEST(Verify, CannotVerifyIsAnErrorNotAFinding) {
  ScratchDir dir;
  auto o = options_in(dir);
  EXPECT_EQ(verify(dir / "none.zip", o).error().code, ErrorCode::kNotFound);
  test::write_file(dir / "text.zip", "plain text");
  EXPECT_EQ(verify(dir / "text.zip", o).error().code, ErrorCode::kNotAnArchive);
  o.checksums_file = dir / "missing-sums";
  test::write_bytes(dir / "ok.tar.gz", test::make_archive(core::ArchiveKind::kTarGz, {{"a", "a"}}));
  EXPECT_EQ(verify(dir / "ok.tar.gz", o).error().code, ErrorCode::kNotFound);
}

TEST(Verify, EncryptedSevenZipCannotBeVerified) {
  RK_REQUIRE_TOOL("7z");
  ScratchDir dir;
  test::write_file(dir / "in/a.txt", "x");
  ASSERT_EQ(test::sh("7z a -pabc -bso0 enc.7z in", dir.path()), 0);
  auto o = options_in(dir);
  o.reader.passwords.candidates = {"abc"};
  auto r = verify(dir / "enc.7z", o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kEncryptionUnsupported);
}

TEST(Verify, CancellationIsAnError) {
  ScratchDir dir;
  auto path = our_backup(dir, "b.tar.zst");
  auto o = options_in(dir);
  o.cancel.cancel();
  auto r = verify(path, o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kCancelled);
}

// Every archive of libarchive's own test suite gives a result or a clean error, and the ones
// its tests expect to fail never verify as intact.
TEST(Verify, LibarchiveCorpusNeverCrashesAndBrokenFilesAreNeverIntact) {
  auto corpus = test::corpus_dir();
  if (!corpus) GTEST_SKIP() << "SKIPPED: corpus not found (set RESTOREKIT_CORPUS)";
  std::ifstream index(*corpus / "libarchive" / "INDEX.tsv");
  std::string line;
  std::getline(index, line);
  ScratchDir dir;
  int checked = 0;
  std::vector<std::string> wrongly_intact;
  while (std::getline(index, line)) {
    std::istringstream fields(line);
    std::string file, format, what, expected;
    std::getline(fields, file, '\t');
    std::getline(fields, format, '\t');
    std::getline(fields, what, '\t');
    std::getline(fields, expected, '\t');
    auto o = options_in(dir);
    o.reader.limits.max_total_bytes = 256u << 20;
    auto r = verify(*corpus / "libarchive" / file, o);
    ++checked;
    if (expected.rfind("must fail", 0) == 0 && r && r->intact()) wrongly_intact.push_back(file);
  }
  EXPECT_GT(checked, 200);
  EXPECT_TRUE(wrongly_intact.empty()) << wrongly_intact.size() << " broken archives verified "
                                      << "as intact, e.g. " << wrongly_intact.front();
}

}  // namespace
}  // namespace restorekit::verify
