// FindingCap: the first findings of a kind (code and severity) are kept as they come, the rest
// counted into one finding per kind, whether they were offered one by one or counted by the
// caller.
#include <restorekit/core/finding.hpp>

#include <gtest/gtest.h>

namespace restorekit::core {
namespace {

TEST(FindingCap, KeepsTheFirstOfEachKindAndCountsTheRest) {
  std::vector<Finding> out;
  FindingCap cap(out, 2);
  for (char i = '0'; i < '5'; ++i) cap.add({"CRC_ERROR", Severity::kError, {'e', i}, ""});
  cap.add({"CRC_ERROR", Severity::kWarning, "w", ""});  // another kind: its own count
  cap.add({"TRUNCATED", Severity::kError, "t", ""});
  cap.add({"CHECKSUM_MISMATCH", Severity::kError, "m0", ""});
  cap.add({"CHECKSUM_MISMATCH", Severity::kError, "m1", ""});
  cap.count("CHECKSUM_MISMATCH", Severity::kError, 7);  // kept only the first two itself
  cap.count("TRUNCATED", Severity::kError, 0);
  cap.finish();
  std::vector<std::string> seen;
  for (const auto& f : out) seen.push_back(f.code + ":" + f.entry + ":" + f.message);
  EXPECT_EQ(seen, (std::vector<std::string>{
                      "CRC_ERROR:e0:", "CRC_ERROR:e1:", "CRC_ERROR:w:", "TRUNCATED:t:",
                      "CHECKSUM_MISMATCH:m0:", "CHECKSUM_MISMATCH:m1:",
                      "CHECKSUM_MISMATCH::7 more entries have CHECKSUM_MISMATCH (the first 2 are "
                      "listed one by one)",
                      "CRC_ERROR::3 more entries have CRC_ERROR (the first 2 are listed one by "
                      "one)"}));
  EXPECT_EQ(out[6].count, 7u);
  EXPECT_EQ(out[7].count, 3u);
  EXPECT_EQ(out[0].count, 1u);
  EXPECT_EQ(more_than_listed("X", Severity::kError, 1, 5).message,
            "1 more entry has X (the first 5 are listed one by one)");
}

}  // namespace
}  // namespace restorekit::core
