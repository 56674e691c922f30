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

// Documents of a foreign backup: files that are no database and not restorekit's, under
// "docs/" when any file is there, else all of them (inspect's rule).
struct FileCount {
  std::uint64_t files = 0;
  std::uint64_t bytes = 0;
};

}  // namespace

Result<core::ArchiveSummary> summarise(const SummaryInput& in) {
  core::ArchiveSummary s;
  const auto& r = in.report;
  s.path = r.path;
  s.kind = r.kind;
  s.archive = r.archive;
  s.entries = r.entries;
  s.archive_bytes = r.archive_bytes;
  s.listed = r.complete;
  std::set<std::string, std::less<>> databases;
  for (const auto& d : in.databases) {
    s.databases.push_back(database_info(d));
    databases.insert(d.result.entry);
  }
  FileCount all, docs;
  RK_TRY(in.entries.for_each_brief([&](const core::EntryStore::Brief& rec) -> Result<void> {
    if (rec.encrypted) s.encrypted = true;
    if (rec.mtime != 0) {
      s.oldest_mtime = std::min(s.oldest_mtime.value_or(rec.mtime), rec.mtime);
      s.newest_mtime = std::max(s.newest_mtime.value_or(rec.mtime), rec.mtime);
    }
    if (rec.type != core::EntryType::kFile || !rec.safe || databases.count(rec.path) ||
        rec.path.starts_with("restorekit/")) {
      return {};
    }
    ++all.files;
    all.bytes += rec.size.value_or(0);
    if (rec.path.starts_with("docs/")) {
      ++docs.files;
      docs.bytes += rec.size.value_or(0);
    }
    return {};
  }));
  if (in.header) {
    s.header = *in.header;
    s.header_json = in.header_json;
    s.bytes = in.header->total_bytes;
    s.document_files = in.header->document_files;
    s.document_bytes = in.header->document_bytes;
    return s;
  }
  FileCount documents = docs.files > 0 ? docs : all;
  s.document_files = documents.files;
  s.document_bytes = documents.bytes;
  s.bytes = documents.bytes;
  for (const auto& d : s.databases) s.bytes += d.bytes;
  return s;
}

}  // namespace restorekit::verify::detail
