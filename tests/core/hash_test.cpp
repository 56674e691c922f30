#include <restorekit/core/hash.hpp>

#include <gtest/gtest.h>

#include "test_support.hpp"

namespace restorekit::core {
namespace {

using test::ScratchDir;

TEST(Hasher, StreamingEqualsOneShot) {
  std::string data(100000, 'x');
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 31);
  Hasher h;
  for (std::size_t i = 0; i < data.size(); i += 777) {
    h.update(std::string_view(data).substr(i, 777));
  }
  EXPECT_EQ(h.digest(), hash128(data));
  h.reset();
  EXPECT_EQ(h.digest(), hash128(std::string_view{}));
}

TEST(Digest128, HexRoundTrips) {
  Digest128 d = hash128("restorekit");
  auto back = Digest128::from_hex(d.hex());
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, d);
  EXPECT_FALSE(Digest128::from_hex("xyz"));
  EXPECT_FALSE(Digest128::from_hex(std::string(32, 'g')));
  // Either case; and each byte next to the digits' ranges in ASCII is refused, wherever it is.
  std::string upper = d.hex();
  for (char& c : upper) c = static_cast<char>(c >= 'a' ? c - 'a' + 'A' : c);
  EXPECT_EQ(Digest128::from_hex(upper), d);
  for (char bad : std::string_view("/:@G`g\0\xc3", 8)) {
    for (std::size_t at : {0u, 17u, 31u}) {
      std::string hex = d.hex();
      hex[at] = bad;
      EXPECT_FALSE(Digest128::from_hex(hex)) << "byte " << int(bad) << " at " << at;
    }
  }
}

TEST(Digest128, HexMatchesXxhsum) {
  RK_REQUIRE_TOOL("xxhsum");
  ScratchDir dir;
  std::string content = "hello restorekit\n";
  test::write_file(dir / "f.txt", content);
  auto r = test::run({"xxhsum", "-H2", "f.txt"}, dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.substr(0, 32), hash128(content).hex());
}

// Many files (enough for every core to take part): each digest in its path's place, equal to
// hash_file's; a failure is the first failing path's in order, whichever thread met it.
TEST(HashFiles, HashesInOrderOnEveryCoreAndNamesTheFirstFailure) {
  ScratchDir dir;
  std::vector<std::filesystem::path> paths;
  for (int i = 0; i < 300; ++i) {
    std::string name = "f";
    name += std::to_string(i);  // ("f" + to_string: GCC 12's -Wrestrict false positive)
    paths.push_back(dir / name);
    test::write_file(paths.back(), std::string(static_cast<std::size_t>(i) * 97, 'a' + i % 26));
  }
  auto hashes = hash_files(paths);
  ASSERT_TRUE(hashes) << hashes.error().message;
  ASSERT_EQ(hashes->size(), paths.size());
  for (std::size_t i = 0; i < paths.size(); ++i) EXPECT_EQ((*hashes)[i], *hash_file(paths[i]));
  EXPECT_NE((*hashes)[1], (*hashes)[2]);

  auto broken = paths;
  broken[250] = dir / "missing-250";
  broken[40] = dir / "missing-40";
  auto failed = hash_files(broken);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().subject, (dir / "missing-40").string());
  EXPECT_TRUE(hash_files({})->empty());
}

}  // namespace
}  // namespace restorekit::core
