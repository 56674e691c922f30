#include <restorekit/core/entry_store.hpp>

#include <algorithm>
#include <map>
#include <random>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <restorekit/core/names.hpp>

namespace restorekit::core {
namespace {

StoredEntry entry(std::uint64_t index, std::string path, EntryType type = EntryType::kFile,
                  bool safe = true, bool failed = false) {
  EntryRecord r{std::move(path), type, 3, 0, false, safe, std::nullopt};
  if (!failed && type == EntryType::kFile) r.hash = Digest128{index, index};
  return StoredEntry{index, std::move(r), type == EntryType::kFile, failed, std::nullopt};
}

std::shared_ptr<EntryStore> store_of(const std::vector<StoredEntry>& entries) {
  auto store = EntryStore::create();
  EXPECT_TRUE(store) << store.error().message;
  for (const auto& e : entries) EXPECT_TRUE((*store)->add(e, Ownership::kOwned));
  EXPECT_TRUE((*store)->seal());
  return *store;
}

std::vector<std::string> paths(const std::vector<StoredEntry>& entries) {
  std::vector<std::string> out;
  for (const auto& e : entries) out.push_back(e.record.path);
  return out;
}

const std::string kNfc = "docs/Z\xc3\xbcrich.jpg";   // ü composed
const std::string kNfd = "docs/Zu\xcc\x88rich.jpg";  // u + combining diaeresis

TEST(EntryStore, ListsEntriesInArchiveOrderWhateverOrderTheyCame) {
  auto store = store_of({entry(2, "c"), entry(0, "a"), entry(1, "b", EntryType::kDirectory)});
  ASSERT_EQ(store->size(), 3u);
  auto records = store->records();
  ASSERT_TRUE(records);
  ASSERT_EQ(records->size(), 3u);
  EXPECT_EQ((*records)[0].path, "a");
  EXPECT_EQ((*records)[1].type, EntryType::kDirectory);
  EXPECT_EQ((*records)[2].hash, (Digest128{2, 2}));
}

TEST(EntryStore, FindsFilesUnderTheNameRuleButNotFolders) {
  auto store = store_of({entry(0, "docs", EntryType::kDirectory), entry(1, kNfd)});
  auto by_nfc = store->find(kNfc);
  ASSERT_TRUE(by_nfc);
  ASSERT_TRUE(by_nfc->has_value()) << "NFC finds the NFD spelling";
  EXPECT_EQ((*by_nfc)->record.path, kNfd) << "names stay byte-exact";
  auto folder = store->find("docs");
  ASSERT_TRUE(folder);
  EXPECT_FALSE(folder->has_value());
}

// The first lookups scan the table, later ones use an index built on the way: the answers
// are the same, the first entry (not a folder) of the name under the name rule.
TEST(EntryStore, LookupsGiveTheSameAnswerBeforeAndAfterTheIndexIsBuilt) {
  auto store =
      store_of({entry(0, "docs", EntryType::kDirectory), entry(1, "x", EntryType::kDirectory),
                entry(2, kNfd), entry(3, "x"), entry(4, kNfc), entry(5, "x"), entry(6, "y/z"),
                entry(7, "a", EntryType::kSymlink)});
  const std::vector<std::pair<std::string, std::optional<std::uint64_t>>> want = {
      {kNfc, 2},  {kNfd, 2},           {"x", 3}, {"docs", std::nullopt},
      {"y/z", 6}, {"y", std::nullopt}, {"a", 7}, {"", std::nullopt}};
  for (int round = 0; round < 3; ++round) {
    for (const auto& [name, index] : want) {
      auto found = store->find(name);
      ASSERT_TRUE(found) << found.error().message;
      ASSERT_EQ(found->has_value(), index.has_value()) << "round " << round << ": " << name;
      if (index) {
        EXPECT_EQ((*found)->index, *index) << "round " << round << ": " << name;
      }
    }
  }
}

TEST(EntryStore, DuplicatesNameTheFirstSpelling) {
  auto store =
      store_of({entry(0, kNfc), entry(1, "x"), entry(2, kNfd), entry(3, "x"),
                entry(4, "d", EntryType::kDirectory), entry(5, "d", EntryType::kDirectory)});
  auto d = store->duplicates();
  ASSERT_TRUE(d);
  ASSERT_EQ(d->size(), 2u) << "folders listed twice are no duplicates";
  EXPECT_EQ((*d)[0].entry.record.path, kNfd);
  EXPECT_EQ((*d)[0].first_spelling, kNfc);
  EXPECT_EQ((*d)[1].entry.index, 3u);
  EXPECT_EQ((*d)[1].first_spelling, "x");
}

TEST(EntryStore, PathConflictsAreFilesThatAreAlsoFolders) {
  auto store = store_of({entry(0, "a"), entry(1, "a b"), entry(2, "a.txt"), entry(3, "a/deep/f"),
                         entry(4, "b"), entry(5, "b", EntryType::kDirectory), entry(6, "c"),
                         entry(7, "c/x", EntryType::kFile, /*safe=*/false)});
  auto c = store->path_conflicts();
  ASSERT_TRUE(c);
  EXPECT_EQ(paths(*c), (std::vector<std::string>{"a", "b"}))
      << "'a b' and 'a.txt' sort between 'a' and 'a/': no conflict; unsafe entries do not count";
}

// The two whole-archive checks against brute force over their documented rules, on random
// names from an alphabet that makes them meet: '/', and characters that sort just before and
// after it ('.', ' ', '-', '0'), an NFC and an NFD spelling of one name, folders, unsafe entries,
// names listed twice. The store answers from sorted scans; this is what they must equal. Every
// other round draws ASCII names only: where no name has a key of its own, one walk in path
// order answers both checks; otherwise each walks in its own order.
TEST(EntryStore, DuplicatesAndConflictsEqualBruteForceOnRandomNames) {
  const std::vector<std::string> parts = {"a",  "b",  "a.",       "a ",       "a-",
                                          "a0", "ab", "\xc3\xbc", "u\xcc\x88"};
  const std::size_t ascii = 7;  // the parts before the two spellings of one name
  std::mt19937 rng(20261203);
  for (int round = 0; round < 400; ++round) {
    std::size_t alphabet = round % 2 == 0 ? parts.size() : ascii;
    std::vector<StoredEntry> entries;
    std::size_t n = 1 + rng() % 24;
    for (std::uint64_t i = 0; i < n; ++i) {
      std::string path = parts[rng() % alphabet];
      for (std::size_t depth = rng() % 3; depth > 0; --depth) {
        path += "/" + parts[rng() % alphabet];
      }
      auto type = rng() % 3 == 0 ? EntryType::kDirectory
                                 : (rng() % 5 == 0 ? EntryType::kSymlink : EntryType::kFile);
      entries.push_back(entry(i, path, type, /*safe=*/rng() % 6 != 0));
    }
    // Brute force, from the header's words.
    std::vector<std::string> want_conflicts;
    for (const auto& e : entries) {
      const auto& r = e.record;
      if (!r.safe || r.type == EntryType::kDirectory) continue;
      bool conflict = false;
      for (const auto& f : entries) {
        const auto& q = f.record;
        if (!q.safe) continue;
        if (q.path.rfind(r.path + "/", 0) == 0) conflict = true;
        if (q.path == r.path && q.type == EntryType::kDirectory) conflict = true;
      }
      if (conflict) want_conflicts.push_back(fmt::format("{}@{}", r.path, e.index));
    }
    std::vector<std::string> want_duplicates;
    std::map<std::string, std::string> first;
    for (const auto& e : entries) {
      if (e.record.type == EntryType::kDirectory) continue;
      auto [it, inserted] = first.emplace(name_key(e.record.path), e.record.path);
      if (!inserted)
        want_duplicates.push_back(fmt::format("{}@{}<{}", e.record.path, e.index, it->second));
    }
    // Added out of order, as several readers of a zip would, some also listed by reader 0.
    std::vector<std::pair<StoredEntry, Ownership>> shuffled;
    for (const auto& e : entries) {
      shuffled.emplace_back(e, Ownership::kOwned);
      if (rng() % 4 == 0) shuffled.emplace_back(e, Ownership::kNotOwned);
    }
    std::shuffle(shuffled.begin(), shuffled.end(), rng);
    auto created = EntryStore::create();
    ASSERT_TRUE(created);
    auto store = *created;
    for (const auto& [e, ownership] : shuffled) ASSERT_TRUE(store->add(e, ownership));
    ASSERT_TRUE(store->seal());
    auto conflicts = store->path_conflicts();
    ASSERT_TRUE(conflicts) << conflicts.error().message;
    std::vector<std::string> got_conflicts;
    for (const auto& c : *conflicts)
      got_conflicts.push_back(fmt::format("{}@{}", c.record.path, c.index));
    auto duplicates = store->duplicates();
    ASSERT_TRUE(duplicates) << duplicates.error().message;
    std::vector<std::string> got_duplicates;
    for (const auto& d : *duplicates) {
      got_duplicates.push_back(
          fmt::format("{}@{}<{}", d.entry.record.path, d.entry.index, d.first_spelling));
    }
    std::string listing;
    for (const auto& e : entries) {
      listing +=
          fmt::format("{}{}{} ", e.record.path, e.record.type == EntryType::kDirectory ? "/" : "",
                      e.record.safe ? "" : "(unsafe)");
    }
    ASSERT_EQ(got_conflicts, want_conflicts) << "round " << round << ": " << listing;
    ASSERT_EQ(got_duplicates, want_duplicates) << "round " << round << ": " << listing;

    // Asked for the first few only: those (in index order) and how many there are in all.
    std::size_t limit = std::uniform_int_distribution<std::size_t>(0, 4)(rng);
    auto first_conflicts = store->path_conflicts(limit);
    auto first_duplicates = store->duplicates(limit);
    ASSERT_TRUE(first_conflicts && first_duplicates);
    EXPECT_EQ(first_conflicts->total, want_conflicts.size()) << "round " << round;
    ASSERT_EQ(first_conflicts->items.size(), std::min(limit, want_conflicts.size()));
    for (std::size_t i = 0; i < first_conflicts->items.size(); ++i) {
      const auto& c = first_conflicts->items[i];
      EXPECT_EQ(fmt::format("{}@{}", c.record.path, c.index), want_conflicts[i]) << round;
    }
    EXPECT_EQ(first_duplicates->total, want_duplicates.size()) << "round " << round;
    ASSERT_EQ(first_duplicates->items.size(), std::min(limit, want_duplicates.size()));
    for (std::size_t i = 0; i < first_duplicates->items.size(); ++i) {
      const auto& d = first_duplicates->items[i];
      EXPECT_EQ(fmt::format("{}@{}<{}", d.entry.record.path, d.entry.index, d.first_spelling),
                want_duplicates[i])
          << round;
    }
    std::uint64_t spellings = 0;
    for (const auto& d : *duplicates) spellings += d.entry.record.path != d.first_spelling;
    EXPECT_EQ(first_duplicates->spellings, spellings) << "round " << round << ": " << listing;
  }
}

TEST(EntryStore, ARowThatReadTheDataReplacesAListingRowNeverTheReverse) {
  auto created = EntryStore::create();
  ASSERT_TRUE(created);
  auto& store = **created;
  auto listed = entry(0, "f");
  listed.record.hash.reset();
  listed.data_read = false;
  ASSERT_TRUE(store.add(listed, Ownership::kNotOwned));
  ASSERT_TRUE(store.add(entry(0, "f"), Ownership::kOwned));
  ASSERT_TRUE(store.add(entry(1, "g"), Ownership::kOwned));
  ASSERT_TRUE(store.add(
      StoredEntry{
          1, {"g", EntryType::kFile, 3, 0, false, true, std::nullopt}, false, false, std::nullopt},
      Ownership::kNotOwned));
  ASSERT_TRUE(store.seal());
  EXPECT_EQ(store.size(), 2u);
  auto records = store.records();
  ASSERT_TRUE(records);
  EXPECT_TRUE((*records)[0].hash.has_value());
  EXPECT_TRUE((*records)[1].hash.has_value());
  EXPECT_FALSE(store.add(entry(2, "h"), Ownership::kOwned)) << "sealed";
}

// Rows are written several to a statement: a listing row and the row that read the data, of
// one index, in either order and wherever they fall (the same statement or two), leave the
// row that read the data; every other column comes through at its own place.
TEST(EntryStore, RowsWrittenManyToAStatementKeepTheRowThatReadTheData) {
  for (std::size_t count : {1u, 15u, 16u, 17u, 40u, 700u}) {
    SCOPED_TRACE(count);
    auto created = EntryStore::create();
    ASSERT_TRUE(created);
    auto& store = **created;
    for (std::uint64_t i = 0; i < count; ++i) {
      auto read = entry(i, fmt::format("d{}/f{}", i % 7, i));
      read.record.size = i * 3;
      read.record.mtime = static_cast<std::int64_t>(i) + 1'000'000;
      read.extra_hex =
          i % 5 == 0 ? std::optional<std::string>(fmt::format("{:x}", i)) : std::nullopt;
      auto listed = read;
      listed.record.hash.reset();
      listed.data_read = false;
      listed.record.size = 0;
      if (i % 2 == 0) {
        ASSERT_TRUE(store.add(listed, Ownership::kNotOwned));
        ASSERT_TRUE(store.add(read, Ownership::kOwned));
      } else {
        ASSERT_TRUE(store.add(read, Ownership::kOwned));
        ASSERT_TRUE(store.add(listed, Ownership::kNotOwned));
      }
    }
    ASSERT_TRUE(store.seal());
    EXPECT_EQ(store.size(), count);
    auto records = store.records();
    ASSERT_TRUE(records);
    ASSERT_EQ(records->size(), count);
    for (std::uint64_t i = 0; i < count; ++i) {
      const auto& r = (*records)[i];
      EXPECT_EQ(r.path, fmt::format("d{}/f{}", i % 7, i));
      ASSERT_TRUE(r.hash.has_value()) << i;
      EXPECT_EQ(r.hash->high, i);
      EXPECT_EQ(r.size, std::optional<std::uint64_t>(i * 3));
      EXPECT_EQ(r.mtime, static_cast<std::int64_t>(i) + 1'000'000);
    }
  }
}

TEST(EntryStore, ManyThreadsAddAndTheLastIntactEntryIsFound) {
  auto created = EntryStore::create();
  ASSERT_TRUE(created);
  auto& store = **created;
  constexpr std::uint64_t kEach = 30'000;
  std::vector<std::thread> threads;
  for (std::uint64_t t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      for (std::uint64_t i = t; i < 2 * kEach; i += 2) {
        ASSERT_TRUE(store.add(entry(i, fmt::format("f{}", i), EntryType::kFile, true, i >= 50'000),
                              Ownership::kOwned));
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_TRUE(store.seal());
  EXPECT_EQ(store.size(), 2 * kEach);
  auto last = store.last_intact_before(50'010);
  ASSERT_TRUE(last);
  EXPECT_EQ(*last, "f49999");
}

TEST(EntryStore, WalksNonFoldersByNameKeyThenIndex) {
  auto store = store_of({entry(0, "b"), entry(1, kNfd), entry(2, "a", EntryType::kDirectory),
                         entry(3, kNfc), entry(4, "a/x"), entry(5, "B")});
  std::vector<std::string> walked;
  ASSERT_TRUE(store->for_each_by_key([&](std::string_view key, const StoredEntry& e) {
    walked.push_back(fmt::format("{}@{}={}", e.record.path, e.index, key == kNfc ? "nfc" : key));
    return Result<void>{};
  }));
  // Byte order of the keys ("B" < "a/x" < "b" < "docs/..."); one key, index order.
  EXPECT_EQ(walked, (std::vector<std::string>{"B@5=B", "a/x@4=a/x", "b@0=b", kNfd + "@1=nfc",
                                              kNfc + "@3=nfc"}));
}

// The walk started ahead (start_by_key) gives the same entries, keys valid until the next
// call, and stays at its end: a finished SQLite statement stepped again would run once more.
TEST(EntryStore, AStartedKeyedWalkGivesWhatTheWalkGivesAndEndsOnce) {
  auto store = store_of({entry(0, "b"), entry(1, kNfd), entry(2, "a", EntryType::kDirectory),
                         entry(3, kNfc), entry(4, "a/x"), entry(5, "B")});
  for (int round = 0; round < 2; ++round) {
    auto walk = store->start_by_key();
    ASSERT_TRUE(walk);
    std::vector<std::string> walked;
    for (;;) {
      auto e = walk->next();
      ASSERT_TRUE(e);
      if (!*e) break;
      walked.push_back(fmt::format("{}@{}={}", (*e)->record.path, (*e)->index,
                                   walk->key() == kNfc ? "nfc" : walk->key()));
    }
    EXPECT_EQ(walked, (std::vector<std::string>{"B@5=B", "a/x@4=a/x", "b@0=b", kNfd + "@1=nfc",
                                                kNfc + "@3=nfc"}));
    for (int again = 0; again < 2; ++again) {
      auto e = walk->next();
      ASSERT_TRUE(e);
      EXPECT_EQ(*e, nullptr);
    }
  }
  auto empty = store_of({entry(0, "only-a-folder", EntryType::kDirectory)});
  auto walk = empty->start_by_key();
  ASSERT_TRUE(walk);
  for (int again = 0; again < 2; ++again) {
    auto e = walk->next();
    ASSERT_TRUE(e);
    EXPECT_EQ(*e, nullptr);
  }
}

std::vector<std::string> keyed_walk(const EntryStore& store) {
  std::vector<std::string> out;
  auto walk = store.start_by_key();
  EXPECT_TRUE(walk) << walk.error().message;
  for (;;) {
    auto e = walk->next();
    EXPECT_TRUE(e);
    if (!e || !*e) break;
    out.push_back(fmt::format("{}@{}={}", (*e)->record.path, (*e)->index, walk->key()));
  }
  return out;
}

// Our backups add their files in name order after their header: the walk by key is then the
// walk by index with the first file put in its place, and needs no sort. It must give what the
// sort gives, wherever that first file's key falls (first, last, tied with others), and the
// store must not take that way where the files came in any other order.
TEST(EntryStore, FilesAddedInKeyOrderAreWalkedWithoutASortAndGiveWhatTheSortGives) {
  for (std::string first : {"restorekit/header.json", "0-first", "docs/b", "zz-last"}) {
    SCOPED_TRACE(first);
    std::vector<StoredEntry> ordered{entry(0, first),
                                     entry(1, "db/app.sqlite"),
                                     entry(2, "docs", EntryType::kDirectory),
                                     entry(3, kNfd),  // its key is kNfc's
                                     entry(4, kNfc),
                                     entry(5, "docs/a"),
                                     entry(6, "docs/b"),
                                     entry(7, "docs/b"),  // a duplicate: by index
                                     entry(8, "docs/z", EntryType::kDirectory),
                                     entry(9, "docs/\xe6\x97\xa5"),
                                     entry(10, "restorekit/checksums.xxh128")};
    auto in_order = store_of(ordered);
    EXPECT_TRUE(in_order->files_in_key_order());
    auto shuffled = ordered;
    std::mt19937 rng(7);
    std::shuffle(shuffled.begin() + 1, shuffled.end(), rng);
    auto sorted = store_of(shuffled);
    EXPECT_FALSE(sorted->files_in_key_order());
    auto walked = keyed_walk(*in_order);
    EXPECT_EQ(walked.size(), 9u);
    EXPECT_EQ(walked, keyed_walk(*sorted));
    EXPECT_EQ(keyed_walk(*in_order), walked);  // started again, the same
    std::vector<std::string> via_each;
    ASSERT_TRUE(in_order->for_each_by_key([&](std::string_view key, const StoredEntry& e) {
      via_each.push_back(fmt::format("{}@{}={}", e.record.path, e.index, key));
      return Result<void>{};
    }));
    EXPECT_EQ(via_each, walked);
  }
  // One file out of place after the first, or rows added out of index order: sorted.
  EXPECT_FALSE(store_of({entry(0, "h"), entry(1, "b"), entry(2, "a")})->files_in_key_order());
  EXPECT_FALSE(store_of({entry(0, "h"), entry(2, "a"), entry(1, "b")})->files_in_key_order());
  EXPECT_TRUE(store_of({entry(0, "h"), entry(1, "a", EntryType::kDirectory), entry(2, "a/b"),
                        entry(3, "0", EntryType::kDirectory), entry(4, "c")})
                  ->files_in_key_order());  // folders take no part
}

TEST(EntryStore, AStoreDroppedBeforeItIsSealedStopsItsWriter) {
  for (std::uint64_t n : {10u, 5'000u}) {
    auto created = EntryStore::create();
    ASSERT_TRUE(created);
    for (std::uint64_t i = 0; i < n; ++i) {
      ASSERT_TRUE((*created)->add(entry(i, fmt::format("f{}", i)), Ownership::kOwned));
    }
  }  // the destructor joins the writer: a hang or a crash here is the failure
}

}  // namespace
}  // namespace restorekit::core
