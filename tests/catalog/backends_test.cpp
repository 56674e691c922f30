// One test suite for both catalog backends: a SQLite file and a PostgreSQL database on a
// throwaway cluster (tests/support/pg_cluster.hpp). Each test runs on both and expects the
// same answers; the PostgreSQL run is skipped loudly where no server binaries are installed.
#include <restorekit/catalog/catalog.hpp>
#include <restorekit/catalog/index.hpp>

#include <algorithm>
#include <cstdlib>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "pg_cluster.hpp"
#include "test_support.hpp"

namespace restorekit::catalog {
namespace {

using namespace core;  // NOLINT(google-build-using-namespace)

enum class Backend { kSqlite, kPostgres };

std::string backend_name(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::kSqlite ? "Sqlite" : "Postgres";
}

ArchiveSummary summary(const std::string& path, std::int64_t mtime = 456) {
  ArchiveSummary s;
  s.path = path;
  s.fingerprint = Fingerprint{123, mtime, hash128(path)};
  s.kind = BackupKind::kForeign;
  s.archive = ArchiveInfo{"tar", "GNU tar format", {"zstd", "uu"}};
  s.entries = 3;
  s.bytes = 1000;
  s.archive_bytes = 500;
  s.document_files = 2;
  s.document_bytes = 10;
  s.oldest_mtime = 1;
  s.newest_mtime = std::nullopt;
  s.databases.push_back(DatabaseInfo{"app.sqlite",
                                     DatabaseFormat::kSqlite,
                                     990,
                                     7,
                                     4096,
                                     {{"persons", 5}, {"companies", 2}},
                                     {{"1", "Acme", 4}, {"2", "B\xc3\xa4r GmbH", 1}}});
  s.findings.push_back(Finding{"UNSAFE_PATH", Severity::kWarning, "../x", "climbs out"});
  s.listed = true;
  return s;
}

class Backends : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == Backend::kPostgres) {
      RK_REQUIRE_POSTGRES(pg);
      location_ = pg->new_database();
    } else {
      location_ = (dir_ / "catalog.sqlite").string();
    }
  }

  Index open() {
    auto index = Index::open_location(location_);
    EXPECT_TRUE(index) << index.error().message;
    if (!index) throw std::runtime_error(index.error().message);
    return std::move(*index);
  }

  static std::shared_ptr<EntryStore> listing(const std::vector<EntryRecord>& records) {
    auto store = EntryStore::from_records(records);
    EXPECT_TRUE(store);
    return std::move(*store);
  }

  static std::vector<std::string> found(Index& index, std::string_view glob,
                                        std::size_t limit = 100) {
    auto matches = index.find_entries(glob, limit);
    EXPECT_TRUE(matches) << matches.error().message;
    std::vector<std::string> out;
    if (matches) {
      for (const auto& m : *matches) out.push_back(m.archive + ":" + m.entry.path);
    }
    return out;
  }

  test::ScratchDir dir_;
  std::string location_;
};

INSTANTIATE_TEST_SUITE_P(Catalog, Backends, ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         backend_name);

TEST_P(Backends, StoresAndAnswersOnlyForAnUnchangedFingerprint) {
  auto index = open();
  auto s = summary("/b/one.tar.zst");
  auto entries = listing({{"app.sqlite", EntryType::kFile, 990, 1, false, true, {}},
                          {"docs/", EntryType::kDirectory, std::nullopt, 3, false, true, {}},
                          {"../x", EntryType::kFile, 1, 2, true, false, hash128("y")}});
  ASSERT_TRUE(index.put(s, entries.get()));
  auto got = index.find(s.path, s.fingerprint);
  ASSERT_TRUE(got);
  ASSERT_TRUE(got->has_value());
  const auto& f = **got;
  EXPECT_EQ(f.path, s.path);
  EXPECT_EQ(f.fingerprint, s.fingerprint);
  EXPECT_EQ(f.archive.filters, (std::vector<std::string>{"zstd", "uu"}));
  EXPECT_EQ(f.archive.format_detail, "GNU tar format");
  EXPECT_EQ(f.databases.size(), 1u);
  EXPECT_EQ(f.databases[0].tables[1].name, "companies");
  EXPECT_EQ(f.databases[0].tables[1].rows, 2u);
  EXPECT_EQ(f.databases[0].tenants[1].label, "B\xc3\xa4r GmbH");
  EXPECT_EQ(f.databases[0].page_size, 4096);
  EXPECT_EQ(f.findings[0].message, "climbs out");
  EXPECT_EQ(f.oldest_mtime, 1);
  EXPECT_FALSE(f.newest_mtime.has_value());
  EXPECT_TRUE(f.listed);
  auto changed = s.fingerprint;
  changed.mtime_ns += 1;
  auto miss = index.find(s.path, changed);
  ASSERT_TRUE(miss);
  EXPECT_FALSE(miss->has_value());
  auto listed = index.entries(s.path);
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 3u);
  EXPECT_EQ((*listed)[1].type, EntryType::kDirectory);
  EXPECT_FALSE((*listed)[1].size.has_value());
  EXPECT_FALSE((*listed)[2].safe);
  EXPECT_TRUE((*listed)[2].encrypted);
  EXPECT_EQ((*listed)[2].hash, hash128("y"));
}

// Listings longer than a batch (a server takes rows 500 to a statement) come back whole and in
// order, the last partial batch too.
TEST_P(Backends, ALongListingComesBackWholeAndInOrder) {
  auto index = open();
  std::vector<EntryRecord> records;
  for (int i = 0; i < 1234; ++i) {
    records.push_back(
        {fmt::format("docs/{:04}/f{}.txt", i % 37, i), EntryType::kFile,
         static_cast<std::uint64_t>(i), i, i % 5 == 0, i % 7 != 0,
         i % 3 ? std::optional<Digest128>(hash128(std::to_string(i))) : std::nullopt});
  }
  ASSERT_TRUE(index.put(summary("/b/long.tar"), listing(records).get()));
  auto back = index.entries("/b/long.tar");
  ASSERT_TRUE(back);
  ASSERT_EQ(back->size(), records.size());
  for (std::size_t i = 0; i < records.size(); ++i) {
    EXPECT_EQ((*back)[i].path, records[i].path);
    EXPECT_EQ((*back)[i].size, records[i].size);
    EXPECT_EQ((*back)[i].encrypted, records[i].encrypted);
    EXPECT_EQ((*back)[i].safe, records[i].safe);
    EXPECT_EQ((*back)[i].hash, records[i].hash);
  }
  EXPECT_EQ(found(index, "f1233.txt"), std::vector<std::string>{"/b/long.tar:docs/0012/f1233.txt"});
}

TEST_P(Backends, PutReplacesForgetRemovesAndAReopenedCatalogKeepsAll) {
  {
    auto index = open();
    auto s = summary("/b/two.zip");
    ASSERT_TRUE(index.put(s));
    s.entries = 99;
    s.databases.clear();
    ASSERT_TRUE(index.put(s));
    ASSERT_TRUE(index.put(summary("/b/three.zip")));
    ASSERT_TRUE(index.put(summary("/b/four.zip")));
    ASSERT_TRUE(index.forget("/b/three.zip"));
  }
  auto index = open();
  auto all = index.list();
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].path, "/b/four.zip") << "newest indexed first";
  EXPECT_EQ((*all)[1].entries, 99u);
  EXPECT_TRUE((*all)[1].databases.empty());
  EXPECT_FALSE((*all)[1].listed) << "no entries were stored with this put";
  EXPECT_EQ((*all)[0].databases[0].tenants.size(), 2u);
}

// Finds match the entries' NFC keys with SQLite's GLOB rules on both backends (PostgreSQL
// through the same pattern as a regular expression): the characters a regular expression
// gives meaning to are themselves here.
TEST_P(Backends, FindMatchesGlobsAlikeUnderTheNameRule) {
  auto index = open();
  const std::string nfd = "docs/Mu\xcc\x88ller.pdf";
  auto entries = listing({{nfd, EntryType::kFile, 1, 1, false, true, {}},
                          {"docs/a/b.pdf", EntryType::kFile, 1, 1, false, true, {}},
                          {"docs/c/d.txt", EntryType::kFile, 1, 1, false, true, {}},
                          {"docs/[x].txt", EntryType::kFile, 1, 1, false, true, {}},
                          {"docs/we.ird$^(1)|{2}+.txt", EntryType::kFile, 1, 1, false, true, {}},
                          {"docs/back\\slash.txt", EntryType::kFile, 1, 1, false, true, {}},
                          {"docs/100%_sure.txt", EntryType::kFile, 1, 1, false, true, {}},
                          {"docs/100ab_sure.txt", EntryType::kFile, 1, 1, false, true, {}},
                          {"docs/c/", EntryType::kDirectory, {}, 1, false, true, {}}});
  ASSERT_TRUE(index.put(summary("/b/x.tar"), entries.get()));
  ASSERT_TRUE(index.put(summary("/b/a.tar"),
                        listing({{"other/b.pdf", EntryType::kFile, 1, 1, false, true, {}}}).get()));
  using V = std::vector<std::string>;
  EXPECT_EQ(found(index, "*.pdf"),
            (V{"/b/a.tar:other/b.pdf", "/b/x.tar:" + nfd, "/b/x.tar:docs/a/b.pdf"}));
  EXPECT_EQ(found(index, "b.pdf"), (V{"/b/a.tar:other/b.pdf", "/b/x.tar:docs/a/b.pdf"}));
  EXPECT_EQ(found(index, "a/b.pdf"), V{}) << "with '/', the whole path";
  EXPECT_EQ(found(index, "M\xc3\xbcller*"), V{"/b/x.tar:" + nfd}) << "NFC pattern, NFD name";
  EXPECT_EQ(found(index, "docs/?/b.pdf"), V{"/b/x.tar:docs/a/b.pdf"});
  EXPECT_EQ(found(index, "docs/[ab]/*"), V{"/b/x.tar:docs/a/b.pdf"});
  EXPECT_EQ(found(index, "docs/[^a]/*"), (V{"/b/x.tar:docs/c/d.txt", "/b/x.tar:docs/c/"}));
  EXPECT_EQ(found(index, "docs/c*"), (V{"/b/x.tar:docs/c/d.txt", "/b/x.tar:docs/c/"}));
  EXPECT_EQ(found(index, "[[]x].txt"), V{"/b/x.tar:docs/[x].txt"});
  EXPECT_EQ(found(index, "*$^(1)|{2}+.txt"), V{"/b/x.tar:docs/we.ird$^(1)|{2}+.txt"});
  EXPECT_EQ(found(index, "we?ird*"), V{"/b/x.tar:docs/we.ird$^(1)|{2}+.txt"});
  EXPECT_EQ(found(index, "back\\slash.txt"), V{"/b/x.tar:docs/back\\slash.txt"});
  EXPECT_EQ(found(index, "100%_sure.txt"), V{"/b/x.tar:docs/100%_sure.txt"})
      << "% and _ are themselves";
  EXPECT_EQ(found(index, "100??_sure.txt"), V{"/b/x.tar:docs/100ab_sure.txt"});
  EXPECT_EQ(found(index, "*.PDF"), V{}) << "case sensitive";
  EXPECT_EQ(found(index, "docs/[ab"), V{}) << "an open set matches nothing";
  EXPECT_EQ(found(index, "*", 2).size(), 2u);
}

// Names are any bytes: what is not UTF-8 (or starts with the escape byte) comes back as it
// went in, in every column.
TEST_P(Backends, NamesThatAreNotUtf8ComeBackByteForByte) {
  auto index = open();
  const std::string latin1 =
      "docs/Gr\xfc\xdf"
      "e.txt";
  const std::string escape_like =
      "\x01"
      "41";
  auto s = summary("/b/\xe9t\xe9.tar");
  s.databases[0].tables[0].name = escape_like;
  s.findings.push_back(Finding{"UNSAFE_PATH", Severity::kError, latin1, "bad \xff name"});
  ASSERT_TRUE(index.put(s, listing({{latin1, EntryType::kFile, 5, 1, false, false, {}}}).get()));
  auto all = index.list();
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 1u);
  const auto& got = (*all)[0];
  EXPECT_EQ(got.path, s.path);
  EXPECT_EQ(got.databases[0].tables[0].name, escape_like);
  EXPECT_EQ(got.findings[1].entry, latin1);
  EXPECT_EQ(got.findings[1].message, "bad \xff name");
  auto listed = index.entries(s.path);
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].path, latin1);
  auto by_path = index.find(s.path, s.fingerprint);
  ASSERT_TRUE(by_path);
  EXPECT_TRUE(by_path->has_value());
}

TEST_P(Backends, VerificationsAreRecordedAndReplaced) {
  auto index = open();
  auto s = summary("/b/v.tar");
  ASSERT_TRUE(index.put(s));
  auto none = index.verification(s.path);
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());
  auto wrong = s.fingerprint;
  wrong.size += 1;
  auto refused = index.record_verification(s.path, wrong, nullptr, {10, Verdict::kIntact, 0, 0});
  ASSERT_TRUE(refused);
  EXPECT_FALSE(*refused) << "a changed archive's verification is not recorded";
  auto entries = listing({{"a", EntryType::kFile, 1, 1, false, true, hash128("a")}});
  ASSERT_TRUE(*index.record_verification(s.path, s.fingerprint, entries.get(),
                                         {10, Verdict::kDamaged, 2, 1}));
  ASSERT_TRUE(
      *index.record_verification(s.path, s.fingerprint, nullptr, {20, Verdict::kIntact, 0, 3}));
  auto v = index.verification(s.path);
  ASSERT_TRUE(v);
  ASSERT_TRUE(v->has_value());
  EXPECT_EQ((*v)->verified_at, 20);
  EXPECT_EQ((*v)->verdict, Verdict::kIntact);
  EXPECT_EQ((*v)->warnings, 3u);
  auto found = index.find(s.path, s.fingerprint);
  ASSERT_TRUE(found && found->has_value());
  EXPECT_TRUE((*found)->listed) << "the verify listing made it listed";
  EXPECT_EQ(index.entries(s.path)->at(0).hash, hash128("a"));
}

TEST_P(Backends, AnIntactVerifysListingIsKeptUntilTheArchiveChanges) {
  auto index = open();
  auto s = summary("/b/again.tar");
  ASSERT_TRUE(index.put(s));
  auto first = listing({{"a", EntryType::kFile, 1, 1, false, true, std::nullopt}});
  auto hashed = listing({{"a", EntryType::kFile, 1, 1, false, true, hash128("a")}});
  auto other = listing({{"a", EntryType::kFile, 1, 1, false, true, hash128("other")},
                        {"b", EntryType::kFile, 1, 1, false, true, hash128("b")}});
  // A verify that could not read everything (no password) lists without hashes: replaced.
  ASSERT_TRUE(
      *index.record_verification(s.path, s.fingerprint, first.get(), {10, Verdict::kLocked, 1, 0}));
  EXPECT_FALSE(index.entries(s.path)->at(0).hash.has_value());
  ASSERT_TRUE(*index.record_verification(s.path, s.fingerprint, hashed.get(),
                                         {20, Verdict::kIntact, 0, 0}));
  ASSERT_EQ(index.entries(s.path)->size(), 1u);
  EXPECT_EQ(index.entries(s.path)->at(0).hash, hash128("a"));
  // The same bytes verified again: only the verdict is written (the listing would be the same;
  // `other` tells whether it was written).
  ASSERT_TRUE(
      *index.record_verification(s.path, s.fingerprint, other.get(), {30, Verdict::kIntact, 0, 0}));
  EXPECT_EQ(index.verification(s.path)->value().verified_at, 30);
  ASSERT_EQ(index.entries(s.path)->size(), 1u);
  EXPECT_EQ(index.entries(s.path)->at(0).hash, hash128("a"));
  // Changed bytes are filed again (put), and their verify's listing is written.
  auto changed = s;
  changed.fingerprint.size += 1;
  ASSERT_TRUE(index.put(changed));
  ASSERT_TRUE(*index.record_verification(s.path, changed.fingerprint, other.get(),
                                         {40, Verdict::kIntact, 0, 0}));
  ASSERT_EQ(index.entries(s.path)->size(), 2u);
  EXPECT_EQ(index.entries(s.path)->at(0).hash, hash128("other"));
}

TEST_P(Backends, StagedCopiesAreReusedAndOnlyTheNewestFewKept) {
  // A server catalog keeps this machine's copies under XDG_CACHE_HOME.
  struct Env {
    std::string old;
    bool had;
    explicit Env(const std::string& value) : had(std::getenv("XDG_CACHE_HOME") != nullptr) {
      if (had) old = std::getenv("XDG_CACHE_HOME");
      ::setenv("XDG_CACHE_HOME", value.c_str(), 1);
    }
    ~Env() {
      if (had) {
        ::setenv("XDG_CACHE_HOME", old.c_str(), 1);
      } else {
        ::unsetenv("XDG_CACHE_HOME");
      }
    }
  } cache((dir_ / "cache").string());
  auto index = open();
  std::vector<std::filesystem::path> kept;
  for (int i = 0; i < 6; ++i) {
    auto s = summary(fmt::format("/b/s{}.tar", i));
    auto file = dir_ / fmt::format("staged{}.sqlite", i);
    test::write_file(file, fmt::format("database {}", i));
    auto where = index.keep_staged_database(s.path, s.fingerprint, "app.sqlite", file);
    ASSERT_TRUE(where) << where.error().message;
    EXPECT_EQ(test::read_file(*where), fmt::format("database {}", i));
    kept.push_back(*where);
  }
  for (int i = 0; i < 6; ++i) {
    auto s = summary(fmt::format("/b/s{}.tar", i));
    auto copy = index.staged_database(s.path, s.fingerprint);
    ASSERT_TRUE(copy);
    EXPECT_EQ(copy->has_value(), i >= 2) << "copy " << i;
    if (i >= 2) {
      EXPECT_EQ((*copy)->entry, "app.sqlite");
      EXPECT_EQ((*copy)->file, kept[static_cast<std::size_t>(i)]);
    }
    EXPECT_EQ(std::filesystem::exists(kept[static_cast<std::size_t>(i)]), i >= 2);
  }
  auto changed = summary("/b/s5.tar", 999);
  EXPECT_FALSE(index.staged_database(changed.path, changed.fingerprint)->has_value());
}

// The round protocol workers share, with explicit times: one holder per archive, heartbeats
// keep a claim, an expired claim is taken over, a round closes when every archive is done.
TEST_P(Backends, RoundClaimsAreExclusiveRenewedByHeartbeatsAndTakenOverWhenExpired) {
  auto index = open();
  auto none = index.last_round();
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());
  EXPECT_EQ(*index.start_round({}), 0) << "nothing due: no round";
  auto round = index.start_round({"b/2.tar", "a/1.tar", "c/3.tar"});
  ASSERT_TRUE(round) << round.error().message;
  ASSERT_GT(*round, 0);
  EXPECT_EQ(*index.start_round({"x.tar"}), *round) << "one open round at a time: joined";
  EXPECT_EQ(*index.open_round(), *round);
  const std::int64_t t0 = 1'000'000;
  auto first = index.claim(*round, "w1", t0, t0 - 100);
  auto second = index.claim(*round, "w2", t0, t0 - 100);
  auto third = index.claim(*round, "w2", t0 + 1, t0 - 100);
  ASSERT_TRUE(first && second && third);
  EXPECT_EQ(**first, "a/1.tar");
  EXPECT_EQ(**second, "b/2.tar");
  EXPECT_EQ(**third, "c/3.tar");
  EXPECT_FALSE(index.claim(*round, "w3", t0 + 2, t0 - 100)->has_value()) << "all held";
  EXPECT_TRUE(*index.heartbeat(*round, "a/1.tar", "w1", t0 + 50));
  EXPECT_FALSE(*index.heartbeat(*round, "a/1.tar", "w2", t0 + 50)) << "not w2's claim";
  ASSERT_TRUE(index.finish(*round, "b/2.tar", "intact", ""));
  // At t0 + 60 with a time-out of 20: c (claimed at t0 + 1) expired, a (renewed at t0 + 50) not.
  auto taken = index.claim(*round, "w3", t0 + 60, t0 + 40);
  ASSERT_TRUE(taken && taken->has_value());
  EXPECT_EQ(**taken, "c/3.tar");
  EXPECT_FALSE(*index.heartbeat(*round, "c/3.tar", "w2", t0 + 61)) << "taken over";
  EXPECT_FALSE(index.claim(*round, "w4", t0 + 62, t0 + 40)->has_value());
  EXPECT_FALSE(*index.close_round_if_done(*round));
  ASSERT_TRUE(index.finish(*round, "a/1.tar", "damaged", ""));
  ASSERT_TRUE(index.finish(*round, "c/3.tar", "error", "cannot read"));
  ASSERT_TRUE(index.finish(*round, "c/3.tar", "intact", ""));  // the late first holder
  EXPECT_TRUE(*index.close_round_if_done(*round));
  EXPECT_FALSE(index.open_round()->has_value());
  auto last = index.last_round();
  ASSERT_TRUE(last && last->has_value());
  const auto& r = **last;
  EXPECT_EQ(r.id, *round);
  EXPECT_TRUE(r.finished_at.has_value());
  ASSERT_EQ(r.items.size(), 3u);
  EXPECT_EQ(r.items[0].verdict, "damaged");
  EXPECT_EQ(r.items[0].worker, "w1");
  EXPECT_EQ(r.items[2].archive, "c/3.tar");
  EXPECT_EQ(r.items[2].claims, 2);
  EXPECT_EQ(r.items[2].finishes, 2);
  EXPECT_EQ(r.items[2].worker, "w3");
  EXPECT_EQ(r.items[1].claims, 1);
  EXPECT_EQ(r.items[1].finishes, 1);
  auto next = index.start_round({"a/1.tar"});
  ASSERT_TRUE(next);
  EXPECT_GT(*next, *round) << "a closed round is not joined";
}

TEST_P(Backends, ACatalogFromANewerRestorekitIsRefused) {
  { auto index = open(); }
  if (GetParam() == Backend::kPostgres) {
    ASSERT_EQ(test::PgCluster::get()->psql("UPDATE restorekit_schema SET version = 99", location_),
              0);
  } else {
    ASSERT_EQ(test::sh("sqlite3 '" + location_ + "' 'PRAGMA user_version = 99'"), 0);
  }
  auto refused = Index::open_location(location_);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kDatabase);
  EXPECT_NE(refused.error().message.find("newer restorekit (schema 99)"), std::string::npos)
      << refused.error().message;
}

// Several workers opening a fresh catalog at once create its schema once, without errors.
TEST_P(Backends, ConcurrentOpensOfAFreshCatalogAllSucceed) {
  std::vector<std::thread> threads;
  std::vector<std::string> errors(6);
  for (std::size_t i = 0; i < errors.size(); ++i) {
    threads.emplace_back([&, i] {
      auto index = Index::open_location(location_);
      if (!index) {
        errors[i] = index.error().message;
        return;
      }
      auto put = index->put(summary(fmt::format("/b/w{}.tar", i)));
      if (!put) errors[i] = put.error().message;
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& e : errors) EXPECT_EQ(e, "");
  EXPECT_EQ(open().list()->size(), errors.size());
}

}  // namespace
}  // namespace restorekit::catalog
