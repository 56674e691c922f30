#include "big_buffer.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace restorekit::core::detail {
namespace {

constexpr std::size_t kHugePage = std::size_t{2} << 20;

bool aligned_to_huge_page(const void* p) {
  return reinterpret_cast<std::uintptr_t>(p) % kHugePage == 0;
}

// The VmFlags line of the mapping that holds `p`, from /proc/self/smaps ("" if none).
std::string vm_flags_at(const void* p) {
  auto at = reinterpret_cast<std::uintptr_t>(p);
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool inside = false;
  while (std::getline(smaps, line)) {
    std::uintptr_t lo = 0;
    std::uintptr_t hi = 0;
    char dash = 0;
    std::istringstream head(line);
    if (head >> std::hex >> lo >> dash >> hi && dash == '-') {
      inside = lo <= at && at < hi;
    } else if (inside && line.rfind("VmFlags:", 0) == 0) {
      return line;
    }
  }
  return "";
}

TEST(BigBuffer, FromTwoMebibytesUpIsAlignedToAHugePageAndHoldsEveryByte) {
  for (std::size_t n : {kHugePage, kHugePage + 1, 3 * kHugePage + 4097}) {
    SCOPED_TRACE(n);
    auto buffer = make_big_buffer(n);
    ASSERT_TRUE(buffer);
    EXPECT_TRUE(aligned_to_huge_page(buffer.get()));
    std::memset(buffer.get(), 0x5a, n);
    EXPECT_EQ(buffer[0], std::byte{0x5a});
    EXPECT_EQ(buffer[n - 1], std::byte{0x5a});
  }
  auto small = make_big_buffer(100);
  ASSERT_TRUE(small);
  std::memset(small.get(), 1, 100);
  EXPECT_EQ(small[99], std::byte{1});
}

// The advice is given (the kernel may still decline a huge page when memory is fragmented:
// that is not this test's to see). A kernel built without transparent huge pages skips loudly.
TEST(BigBuffer, IsAdvisedAsHugePages) {
  if (!std::filesystem::exists("/sys/kernel/mm/transparent_hugepage/enabled")) {
    GTEST_SKIP() << "SKIPPED: this kernel has no transparent huge pages "
                    "(/sys/kernel/mm/transparent_hugepage/enabled is absent)";
  }
  auto buffer = make_big_buffer(2 * kHugePage);
  std::string flags = vm_flags_at(buffer.get());
  ASSERT_FALSE(flags.empty()) << "no mapping holds the buffer in /proc/self/smaps";
  EXPECT_NE(flags.find(" hg"), std::string::npos) << flags;
}

TEST(BigBuffer, AByteBufferGrowsPastAHugePageAndKeepsItsBytes) {
  ByteBuffer bytes;
  for (std::size_t i = 0; i < 3 * kHugePage; i += 4096) {
    bytes.resize(i + 4096);
    bytes[i] = static_cast<std::byte>(i / 4096);
  }
  EXPECT_TRUE(aligned_to_huge_page(bytes.data()));
  for (std::size_t i = 0; i < bytes.size(); i += 4096) {
    ASSERT_EQ(bytes[i], static_cast<std::byte>(i / 4096)) << i;
  }
}

}  // namespace
}  // namespace restorekit::core::detail
