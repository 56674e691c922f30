// The catalog commands on both backends: the same backups added, verified and queried through
// a SQLite file and through a PostgreSQL database (a throwaway cluster, tests/support/
// pg_cluster.hpp) give the same answers; server errors are clear and exit 2.
#include <set>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "pg_cluster.hpp"
#include "test_support.hpp"

namespace restorekit::test {
namespace {

using json = nlohmann::json;

CommandResult rk(std::vector<std::string> args, const std::vector<std::string>& env = {}) {
  args.insert(args.begin(), restorekit_exe());
  return run(args, {}, env);
}

json parse(const CommandResult& r) {
  auto doc = json::parse(r.out, nullptr, false);
  EXPECT_FALSE(doc.is_discarded()) << "not JSON: " << r.out << r.err;
  return doc;
}

// Answers without the moments they were given at.
json timeless(json j) {
  static const std::set<std::string> kMoments = {"indexed_at", "verified_at", "seconds"};
  if (j.is_object()) {
    json out = json::object();
    for (auto& [k, v] : j.items()) {
      if (!kMoments.count(k)) out[k] = timeless(v);
    }
    return out;
  }
  if (j.is_array()) {
    json out = json::array();
    for (auto& v : j) out.push_back(timeless(v));
    return out;
  }
  return j;
}

struct Answers {
  json added, verified, list, find_db, find_docs, find_none, where;
  std::string best;
  int best_exit = -1;
};

// Adds, verifies and queries the backups in `set` through the catalog `location`; `how`
// chooses --catalog or RESTOREKIT_CATALOG.
Answers answers(const fs::path& set, const std::string& location, bool by_env,
                const fs::path& cache) {
  std::vector<std::string> env = {"XDG_CACHE_HOME=" + cache.string()};
  std::vector<std::string> where;
  if (by_env) {
    env.push_back("RESTOREKIT_CATALOG=" + location);
  } else {
    where = {"--catalog", location};
  }
  auto catalog = [&](std::vector<std::string> args) {
    args.insert(args.begin(), "catalog");
    args.insert(args.end(), where.begin(), where.end());
    return rk(args, env);
  };
  Answers a;
  auto added = catalog({"add", set.string(), "--json"});
  EXPECT_EQ(added.exit_code, 0) << added.out << added.err;
  a.added = timeless(parse(added));
  auto verified = catalog({"verify", "--threads", "3", "--json"});
  EXPECT_EQ(verified.exit_code, 1) << verified.out << verified.err;  // one is damaged
  a.verified = parse(verified);
  a.verified.erase("archives");  // in the order the workers finished
  a.verified = timeless(a.verified);
  a.list = timeless(parse(catalog({"list", "--json"})));
  a.find_db = parse(catalog({"find", "*.sqlite", "--json"}));
  a.find_docs = parse(catalog({"find", "docs/*", "--json", "--limit", "7"}));
  a.find_none = parse(catalog({"find", "*.nothing", "--json"}));
  auto where_row = catalog({"where", "companies:1", "--json"});
  EXPECT_EQ(where_row.exit_code, 0) << where_row.out << where_row.err;
  a.where = timeless(parse(where_row));
  auto best = catalog({"best"});
  a.best = best.out;
  a.best_exit = best.exit_code;
  return a;
}

TEST(CatalogBackends, PostgresAnswersEveryQueryAsSqliteDoes) {
  RK_REQUIRE_POSTGRES(pg);
  RK_REQUIRE_TOOL("zip");
  RK_REQUIRE_TOOL("bsdtar");
  ScratchDir dir;
  const auto& s = small_sample();
  auto set = dir / "set";
  fs::create_directories(set / "older");
  fs::copy_file(s.database, dir / "app.sqlite");
  fs::copy(s.documents, dir / "docs", fs::copy_options::recursive);
  auto made = rk({"backup", "--db", (dir / "app.sqlite").string(), "--docs",
                  (dir / "docs").string(), "-o", (set / "ours.tar.zst").string(), "--quiet"});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  ASSERT_EQ(sh("zip -qr set/older/foreign.zip app.sqlite docs", dir.path()), 0);
  ASSERT_EQ(sh("bsdtar -czf set/foreign.tar.gz app.sqlite docs", dir.path()), 0);
  auto ours = read_file(set / "ours.tar.zst");
  write_file(set / "damaged.tar.zst", ours.substr(0, ours.size() / 2));
  write_file(set / "notes.txt", "not a backup\n");

  auto lite = answers(set, (dir / "catalog.sqlite").string(), false, dir / "cache-a");
  auto server = answers(set, pg->new_database(), true, dir / "cache-b");

  // The answers are worth comparing: four backups, one damaged, entries found.
  EXPECT_EQ(lite.added["read"], 4) << lite.added.dump();
  EXPECT_EQ(lite.verified["damaged"], 1) << lite.verified.dump();
  EXPECT_EQ(lite.verified["intact"], 3) << lite.verified.dump();
  ASSERT_EQ(lite.list["backups"].size(), 4u) << lite.list.dump();
  EXPECT_GE(lite.find_db["matches"].size(), 3u) << lite.find_db.dump();
  EXPECT_EQ(lite.find_docs["matches"].size(), 7u) << lite.find_docs.dump();
  EXPECT_TRUE(lite.find_none["matches"].empty());
  EXPECT_EQ(lite.best_exit, 0);
  ASSERT_EQ(lite.where["backups"].size(), 4u) << lite.where.dump();
  EXPECT_FALSE(lite.where["backups"][0]["keys"].empty()) << lite.where.dump();

  EXPECT_EQ(server.added, lite.added);
  EXPECT_EQ(server.verified, lite.verified);
  EXPECT_EQ(server.list, lite.list);
  EXPECT_EQ(server.find_db, lite.find_db);
  EXPECT_EQ(server.find_docs, lite.find_docs);
  EXPECT_EQ(server.find_none, lite.find_none);
  EXPECT_EQ(server.where, lite.where);
  EXPECT_EQ(server.best, lite.best);
  EXPECT_EQ(server.best_exit, lite.best_exit);
}

TEST(CatalogBackends, ServerErrorsAreClearAndExit2) {
  RK_REQUIRE_POSTGRES(pg);
  ScratchDir dir;
  auto good = pg->new_database();
  auto with_password = "postgresql://postgres:s3cret@/" + good.substr(good.find(":///") + 4);
  auto refused = rk({"catalog", "list", "--catalog", with_password});
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.err.find("pgpass"), std::string::npos) << refused.err;
  EXPECT_EQ(refused.err.find("s3cret"), std::string::npos) << "the password is not repeated";

  auto nowhere = "postgresql:///x?host=" + (dir / "no-server").string();
  auto unreachable = rk({"catalog", "list", "--catalog", nowhere});
  EXPECT_EQ(unreachable.exit_code, 2);
  EXPECT_NE(unreachable.err.find("cannot connect to the PostgreSQL catalog"), std::string::npos)
      << unreachable.err;

  // Commands that only use the catalog as a cache go on without it, and say so.
  auto made =
      rk({"backup", "--db", small_sample().database.string(), "--docs",
          small_sample().documents.string(), "-o", (dir / "b.tar.zst").string(), "--quiet"});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  auto inspected = rk({"inspect", (dir / "b.tar.zst").string()}, {"RESTOREKIT_CATALOG=" + nowhere});
  EXPECT_EQ(inspected.exit_code, 0) << inspected.err;
  EXPECT_NE(inspected.err.find("index not used"), std::string::npos) << inspected.err;
}

// libpq is loaded by the first PostgreSQL catalog, not linked: it is not among the command's
// libraries (its own 30 cost every start ~6 ms), and where it cannot be loaded a server catalog
// is a clear exit 2 while everything else works.
TEST(CatalogBackends, LibpqIsLoadedOnlyForAServerCatalog) {
  auto needed = run({"readelf", "-d", restorekit_exe()});
  if (needed.exit_code != 0) GTEST_SKIP() << "SKIPPED LOUDLY: no readelf here: " << needed.err;
  EXPECT_NE(needed.out.find("libarchive"), std::string::npos) << needed.out;
  EXPECT_EQ(needed.out.find("libpq"), std::string::npos) << needed.out;

  ScratchDir dir;
  std::vector<std::string> no_libpq = {"RESTOREKIT_LIBPQ=" + (dir / "no-libpq.so").string()};
  auto server = rk({"catalog", "list", "--catalog", "postgresql:///x"}, no_libpq);
  EXPECT_EQ(server.exit_code, 2);
  EXPECT_NE(server.err.find("needs libpq"), std::string::npos) << server.err;
  EXPECT_NE(server.err.find("no-libpq.so"), std::string::npos) << server.err;
  auto file = rk({"catalog", "list", "--catalog", (dir / "c.sqlite").string()}, no_libpq);
  EXPECT_EQ(file.exit_code, 0) << file.err;
}

}  // namespace
}  // namespace restorekit::test
