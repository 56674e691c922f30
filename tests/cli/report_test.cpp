// `restorekit report`: the triage report's verdict, numbers and escaping, on a healthy backup,
// a damaged one and a hostile one (names and tenant labels carrying HTML, quotes, bidi
// controls). Browser checks of the same pages run in report_browser_test.
#include <algorithm>
#include <cctype>
#include <regex>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "report_support.hpp"
#include "test_support.hpp"

namespace restorekit::test {
namespace {

CommandResult rk(const std::vector<std::string>& args, const fs::path& cwd = {}) {
  std::vector<std::string> argv{restorekit_exe()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, cwd);
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

class Report : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto& s = small_sample();
    db_ = dir_ / "app.sqlite";
    fs::copy_file(s.database, db_);
    fs::copy(s.documents, dir_ / "docs", fs::copy_options::recursive);
    fs::copy_file(s.profile, dir_ / "profile.toml");
    auto made = rk({"backup", "--db", db_.string(), "--docs", (dir_ / "docs").string(), "-o",
                    (dir_ / "b.tar.zst").string(), "--profile", (dir_ / "profile.toml").string(),
                    "--quiet"});
    ASSERT_EQ(made.exit_code, 0) << made.err;
  }
  ScratchDir dir_;
  fs::path db_;
};

TEST_F(Report, AHealthyBackupIsIntactAndTheFileIsOneSelfContainedPage) {
  auto out = dir_ / "r.html";
  auto r =
      rk({"report", (dir_ / "b.tar.zst").string(), "-o", out.string(), "--no-catalog", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["schema"], "restorekit.report/1");
  EXPECT_EQ(doc["verdict"], "intact");
  EXPECT_EQ(doc["report"], out.string());
  std::string html = read_file(out);
  EXPECT_NE(html.find("data-verdict=\"intact\""), std::string::npos);
  EXPECT_NE(html.find("id=\"databases\""), std::string::npos);
  std::string l = lower(html);
  EXPECT_EQ(l.find("<script"), std::string::npos) << "no script at all";
  EXPECT_EQ(l.find("http://"), std::string::npos) << "nothing from the network";
  EXPECT_EQ(l.find("https://"), std::string::npos);
  EXPECT_EQ(l.find(" src="), std::string::npos);
  EXPECT_EQ(l.find("<link"), std::string::npos);
  for (const auto& e : fs::directory_iterator(dir_.path())) {
    EXPECT_EQ(e.path().string().find(".tmp"), std::string::npos) << "left behind: " << e.path();
  }
}

TEST_F(Report, WithALiveDatabaseTheChartsCarryTheDiffsNumbers) {
  auto live = dir_ / "live.sqlite";
  fs::copy_file(db_, live);
  ASSERT_EQ(
      sh(fmt::format("sqlite3 '{}' 'DELETE FROM persons WHERE rowid % 7 = 0'", live.string())), 0);
  auto out = dir_ / "r.html";
  auto r = rk({"report", (dir_ / "b.tar.zst").string(), "--live", live.string(), "--profile",
               (dir_ / "profile.toml").string(), "-o", out.string(), "--no-catalog"});
  ASSERT_LE(r.exit_code, 1) << r.out << r.err;
  auto diff = rk({"diff", (dir_ / "b.tar.zst").string(), "--live", live.string(), "--profile",
                  (dir_ / "profile.toml").string(), "--json", "--no-catalog"});
  auto doc = nlohmann::json::parse(diff.out);
  std::string html = read_file(out);
  bool seen = false;
  for (const auto& t : doc["tables"]) {
    std::uint64_t total = t["lost"].get<std::uint64_t>() + t["revived"].get<std::uint64_t>() +
                          t["reverted"].get<std::uint64_t>();
    auto cells = chart_row(html, "chart-tables", t["name"].get<std::string>());
    if (total == 0) {
      EXPECT_TRUE(cells.empty()) << t["name"] << ": unchanged tables are not charted";
      continue;
    }
    seen = true;
    ASSERT_EQ(cells.size(), 3u) << t["name"];
    auto num = [](std::string s) {
      s.erase(std::remove(s.begin(), s.end(), ','), s.end());
      return std::stoull(s);
    };
    EXPECT_EQ(num(cells[0]), t["lost"].get<std::uint64_t>()) << t["name"];
    EXPECT_EQ(num(cells[1]), t["revived"].get<std::uint64_t>()) << t["name"];
    EXPECT_EQ(num(cells[2]), t["reverted"].get<std::uint64_t>()) << t["name"];
  }
  EXPECT_TRUE(seen) << "the deleted persons show";
  EXPECT_NE(html.find("id=\"chart-tenants\""), std::string::npos) << "the profile names tenants";
}

TEST_F(Report, WithACatalogTheTimelineListsTheCustomersBackupsAndMarksThisOne) {
  fs::create_directories(dir_ / "backups");
  fs::copy_file(dir_ / "b.tar.zst", dir_ / "backups/mon.tar.zst");
  std::string bytes = read_file(dir_ / "b.tar.zst");
  write_file(dir_ / "backups/tue.tar.zst", bytes.substr(0, bytes.size() - 5000));
  auto catalog = (dir_ / "catalog.sqlite").string();
  auto added = rk({"catalog", "add", (dir_ / "backups").string(), "--catalog", catalog});
  ASSERT_LE(added.exit_code, 1) << added.err;
  auto out = dir_ / "r.html";
  // Named relative to the working folder: still recognised as the catalog's entry.
  auto r =
      rk({"report", "backups/mon.tar.zst", "--catalog", catalog, "-o", out.string()}, dir_.path());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  std::string html = read_file(out);
  auto timeline = html.find("id=\"timeline\"");
  ASSERT_NE(timeline, std::string::npos);
  EXPECT_NE(html.find("mon.tar.zst (this report)", timeline), std::string::npos);
  EXPECT_NE(html.find("tue.tar.zst", timeline), std::string::npos);
  EXPECT_NE(html.find("unverified", timeline), std::string::npos) << "the cut one, never verified";
  EXPECT_NE(html.find(">intact<", timeline), std::string::npos)
      << "this report's verify pass is recorded, as verify's is";
}

TEST_F(Report, ADamagedBackupIsReportedAndExits1) {
  std::string bytes = read_file(dir_ / "b.tar.zst");
  write_file(dir_ / "cut.tar.zst", bytes.substr(0, bytes.size() / 2));
  auto out = dir_ / "cut.md";
  auto r = rk({"report", (dir_ / "cut.tar.zst").string(), "-o", out.string(), "--no-catalog"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  std::string md = read_file(out);
  EXPECT_NE(md.find("**Verdict: damaged.**"), std::string::npos) << md.substr(0, 400);
  EXPECT_NE(md.find("### Errors"), std::string::npos);
}

// Names and labels from a backup are data: they come out escaped and never as markup, and bidi
// controls show as escapes instead of reordering the page.
TEST(ReportHostile, NamesAndLabelsFromTheBackupComeOutEscaped) {
  if (!have_tool("sqlite3")) GTEST_SKIP() << "SKIPPED: sqlite3 makes the hostile database";
  ScratchDir dir;
  write_file(dir / "hostile.sql", R"sql(
    CREATE TABLE companies(id INTEGER PRIMARY KEY, name TEXT);
    INSERT INTO companies VALUES (1, '<script>alert(1)</script>'), (2, '" onmouseover="x');
    CREATE TABLE "<img src=x onerror=alert(2)>"(id INTEGER PRIMARY KEY, company_id INTEGER);
    INSERT INTO "<img src=x onerror=alert(2)>" VALUES (1, 1), (2, 2), (3, 1);
  )sql");
  ASSERT_EQ(sh("sqlite3 app.sqlite < hostile.sql", dir.path()), 0);
  fs::copy_file(dir / "app.sqlite", dir / "live.sqlite");
  ASSERT_EQ(sh("sqlite3 live.sqlite 'DELETE FROM \"<img src=x onerror=alert(2)>\" WHERE id = 3'",
               dir.path()),
            0);
  write_file(dir / "profile.toml", R"(
    [database]
    tenant_column = "company_id"
    tenant_table = "companies"
    tenant_label = "name"
  )");
  std::string bidi = "\xe2\x80\xae";  // U+202E RIGHT-TO-LEFT OVERRIDE
  write_bytes(dir / "hostile.tar",
              raw_tar({{"app.sqlite", 0100000, read_file(dir / "app.sqlite"), ""},
                       {"docs/invoice" + bidi + "fdp.exe", 0100000, "x", ""},
                       {"../<script>alert(3)</script>.txt", 0100000, "x", ""}}));
  fs::create_directories(dir / "live-docs");  // empty: every document shows as revived
  for (const char* name : {"r.html", "r.md"}) {
    auto r = rk({"report", (dir / "hostile.tar").string(), "--live", (dir / "live.sqlite").string(),
                 "--live-docs", (dir / "live-docs").string(), "--profile",
                 (dir / "profile.toml").string(), "-o", (dir / name).string(), "--no-catalog"});
    EXPECT_EQ(r.exit_code, 1) << name << ": an unsafe entry is damage\n" << r.out << r.err;
    std::string page = read_file(dir / name);
    std::string l = lower(page);
    EXPECT_EQ(l.find("<script"), std::string::npos) << name;
    EXPECT_EQ(l.find("<img"), std::string::npos) << name;
    EXPECT_EQ(page.find(bidi), std::string::npos) << name << ": the bidi control is escaped";
    EXPECT_NE(page.find("u{202e}fdp.exe"), std::string::npos)
        << name << ": the document is named, its bidi control shown as an escape";
    EXPECT_NE(page.find("&lt;script&gt;alert(3)"), std::string::npos)
        << name << ": the unsafe name is shown, escaped";
    EXPECT_NE(page.find("&lt;img src=x onerror=alert(2)&gt;"), std::string::npos) << name;
    EXPECT_NE(page.find("&lt;script&gt;alert(1)&lt;"), std::string::npos)
        << name << ": the tenant label is shown, escaped";
    if (std::string_view(name) == "r.html") {
      EXPECT_EQ(page.find("\" onmouseover=\""), std::string::npos) << "quotes are escaped";
    }
  }
}

}  // namespace
}  // namespace restorekit::test
