// The triage report in a real browser (Debian's chromium, headless): the DOM holds the verdict,
// the tables and the charts with the right numbers; the page logs nothing to the console and
// makes no network request; nothing from the backup runs as script. A screenshot of each page
// lands in the build folder (report-screenshots/). Skips loudly without chromium.
#include <algorithm>
#include <regex>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "report_support.hpp"
#include "test_support.hpp"

namespace restorekit::test {
namespace {

struct BrowserRun {
  std::string dom;
  std::vector<std::string> console;        // messages the page logged
  std::vector<std::string> page_requests;  // network URLs the page asked for
};

// Loads `page` once for its DOM, console and network log, and once for a screenshot.
BrowserRun browse(const fs::path& page, const fs::path& screenshot, const fs::path& scratch) {
  std::vector<std::string> common = {
      "chromium", "--headless", "--no-sandbox", "--disable-gpu",
      // The browser's own background traffic stays out of the network log.
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
      "--no-first-run", "--disable-default-apps", "--disable-extensions",
      "--user-data-dir=" + (scratch / "profile").string()};
  auto netlog = scratch / "netlog.json";
  auto args = common;
  args.insert(args.end(), {"--enable-logging=stderr", "--v=0", "--log-net-log=" + netlog.string(),
                           "--dump-dom", "file://" + page.string()});
  auto r = run(args);
  BrowserRun out;
  out.dom = r.out;
  std::regex console(R"re(CONSOLE[^\]]*\] (.*))re");
  for (std::sregex_iterator it(r.err.begin(), r.err.end(), console), end; it != end; ++it) {
    out.console.push_back((*it)[1]);
  }
  auto log = nlohmann::json::parse(read_file(netlog), nullptr, false);
  if (!log.is_discarded()) {
    int start_job = log["constants"]["logEventTypes"].value("URL_REQUEST_START_JOB", -1);
    for (const auto& e : log["events"]) {
      if (e.value("type", -2) != start_job || !e.contains("params")) continue;
      const auto& p = e["params"];
      std::string url = p.value("url", "");
      // Requests the page made carry its file:// isolation key; the browser's own do not.
      if (p.value("network_isolation_key", "").find("file://") == std::string::npos) continue;
      if (!url.starts_with("file:") && !url.starts_with("data:")) out.page_requests.push_back(url);
    }
  } else {
    out.page_requests.push_back("(no network log: " + netlog.string() + ")");
  }
  args = common;
  args.insert(args.end(), {"--hide-scrollbars", "--window-size=900,1400",
                           "--screenshot=" + screenshot.string(), "file://" + page.string()});
  run(args);
  return out;
}

CommandResult rk(const std::vector<std::string>& args) {
  std::vector<std::string> argv{restorekit_exe()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv);
}

class ReportInBrowser : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!have_tool("chromium")) {
      GTEST_SKIP() << "SKIPPED: chromium is not installed (scripts/setup-deps.sh installs it); "
                      "the report was not checked in a browser";
    }
    shots_ = fs::path(RESTOREKIT_BINARY_DIR) / "report-screenshots";
    fs::create_directories(shots_);
  }
  BrowserRun load(const fs::path& page, const std::string& shot) {
    auto run = browse(page, shots_ / (shot + ".png"), dir_.path());
    EXPECT_TRUE(fs::exists(shots_ / (shot + ".png"))) << shot;
    EXPECT_TRUE(run.console.empty()) << shot << ": " << testing::PrintToString(run.console);
    EXPECT_TRUE(run.page_requests.empty())
        << shot << ": " << testing::PrintToString(run.page_requests);
    EXPECT_EQ(run.dom.find("<script"), std::string::npos) << shot;
    return run;
  }
  ScratchDir dir_;
  fs::path shots_;
};

// The harness itself can fail: a page that logs and fetches is caught.
TEST_F(ReportInBrowser, TheChecksSeeAConsoleMessageAndANetworkRequest) {
  write_file(dir_ / "bad.html",
             "<html><body><img src=\"http://example.invalid/x.png\">"
             "<script>console.error('boom')</script></body></html>");
  auto run = browse(dir_ / "bad.html", shots_ / "harness-self-check.png", dir_.path());
  EXPECT_FALSE(run.console.empty());
  EXPECT_EQ(run.page_requests, std::vector<std::string>{"http://example.invalid/x.png"});
}

TEST_F(ReportInBrowser, HealthyDamagedAndHostileReportsRenderTheirNumbersAndNothingElse) {
  const auto& s = small_sample();
  auto db = dir_ / "app.sqlite";
  fs::copy_file(s.database, db);
  fs::copy(s.documents, dir_ / "docs", fs::copy_options::recursive);
  auto made = rk({"backup", "--db", db.string(), "--docs", (dir_ / "docs").string(), "-o",
                  (dir_ / "b.tar.zst").string(), "--profile", s.profile.string(), "--quiet"});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  auto live = dir_ / "live.sqlite";
  fs::copy_file(db, live);
  ASSERT_EQ(
      sh(fmt::format("sqlite3 '{}' 'DELETE FROM persons WHERE rowid % 5 = 0'", live.string())), 0);

  // Healthy, with a live database: the charts carry diff's numbers.
  auto healthy = dir_ / "healthy.html";
  auto r = rk({"report", (dir_ / "b.tar.zst").string(), "--live", live.string(), "--profile",
               s.profile.string(), "-o", healthy.string(), "--no-catalog", "--quiet"});
  ASSERT_LE(r.exit_code, 1) << r.err;
  auto page = load(healthy, "healthy");
  EXPECT_NE(page.dom.find("id=\"verdict\""), std::string::npos);
  auto diff =
      nlohmann::json::parse(rk({"diff", (dir_ / "b.tar.zst").string(), "--live", live.string(),
                                "--profile", s.profile.string(), "--json", "--no-catalog"})
                                .out);
  auto cells = chart_row(page.dom, "chart-tables", "persons");
  ASSERT_EQ(cells.size(), 3u) << "persons is charted";
  for (const auto& t : diff["tables"]) {
    if (t["name"] != "persons") continue;
    EXPECT_EQ(cells[1], fmt::format("{}", t["revived"].get<std::uint64_t>()));
  }
  EXPECT_NE(page.dom.find("id=\"chart-tenants\""), std::string::npos);
  EXPECT_NE(page.dom.find("<svg"), std::string::npos) << "the bars";

  // Damaged.
  std::string bytes = read_file(dir_ / "b.tar.zst");
  write_file(dir_ / "cut.tar.zst", bytes.substr(0, bytes.size() / 2));
  auto damaged = dir_ / "damaged.html";
  r = rk({"report", (dir_ / "cut.tar.zst").string(), "-o", damaged.string(), "--no-catalog",
          "--quiet"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  page = load(damaged, "damaged");
  EXPECT_NE(page.dom.find("data-verdict=\"damaged\""), std::string::npos);
  EXPECT_NE(page.dom.find("id=\"findings\""), std::string::npos);

  // Hostile: entry names and a table name carrying markup and script.
  write_bytes(
      dir_ / "hostile.tar",
      raw_tar({{"app.sqlite", 0100000, read_file(db), ""},
               {"../<script>document.title='pwned'</script>", 0100000, "x", ""},
               {"docs/<img src=x onerror=\"document.title='pwned'\">.txt", 0100000, "x", ""}}));
  auto hostile = dir_ / "hostile.html";
  r = rk({"report", (dir_ / "hostile.tar").string(), "-o", hostile.string(), "--no-catalog",
          "--quiet"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  page = load(hostile, "hostile");
  EXPECT_EQ(page.dom.find("<img"), std::string::npos) << "no element came from a name";
  EXPECT_EQ(page.dom.find("<title>pwned"), std::string::npos) << "no script ran";
  EXPECT_NE(page.dom.find("&lt;script&gt;document.title="), std::string::npos)
      << "the name is shown as text";
}

}  // namespace
}  // namespace restorekit::test
