#include <restorekit/core/profile.hpp>

#include <restorekit/core/fs.hpp>

#include <fstream>
#include <set>
#include <sstream>

#include <array>

#include <fmt/format.h>

#include <toml++/toml.h>
#include <restorekit/core/sqlite.hpp>

namespace restorekit::core {

namespace {

using KeySet = std::set<std::string, std::less<>>;

tl::unexpected<Error> profile_error(std::string message) {
  return fail(ErrorCode::kProfile, std::move(message));
}

Result<void> check_keys(const toml::table& table, std::string_view section, const KeySet& known) {
  for (const auto& [key, value] : table) {
    if (!known.contains(key.str())) {
      std::string full =
          section.empty() ? std::string(key.str()) : fmt::format("{}.{}", section, key.str());
      return profile_error(fmt::format("unknown profile key \"{}\"; check its spelling", full));
    }
  }
  return {};
}

Result<std::optional<std::string>> get_string(const toml::table& t, std::string_view section,
                                              std::string_view key) {
  const toml::node* node = t.get(key);
  if (!node) return std::optional<std::string>{};
  if (!node->is_string()) {
    return profile_error(fmt::format("profile key \"{}.{}\" must be a string", section, key));
  }
  return std::optional<std::string>(node->as_string()->get());
}

Result<std::vector<std::string>> get_strings(const toml::table& t, std::string_view section,
                                             std::string_view key) {
  std::vector<std::string> out;
  const toml::node* node = t.get(key);
  if (!node) return out;
  const toml::array* arr = node->as_array();
  if (!arr) {
    return profile_error(
        fmt::format("profile key \"{}.{}\" must be an array of strings", section, key));
  }
  for (const auto& item : *arr) {
    if (!item.is_string()) {
      return profile_error(
          fmt::format("profile key \"{}.{}\" must hold only strings", section, key));
    }
    out.push_back(item.as_string()->get());
  }
  return out;
}

std::filesystem::path resolve(const std::filesystem::path& base, const std::string& p) {
  std::filesystem::path path(p);
  return path.is_absolute() || base.empty() ? path : base / path;
}

Result<const toml::table*> section_of(const toml::table& root, std::string_view name) {
  const toml::node* node = root.get(name);
  if (!node) return nullptr;
  if (!node->is_table()) {
    return profile_error(fmt::format("profile key \"{}\" must be a table ([{}])", name, name));
  }
  return node->as_table();
}

Result<void> parse_database(const toml::table& t, Profile& p) {
  RK_TRY(check_keys(
      t, "database",
      {"entry", "tenant_column", "tenant_table", "tenant_key", "tenant_label", "exclude_tables"}));
  RK_TRY_ASSIGN(p.database_entry, get_string(t, "database", "entry"));
  RK_TRY_ASSIGN(p.tenant_column, get_string(t, "database", "tenant_column"));
  RK_TRY_ASSIGN(p.tenant_table, get_string(t, "database", "tenant_table"));
  RK_TRY_ASSIGN(auto key, get_string(t, "database", "tenant_key"));
  if (key) p.tenant_key = *key;
  RK_TRY_ASSIGN(p.tenant_label, get_string(t, "database", "tenant_label"));
  RK_TRY_ASSIGN(p.exclude_tables, get_strings(t, "database", "exclude_tables"));
  return {};
}

// "table.column", named by `what` in the error.
Result<ColumnRef> column_ref(const std::string& text, std::string_view what) {
  auto dot = text.find('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 == text.size()) {
    return profile_error(
        fmt::format("profile key \"{}\": \"{}\" must be written table.column", what, text));
  }
  return ColumnRef{text.substr(0, dot), text.substr(dot + 1)};
}

// [[relations]]: child = "appointments.person_ref", parent = "persons.id".
Result<void> parse_relations(const toml::node& node, Profile& p) {
  const toml::array* list = node.as_array();
  if (!list || !list->is_array_of_tables()) {
    return profile_error(
        "profile key \"relations\" must be a list of tables ([[relations]] with child and "
        "parent)");
  }
  for (const auto& item : *list) {
    const toml::table& t = *item.as_table();
    RK_TRY(check_keys(t, "relations", {"child", "parent"}));
    RK_TRY_ASSIGN(auto child, get_string(t, "relations", "child"));
    RK_TRY_ASSIGN(auto parent, get_string(t, "relations", "parent"));
    if (!child || !parent) {
      return profile_error(
          "every [[relations]] needs child = \"table.column\" and parent = \"table.column\"");
    }
    RK_TRY_ASSIGN(auto c, column_ref(*child, "relations.child"));
    RK_TRY_ASSIGN(auto q, column_ref(*parent, "relations.parent"));
    p.relations.push_back(Relation{std::move(c), std::move(q)});
  }
  return {};
}

Result<void> parse_documents(const toml::table& t, Profile& p, const std::filesystem::path& base) {
  RK_TRY(check_keys(t, "documents", {"root", "live", "references"}));
  RK_TRY_ASSIGN(p.documents_root, get_string(t, "documents", "root"));
  RK_TRY_ASSIGN(auto live, get_string(t, "documents", "live"));
  if (live) p.live_documents = resolve(base, *live);
  RK_TRY_ASSIGN(auto refs, get_strings(t, "documents", "references"));
  for (const auto& ref : refs) {
    RK_TRY_ASSIGN(auto r, column_ref(ref, "documents.references"));
    p.references.push_back(std::move(r));
  }
  return {};
}

Result<void> parse_live(const toml::table& t, Profile& p, const std::filesystem::path& base) {
  RK_TRY(check_keys(t, "live", {"database", "lock_file"}));
  RK_TRY_ASSIGN(auto db, get_string(t, "live", "database"));
  if (db) p.live_database = resolve(base, *db);
  RK_TRY_ASSIGN(auto lock, get_string(t, "live", "lock_file"));
  if (lock) p.lock_file = resolve(base, *lock);
  return {};
}

Result<toml::table> parse_toml(std::string_view text) {
  try {
    return toml::parse(text);
  } catch (const toml::parse_error& e) {
    return profile_error(fmt::format("profile is not valid TOML at line {}, column {}: {}",
                                     e.source().begin.line, e.source().begin.column,
                                     e.description()));
  }
}

}  // namespace

std::optional<TenantSpec> Profile::tenant_spec() const {
  if (!tenant_column) return std::nullopt;
  return TenantSpec{*tenant_column, tenant_table, tenant_key, tenant_label};
}

Result<Profile> parse_profile(std::string_view toml_text, const std::filesystem::path& base_dir) {
  RK_TRY_ASSIGN(auto root, parse_toml(toml_text));
  RK_TRY(check_keys(root, "", {"database", "documents", "live", "relations"}));
  Profile p;
  RK_TRY_ASSIGN(const toml::table* db, section_of(root, "database"));
  if (db) RK_TRY(parse_database(*db, p));
  RK_TRY_ASSIGN(const toml::table* docs, section_of(root, "documents"));
  if (docs) RK_TRY(parse_documents(*docs, p, base_dir));
  RK_TRY_ASSIGN(const toml::table* live, section_of(root, "live"));
  if (live) RK_TRY(parse_live(*live, p, base_dir));
  if (const toml::node* relations = root.get("relations")) RK_TRY(parse_relations(*relations, p));
  return p;
}

Result<Profile> load_profile(const std::filesystem::path& path) {
  auto text = read_small_file(path);  // a profile is a few hundred bytes; 1 MiB is the bound
  bool database = has_sqlite_magic(path);
  if (database) {
    return fail(ErrorCode::kInvalidArgument,
                fmt::format("{} is a SQLite database, not a profile (a small TOML file); give "
                            "the database with --db or --live and the profile with --profile",
                            path.string()),
                path.string());
  }
  if (!text) {
    Error e = text.error();
    // Too large is no limit to raise (a profile is small): it is the wrong file.
    if (e.code == ErrorCode::kLimitExceeded) e.code = ErrorCode::kInvalidArgument;
    e.message = fmt::format("cannot read profile {}: {}", path.string(), e.message);
    return tl::unexpected(e);
  }
  auto profile = parse_profile(*text, path.parent_path());
  if (!profile) {
    Error e = profile.error();
    e.message = fmt::format("{}: {}", path.string(), e.message);
    e.subject = path.string();
    return tl::unexpected(e);
  }
  return profile;
}

}  // namespace restorekit::core
