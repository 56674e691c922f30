#include "summary.hpp"

#include <algorithm>
#include <set>

namespace restorekit::verify::detail {

namespace {

core::DatabaseInfo database_info(const DatabaseCheck& check) {
  core::DatabaseInfo info;
  info.entry = check.result.entry;
  info.kind = check.result.kind;
  info.bytes = check.result.bytes;
  info.user_version = check.summary.user_version;
  info.page_size = check.summary.page_size;
  for (const auto& t : check.summary.tables) {
    if (t.rows) info.tables.push_back(core::HeaderTable{t.name, *t.rows});
  }
  info.tenants = check.tenants;
  return info;
}

}  // namespace

Result<EntryTotals> total_entries(const core::EntryStore& entries,
                                  const std::vector<DatabaseCheck>& databases,
                                  std::string_view root) {
  std::set<std::string, std::less<>> names;
  for (const auto& d : databases) names.insert(d.result.entry);
  EntryTotals t;
  RK_TRY(entries.for_each_brief([&](const core::EntryStore::Brief& rec) -> Result<void> {
    if (rec.encrypted) t.encrypted = true;
    if (rec.mtime != 0) {
      t.oldest_mtime = std::min(t.oldest_mtime.value_or(rec.mtime), rec.mtime);
      t.newest_mtime = std::max(t.newest_mtime.value_or(rec.mtime), rec.mtime);
    }
    if (rec.type != core::EntryType::kFile) return {};
    if (rec.path.starts_with(root)) {
      ++t.under_root.files;
      if (rec.data_read) t.under_root.bytes += rec.size.value_or(0);
    }
    if (!rec.safe || names.count(rec.path) || rec.path.starts_with("restorekit/")) return {};
    ++t.all.files;
    t.all.bytes += rec.size.value_or(0);
    if (rec.path.starts_with("docs/")) {
      ++t.docs.files;
      t.docs.bytes += rec.size.value_or(0);
    }
    return {};
  }));
  return t;
}

core::ArchiveSummary summarise(const SummaryInput& in) {
  core::ArchiveSummary s;
  const auto& r = in.report;
  s.path = r.path;
  s.kind = r.kind;
  s.archive = r.archive;
  s.entries = r.entries;
  s.archive_bytes = r.archive_bytes;
  s.listed = r.complete;
  for (const auto& d : in.databases) s.databases.push_back(database_info(d));
  s.encrypted = in.totals.encrypted;
  s.oldest_mtime = in.totals.oldest_mtime;
  s.newest_mtime = in.totals.newest_mtime;
  if (in.header) {
    s.header = *in.header;
    s.header_json = in.header_json;
    s.bytes = in.header->total_bytes;
    s.document_files = in.header->document_files;
    s.document_bytes = in.header->document_bytes;
    return s;
  }
  // Documents of a foreign backup: under "docs/" when any file is there, else all of them.
  const auto& documents = in.totals.docs.files > 0 ? in.totals.docs : in.totals.all;
  s.document_files = documents.files;
  s.document_bytes = documents.bytes;
  s.bytes = documents.bytes;
  for (const auto& d : s.databases) s.bytes += d.bytes;
  return s;
}

}  // namespace restorekit::verify::detail
