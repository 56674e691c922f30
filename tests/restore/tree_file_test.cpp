// The documents trees a plan keeps on disk (tree_file.hpp): a scan lists every file and folder
// in byte order with its hash, a listing gives the tree the stager writes, and two trees
// compare by walking both.
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <restorekit/core/hash.hpp>

#include "test_support.hpp"
#include "tree_file.hpp"

namespace restorekit::restore::detail {
namespace {

namespace fs = std::filesystem;
using test::write_file;

std::vector<TreeEntry> entries_of(Tree& tree, Tree::Order order = Tree::Order::kAscending,
                                  Tree::Only only = Tree::Only::kAll) {
  std::vector<TreeEntry> out;
  auto cursor = tree.walk(order, only);
  EXPECT_TRUE(cursor) << cursor.error().message;
  if (!cursor) return out;
  for (;;) {
    auto more = cursor->next();
    EXPECT_TRUE(more) << more.error().message;
    if (!more || !*more) return out;
    out.push_back(cursor->entry());
  }
}

std::vector<std::string> paths_of(const std::vector<TreeEntry>& entries) {
  std::vector<std::string> out;
  for (const auto& e : entries) out.push_back(e.path);
  return out;
}

Tree scanned(const fs::path& root, HashFiles hash) {
  auto tree = Tree::scratch();
  EXPECT_TRUE(tree) << tree.error().message;
  auto done = scan_tree(root, hash, *tree);
  EXPECT_TRUE(done) << done.error().message;
  return std::move(*tree);
}

std::optional<std::string> difference(Tree& a, Tree& b, TreeCompare how,
                                      const fs::path& root = {}) {
  auto d = first_difference(a, b, how, root);
  EXPECT_TRUE(d) << d.error().message;
  return d ? *d : std::optional<std::string>("(error)");
}

// Byte order puts "a-c" (0x2D) before "a/b" (0x2F) and "a/b" before "a0" (0x30): a walk that
// went folder by folder would not. More files than one hashing batch, each with its own hash.
TEST(DocumentsTree, AScanListsEveryFileAndFolderInByteOrderWithTheirHashes) {
  test::ScratchDir dir;
  auto root = dir / "docs";
  write_file(root / "a/b", "inside a");
  write_file(root / "a-c", "dash");
  write_file(root / "a0", "zero");
  write_file(root / "\xc3\xa9t\xc3\xa9.txt", "summer");
  ASSERT_EQ(::symlink("a0", (root / "link").c_str()), 0);
  constexpr int kMany = 4100;  // over one batch of hashes
  for (int i = 0; i < kMany; ++i)
    write_file(root / fmt::format("many/{:05}", i), std::to_string(i));

  auto tree = scanned(root, HashFiles::kYes);
  auto all = entries_of(tree);
  auto paths = paths_of(all);
  ASSERT_EQ(all.size(), 8u + kMany);
  EXPECT_TRUE(std::is_sorted(paths.begin(), paths.end())) << "byte order";
  std::vector<std::string> head(paths.begin(), paths.begin() + 7);
  EXPECT_EQ(head, (std::vector<std::string>{"", "a", "a-c", "a/b", "a0", "link", "many"}));
  EXPECT_EQ(paths.back(), "\xc3\xa9t\xc3\xa9.txt");
  std::size_t hashed = 0;
  for (const auto& e : all) {
    SCOPED_TRACE(e.path);
    if (e.path == "link") {
      EXPECT_EQ(e.type, core::EntryType::kOther) << "a link is never followed";
      continue;
    }
    if (e.type != core::EntryType::kFile) {
      EXPECT_EQ(e.type, core::EntryType::kDirectory);
      EXPECT_FALSE(e.hash);
      continue;
    }
    ASSERT_TRUE(e.hash);
    EXPECT_EQ(*e.hash, *core::hash_file(root / e.path));
    EXPECT_EQ(e.size, fs::file_size(root / e.path));
    EXPECT_NE(e.inode, 0u);
    ++hashed;
  }
  EXPECT_EQ(hashed, 4u + kMany);

  auto backwards = paths_of(entries_of(tree, Tree::Order::kDescending));
  std::reverse(backwards.begin(), backwards.end());
  EXPECT_EQ(backwards, paths);
  EXPECT_EQ(paths_of(entries_of(tree, Tree::Order::kAscending, Tree::Only::kFolders)),
            (std::vector<std::string>{"", "a", "many"}));

  auto without = scanned(root, HashFiles::kNo);
  auto unhashed = entries_of(without);
  EXPECT_EQ(paths_of(unhashed), paths);
  EXPECT_TRUE(std::none_of(unhashed.begin(), unhashed.end(),
                           [](const TreeEntry& e) { return e.hash.has_value(); }));

  auto found = tree.find("a/b");
  ASSERT_TRUE(found && *found);
  EXPECT_EQ((*found)->hash, core::hash128(std::string_view("inside a")));
  auto absent = tree.find("a/c");
  ASSERT_TRUE(absent);
  EXPECT_FALSE(*absent);
}

// The stager writes the safe files under the documents root and the folders they need (given
// or implied); the scan of what it wrote is the same tree, and any change to it is named.
TEST(DocumentsTree, AListingGivesTheTreeThatAScanOfItsStagedFilesGives) {
  test::ScratchDir dir;
  auto root = dir / "staged";
  std::vector<core::EntryRecord> listing;
  auto file = [&](const std::string& path, const std::string& content, bool safe = true) {
    listing.push_back(core::EntryRecord{path, core::EntryType::kFile, content.size(), 0, false,
                                        safe, core::hash128(std::string_view(content))});
    if (safe && path.rfind("docs/", 0) == 0) write_file(root / path.substr(5), content);
  };
  file("docs/deep/er/x.txt", "x");
  file("docs/deep/y.txt", "yy");
  file("docs/top.txt", "top");
  file("docs/only/implied/f.txt", "f");  // both folders above it implied by it alone
  file("docs/deep/er/z.txt", "z");       // its folders come again, out of order
  listing.push_back(core::EntryRecord{"docs/empty/", core::EntryType::kDirectory, 0, 0, false, true,
                                      std::nullopt});
  fs::create_directories(root / "empty");
  file("docs/../evil.txt", "evil", false);  // unsafe: never staged
  file("other/outside.txt", "outside");     // not below the root
  listing.push_back(core::EntryRecord{"docs/unhashed.txt", core::EntryType::kFile, 3, 0, false,
                                      true, std::nullopt});  // unread: not staged either

  auto expected = Tree::scratch();
  ASSERT_TRUE(expected);
  auto walk = [&](const RecordFn& fn) -> Result<void> {
    for (const auto& r : listing) RK_TRY(fn(r));
    return {};
  };
  ASSERT_TRUE(add_listing(walk, "docs/", *expected));
  EXPECT_EQ(paths_of(entries_of(*expected)),
            (std::vector<std::string>{"", "deep", "deep/er", "deep/er/x.txt", "deep/er/z.txt",
                                      "deep/y.txt", "empty", "only", "only/implied",
                                      "only/implied/f.txt", "top.txt"}));

  {
    auto now = scanned(root, HashFiles::kYes);
    EXPECT_EQ(difference(*expected, now, TreeCompare::kContent), std::nullopt);
  }
  write_file(root / "deep/y.txt", "YY");
  {
    auto now = scanned(root, HashFiles::kYes);
    EXPECT_EQ(difference(*expected, now, TreeCompare::kContent), "\"deep/y.txt\" was changed");
  }
  write_file(root / "deep/y.txt", "yy");
  write_file(root / "deep/new.txt", "new");
  {
    auto now = scanned(root, HashFiles::kYes);
    EXPECT_EQ(difference(*expected, now, TreeCompare::kContent), "\"deep/new.txt\" was added");
  }
  fs::remove(root / "deep/new.txt");
  fs::remove(root / "top.txt");
  {
    auto now = scanned(root, HashFiles::kYes);
    EXPECT_EQ(difference(*expected, now, TreeCompare::kContent), "\"top.txt\" is missing");
  }
  write_file(root / "top.txt", "top");
  fs::remove_all(root / "empty");
  ASSERT_EQ(::symlink("deep", (root / "empty").c_str()), 0);
  {
    auto now = scanned(root, HashFiles::kYes);
    EXPECT_EQ(difference(*expected, now, TreeCompare::kContent),
              "\"empty\" is neither a regular file nor a folder");
  }
}

// The live folder as planned against the live folder now: a file touched or copied back with
// the planned content is the same file; one with other content, or any name added or gone, is
// a difference; a folder is what it holds.
TEST(DocumentsTree, LiveFilesCompareByMetadataAndWhereThatMovedByTheirPlannedHash) {
  test::ScratchDir dir;
  auto root = dir / "live";
  write_file(root / "keep.txt", "keep");
  write_file(root / "sub/touch.txt", "touch");
  auto planned = scanned(root, HashFiles::kYes);
  {
    auto now = scanned(root, HashFiles::kNo);
    EXPECT_EQ(difference(planned, now, TreeCompare::kMetadata, root), std::nullopt);
  }
  fs::remove(root / "sub/touch.txt");
  write_file(root / "sub/touch.txt", "touch");  // a new inode and mtime, the same bytes
  write_file(root / "sub/other", "x");
  fs::remove(root / "sub/other");  // the folder's mtime moved; what it holds did not
  {
    auto now = scanned(root, HashFiles::kNo);
    EXPECT_EQ(difference(planned, now, TreeCompare::kMetadata, root), std::nullopt);
    EXPECT_EQ(difference(planned, now, TreeCompare::kMetadata), "\"sub/touch.txt\" was changed")
        << "without the folder, no hash can be read";
  }
  write_file(root / "sub/touch.txt", "TOUCH");
  {
    auto now = scanned(root, HashFiles::kNo);
    EXPECT_EQ(difference(planned, now, TreeCompare::kMetadata, root),
              "\"sub/touch.txt\" was changed");
  }
  auto unhashed = scanned(root, HashFiles::kNo);
  fs::remove(root / "sub/touch.txt");
  write_file(root / "sub/touch.txt", "TOUCH");
  {
    auto now = scanned(root, HashFiles::kNo);
    EXPECT_EQ(difference(unhashed, now, TreeCompare::kMetadata, root),
              "\"sub/touch.txt\" was changed")
        << "a plan without hashes forgives nothing";
  }
  auto into = Tree::scratch();
  ASSERT_TRUE(into);
  EXPECT_FALSE(scan_tree(dir / "missing", HashFiles::kNo, *into)) << "no such folder";
}

// A kept tree is one file: what save() wrote is what open() reads, and its digest is the
// file's XXH3-128. A path added again replaces the entry; a folder implied again keeps it.
TEST(DocumentsTree, ASavedTreeReadsBackAndItsDigestIsItsFileHash) {
  test::ScratchDir dir;
  auto file = dir / "tree.sqlite";
  write_file(file, "an old file of that name");
  auto tree = Tree::create(file);
  ASSERT_TRUE(tree) << tree.error().message;
  auto h = core::hash128(std::string_view("h"));
  ASSERT_TRUE(tree->add(TreeEntry{"a", core::EntryType::kFile, 1, 2, 3, std::nullopt}));
  ASSERT_TRUE(tree->add(TreeEntry{"a", core::EntryType::kFile, 4, 5, 6, h}));
  ASSERT_TRUE(tree->add_folder("d"));
  ASSERT_TRUE(tree->add(TreeEntry{"d", core::EntryType::kDirectory, 0, 7, 8, std::nullopt}));
  ASSERT_TRUE(tree->add_folder("d"));
  auto saved = std::move(*tree).save();
  ASSERT_TRUE(saved) << saved.error().message;
  EXPECT_EQ(saved->path, file);
  EXPECT_EQ(saved->digest, *core::hash_file(file));

  auto read = Tree::open(*saved);
  ASSERT_TRUE(read) << read.error().message;
  auto all = entries_of(*read);
  EXPECT_EQ(all, (std::vector<TreeEntry>{{"a", core::EntryType::kFile, 4, 5, 6, h},
                                         {"d", core::EntryType::kDirectory, 0, 7, 8, {}}}));
}

// Entries wait to be put in path order until something reads the tree; read between adds, the
// tree is what adding them one by one gives: a later entry replaces one of its path, an implied
// folder stays only where no entry has its path.
TEST(DocumentsTree, ReadsBetweenAddsSeeWhatAddingOneByOneGives) {
  auto tree = Tree::scratch();
  ASSERT_TRUE(tree) << tree.error().message;
  auto dir_entry = [](std::string path, std::int64_t mtime) {
    return TreeEntry{std::move(path), core::EntryType::kDirectory, 0, mtime, 9, std::nullopt};
  };
  ASSERT_TRUE(tree->add(dir_entry("x", 1)));
  ASSERT_TRUE(tree->add_folder("y"));
  ASSERT_TRUE(tree->add(TreeEntry{"z/f", core::EntryType::kFile, 3, 4, 5, std::nullopt}));
  auto x = tree->find("x");
  ASSERT_TRUE(x && *x) << "x";
  EXPECT_EQ((*x)->mtime_ns, 1);
  auto none = tree->find("y/none");
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
  ASSERT_TRUE(tree->add_folder("x"));         // implied after x: x stays
  ASSERT_TRUE(tree->add(dir_entry("y", 2)));  // y was implied: the entry replaces it
  ASSERT_TRUE(tree->add_folder("z"));
  ASSERT_TRUE(tree->add(TreeEntry{"z/f", core::EntryType::kFile, 6, 7, 8, std::nullopt}));
  EXPECT_EQ(entries_of(*tree),
            (std::vector<TreeEntry>{dir_entry("x", 1),
                                    dir_entry("y", 2),
                                    {"z", core::EntryType::kDirectory, 0, 0, 0, std::nullopt},
                                    {"z/f", core::EntryType::kFile, 6, 7, 8, std::nullopt}}));
}

}  // namespace
}  // namespace restorekit::restore::detail
