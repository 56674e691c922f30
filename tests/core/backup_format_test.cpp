#include <restorekit/core/backup_format.hpp>

#include <gtest/gtest.h>

namespace restorekit::core {
namespace {

BackupHeader sample_header() {
  BackupHeader h;
  h.created_at = "2026-11-22T01:02:03Z";
  h.tool_version = "0.1.0";
  h.source_host = "host";
  h.source_database = "/srv/app.sqlite";
  h.source_documents = "/srv/docs";
  h.tenant_column = "company_id";
  HeaderDatabase db;
  db.entry = "db/app.sqlite";
  db.bytes = 4096;
  db.user_version = 7;
  db.page_size = 4096;
  db.tables = {{"persons", 10}, {"Ünïcode \"quoted\"", 3}};
  db.tenants = {{"1", "Acme", 7}, {"2", "Zeta", 6}};
  h.databases.push_back(db);
  h.document_files = 2;
  h.document_bytes = 100;
  h.total_entries = 7;
  h.total_bytes = 4196;
  return h;
}

TEST(BackupHeader, RoundTripsThroughJson) {
  auto h = sample_header();
  auto parsed = parse_header(header_to_json(h));
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->format, kFormatV1);
  EXPECT_EQ(parsed->created_at, h.created_at);
  EXPECT_EQ(parsed->tenant_column, h.tenant_column);
  ASSERT_EQ(parsed->databases.size(), 1u);
  EXPECT_EQ(parsed->databases[0].tables[1].name, "Ünïcode \"quoted\"");
  EXPECT_EQ(parsed->databases[0].tenants[1].label, "Zeta");
  EXPECT_EQ(parsed->total_bytes, 4196u);
}

TEST(BackupHeader, MalformedHeadersNameTheProblem) {
  auto missing = parse_header(R"({"format":"restorekit-backup/1"})");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kBadBackup);
  EXPECT_NE(missing.error().message.find("created_at"), std::string::npos);

  auto json = header_to_json(sample_header());
  auto pos = json.find("\"bytes\": 4096");
  ASSERT_NE(pos, std::string::npos);
  json.replace(pos, 13, "\"bytes\": \"x\"");
  auto typed = parse_header(json);
  ASSERT_FALSE(typed);
  EXPECT_NE(typed.error().message.find("bytes"), std::string::npos) << typed.error().message;

  EXPECT_FALSE(parse_header("not json"));
  EXPECT_FALSE(parse_header("[1,2]"));
  auto other = parse_header(R"({"format":"something-else/9"})");
  ASSERT_FALSE(other);
  EXPECT_NE(other.error().message.find("something-else/9"), std::string::npos);
}

TEST(Checksums, ParseWhatXxhsumStyleLinesHold) {
  Digest128 d = hash128("x");
  std::string text = checksum_line("docs/a b.txt", d) + checksum_line("db/app.sqlite", d);
  auto lines = parse_checksums(text);
  ASSERT_TRUE(lines);
  ASSERT_EQ(lines->size(), 2u);
  EXPECT_EQ((*lines)[0].path, "docs/a b.txt");
  EXPECT_EQ((*lines)[0].digest, d);
}

TEST(Checksums, MalformedLineIsReportedWithItsNumber) {
  auto r = parse_checksums(checksum_line("a", hash128("a")) + "garbage line\n");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("line 2"), std::string::npos);
}

TEST(Rfc3339, FormatsUtc) {
  EXPECT_EQ(rfc3339_utc(0), "1970-01-01T00:00:00Z");
}

}  // namespace
}  // namespace restorekit::core
