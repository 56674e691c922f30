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

}  // namespace
}  // namespace restorekit::core
