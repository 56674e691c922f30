#include <restorekit/core/backup_format.hpp>

#include <restorekit/core/checksum_list.hpp>

#include <ctime>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace restorekit::core {

namespace {

using nlohmann::json;

tl::unexpected<Error> bad_header(std::string_view what) {
  return fail(ErrorCode::kBadBackup,
              fmt::format("{} is malformed: {}; the backup was not written by a compatible "
                          "restorekit or was altered",
                          kHeaderEntry, what),
              std::string(kHeaderEntry));
}

json tenants_to_json(const std::vector<TenantCount>& tenants) {
  json out = json::array();
  for (const auto& t : tenants) out.push_back({{"id", t.id}, {"label", t.label}, {"rows", t.rows}});
  return out;
}

json database_to_json(const HeaderDatabase& db) {
  json tables = json::array();
  for (const auto& t : db.tables) tables.push_back({{"name", t.name}, {"rows", t.rows}});
  json out = {{"entry", db.entry},
              {"bytes", db.bytes},
              {"user_version", db.user_version},
              {"page_size", db.page_size},
              {"tables", tables}};
  if (!db.tenants.empty()) out["tenants"] = tenants_to_json(db.tenants);
  return out;
}

// Typed field access that never throws: a missing or mistyped field is an error naming it.
template <typename T>
Result<T> field(const json& object, const char* key, std::string_view where) {
  auto it = object.find(key);
  if (it == object.end()) return bad_header(fmt::format("{}{} is missing", where, key));
  if constexpr (std::is_same_v<T, std::string>) {
    if (!it->is_string()) return bad_header(fmt::format("{}{} must be a string", where, key));
  } else if constexpr (std::is_same_v<T, std::uint64_t>) {
    if (!it->is_number_unsigned()) {
      return bad_header(fmt::format("{}{} must be a non-negative integer", where, key));
    }
  } else {
    if (!it->is_number_integer()) {
      return bad_header(fmt::format("{}{} must be an integer", where, key));
    }
  }
  return it->get<T>();
}

Result<const json*> child(const json& object, const char* key, json::value_t type,
                          std::string_view where) {
  auto it = object.find(key);
  if (it == object.end() || it->type() != type) {
    return bad_header(fmt::format("{}{} is missing or of the wrong type", where, key));
  }
  return &*it;
}

Result<std::vector<TenantCount>> parse_tenants(const json& db, std::string_view where) {
  std::vector<TenantCount> out;
  auto it = db.find("tenants");
  if (it == db.end()) return out;
  if (!it->is_array()) return bad_header(fmt::format("{}tenants must be an array", where));
  for (const auto& t : *it) {
    if (!t.is_object()) return bad_header(fmt::format("{}tenants[] must be objects", where));
    TenantCount tc;
    RK_TRY_ASSIGN(tc.id, field<std::string>(t, "id", where));
    RK_TRY_ASSIGN(tc.label, field<std::string>(t, "label", where));
    RK_TRY_ASSIGN(tc.rows, field<std::uint64_t>(t, "rows", where));
    out.push_back(std::move(tc));
  }
  return out;
}

Result<HeaderDatabase> parse_database(const json& db) {
  if (!db.is_object()) return bad_header("databases[] must be objects");
  constexpr std::string_view where = "databases[].";
  HeaderDatabase out;
  RK_TRY_ASSIGN(out.entry, field<std::string>(db, "entry", where));
  RK_TRY_ASSIGN(out.bytes, field<std::uint64_t>(db, "bytes", where));
  RK_TRY_ASSIGN(out.user_version, field<std::int64_t>(db, "user_version", where));
  RK_TRY_ASSIGN(out.page_size, field<std::int64_t>(db, "page_size", where));
  RK_TRY_ASSIGN(const json* tables, child(db, "tables", json::value_t::array, where));
  for (const auto& t : *tables) {
    if (!t.is_object()) return bad_header("databases[].tables[] must be objects");
    HeaderTable ht;
    RK_TRY_ASSIGN(ht.name, field<std::string>(t, "name", "databases[].tables[]."));
    RK_TRY_ASSIGN(ht.rows, field<std::uint64_t>(t, "rows", "databases[].tables[]."));
    out.tables.push_back(std::move(ht));
  }
  RK_TRY_ASSIGN(out.tenants, parse_tenants(db, where));
  return out;
}

Result<void> parse_body(const json& doc, BackupHeader& h) {
  RK_TRY_ASSIGN(h.created_at, field<std::string>(doc, "created_at", ""));
  RK_TRY_ASSIGN(const json* tool, child(doc, "tool", json::value_t::object, ""));
  RK_TRY_ASSIGN(h.tool_name, field<std::string>(*tool, "name", "tool."));
  RK_TRY_ASSIGN(h.tool_version, field<std::string>(*tool, "version", "tool."));
  RK_TRY_ASSIGN(const json* source, child(doc, "source", json::value_t::object, ""));
  RK_TRY_ASSIGN(h.source_host, field<std::string>(*source, "host", "source."));
  RK_TRY_ASSIGN(h.source_database, field<std::string>(*source, "database", "source."));
  RK_TRY_ASSIGN(h.source_documents, field<std::string>(*source, "documents", "source."));
  if (auto it = doc.find("tenant_column"); it != doc.end() && it->is_string()) {
    h.tenant_column = it->get<std::string>();
  }
  RK_TRY_ASSIGN(const json* dbs, child(doc, "databases", json::value_t::array, ""));
  for (const auto& db : *dbs) {
    RK_TRY_ASSIGN(auto parsed, parse_database(db));
    h.databases.push_back(std::move(parsed));
  }
  RK_TRY_ASSIGN(const json* docs, child(doc, "documents", json::value_t::object, ""));
  RK_TRY_ASSIGN(h.documents_root, field<std::string>(*docs, "root", "documents."));
  RK_TRY_ASSIGN(h.document_files, field<std::uint64_t>(*docs, "files", "documents."));
  RK_TRY_ASSIGN(h.document_bytes, field<std::uint64_t>(*docs, "bytes", "documents."));
  RK_TRY_ASSIGN(const json* totals, child(doc, "totals", json::value_t::object, ""));
  RK_TRY_ASSIGN(h.total_entries, field<std::uint64_t>(*totals, "entries", "totals."));
  RK_TRY_ASSIGN(h.total_bytes, field<std::uint64_t>(*totals, "bytes", "totals."));
  return {};
}

}  // namespace

std::string header_to_json(const BackupHeader& h) {
  json dbs = json::array();
  for (const auto& db : h.databases) dbs.push_back(database_to_json(db));
  json doc = {
      {"format", h.format},
      {"created_at", h.created_at},
      {"tool", {{"name", h.tool_name}, {"version", h.tool_version}}},
      {"source",
       {{"host", h.source_host},
        {"database", h.source_database},
        {"documents", h.source_documents}}},
      {"databases", dbs},
      {"documents",
       {{"root", h.documents_root}, {"files", h.document_files}, {"bytes", h.document_bytes}}},
      {"totals", {{"entries", h.total_entries}, {"bytes", h.total_bytes}}},
  };
  if (h.tenant_column) doc["tenant_column"] = *h.tenant_column;
  return doc.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

Result<BackupHeader> parse_header(std::string_view text) {
  if (text.size() > kMaxHeaderBytes) return bad_header("it is larger than 16 MiB");
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return bad_header("it is not a JSON object");
  BackupHeader h;
  RK_TRY_ASSIGN(h.format, field<std::string>(doc, "format", ""));
  if (h.format != kFormatV1) {
    return fail(
        ErrorCode::kBadBackup,
        fmt::format("the backup's format is \"{}\"; this restorekit reads {}", h.format, kFormatV1),
        std::string(kHeaderEntry));
  }
  RK_TRY(parse_body(doc, h));
  return h;
}

std::string checksum_line(std::string_view path, const Digest128& digest) {
  return fmt::format("{}  {}\n", digest.hex(), path);
}

Result<std::vector<ChecksumLine>> parse_checksums(std::string_view text) {
  auto list = parse_checksum_list(text, kChecksumsEntry);
  if (!list) return fail(ErrorCode::kBadBackup, list.error().message, std::string(kChecksumsEntry));
  std::vector<ChecksumLine> out;
  for (auto& expected : *list) {
    auto digest = Digest128::from_hex(expected.hex);
    if (expected.algorithm != HashAlgorithm::kXxh128 || !digest) {
      return fail(ErrorCode::kBadBackup,
                  fmt::format("{} line {} is not an XXH3-128 line", kChecksumsEntry, expected.line),
                  std::string(kChecksumsEntry));
    }
    out.push_back(ChecksumLine{std::move(expected.path), *digest});
  }
  return out;
}

std::string rfc3339_utc(std::int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

}  // namespace restorekit::core
