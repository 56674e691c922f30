// End-to-end tests of the restorekit executable: real backups, real foreign archives made by
// peer tools, hostile inputs, and golden outputs (RESTOREKIT_UPDATE_GOLDEN=1 rewrites them).
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <regex>
#include <thread>

#include <fmt/format.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sstream>

#include <restorekit/core/sqlite.hpp>

#include "test_support.hpp"

namespace restorekit::test {
namespace {

using nlohmann::json;

CommandResult rk(std::vector<std::string> args, const fs::path& cwd = {},
                 const std::vector<std::string>& env = {}) {
  args.insert(args.begin(), restorekit_exe());
  return run(args, cwd, env);
}

json parse_json(const CommandResult& r) {
  auto doc = json::parse(r.out, nullptr, false);
  EXPECT_FALSE(doc.is_discarded()) << "not JSON: " << r.out << r.err;
  return doc;
}

// A fresh copy of the sample per test, so that tests may alter it.
struct Fixture {
  ScratchDir dir;
  fs::path db, docs, profile;
  Fixture() {
    const auto& s = small_sample();
    db = dir / "app.sqlite";
    docs = dir / "docs";
    profile = dir / "profile.toml";
    fs::copy_file(s.database, db);
    fs::copy(s.documents, docs, fs::copy_options::recursive);
    fs::copy_file(s.profile, profile);
  }
  CommandResult backup(const std::string& name, std::vector<std::string> extra = {},
                       const std::vector<std::string>& env = {}) {
    std::vector<std::string> args = {"backup",        "--db", db.string(),           "--docs",
                                     docs.string(),   "-o",   (dir / name).string(), "--profile",
                                     profile.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return rk(args, dir.path(), env);
  }
  std::string catalog() const { return (dir / "catalog.sqlite").string(); }
};

// The first word of a tool's output line that holds `marker`, after the marker.
std::string version_after(const std::string& text, const std::string& marker) {
  auto at = text.find(marker);
  if (at == std::string::npos) return fmt::format("(\"{}\" not found in: {})", marker, text);
  auto start = at + marker.size();
  auto end = text.find_first_of(" ,\n", start);
  return text.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

// --version names the version CMake was given, the commit the source checkout is at, and the
// library versions the peer tools from the same Debian packages report.
TEST(Cli, VersionNamesTheBuildTheCommitAndTheLinkedLibraries) {
  auto r = rk({"--version"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.out.starts_with(fmt::format("restorekit {} (commit ", RESTOREKIT_PROJECT_VERSION)))
      << r.out;
  auto head = run({"git", "-C", RESTOREKIT_SOURCE_DIR, "rev-parse", "--short=12", "HEAD"});
  std::string commit = version_after(r.out, "(commit ");
  if (head.exit_code == 0) {
    EXPECT_TRUE(commit.starts_with(head.out.substr(0, 12))) << commit << " vs " << head.out;
  } else {
    EXPECT_EQ(commit, "unknown)");
  }
  EXPECT_NE(r.out.find("backup format: restorekit-backup/1\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("restorekit.verify/1"), std::string::npos) << r.out;
  RK_REQUIRE_TOOL("bsdtar");
  RK_REQUIRE_TOOL("sqlite3");
  RK_REQUIRE_TOOL("zstd");
  RK_REQUIRE_TOOL("xxhsum");
  EXPECT_EQ(version_after(r.out, "libarchive "),
            version_after(run({"bsdtar", "--version"}).out, "libarchive "));
  EXPECT_EQ(version_after(r.out, "SQLite "), version_after(run({"sqlite3", "--version"}).out, ""));
  EXPECT_EQ(fmt::format("v{}", version_after(r.out, "zstd ")),
            version_after(run({"zstd", "--version"}).out, "(64-bit) "));
  auto xxhsum = run({"xxhsum", "--version"});
  EXPECT_EQ(version_after(r.out, "xxHash "),
            version_after(fmt::format("{}{}", xxhsum.out, xxhsum.err), "xxhsum "));
}

class BackupFormats : public ::testing::TestWithParam<std::string> {};

TEST_P(BackupFormats, BackupThenInspectAsJson) {
  Fixture f;
  std::string name = "b." + GetParam();
  auto b = f.backup(name, {"--json"});
  ASSERT_EQ(b.exit_code, 0) << b.err;
  auto bj = parse_json(b);
  EXPECT_EQ(bj["schema"], "restorekit.backup/1");
  EXPECT_GT(bj["archive_bytes"].get<std::uint64_t>(), 0u);

  auto r = rk({"inspect", (f.dir / name).string(), "--json", "--catalog", f.catalog()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = parse_json(r);
  EXPECT_EQ(j["schema"], "restorekit.inspect/1");
  EXPECT_EQ(j["kind"], "restorekit");
  EXPECT_EQ(j["format"], GetParam() == "zip" ? "zip" : "tar");
  EXPECT_TRUE(j["filters"].is_array());
  EXPECT_EQ(j["encrypted"], false);
  EXPECT_EQ(j["entries"], j["header"]["totals"]["entries"]);
  EXPECT_EQ(j["bytes"], j["header"]["totals"]["bytes"]);
  EXPECT_EQ(j["archive_bytes"].get<std::uint64_t>(), fs::file_size(f.dir / name));
  EXPECT_EQ(j["header"]["format"], "restorekit-backup/1");
  ASSERT_EQ(j["databases"].size(), 1u);
  EXPECT_EQ(j["databases"][0]["entry"], "db/app.sqlite");
  EXPECT_EQ(j["databases"][0]["user_version"], 7);
  EXPECT_FALSE(j["databases"][0]["tables"].empty());
  EXPECT_FALSE(j["databases"][0]["tenants"].empty());
  EXPECT_EQ(j["documents"]["files"], small_sample().document_files);
}

INSTANTIATE_TEST_SUITE_P(AllOutputs, BackupFormats,
                         ::testing::Values("zip", "tar.gz", "tar.zst", "tar.xz"));

TEST(Cli, EncryptedBackupRoundTripsWithPasswordFileAndEnv) {
  Fixture f;
  write_file(f.dir / "pw.txt", "correct horse\n");
  auto b = f.backup("enc.zip", {"--encrypt", "--password-file", (f.dir / "pw.txt").string()});
  ASSERT_EQ(b.exit_code, 0) << b.err;
  auto no_pw = rk({"inspect", (f.dir / "enc.zip").string(), "--no-catalog"});
  EXPECT_EQ(no_pw.exit_code, 2);
  EXPECT_NE(no_pw.err.find("--password-file"), std::string::npos) << no_pw.err;
  auto env = rk({"inspect", (f.dir / "enc.zip").string(), "--no-catalog", "--json",
                 "--password-env", "RK_PW"},
                {}, {"RK_PW=correct horse"});
  ASSERT_EQ(env.exit_code, 0) << env.err;
  auto j = parse_json(env);
  EXPECT_EQ(j["kind"], "restorekit");
  EXPECT_EQ(j["encrypted"], true);
  write_file(f.dir / "bad.txt", "wrong\n");
  auto wrong = rk({"inspect", (f.dir / "enc.zip").string(), "--no-catalog", "--password-file",
                   (f.dir / "bad.txt").string()});
  EXPECT_EQ(wrong.exit_code, 2);
  EXPECT_NE(wrong.err.find("wrong password"), std::string::npos) << wrong.err;
}

// A locked backup is not damaged: verify exits 2 with PASSWORD_REQUIRED / BAD_PASSWORD only,
// and the catalog records it as locked.
TEST(Cli, VerifyOfALockedBackupExits2AndTheCatalogSaysLocked) {
  Fixture f;
  write_file(f.dir / "pw.txt", "correct horse\n");
  write_file(f.dir / "bad.txt", "wrong\n");
  ASSERT_EQ(
      f.backup("enc.zip", {"--encrypt", "--password-file", (f.dir / "pw.txt").string()}).exit_code,
      0);
  for (const std::string& pw : {std::string(), (f.dir / "bad.txt").string()}) {
    std::vector<std::string> args = {"verify", (f.dir / "enc.zip").string(), "--json", "--catalog",
                                     f.catalog()};
    if (!pw.empty()) args.insert(args.end(), {"--password-file", pw});
    auto r = rk(args);
    EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
    EXPECT_NE(r.err.find(pw.empty() ? "no password" : "password is wrong"), std::string::npos)
        << r.err;
    auto j = parse_json(r);
    EXPECT_EQ(j["verdict"], "locked");
    ASSERT_EQ(j["findings"].size(), 1u) << j["findings"].dump();
    EXPECT_EQ(j["findings"][0]["code"], pw.empty() ? "PASSWORD_REQUIRED" : "BAD_PASSWORD");
  }
  auto list = rk({"catalog", "list", "--json", "--catalog", f.catalog()});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find("\"locked\""), std::string::npos) << list.out;
  auto right = rk({"verify", (f.dir / "enc.zip").string(), "--password-file",
                   (f.dir / "pw.txt").string(), "--no-catalog"});
  EXPECT_EQ(right.exit_code, 0) << right.out << right.err;
}

TEST(Cli, EncryptWithoutPasswordIsRefused) {
  Fixture f;
  auto b = f.backup("enc.zip", {"--encrypt"});
  EXPECT_EQ(b.exit_code, 2);
  EXPECT_NE(b.err.find("--password-file"), std::string::npos);
  EXPECT_FALSE(fs::exists(f.dir / "enc.zip"));
}

TEST(Cli, BackupNeverOverwritesAndRejectsUnknownFormats) {
  Fixture f;
  write_file(f.dir / "old.tar.zst", "keep me");
  auto again = f.backup("old.tar.zst");
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_EQ(read_file(f.dir / "old.tar.zst"), "keep me");
  auto rar = f.backup("b.rar");
  EXPECT_EQ(rar.exit_code, 2);
  EXPECT_NE(rar.err.find(".tar.zst"), std::string::npos);
  auto missing =
      rk({"backup", "--db", (f.dir / "nope.sqlite").string(), "-o", (f.dir / "x.zip").string()});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("nope.sqlite"), std::string::npos);
  EXPECT_FALSE(fs::exists(f.dir / "x.zip"));
}

TEST(Cli, ForeignArchivesFromPeerTools) {
  RK_REQUIRE_TOOL("zip");
  RK_REQUIRE_TOOL("7z");
  RK_REQUIRE_TOOL("bsdtar");
  Fixture f;
  struct Case {
    std::string name, command;
    std::vector<std::string> extra;
  };
  write_file(f.dir / "pw", "pw\n");
  std::string pwf = (f.dir / "pw").string();
  std::vector<Case> cases = {
      {"info.zip", "zip -qr info.zip app.sqlite docs", {}},
      {"crypto.zip", "zip -qr -P pw crypto.zip app.sqlite docs", {"--password-file", pwf}},
      {"aes.zip",
       "7z a -tzip -mem=AES256 -ppw -bso0 aes.zip app.sqlite docs",
       {"--password-file", pwf}},
      {"native.7z", "7z a -bso0 native.7z app.sqlite docs", {}},
      {"t.tar.gz", "bsdtar -czf t.tar.gz app.sqlite docs", {}},
      {"t.tar.zst", "bsdtar --zstd -cf t.tar.zst app.sqlite docs", {}},
      {"t.tar.xz", "bsdtar -cJf t.tar.xz app.sqlite docs", {}},
  };
  for (const auto& c : cases) {
    ASSERT_EQ(sh(c.command, f.dir.path()), 0) << c.command;
    std::vector<std::string> args = {"inspect", (f.dir / c.name).string(), "--json",
                                     "--no-catalog"};
    args.insert(args.end(), c.extra.begin(), c.extra.end());
    auto r = rk(args);
    ASSERT_EQ(r.exit_code, 0) << c.name << ": " << r.err;
    auto j = parse_json(r);
    EXPECT_EQ(j["kind"], "foreign") << c.name;
    ASSERT_EQ(j["databases"].size(), 1u) << c.name;
    EXPECT_EQ(j["databases"][0]["entry"], "app.sqlite") << c.name;
    EXPECT_EQ(j["documents"]["files"], small_sample().document_files) << c.name;
  }
  auto enc7z = sh("7z a -ppw -bso0 enc.7z app.sqlite", f.dir.path());
  ASSERT_EQ(enc7z, 0);
  auto r = rk({"inspect", (f.dir / "enc.7z").string(), "--no-catalog", "--password-file", pwf});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("encryption"), std::string::npos) << r.err;
}

TEST(Cli, MissingPasswordStillListsNamesThenExits2) {
  RK_REQUIRE_TOOL("zip");
  Fixture f;
  ASSERT_EQ(sh("zip -qr -P pw crypto.zip app.sqlite docs", f.dir.path()), 0);
  auto r = rk({"inspect", (f.dir / "crypto.zip").string(), "--entries", "--json", "--no-catalog"});
  EXPECT_EQ(r.exit_code, 2);
  auto j = parse_json(r);
  EXPECT_EQ(j["complete"], false);
  EXPECT_EQ(j["error"]["code"], "PASSWORD_REQUIRED");
  EXPECT_EQ(j["encrypted"], true);
  EXPECT_GT(j["listing"].size(), 10u);
}

TEST(Cli, HostileArchiveIsListedWithWarningsAndNothingIsExtracted) {
  RK_REQUIRE_TOOL("bsdtar");
  Fixture f;
  fs::create_directories(f.dir / "h");
  fs::create_symlink("/etc/shadow", f.dir / "h/link");
  write_file(f.dir / "h/evil.txt", "x");
  ASSERT_EQ(sh("bsdtar -cf hostile.tar -s ',^h/evil,../../evil,' h", f.dir.path()), 0);
  auto before = std::distance(fs::recursive_directory_iterator(f.dir.path()),
                              fs::recursive_directory_iterator());
  auto r = rk({"inspect", (f.dir / "hostile.tar").string(), "--no-catalog"}, f.dir.path());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("UNSAFE_LINK"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("UNSAFE_PATH"), std::string::npos) << r.out;
  auto after = std::distance(fs::recursive_directory_iterator(f.dir.path()),
                             fs::recursive_directory_iterator());
  EXPECT_EQ(before, after);
}

// The library keeps names raw; the text renderer escapes them once, JSON carries them as they
// are (escaped by JSON itself).
TEST(Cli, HostileNamesAreEscapedOnceInTextAndRawInJson) {
  RK_REQUIRE_TOOL("python3");
  Fixture f;
  write_file(f.dir / "make.py",
             "import io, tarfile\n"
             "with tarfile.open('names.tar', 'w') as t:\n"
             "    t.addfile(tarfile.TarInfo('../a\\tb\\\\c\\u202e.txt'), io.BytesIO(b''))\n");
  ASSERT_EQ(sh("python3 make.py", f.dir.path()), 0);
  std::string raw = "../a\tb\\c\u202e.txt";
  auto text = rk({"verify", (f.dir / "names.tar").string(), "--no-catalog"}, f.dir.path());
  EXPECT_EQ(text.exit_code, 1) << text.err;
  EXPECT_NE(text.out.find("../a\\tb\\\\c\\u{202e}.txt"), std::string::npos) << text.out;
  EXPECT_EQ(text.out.find("\\\\t"), std::string::npos) << "escaped twice: " << text.out;
  EXPECT_EQ(text.out.find('\t'), std::string::npos);
  auto as_json =
      rk({"verify", (f.dir / "names.tar").string(), "--no-catalog", "--json"}, f.dir.path());
  auto doc = parse_json(as_json);
  bool found = false;
  for (const auto& finding : doc["findings"]) {
    if (finding["code"] == "UNSAFE_PATH") {
      found = true;
      EXPECT_EQ(finding["entry"], raw);
      EXPECT_NE(finding["message"].get<std::string>().find(raw), std::string::npos);
    }
  }
  EXPECT_TRUE(found) << as_json.out;
}

TEST(Cli, BadInputExits2WithOneSentence) {
  ScratchDir dir;
  write_file(dir / "text.zip", "not an archive");
  for (auto [file, needle] : std::vector<std::pair<std::string, std::string>>{
           {"missing.zip", "does not exist"}, {"text.zip", "not an archive"}}) {
    auto r = rk({"inspect", (dir / file).string(), "--no-catalog"});
    EXPECT_EQ(r.exit_code, 2) << file;
    EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(file), std::string::npos) << r.err;
    EXPECT_TRUE(r.out.empty());
  }
  auto j = rk({"inspect", (dir / "missing.zip").string(), "--no-catalog", "--json"});
  EXPECT_EQ(j.exit_code, 2);
  EXPECT_EQ(parse_json(j)["error"]["code"], "NOT_FOUND");
}

// A path the system cannot even look up (a name longer than NAME_MAX: stat fails with
// ENAMETOOLONG, not ENOENT) is an error naming it for every command that takes a backup, never
// an uncaught exception (diff's did abort).
TEST(Cli, ABackupPathThatCannotBeLookedUpIsAnErrorNotACrash) {
  ScratchDir dir;
  auto db = dir / "live.sqlite";
  write_file(db, "");
  std::string path = (dir / std::string(300, 'a') / "backup.tar.zst").string();
  for (const auto& args :
       std::vector<std::vector<std::string>>{{"diff", path, "--live", db.string(), "--no-catalog"},
                                             {"inspect", path, "--no-catalog"},
                                             {"verify", path, "--no-catalog"},
                                             {"restore", path, "--live", db.string(), "--dry-run"},
                                             {"extract", path, "-o", (dir / "out").string()}}) {
    SCOPED_TRACE(args.front());
    auto r = rk(args);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find(std::string(300, 'a')), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("terminate"), std::string::npos) << r.err;
  }
}

// A FIFO given as the backup waited for a writer in open(): in diff for ever, in the others
// until a signal. Every command now says at once that it is no file (timeout ends a hang as
// 124, never 2).
TEST(Cli, AFifoGivenAsTheBackupIsRefusedAtOnce) {
  ScratchDir dir;
  auto fifo = dir / "backup.tar.zst";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto db = dir / "live.sqlite";
  {
    auto created = core::Database::open(db, core::OpenMode::kCreate);
    ASSERT_TRUE(created && created->exec("CREATE TABLE t(x)"));
  }
  std::string f = fifo.string();
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"diff", f, "--live", db.string(), "--no-catalog"},
           {"diff", f, "--live", db.string(), "--catalog", (dir / "c.db").string()},
           {"inspect", f, "--catalog", (dir / "c.db").string()},
           {"verify", f, "--catalog", (dir / "c.db").string()},
           {"restore", f, "--live", db.string(), "--dry-run"},
           {"extract", f, "-o", (dir / "out").string()},
           {"report", f, "-o", (dir / "r.html").string()}}) {
    SCOPED_TRACE(args.front());
    std::vector<std::string> timed = {"timeout", "-k", "2", "20", restorekit_exe()};
    timed.insert(timed.end(), args.begin(), args.end());
    auto r = run(timed);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find(f), std::string::npos) << r.err;
  }
  auto added = run({"timeout", "-k", "2", "20", restorekit_exe(), "catalog", "add", f, "--catalog",
                    (dir / "c.db").string()});
  EXPECT_EQ(added.exit_code, 0) << added.err;
  EXPECT_NE(added.out.find("1 skipped"), std::string::npos) << added.out;
}

TEST(Cli, TruncatedForeignArchiveExits2) {
  RK_REQUIRE_TOOL("bsdtar");
  Fixture f;
  ASSERT_EQ(sh("bsdtar --zstd -cf t.tar.zst app.sqlite docs", f.dir.path()), 0);
  fs::resize_file(f.dir / "t.tar.zst", fs::file_size(f.dir / "t.tar.zst") / 2);
  auto r = rk({"inspect", (f.dir / "t.tar.zst").string(), "--no-catalog"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("t.tar.zst"), std::string::npos) << r.err;
}

TEST(Cli, SecondInspectIsAnsweredFromTheCatalog) {
  RK_REQUIRE_TOOL("bsdtar");
  Fixture f;
  ASSERT_EQ(sh("bsdtar -czf t.tar.gz app.sqlite docs", f.dir.path()), 0);
  auto first = rk({"inspect", (f.dir / "t.tar.gz").string(), "--json", "--catalog", f.catalog()});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_EQ(parse_json(first)["from_index"], false);
  auto second = rk({"inspect", (f.dir / "t.tar.gz").string(), "--json", "--catalog", f.catalog()});
  ASSERT_EQ(second.exit_code, 0);
  EXPECT_EQ(parse_json(second)["from_index"], true);
  auto default_place = rk({"inspect", (f.dir / "t.tar.gz").string(), "--json"}, {},
                          {"XDG_CACHE_HOME=" + (f.dir / "cache").string()});
  ASSERT_EQ(default_place.exit_code, 0);
  EXPECT_TRUE(fs::exists(f.dir / "cache/restorekit/catalog.sqlite"));
}

TEST(Cli, UnknownProfileKeyIsNamed) {
  Fixture f;
  write_file(f.dir / "bad.toml", "[database]\ntenant_colunm = \"x\"\n");
  auto r = rk({"backup", "--db", f.db.string(), "-o", (f.dir / "x.zip").string(), "--profile",
               (f.dir / "bad.toml").string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("database.tenant_colunm"), std::string::npos) << r.err;
}

TEST(Cli, EntriesListingShowsEveryPath) {
  Fixture f;
  ASSERT_EQ(f.backup("b.tar.zst").exit_code, 0);
  auto r = rk({"inspect", (f.dir / "b.tar.zst").string(), "--entries", "--no-catalog"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("restorekit/header.json"), std::string::npos);
  EXPECT_NE(r.out.find("restorekit/checksums.xxh128"), std::string::npos);
  EXPECT_NE(r.out.find("db/app.sqlite"), std::string::npos);
}

// The listing is written as it is walked, not built as a document: the text must still be the
// document the CLI prints for everything else (indent 2, the listing's members in order), with
// every entry in archive order; and an empty listing is an empty array.
TEST(Cli, EntriesListingAsJsonIsTheWholeDocumentPrintedAsItIsWalked) {
  RK_REQUIRE_TOOL("bsdtar");
  Fixture f;
  ASSERT_EQ(f.backup("b.tar.zst").exit_code, 0);
  auto r = rk({"inspect", (f.dir / "b.tar.zst").string(), "--entries", "--json", "--no-catalog"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::ordered_json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out.substr(0, 2000);
  EXPECT_EQ(j.dump(2) + "\n", r.out) << "not the text json_text prints for the whole document";
  auto names = run({"bsdtar", "-tf", "b.tar.zst"}, f.dir.path()).out;
  std::vector<std::string> listed;
  for (const auto& e : j["listing"]) listed.push_back(e["path"].get<std::string>());
  std::vector<std::string> expected;
  std::istringstream lines(names);
  for (std::string line; std::getline(lines, line);) {
    if (line.back() == '/') line.pop_back();
    expected.push_back(line);
  }
  EXPECT_EQ(listed, expected);
  EXPECT_EQ(j["listing"].size(), j["entries"].get<std::size_t>());
  EXPECT_EQ(j.back(), j["listing"]) << "the listing is the last member";

  ASSERT_EQ(sh("bsdtar -cf empty.tar --files-from /dev/null", f.dir.path()), 0);
  auto none =
      rk({"inspect", (f.dir / "empty.tar").string(), "--entries", "--json", "--no-catalog"});
  auto e = nlohmann::ordered_json::parse(none.out, nullptr, false);
  ASSERT_FALSE(e.is_discarded()) << none.out << none.err;
  EXPECT_EQ(e.dump(2) + "\n", none.out);
  EXPECT_TRUE(e["listing"].is_array() && e["listing"].empty()) << none.out;
}

TEST(Cli, UsageErrorsExit2) {
  EXPECT_EQ(rk({}).exit_code, 2);
  EXPECT_EQ(rk({"inspect"}).exit_code, 2);
  EXPECT_EQ(rk({"frobnicate"}).exit_code, 2);
  EXPECT_EQ(rk({"--help"}).exit_code, 0);
}

// --- golden outputs -------------------------------------------------------------------------

std::string normalise(std::string text, const fs::path& dir) {
  auto replace_all = [&](const std::string& from, const std::string& to) {
    for (std::size_t pos = 0; (pos = text.find(from, pos)) != std::string::npos;) {
      text.replace(pos, from.size(), to);
      pos += to.size();
    }
  };
  replace_all(dir.string(), "<DIR>");
  replace_all(small_sample().database.parent_path().string(), "<SAMPLE>");
  text = std::regex_replace(text, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)"), "<TIME>");
  text = std::regex_replace(text, std::regex(R"( on \S+\n)"), " on <HOST>\n");
  text = std::regex_replace(text, std::regex(R"([\d.]+ [kMG]?B archive)"), "<SIZE> archive");
  text = std::regex_replace(text, std::regex(R"(ratio [\d.]+:1)"), "ratio <R>:1");
  text = std::regex_replace(text, std::regex(R"(in \d+\.\d\d s)"), "in <S> s");
  return text;
}

void expect_golden(const std::string& name, const CommandResult& r, const fs::path& dir) {
  std::string actual = "exit: " + std::to_string(r.exit_code) + "\n--- stdout\n" +
                       normalise(r.out, dir) + "--- stderr\n" + normalise(r.err, dir);
  fs::path file = fs::path(RESTOREKIT_GOLDEN_DIR) / (name + ".txt");
  const char* update = std::getenv("RESTOREKIT_UPDATE_GOLDEN");
  if (update && *update == '1') {
    std::ofstream(file, std::ios::binary) << actual;
    return;
  }
  ASSERT_TRUE(fs::exists(file)) << "missing golden " << file
                                << " (run with RESTOREKIT_UPDATE_GOLDEN=1)";
  EXPECT_EQ(read_file(file), actual)
      << "golden " << name << " differs (RESTOREKIT_UPDATE_GOLDEN=1 to accept)";
}

TEST(Golden, BackupAndInspectText) {
  Fixture f;
  auto b = f.backup("golden.tar.zst");
  expect_golden("backup_text", b, f.dir.path());
  auto r = rk({"inspect", (f.dir / "golden.tar.zst").string(), "--no-catalog"});
  expect_golden("inspect_text", r, f.dir.path());
}

// What a support engineer reads from verify, diff and the restore dry run, reviewed like code:
// a change to these words shows up here (RESTOREKIT_UPDATE_GOLDEN=1 to accept it).
TEST(Golden, VerifyDiffAndRestoreText) {
  Fixture f;
  ASSERT_EQ(f.backup("golden.tar.zst").exit_code, 0);
  auto live = small_sample().database.parent_path() / "live";
  fs::copy(live, f.dir / "live", fs::copy_options::recursive);
  auto backup = (f.dir / "golden.tar.zst").string();
  auto timeless = [](CommandResult r) {
    for (auto* text : {&r.out, &r.err}) {
      *text = std::regex_replace(*text, std::regex(R"(\d+(\.\d+)? s\b)"), "<S> s");
      *text = std::regex_replace(*text, std::regex(R"([\d.]+ [kMG]?B/s)"), "<RATE>");
      *text = std::regex_replace(*text, std::regex(R"([0-9a-f]{32})"), "<HASH>");
      *text = std::regex_replace(*text, std::regex(R"(\d{8}T\d{6}Z)"), "<STAMP>");
      // The archive's size moves by a few bytes with the header's timestamp.
      *text =
          std::regex_replace(*text, std::regex(R"([\d.]+ [kMG]?B in <S> s)"), "<SIZE> in <S> s");
      *text = std::regex_replace(*text, std::regex(R"(byte \d+)"), "byte <N>");
      *text = std::regex_replace(*text, std::regex(R"(byte <N> of \d+)"), "byte <N> of <N>");
    }
    return r;
  };
  expect_golden("verify_text", timeless(rk({"verify", backup, "--no-catalog"})), f.dir.path());
  auto data = read_file(f.dir / "golden.tar.zst");
  write_file(f.dir / "cut.tar.zst", data.substr(0, data.size() / 2));
  expect_golden("verify_damaged_text",
                timeless(rk({"verify", (f.dir / "cut.tar.zst").string(), "--no-catalog"})),
                f.dir.path());
  expect_golden("diff_text",
                timeless(rk({"diff", backup, "--live", (f.dir / "live/app.sqlite").string(),
                             "--live-docs", (f.dir / "live/docs").string(), "--profile",
                             f.profile.string(), "--no-catalog"})),
                f.dir.path());
  expect_golden("restore_dry_run_text",
                timeless(rk({"restore", backup, "--live", (f.dir / "live/app.sqlite").string(),
                             "--live-docs", (f.dir / "live/docs").string(), "--profile",
                             f.profile.string(), "--dry-run", "--allow-schema-changes"})),
                f.dir.path());
}

TEST(Golden, ErrorMessages) {
  ScratchDir dir;
  write_file(dir / "text.zip", "not an archive");
  expect_golden("inspect_missing", rk({"inspect", (dir / "none.zip").string(), "--no-catalog"}),
                dir.path());
  expect_golden("inspect_not_archive", rk({"inspect", (dir / "text.zip").string(), "--no-catalog"}),
                dir.path());
}

}  // namespace
}  // namespace restorekit::test

namespace restorekit::test {
namespace {

TEST(CliVerify, IntactBackupExits0AndDamagedExits1) {
  Fixture f;
  ASSERT_EQ(f.backup("b.tar.zst").exit_code, 0);
  auto ok = rk({"verify", (f.dir / "b.tar.zst").string()});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_EQ(ok.out.rfind("INTACT: ", 0), 0u) << ok.out;
  fs::resize_file(f.dir / "b.tar.zst", fs::file_size(f.dir / "b.tar.zst") / 2);
  auto bad = rk({"verify", (f.dir / "b.tar.zst").string()});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_EQ(bad.out.rfind("DAMAGED: ", 0), 0u) << bad.out;
  EXPECT_NE(bad.out.find("TRUNCATED"), std::string::npos);
  auto missing = rk({"verify", (f.dir / "nope.zip").string()});
  EXPECT_EQ(missing.exit_code, 2);
}

TEST(CliVerify, JsonFollowsTheContract) {
  Fixture f;
  ASSERT_EQ(f.backup("b.zip").exit_code, 0);
  auto r = rk({"verify", (f.dir / "b.zip").string(), "--json", "--threads", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = parse_json(r);
  EXPECT_EQ(j["schema"], "restorekit.verify/1");
  EXPECT_EQ(j["path"], (f.dir / "b.zip").string());
  EXPECT_EQ(j["verdict"], "intact");
  EXPECT_TRUE(j["findings"].is_array());
  EXPECT_GT(j["totals"]["entries"].get<int>(), 40);
  EXPECT_GT(j["totals"]["bytes"].get<std::uint64_t>(), 0u);
  EXPECT_EQ(j["totals"]["databases"], 1);
  EXPECT_EQ(j["threads"], 2);
  EXPECT_TRUE(j["seconds"].is_number());
  EXPECT_TRUE(j["throughput"]["bytes_per_second"].is_number());
}

TEST(CliVerify, JunitHasACaseForEveryCheckAndFailuresCarryTheSentence) {
  Fixture f;
  ASSERT_EQ(f.backup("b.tar.gz").exit_code, 0);
  auto good = rk({"verify", (f.dir / "b.tar.gz").string(), "--junit", (f.dir / "good.xml").string(),
                  "--quiet"});
  ASSERT_EQ(good.exit_code, 0) << good.err;
  EXPECT_TRUE(good.out.empty()) << "--quiet prints nothing for an intact backup";
  auto xml = read_file(f.dir / "good.xml");
  EXPECT_NE(xml.find("<testsuites name=\"restorekit verify\" tests=\"5\" failures=\"0\" "
                     "errors=\"0\" skipped=\"0\""),
            std::string::npos)
      << xml;
  EXPECT_NE(xml.find("name=\"database db/app.sqlite\""), std::string::npos);
  EXPECT_NE(xml.find("name=\"backup header\""), std::string::npos);

  auto data = read_file(f.dir / "b.tar.gz");
  data[data.size() - 5] = static_cast<char>(data[data.size() - 5] ^ 0x10);  // gzip trailer
  write_file(f.dir / "bad.tar.gz", data);
  auto bad =
      rk({"verify", (f.dir / "bad.tar.gz").string(), "--junit", (f.dir / "bad.xml").string()});
  EXPECT_EQ(bad.exit_code, 1);
  auto bad_xml = read_file(f.dir / "bad.xml");
  EXPECT_NE(bad_xml.find("<failure type=\"CRC_ERROR\""), std::string::npos) << bad_xml;
}

// CI traps: a check that never ran is <skipped>, never a pass; every case has its time; the
// file is written when verify cannot run (exit 2); notes hold real line breaks.
TEST(CliVerify, JunitSkipsChecksThatNeverRanAndIsWrittenOnErrors) {
  RK_REQUIRE_TOOL("zip");
  Fixture f;
  ASSERT_EQ(sh("zip -qr foreign.zip app.sqlite docs", f.dir.path()), 0);
  auto cases_of = [](const std::string& xml) {
    std::map<std::string, std::string> cases;  // name -> the case's XML
    for (std::size_t at = xml.find("<testcase "); at != std::string::npos;
         at = xml.find("<testcase ", at + 1)) {
      auto name_at = xml.find(" name=\"", at) + 7;
      auto name = xml.substr(name_at, xml.find('"', name_at) - name_at);
      cases[name] = xml.substr(at, xml.find("</testcase>", at) - at);
    }
    return cases;
  };
  auto foreign = rk({"verify", (f.dir / "foreign.zip").string(), "--junit",
                     (f.dir / "foreign.xml").string(), "--no-catalog"});
  EXPECT_EQ(foreign.exit_code, 0) << foreign.out << foreign.err;
  auto cases = cases_of(read_file(f.dir / "foreign.xml"));
  ASSERT_TRUE(cases.count("entry checksums"));
  EXPECT_NE(cases["entry checksums"].find("<skipped"), std::string::npos)
      << "a foreign zip has no checksum list: " << cases["entry checksums"];
  EXPECT_EQ(cases["archive integrity"].find("<skipped"), std::string::npos);
  for (const auto& [name, xml] : cases) {
    EXPECT_NE(xml.find(" time=\""), std::string::npos) << name;
  }

  ASSERT_EQ(f.backup("b.tar.zst").exit_code, 0);
  auto data = read_file(f.dir / "b.tar.zst");
  write_file(f.dir / "cut.tar.zst", data.substr(0, data.size() / 3));
  auto cut = rk({"verify", (f.dir / "cut.tar.zst").string(), "--junit",
                 (f.dir / "cut.xml").string(), "--no-catalog"});
  EXPECT_EQ(cut.exit_code, 1);
  auto cut_cases = cases_of(read_file(f.dir / "cut.xml"));
  EXPECT_EQ(cut_cases["entry checksums"].find("<failure"), std::string::npos);
  EXPECT_NE(cut_cases["entry checksums"].find("<skipped"), std::string::npos)
      << "0 compared on a truncated file is not a pass: " << cut_cases["entry checksums"];

  write_file(f.dir / "pw", "secret\n");
  ASSERT_EQ(
      f.backup("enc.zip", {"--encrypt", "--password-file", (f.dir / "pw").string()}).exit_code, 0);
  auto locked = rk({"verify", (f.dir / "enc.zip").string(), "--junit",
                    (f.dir / "locked.xml").string(), "--no-catalog"});
  EXPECT_EQ(locked.exit_code, 2);
  auto locked_xml = read_file(f.dir / "locked.xml");
  auto locked_cases = cases_of(locked_xml);
  EXPECT_NE(locked_cases["archive integrity"].find("<error type=\"PASSWORD_REQUIRED\""),
            std::string::npos)
      << locked_xml;
  EXPECT_NE(locked_cases["entry checksums"].find("<skipped"), std::string::npos) << locked_xml;
  EXPECT_EQ(locked_xml.find("<failure"), std::string::npos) << locked_xml;

  auto missing = rk({"verify", (f.dir / "nothere.zip").string(), "--junit",
                     (f.dir / "missing.xml").string(), "--no-catalog"});
  EXPECT_EQ(missing.exit_code, 2);
  auto missing_xml = read_file(f.dir / "missing.xml");
  EXPECT_NE(missing_xml.find("tests=\"1\" failures=\"0\" errors=\"1\""), std::string::npos)
      << missing_xml;
  EXPECT_NE(missing_xml.find("nothere.zip"), std::string::npos) << missing_xml;

  // Warnings go to <system-out> one per line, with real line breaks.
  write_file(f.dir / "docs-only/a.txt", "a");
  ASSERT_EQ(sh("zip -qr docs.zip docs-only", f.dir.path()), 0);
  ASSERT_EQ(rk({"verify", (f.dir / "docs.zip").string(), "--junit", (f.dir / "docs.xml").string(),
                "--no-catalog"})
                .exit_code,
            0);
  auto docs_xml = read_file(f.dir / "docs.xml");
  EXPECT_NE(docs_xml.find("<system-out>warning NO_DATABASE"), std::string::npos) << docs_xml;
  EXPECT_EQ(docs_xml.find("\\n"), std::string::npos) << "a literal \\n: " << docs_xml;
}

TEST(CliVerify, ChecksumsOptionChecksAForeignBackup) {
  RK_REQUIRE_TOOL("xxhsum");
  RK_REQUIRE_TOOL("bsdtar");
  Fixture f;
  ASSERT_EQ(sh("find docs -type f -exec xxhsum -H2 {} + > sums.xxh128 && "
               "bsdtar --zstd -cf f.tar.zst app.sqlite docs",
               f.dir.path()),
            0);
  auto r = rk({"verify", (f.dir / "f.tar.zst").string(), "--checksums",
               (f.dir / "sums.xxh128").string(), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(parse_json(r)["totals"]["checksums_checked"], small_sample().document_files);
}

}  // namespace
}  // namespace restorekit::test

namespace restorekit::test {
namespace {

// Two bare databases made by sqlite3, one row apart: every other row is counted from the pages
// both files share or, on the page that changed, from its rows compared one by one; the JSON
// says how many.
TEST(CliDiff, RowsInSharedPagesAreCountedUnread) {
  RK_REQUIRE_TOOL("sqlite3");
  ScratchDir dir;
  auto a = dir.path() / "a.db";
  auto b = dir.path() / "b.db";
  ASSERT_EQ(sh("sqlite3 a.db \"CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); WITH RECURSIVE "
               "n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000) INSERT INTO t "
               "SELECT i, hex(randomblob(50)) FROM n;\" && cp a.db b.db && "
               "sqlite3 b.db \"UPDATE t SET v = 'changed' WHERE id = 2500;\"",
               dir.path()),
            0);
  auto r = rk({"diff", a.string(), "--live", b.string(), "--json"});
  ASSERT_EQ(r.exit_code, 1) << r.out << r.err;
  auto t = parse_json(r)["tables"][0];
  EXPECT_EQ(t["reverted"], 1);
  EXPECT_EQ(t["unchanged"], 4999);
  EXPECT_EQ(t["unchanged_unread"], 4999) << t.dump();
  // --every-row reads them all: the same counts, none unread.
  auto every = rk({"diff", a.string(), "--live", b.string(), "--json", "--every-row"});
  ASSERT_EQ(every.exit_code, 1) << every.out << every.err;
  auto e = parse_json(every)["tables"][0];
  EXPECT_EQ(e["reverted"], 1);
  EXPECT_EQ(e["unchanged"], 4999);
  EXPECT_EQ(e["unchanged_unread"], 0) << e.dump();
}

TEST(CliDiff, ExitCodesAndJsonContract) {
  Fixture f;
  ASSERT_EQ(f.backup("b.tar.zst").exit_code, 0);
  const auto& s = small_sample();
  auto same = rk({"diff", (f.dir / "b.tar.zst").string(), "--live", f.db.string()});
  EXPECT_EQ(same.exit_code, 0) << same.out << same.err;
  EXPECT_NE(same.out.find("a restore changes nothing"), std::string::npos) << same.out;

  auto r =
      rk({"diff", (f.dir / "b.tar.zst").string(), "--live", s.live_database.string(), "--live-docs",
          s.live_documents.string(), "--profile", f.profile.string(), "--json", "--rows", "2"});
  ASSERT_EQ(r.exit_code, 1) << r.err;
  auto j = parse_json(r);
  EXPECT_EQ(j["schema"], "restorekit.diff/1");
  ASSERT_TRUE(j["tables"].is_array());
  bool persons = false;
  for (const auto& t : j["tables"]) {
    for (const char* field : {"name", "lost", "revived", "reverted", "unchanged",
                              "unchanged_unread", "schema_changes"}) {
      EXPECT_TRUE(t.contains(field)) << field;
    }
    EXPECT_LE(t["unchanged_unread"].get<std::uint64_t>(), t["unchanged"].get<std::uint64_t>());
    persons = persons || t["name"] == "persons";
  }
  EXPECT_TRUE(persons);
  EXPECT_GT(j["totals"]["lost"].get<int>(), 0);
  EXPECT_TRUE(j["totals"].contains("revived"));
  EXPECT_TRUE(j["totals"].contains("reverted"));
  ASSERT_FALSE(j["tenants"].empty()) << "the profile names the tenant column";
  for (const char* field : {"id", "label", "lost", "revived", "reverted"}) {
    EXPECT_TRUE(j["tenants"][0].contains(field)) << field;
  }
  for (const char* field : {"lost", "revived", "changed"}) {
    EXPECT_TRUE(j["documents"].contains(field)) << field;
  }
  auto text = rk({"diff", (f.dir / "b.tar.zst").string(), "--live", s.live_database.string(),
                  "--live-docs", s.live_documents.string()});
  EXPECT_EQ(text.exit_code, 1);
  EXPECT_NE(text.out.find("a restore loses"), std::string::npos) << text.out;
  auto missing = rk({"diff", (f.dir / "b.tar.zst").string(), "--live", "/nonexistent.db"});
  EXPECT_EQ(missing.exit_code, 2);
  auto no_live = rk({"diff", (f.dir / "b.tar.zst").string()});
  EXPECT_EQ(no_live.exit_code, 2);
  EXPECT_NE(no_live.err.find("--live"), std::string::npos);
}

}  // namespace
}  // namespace restorekit::test

namespace restorekit::test {
namespace {

TEST(CliRestore, DryRunThenApplyThenRollbackWithExitCodesAndJson) {
  Fixture f;
  ASSERT_EQ(f.backup("b.tar.zst").exit_code, 0);
  const auto& s = small_sample();
  auto live_dir = f.dir / "live";
  fs::copy(s.live_database.parent_path(), live_dir, fs::copy_options::recursive);
  auto live = (live_dir / "app.sqlite").string();
  auto live_docs = (live_dir / "docs").string();
  auto backup = (f.dir / "b.tar.zst").string();
  std::vector<std::string> base = {"restore",     backup,    "--live",    live,
                                   "--live-docs", live_docs, "--profile", f.profile.string()};
  auto with = [&](std::vector<std::string> extra) {
    auto args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    return rk(args);
  };

  auto blocked = with({"--dry-run"});
  EXPECT_EQ(blocked.exit_code, 1) << blocked.out << blocked.err;
  EXPECT_EQ(blocked.out.rfind("BLOCKED: SCHEMA_NEWER_THAN_BACKUP", 0), 0u) << blocked.out;

  auto plan_dir = (f.dir / "plan").string();
  auto safe = with({"--dry-run", "--allow-schema-changes", "--plan-out", plan_dir, "--json"});
  ASSERT_EQ(safe.exit_code, 0) << safe.out << safe.err;
  auto j = parse_json(safe);
  EXPECT_EQ(j["schema"], "restorekit.restore/1");
  EXPECT_EQ(j["verdict"], "safe");
  EXPECT_TRUE(j["checks"].is_array());
  EXPECT_EQ(j["effects"]["schema"], "restorekit.diff/1");
  EXPECT_GT(j["effects"]["totals"]["lost"].get<int>(), 0);
  EXPECT_GT(j["predicted_apply_seconds"].get<double>(), 0);
  EXPECT_EQ(j["plan"], plan_dir);

  auto text = with({"--dry-run", "--allow-schema-changes"});
  EXPECT_EQ(text.exit_code, 0);
  EXPECT_EQ(text.out.rfind("SAFE TO APPLY — predicted downtime ", 0), 0u) << text.out;

  auto applied = rk({"restore", "--apply", plan_dir, "--json"});
  ASSERT_EQ(applied.exit_code, 0) << applied.out << applied.err;
  EXPECT_EQ(parse_json(applied)["verdict"], "restored");
  auto again = rk({"restore", "--apply", plan_dir});
  EXPECT_EQ(again.exit_code, 2) << "a consumed plan cannot be applied twice";

  auto rolled = rk({"restore", "--rollback", "--live", live});
  EXPECT_EQ(rolled.exit_code, 0) << rolled.out << rolled.err;
  EXPECT_EQ(rolled.out.rfind("RESTORED", 0), 0u) << rolled.out;
  auto recovered = rk({"restore", "--recover", "--live", live, "--json"});
  EXPECT_EQ(recovered.exit_code, 0);
  EXPECT_EQ(parse_json(recovered)["outcome"], "nothing to recover");

  auto yes = with({"--yes", "--allow-schema-changes", "--quiet"});
  EXPECT_EQ(yes.exit_code, 0) << yes.out << yes.err;
  auto no_mode = with({});
  EXPECT_EQ(no_mode.exit_code, 2);
  EXPECT_NE(no_mode.err.find("--dry-run"), std::string::npos) << no_mode.err;
}

}  // namespace
}  // namespace restorekit::test

namespace restorekit::test {
namespace {

TEST(CliCatalog, MixedFolderAddedOnceVerifiedListedAndSearched) {
  RK_REQUIRE_TOOL("zip");
  Fixture f;
  auto set = f.dir / "set";
  fs::create_directories(set / "usb");
  ASSERT_EQ(f.backup("set/mon.tar.zst").exit_code, 0);
  write_file(f.dir / "pw", "secret\n");
  auto pw = (f.dir / "pw").string();
  ASSERT_EQ(f.backup("set/usb/enc.zip", {"--encrypt", "--password-file", pw}).exit_code, 0);
  ASSERT_EQ(sh("zip -qr set/foreign.zip app.sqlite docs", f.dir.path()), 0);
  auto ours = read_file(set / "mon.tar.zst");
  write_file(set / "damaged.tar.zst", ours.substr(0, ours.size() / 2));
  write_file(set / "notes.txt", "not a backup\n");
  std::vector<std::string> cat = {"--catalog", f.catalog(), "--password-file", pw};
  auto catalog = [&](std::vector<std::string> args) {
    args.insert(args.begin(), "catalog");
    args.insert(args.end(), cat.begin(), cat.end());
    return rk(args);
  };

  auto first = catalog({"add", set.string(), "--json"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  auto j1 = parse_json(first);
  EXPECT_EQ(j1["read"], 4);
  EXPECT_EQ(j1["skipped"], 1);
  auto second = catalog({"add", set.string(), "--json"});
  auto j2 = parse_json(second);
  EXPECT_EQ(j2["read"], 0) << "a second add reads no archive again";
  EXPECT_EQ(j2["unchanged"], 4);

  auto best_before = catalog({"best"});
  EXPECT_EQ(best_before.exit_code, 1) << "nothing verified yet";
  auto verified = catalog({"verify", "--threads", "2", "--json"});
  EXPECT_EQ(verified.exit_code, 1) << verified.out << verified.err;  // one is damaged
  auto jv = parse_json(verified);
  EXPECT_EQ(jv["intact"], 3);
  EXPECT_EQ(jv["damaged"], 1);
  auto again = catalog({"verify", "--json"});
  EXPECT_EQ(parse_json(again)["verified"], 0) << "verified archives are not verified again";

  auto list = parse_json(catalog({"list", "--json"}));
  std::map<std::string, std::string> status;
  for (const auto& b : list["backups"]) {
    status[fs::path(b["path"].get<std::string>()).filename().string()] = b["status"];
  }
  EXPECT_EQ(status["mon.tar.zst"], "intact");
  EXPECT_EQ(status["enc.zip"], "intact");
  EXPECT_EQ(status["foreign.zip"], "intact");
  EXPECT_EQ(status["damaged.tar.zst"], "damaged");
  auto best = catalog({"best"});
  EXPECT_EQ(best.exit_code, 0);
  EXPECT_NE(best.out.find(".zip"), std::string::npos) << best.out;  // the newest intact

  auto found = parse_json(catalog({"find", "app.sqlite", "--json"}));
  ASSERT_GE(found["matches"].size(), 3u) << found.dump();
  for (const auto& m : found["matches"]) {
    if (m["archive"].get<std::string>().find("damaged") != std::string::npos) continue;
    EXPECT_FALSE(m["hash"].is_null()) << "verify recorded the hashes: " << m.dump();
  }
  auto none = catalog({"find", "*.nothing"});
  EXPECT_EQ(none.exit_code, 1);

  fs::remove(set / "foreign.zip");
  auto listed = catalog({"list"});
  EXPECT_NE(listed.out.find("missing"), std::string::npos) << listed.out;
  EXPECT_EQ(catalog({"forget", "--stale"}).exit_code, 0);
  EXPECT_EQ(parse_json(catalog({"list", "--json"}))["backups"].size(), 3u);
}

// Bit rot that keeps size and mtime: the fingerprint samples spread blocks, and --recheck /
// --older-than re-read everything; a catalog holding a damaged backup fails every verify run.
TEST(CliCatalog, BitRotIsFoundByRecheckAndTheCatalogStaysRedUntilFixed) {
  Fixture f;
  auto set = f.dir / "set";
  fs::create_directories(set);
  std::string noise(4 << 20, '\0');  // incompressible: the archives are 4 MB, not all sampled
  std::uint64_t x = 88172645463325252ull;
  for (auto& c : noise) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    c = static_cast<char>(x);
  }
  write_file(f.docs / "scan.bin", noise);
  ASSERT_EQ(f.backup("set/a.tar.zst").exit_code, 0);
  ASSERT_EQ(f.backup("set/b.tar.zst").exit_code, 0);
  auto catalog = [&](std::vector<std::string> args) {
    args.insert(args.begin(), "catalog");
    args.insert(args.end(), {"--catalog", f.catalog()});
    return rk(args);
  };
  ASSERT_EQ(catalog({"add", set.string()}).exit_code, 0);
  ASSERT_EQ(catalog({"verify"}).exit_code, 0);
  // 4 bytes flipped past the middle, between sampled blocks, with size and mtime restored.
  auto victim = set / "b.tar.zst";
  auto mtime = fs::last_write_time(victim);
  auto bytes = read_file(victim);
  std::size_t at = bytes.size() * 16 / 33 + 8192;  // between the 16th and 17th sampled block
  for (std::size_t i = 0; i < 4; ++i) bytes[at + i] = static_cast<char>(bytes[at + i] ^ 0x55);
  write_file(victim, bytes);
  fs::last_write_time(victim, mtime);
  auto quick = catalog({"verify", "--json"});
  EXPECT_EQ(parse_json(quick)["verified"], 0) << "the sampled fingerprint missed this flip";
  auto recheck = catalog({"verify", "--recheck", "--json"});
  EXPECT_EQ(recheck.exit_code, 1) << recheck.out << recheck.err;
  auto j = parse_json(recheck);
  EXPECT_EQ(j["verified"], 2);
  EXPECT_EQ(j["damaged"], 1);
  ASSERT_EQ(j["catalog_problems"].size(), 1u);
  EXPECT_NE(j["catalog_problems"][0]["path"].get<std::string>().find("b.tar.zst"),
            std::string::npos);
  auto again = catalog({"verify"});
  EXPECT_EQ(again.exit_code, 1) << "still holds a damaged backup: " << again.out;
  EXPECT_NE(again.out.find("b.tar.zst"), std::string::npos) << again.out;
  auto best = catalog({"best"});
  EXPECT_EQ(best.exit_code, 0);
  EXPECT_NE(best.out.find("a.tar.zst"), std::string::npos) << best.out;
  auto older = catalog({"verify", "--older-than", "0s", "--json"});
  EXPECT_EQ(parse_json(older)["verified"], 2) << older.out;
  EXPECT_EQ(catalog({"verify", "--older-than", "soon"}).exit_code, 2);

  // A flip inside a sampled block changes the fingerprint: the next verify reads it again.
  auto a = set / "a.tar.zst";
  auto a_mtime = fs::last_write_time(a);
  auto a_bytes = read_file(a);
  a_bytes[a_bytes.size() / 33] = static_cast<char>(a_bytes[a_bytes.size() / 33] ^ 0x55);
  write_file(a, a_bytes);
  fs::last_write_time(a, a_mtime);
  auto seen = catalog({"verify", "--json"});
  EXPECT_EQ(parse_json(seen)["verified"], 1) << seen.out;
}

TEST(CliCatalog, AMissingPathIsAnErrorNotASkip) {
  Fixture f;
  auto r = rk({"catalog", "add", (f.dir / "nothere").string(), "--catalog", f.catalog()});
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.err.find("nothere"), std::string::npos) << r.err;
}

TEST(CliCatalog, ADamagedCatalogIsKeptAsideAndRebuilt) {
  Fixture f;
  ASSERT_EQ(f.backup("a.tar.zst").exit_code, 0);
  ASSERT_EQ(
      rk({"catalog", "add", (f.dir / "a.tar.zst").string(), "--catalog", f.catalog()}).exit_code,
      0);
  auto good = read_file(f.catalog());
  fs::remove(f.catalog() + "-wal");
  fs::remove(f.catalog() + "-shm");
  std::string random(good.size(), '\0');
  for (std::size_t i = 0; i < random.size(); ++i) random[i] = static_cast<char>(i * 7919 + 13);
  for (const std::string& damage : {random, good.substr(0, 3000)}) {
    write_file(f.catalog(), damage);
    auto r = rk({"catalog", "list", "--catalog", f.catalog()});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("was damaged"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("give --catalog"), std::string::npos) << r.err;
    int kept = 0;
    for (const auto& e : fs::directory_iterator(f.dir.path())) {
      kept += e.path().filename().string().find("catalog.sqlite.corrupt-") == 0;
    }
    EXPECT_GE(kept, 1);
    auto add = rk({"catalog", "add", (f.dir / "a.tar.zst").string(), "--catalog", f.catalog()});
    EXPECT_EQ(add.exit_code, 0) << add.err;
    for (const auto& e : fs::directory_iterator(f.dir.path())) {
      if (e.path().filename().string().find("catalog.sqlite.corrupt-") == 0) fs::remove(e.path());
    }
    fs::remove(f.catalog() + "-wal");
    fs::remove(f.catalog() + "-shm");
  }
}

TEST(CliCatalog, InterruptedAddLeavesAUsableCatalog) {
  Fixture f;
  auto set = f.dir / "set";
  fs::create_directories(set);
  for (int i = 0; i < 12; ++i) {
    ASSERT_EQ(f.backup(fmt::format("set/b{:02}.tar.gz", i)).exit_code, 0);
  }
  pid_t child = ::fork();
  if (child == 0) {
    ::execl(restorekit_exe().c_str(), "restorekit", "catalog", "add", set.c_str(), "--catalog",
            f.catalog().c_str(), "--quiet", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(40));
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  auto list = rk({"catalog", "list", "--catalog", f.catalog(), "--json"});
  EXPECT_EQ(list.exit_code, 0) << list.err;
  auto add = rk({"catalog", "add", set.string(), "--catalog", f.catalog(), "--json"});
  ASSERT_EQ(add.exit_code, 0) << add.err;
  auto j = parse_json(add);
  EXPECT_EQ(j["read"].get<int>() + j["unchanged"].get<int>(), 12);
  auto check = run({"sqlite3", f.catalog(), "PRAGMA integrity_check"});
  if (check.exit_code == 0) {
    EXPECT_EQ(check.out, "ok\n");
  }
}

}  // namespace
}  // namespace restorekit::test

namespace restorekit::test {
namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr double kSecond = 3.0;  // sanitizers slow everything down about threefold
#else
constexpr double kSecond = 1.0;
#endif

// Whether process `pid` has a handler of its own for SIGINT (SigCgt in /proc/PID/status).
bool catches_sigint(pid_t pid) {
  std::ifstream status(fmt::format("/proc/{}/status", pid));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("SigCgt:", 0) == 0) {
      return ((std::stoull(line.substr(7), nullptr, 16) >> (SIGINT - 1)) & 1) != 0;
    }
  }
  return false;
}

// Ctrl-C ends any command within a second, cleaning up; a database with 20,000 tables (which
// made the dry run quadratic: 491 s) keeps every command busy long enough to interrupt it.
TEST(CliInterrupt, CtrlCEndsEveryCommandWithinASecond) {
  ScratchDir dir;
  {
    auto db = core::Database::open(dir / "app.sqlite", core::OpenMode::kCreate);
    ASSERT_TRUE(db);
    std::string sql = "BEGIN;";
    for (int i = 0; i < 20000; ++i)
      sql += fmt::format("CREATE TABLE t{}(id INTEGER PRIMARY KEY, x);", i);
    ASSERT_TRUE(db->exec(sql + "COMMIT;"));
  }
  fs::copy_file(dir / "app.sqlite", dir / "live.sqlite");
  ASSERT_EQ(sh("tar czf b.tar.gz app.sqlite", dir.path()), 0);
  auto tmp = dir / "tmp";
  fs::create_directories(tmp);
  std::vector<std::vector<std::string>> commands = {
      {"restore", "b.tar.gz", "--live", "live.sqlite", "--dry-run", "--quiet"},
      {"inspect", "b.tar.gz", "--no-catalog"},
      {"verify", "b.tar.gz", "--no-catalog"},
      {"diff", "b.tar.gz", "--live", "live.sqlite", "--no-catalog"}};
  for (auto args : commands) {
    SCOPED_TRACE(args.front());
    args.insert(args.begin(), restorekit_exe());
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      ::chdir(dir.path().c_str());
      ::setenv("TMPDIR", tmp.c_str(), 1);
      int null = ::open("/dev/null", O_WRONLY);
      ::dup2(null, 1);
      ::dup2(null, 2);
      ::signal(SIGINT, SIG_IGN);  // as a background job of a script: restorekit takes it back
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    // Sent only once restorekit has taken SIGINT back from the inherited SIG_IGN (a slow start
    // under ASan on a busy machine took longer than a fixed wait), then mid-work.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!catches_sigint(child) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    EXPECT_TRUE(catches_sigint(child)) << "restorekit never installed its SIGINT handler";
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    auto sent = std::chrono::steady_clock::now();
    ::kill(child, SIGINT);
    int status = 0;
    ::waitpid(child, &status, 0);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - sent).count();
    EXPECT_LT(seconds, kSecond) << "still running a second after Ctrl-C";
    EXPECT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 2) << "a cancelled run is no verdict";
    EXPECT_TRUE(fs::is_empty(tmp)) << "temporary files left behind";
  }
  EXPECT_TRUE(fs::is_empty(dir / "live.sqlite.restorekit")) << "the dry run cleaned up";
}

}  // namespace
}  // namespace restorekit::test

namespace restorekit::test {
namespace {

// Mistakes people make say what to do: a folder for a database, a database for a profile, a
// mistyped command (with the closest one), `help COMMAND`.
TEST(CliMistakes, EveryMistakeNamesTheFixAndExits2) {
  Fixture f;
  ASSERT_EQ(f.backup("b.tar.zst").exit_code, 0);
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  std::vector<Case> cases = {
      {{"backup", "--db", f.dir.path().string(), "-o", (f.dir / "x.tar.zst").string()},
       "is a folder; give --db the database file itself"},
      {{"diff", (f.dir / "b.tar.zst").string(), "--live", f.dir.path().string(), "--no-catalog"},
       "is a folder; give the database file itself"},
      {{"verify", (f.dir / "b.tar.zst").string(), "--profile", f.db.string(), "--no-catalog"},
       "is a SQLite database, not a profile"},
      {{"verfy", (f.dir / "b.tar.zst").string()}, "did you mean 'verify'?"},
      {{"frobnicate"},
       "the commands are: backup, inspect, verify, diff, restore, extract, report, catalog"},
      {{"extract", (f.dir / "b.tar.zst").string(), "docs/*"}, "say where to extract to: -o DIR"},
      {{"report", (f.dir / "b.tar.zst").string(), "-o", (f.dir / "r.pdf").string(), "--format",
        "pdf", "--no-catalog"},
       "give html or md"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.args.front());
    auto r = rk(c.args);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("raise the limit"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("A subcommand is required"), std::string::npos) << r.err;
  }
  // A header-only preview of a cut backup says its figures are the header's, unverified.
  auto data = read_file(f.dir / "b.tar.zst");
  write_file(f.dir / "cut.tar.zst", data.substr(0, data.size() / 2));
  auto preview = rk({"inspect", (f.dir / "cut.tar.zst").string(), "--no-catalog"});
  EXPECT_NE(preview.out.find("figures from the backup's header, not verified"), std::string::npos)
      << preview.out;
  auto help = rk({"help", "verify"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("--junit"), std::string::npos) << help.out;
}

}  // namespace
}  // namespace restorekit::test
