// Profiles: an application describes its data once, in TOML, so restorekit understands
// tenants and documents without guessing (DESIGN.md, "Profiles"). Every key is optional;
// unset keys fall back to auto-detection. Command-line flags override profile keys (the CLI
// applies them on top of the parsed Profile).
//
//   [database]
//   entry = "db/*.sqlite"          # glob of the database entry inside a backup
//   tenant_column = "company_id"   # column that names the tenant in data tables
//   tenant_table = "companies"     # table listing tenants ...
//   tenant_key = "id"              # ... its key column (default "id")
//   tenant_label = "name"          # ... and its label column
//   exclude_tables = ["sessions"]  # tables a restore leaves alone
//   [documents]
//   root = "docs/"                 # document root inside the backup
//   live = "/srv/app/docs"         # the live documents folder
//   references = ["documents.path"]  # table.column values that name documents
//   [live]
//   database = "/srv/app/app.sqlite"
//   lock_file = "/srv/app/app.lock"  # present while the application runs
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <restorekit/core/error.hpp>
#include <restorekit/core/sqlite.hpp>

#pragma GCC visibility push(default)  // the public API: exported by the shared libraries

namespace restorekit::core {

struct ColumnRef {
  std::string table;
  std::string column;
  friend bool operator==(const ColumnRef&, const ColumnRef&) = default;
};

// A relationship the schema does not declare: `child` (table.column) holds the key of a row of
// `parent` (table.column, usually its key). Taken as a foreign key by a record restore.
struct Relation {
  ColumnRef child;
  ColumnRef parent;
  friend bool operator==(const Relation&, const Relation&) = default;
};

struct Profile {
  std::optional<std::string> database_entry;
  std::optional<std::string> tenant_column;
  std::optional<std::string> tenant_table;
  std::string tenant_key = "id";
  std::optional<std::string> tenant_label;
  std::vector<std::string> exclude_tables;
  std::optional<std::string> documents_root;
  std::optional<std::filesystem::path> live_documents;
  std::vector<ColumnRef> references;
  std::vector<Relation> relations;  // [[relations]] child = "t.c", parent = "t.c"
  std::optional<std::filesystem::path> live_database;
  std::optional<std::filesystem::path> lock_file;

  // The tenant spec, when a tenant column is known.
  [[nodiscard]] std::optional<TenantSpec> tenant_spec() const;
};

// Parses a profile. Relative paths in [documents].live and [live] are resolved against
// `base_dir` (the profile's folder). Input: untrusted text.
// @error kProfile naming the key for an unknown key, a wrong type or a bad value, or the line
//   and column for a TOML syntax error.
[[nodiscard]] Result<Profile> parse_profile(std::string_view toml_text,
                                            const std::filesystem::path& base_dir = {});

// Reads and parses a profile file. @error kNotFound, kIo, kProfile.
[[nodiscard]] Result<Profile> load_profile(const std::filesystem::path& path);

}  // namespace restorekit::core

#pragma GCC visibility pop
