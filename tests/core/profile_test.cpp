#include <restorekit/core/profile.hpp>

#include <gtest/gtest.h>

#include "test_support.hpp"

namespace restorekit::core {
namespace {

TEST(Profile, ParsesEveryKey) {
  auto p = parse_profile(R"toml(
[database]
entry = "db/*.sqlite"
tenant_column = "company_id"
tenant_table = "companies"
tenant_key = "cid"
tenant_label = "name"
exclude_tables = ["sessions", "cache"]
[documents]
root = "files/"
live = "docs"
references = ["documents.path", "mails.attachment"]
[live]
database = "/srv/app.sqlite"
lock_file = "app.lock"
)toml",
                         "/etc/app");
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->database_entry, "db/*.sqlite");
  EXPECT_EQ(p->tenant_key, "cid");
  EXPECT_EQ(p->exclude_tables, (std::vector<std::string>{"sessions", "cache"}));
  EXPECT_EQ(p->documents_root, "files/");
  EXPECT_EQ(p->live_documents, std::filesystem::path("/etc/app/docs"));
  ASSERT_EQ(p->references.size(), 2u);
  EXPECT_EQ(p->references[1].table, "mails");
  EXPECT_EQ(p->references[1].column, "attachment");
  EXPECT_EQ(p->live_database, std::filesystem::path("/srv/app.sqlite"));
  EXPECT_EQ(p->lock_file, std::filesystem::path("/etc/app/app.lock"));
  auto spec = p->tenant_spec();
  ASSERT_TRUE(spec);
  EXPECT_EQ(spec->column, "company_id");
  EXPECT_EQ(spec->label, "name");
}

TEST(Profile, EmptyProfileMeansAutoDetection) {
  auto p = parse_profile("");
  ASSERT_TRUE(p);
  EXPECT_FALSE(p->tenant_spec());
  EXPECT_FALSE(p->database_entry);
}

TEST(Profile, UnknownKeyIsAnErrorNamingTheKey) {
  auto p = parse_profile("[database]\ntenant_colum = \"x\"\n");
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().code, ErrorCode::kProfile);
  EXPECT_NE(p.error().message.find("database.tenant_colum"), std::string::npos);
  auto top = parse_profile("[databse]\n");
  ASSERT_FALSE(top);
  EXPECT_NE(top.error().message.find("databse"), std::string::npos);
}

TEST(Profile, WrongTypesAndBadValuesAreErrors) {
  auto num = parse_profile("[database]\ntenant_column = 5\n");
  ASSERT_FALSE(num);
  EXPECT_NE(num.error().message.find("database.tenant_column"), std::string::npos);
  EXPECT_FALSE(parse_profile("[documents]\nreferences = \"documents.path\"\n"));
  auto ref = parse_profile("[documents]\nreferences = [\"nodot\"]\n");
  ASSERT_FALSE(ref);
  EXPECT_NE(ref.error().message.find("nodot"), std::string::npos);
  EXPECT_FALSE(parse_profile("database = 1\n"));
}

TEST(Profile, RelationsTheSchemaDoesNotDeclare) {
  auto p = parse_profile(R"toml(
[[relations]]
child = "appointments.person_ref"
parent = "persons.id"
[[relations]]
child = "tags.owner"
parent = "persons.uuid"
)toml");
  ASSERT_TRUE(p) << p.error().message;
  ASSERT_EQ(p->relations.size(), 2u);
  EXPECT_EQ(p->relations[0], (Relation{{"appointments", "person_ref"}, {"persons", "id"}}));
  EXPECT_EQ(p->relations[1].parent.column, "uuid");
  for (const char* bad : {"relations = 1\n", "[[relations]]\nchild = \"a.b\"\n",
                          "[[relations]]\nchild = \"ab\"\nparent = \"c.d\"\n",
                          "[[relations]]\nchild = \"a.b\"\nparent = \"c.d\"\nkind = 1\n"}) {
    auto r = parse_profile(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kProfile) << bad;
    EXPECT_NE(r.error().message.find("relations"), std::string::npos) << r.error().message;
  }
}

TEST(Profile, SyntaxErrorGivesLineAndColumn) {
  auto p = parse_profile("[database]\nentry = \n");
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().message.find("line 2"), std::string::npos) << p.error().message;
}

TEST(Profile, LoadNamesTheFile) {
  test::ScratchDir dir;
  test::write_file(dir / "p.toml", "[live]\nbogus = 1\n");
  auto p = load_profile(dir / "p.toml");
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().message.find("p.toml"), std::string::npos);
  auto missing = load_profile(dir / "missing.toml");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace restorekit::core
