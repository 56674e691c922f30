#include "render_inspect.hpp"

#include <fmt/format.h>
#include <fmt/ostream.h>

#include <restorekit/core/backup_format.hpp>
#include <restorekit/core/safe_path.hpp>
#include <restorekit/core/version.hpp>

#include "render_common.hpp"

namespace restorekit::cli {

namespace {

using core::escape_name;
using json = nlohmann::ordered_json;

std::string format_line(const core::ArchiveSummary& s) {
  std::string filters;
  for (const auto& f : s.archive.filters) filters += ", " + f;
  double ratio = s.archive_bytes > 0
                     ? static_cast<double>(s.bytes) / static_cast<double>(s.archive_bytes)
                     : 0.0;
  return fmt::format("{}{}; {} archive, {} payload (ratio {:.1f}:1); {}",
                     s.archive.format.empty() ? "unknown" : s.archive.format, filters,
                     human_bytes(s.archive_bytes), human_bytes(s.bytes), ratio,
                     s.encrypted ? "encrypted" : "not encrypted");
}

void render_database(const core::DatabaseInfo& db, std::ostream& out) {
  fmt::print(out, "  database    {}  {}{}, user_version {}, page size {}\n", escape_name(db.entry),
             human_bytes(db.bytes), db.kind == core::DatabaseFormat::kSqlDump ? " (SQL dump)" : "",
             db.user_version, db.page_size);
  std::size_t width = 10;
  for (const auto& t : db.tables) width = std::max(width, escape_name(t.name).size());
  for (const auto& t : db.tables) {
    fmt::print(out, "                {:<{}}  {:>12} rows\n", escape_name(t.name), width,
               grouped(t.rows));
  }
  constexpr std::size_t kShownTenants = 10;
  if (!db.tenants.empty()) {
    fmt::print(out, "  tenants     {}{}\n", db.tenants.size(),
               db.tenants.size() > kShownTenants ? " (the first 10; --json lists all)" : "");
  }
  for (std::size_t i = 0; i < std::min(kShownTenants, db.tenants.size()); ++i) {
    const auto& t = db.tenants[i];
    fmt::print(out, "    tenant    {:<8} {:<30} {:>12} rows\n", escape_name(t.id),
               escape_name(t.label), grouped(t.rows));
  }
}

void render_header(const core::BackupHeader& h, std::ostream& out) {
  fmt::print(out, "  created     {} by {} {} on {}\n", escape_name(h.created_at),
             escape_name(h.tool_name), escape_name(h.tool_version), escape_name(h.source_host));
  fmt::print(out, "  source      {}{}\n", escape_name(h.source_database),
             h.source_documents.empty()
                 ? ""
                 : fmt::format(", documents {}", escape_name(h.source_documents)));
}

std::string time_string(std::int64_t t) {
  return core::rfc3339_utc(t);
}

Result<void> render_entries(const core::EntryStore& listing, std::ostream& out) {
  fmt::print(out, "entries:\n");
  return listing.for_each_brief([&](const core::EntryStore::Brief& e) -> Result<void> {
    fmt::print(out, "  {:<9} {:>14} {}  {}{}\n", core::entry_type_name(e.type),
               e.size ? grouped(*e.size) : "-", e.mtime ? time_string(e.mtime) : "-",
               escape_name(e.path), e.encrypted ? "  [encrypted]" : "");
    return {};
  });
}

json findings_json(const std::vector<core::Finding>& findings) {
  json out = json::array();
  for (const auto& f : findings) {
    out.push_back({{"code", f.code},
                   {"severity", core::severity_name(f.severity)},
                   {"entry", f.entry},
                   {"message", f.message}});
  }
  return out;
}

json database_json(const core::DatabaseInfo& db) {
  json tables = json::array();
  for (const auto& t : db.tables) tables.push_back({{"name", t.name}, {"rows", t.rows}});
  json tenants = json::array();
  for (const auto& t : db.tenants) {
    tenants.push_back({{"id", t.id}, {"label", t.label}, {"rows", t.rows}});
  }
  return {{"entry", db.entry},         {"kind", core::database_format_name(db.kind)},
          {"bytes", db.bytes},         {"user_version", db.user_version},
          {"page_size", db.page_size}, {"tables", tables},
          {"tenants", tenants}};
}

// The listing's entries, one at a time, as JSON.
Result<void> each_entry_json(const core::EntryStore& listing, const JsonEmit& emit) {
  return listing.for_each_brief([&](const core::EntryStore::Brief& e) -> Result<void> {
    emit({{"path", e.path},
          {"type", core::entry_type_name(e.type)},
          {"size", e.size ? json(*e.size) : json(nullptr)},
          {"mtime", e.mtime},
          {"encrypted", e.encrypted},
          {"safe", e.safe}});
    return {};
  });
}

}  // namespace

void render_inspect_text(const inspect::InspectReport& r, bool list_entries, std::ostream& out) {
  const auto& s = r.summary;
  bool ours = s.kind == core::BackupKind::kRestorekit;
  fmt::print(out, "{} — {}\n", escape_name(s.path),
             ours ? fmt::format("restorekit backup ({})", core::kFormatV1)
                  : std::string("foreign backup"));
  if (s.header) render_header(*s.header, out);
  fmt::print(out, "  archive     {}\n", format_line(s));
  fmt::print(out, "  entries     {}{}\n", grouped(s.entries),
             r.from_index ? " (from the index; the archive is unchanged)" : "");
  if (s.oldest_mtime && s.newest_mtime) {
    fmt::print(out, "  time range  {} .. {}\n", time_string(*s.oldest_mtime),
               time_string(*s.newest_mtime));
  }
  for (const auto& db : s.databases) render_database(db, out);
  if (s.databases.empty()) fmt::print(out, "  database    none found\n");
  fmt::print(out, "  documents   {} files, {}\n", grouped(s.document_files),
             human_bytes(s.document_bytes));
  if (ours && !s.listed) {
    // A preview reads the header only: a truncated or damaged backup shows the same figures.
    fmt::print(out,
               "  (figures from the backup's header, not verified: `restorekit verify {}` "
               "reads every byte)\n",
               escape_name(s.path));
  }
  if (!s.findings.empty()) {
    fmt::print(out, "warnings:\n");
    for (const auto& f : s.findings) {
      fmt::print(out, "  {:<12} {}\n", f.code, escape_name(f.message));
    }
  }
  if (list_entries && r.listing) {
    if (auto listed = render_entries(*r.listing, out); !listed) {
      fmt::print(out, "  (the listing could not be read: {})\n", listed.error().message);
    }
  }
}

namespace {

json inspect_document(const inspect::InspectReport& r) {
  const auto& s = r.summary;
  json header = nullptr;
  if (s.header) header = json::parse(s.header_json, nullptr, false);
  if (header.is_discarded()) header = nullptr;
  json databases = json::array();
  for (const auto& db : s.databases) databases.push_back(database_json(db));
  json doc = {
      {"schema", core::schema::kInspect},
      {"path", s.path},
      {"kind", s.kind == core::BackupKind::kRestorekit ? "restorekit" : "foreign"},
      {"format", s.archive.format},
      {"format_detail", s.archive.format_detail},
      {"filters", s.archive.filters},
      {"encrypted", s.encrypted},
      {"entries", s.entries},
      {"bytes", s.bytes},
      {"archive_bytes", s.archive_bytes},
      {"ratio", s.archive_bytes > 0
                    ? static_cast<double>(s.bytes) / static_cast<double>(s.archive_bytes)
                    : 0.0},
      {"header", header},
      {"databases", databases},
      {"documents", {{"files", s.document_files}, {"bytes", s.document_bytes}}},
      {"time_range", s.oldest_mtime
                         ? json{{"oldest", time_string(*s.oldest_mtime)},
                                {"newest", time_string(s.newest_mtime.value_or(*s.oldest_mtime))}}
                         : json(nullptr)},
      {"findings", findings_json(s.findings)},
      {"from_index", r.from_index},
      {"complete", !r.incomplete.has_value()},
      {"seconds", r.seconds},
  };
  if (r.incomplete) doc["error"] = error_json(*r.incomplete);
  return doc;
}

}  // namespace

json inspect_json(const inspect::InspectReport& r, bool list_entries) {
  json doc = inspect_document(r);
  if (list_entries) {
    json listing = json::array();
    if (r.listing) {
      (void)each_entry_json(*r.listing, [&](const json& e) { listing.push_back(e); });
    }
    doc["listing"] = std::move(listing);
  }
  return doc;
}

Result<void> write_inspect_json(const inspect::InspectReport& r, bool list_entries,
                                std::ostream& out) {
  if (!list_entries || !r.listing) {
    out << json_text(inspect_json(r, list_entries)) << "\n";
    return {};
  }
  return write_json_with_array(
      inspect_document(r), "listing",
      [&](const JsonEmit& emit) { return each_entry_json(*r.listing, emit); }, out);
}

}  // namespace restorekit::cli
