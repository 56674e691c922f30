// catalog where (issue 17, part 2): which backups hold a row and what changed between them.
// Backups made by stock tools (bsdtar, Info-ZIP) over four weeks of a database sqlite3 edits:
// a person renamed, then deleted; a table added later (older backups lack it).
#include <restorekit/catalog/where.hpp>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "test_support.hpp"

namespace restorekit::catalog {
namespace {

namespace fs = std::filesystem;
using test::ScratchDir;

class CatalogWhere : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* tool : {"sqlite3", "bsdtar", "zip"}) {
      if (!test::have_tool(tool)) GTEST_SKIP() << "SKIPPED: " << tool << " is needed";
    }
    auto step = [&](const std::string& sql, const std::string& date, const std::string& archive) {
      ASSERT_EQ(
          test::sh(fmt::format("sqlite3 app.sqlite \"{}\" && touch -d '{}' app.sqlite", sql, date),
                   dir_.path()),
          0);
      auto pack = archive.ends_with(".zip") ? "zip -q " + archive + " app.sqlite"
                                            : "bsdtar -czf " + archive + " app.sqlite";
      ASSERT_EQ(test::sh(pack, dir_.path()), 0);
    };
    step(
        "CREATE TABLE persons(id INTEGER PRIMARY KEY, name TEXT, email TEXT, photo BLOB);"
        "INSERT INTO persons VALUES (7, 'Ann', 'ann@example.com', x'00ff'),"
        "(8, 'Bob', 'bob@example.com', NULL);",
        "2026-11-01 10:00", "w1.tar.gz");
    step("UPDATE persons SET name = 'Ann Smith' WHERE id = 7", "2026-11-08 10:00", "w2.tar.gz");
    step("DELETE FROM persons WHERE id = 7; CREATE TABLE tags(id INTEGER PRIMARY KEY, tag TEXT)",
         "2026-11-15 10:00", "w3.zip");
    step("INSERT INTO persons VALUES (9, 'Cy', 'cy@example.com', NULL)", "2026-11-22 10:00",
         "w4.tar.gz");
    auto index = Index::open(dir_ / "catalog.db");
    ASSERT_TRUE(index) << index.error().message;
    index_.emplace(std::move(*index));
    for (const char* a : {"w1.tar.gz", "w2.tar.gz", "w3.zip", "w4.tar.gz"}) {
      ASSERT_EQ(add(*index_, dir_ / a, AddOptions{}), AddOutcome::kRead) << a;
    }
  }

  std::vector<RowVersion> where_ok(const RowQuery& q, WhereOptions o = {}) {
    auto r = where(*index_, q, o);
    EXPECT_TRUE(r) << r.error().message;
    return r ? *r : std::vector<RowVersion>{};
  }

  static std::string name(const RowVersion& v) {
    return fs::path(v.backup.summary.path).filename().string();
  }

  ScratchDir dir_;
  std::optional<Index> index_;
};

TEST_F(CatalogWhere, EachBackupSaysWhetherItHoldsTheRowAndWhatChangedSince) {
  auto v = where_ok({"persons", {"7"}, std::nullopt});
  ASSERT_EQ(v.size(), 4u);
  EXPECT_EQ(name(v[0]), "w4.tar.gz") << "newest first";
  EXPECT_TRUE(v[0].keys.empty());
  EXPECT_TRUE(v[1].keys.empty());
  ASSERT_EQ(v[2].keys, std::vector<std::string>{"7"});
  EXPECT_EQ(v[2].only_here, 1u) << "the newer backup lost it";
  EXPECT_EQ(name(v[3]), "w1.tar.gz");
  EXPECT_EQ(v[3].changed, std::vector<std::string>{"name"}) << "renamed in between";
  EXPECT_EQ(v[3].only_here, 0u);
  auto photo = std::find_if(v[3].values.begin(), v[3].values.end(),
                            [](const auto& c) { return c.first == "photo"; });
  ASSERT_NE(photo, v[3].values.end());
  EXPECT_EQ(photo->second, "<blob 2 bytes>");
  for (const auto& x : v) EXPECT_TRUE(x.read) << name(x) << ": " << x.error;
}

TEST_F(CatalogWhere, AConditionFindsRowsAndALaterTableIsMissingFromOlderBackups) {
  auto v = where_ok({"persons", {}, std::string("email LIKE '%@example.com'")});
  ASSERT_EQ(v.size(), 4u);
  EXPECT_EQ(v[0].keys, (std::vector<std::string>{"8", "9"}));
  EXPECT_EQ(v[1].keys, std::vector<std::string>{"8"});
  EXPECT_EQ(v[1].only_newer, 1u) << "Cy came later";
  EXPECT_EQ(v[2].keys, (std::vector<std::string>{"7", "8"}));
  auto tags = where_ok({"tags", {}, std::string("1")});
  EXPECT_TRUE(tags[0].read);
  EXPECT_FALSE(tags[3].read) << "w1 has no tags table";
  EXPECT_NE(tags[3].error.find("no table"), std::string::npos) << tags[3].error;
}

TEST_F(CatalogWhere, LimitTakesTheNewestAndAMissingFileIsSaidNotFatal) {
  WhereOptions o;
  o.limit = 2;
  EXPECT_EQ(where_ok({"persons", {"8"}, std::nullopt}, o).size(), 2u);
  fs::remove(dir_ / "w2.tar.gz");
  auto v = where_ok({"persons", {"7"}, std::nullopt});
  ASSERT_EQ(v.size(), 4u);
  EXPECT_FALSE(v[2].read);
  EXPECT_EQ(v[3].compared_with, v[1].backup.summary.path) << "compared with the newer it read";
  RowQuery bad{"persons", {}, std::string("1); DELETE FROM persons; --")};
  auto b = where_ok(bad);
  for (const auto& x : b) EXPECT_FALSE(x.read) << name(x);
}

TEST_F(CatalogWhere, TheCommandLineAnswersAndTheSecondRunReadsNoArchive) {
  auto cmd = [&](std::vector<std::string> more) {
    std::vector<std::string> a = {test::restorekit_exe(), "catalog", "where", "--catalog",
                                  (dir_ / "catalog.db").string()};
    a.insert(a.end(), more.begin(), more.end());
    return test::run(a);
  };
  auto first = cmd({"persons:7", "--json"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  auto second = cmd({"persons:7", "--json"});
  ASSERT_EQ(second.exit_code, 0) << second.err;
  auto doc = nlohmann::json::parse(second.out);
  ASSERT_EQ(doc["backups"].size(), 4u);
  for (const auto& b : doc["backups"]) EXPECT_TRUE(b["from_index"].get<bool>()) << b["path"];
  EXPECT_EQ(doc["backups"][3]["changed"], nlohmann::json::array({"name"}));
  auto text = cmd({"--where", "persons", "name = 'Ann Smith'"});
  EXPECT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("1 gone in the newer"), std::string::npos) << text.out;
  auto none = cmd({"persons:12345"});
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_NE(none.err.find("no backup in the catalog holds persons:12345"), std::string::npos);
  auto wrong = cmd({"persons"});
  EXPECT_EQ(wrong.exit_code, 2) << wrong.out;
}

}  // namespace
}  // namespace restorekit::catalog
