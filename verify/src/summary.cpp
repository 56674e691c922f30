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

Result<std::optional<EntryTotals>> tallied_totals(const core::EntryStore& entries,
                                                  const std::set<std::string, std::less<>>& names,
                                                  std::string_view root) {
  const auto& tally = entries.tally();
  // A root deeper than one folder is not a tally's folder; with two entries of one name, which
  // of them the databases' names leave out needs the walk.
  bool one_folder = root.empty() || root.find('/') == root.size() - 1;
  if (!tally || !one_folder || (!names.empty() && entries.may_have_duplicates())) {
    return std::nullopt;
  }
  EntryTotals t;
  t.encrypted = tally->encrypted;
  t.oldest_mtime = tally->oldest_mtime;
  t.newest_mtime = tally->newest_mtime;
  for (const auto& [folder, f] : tally->by_folder) {
    if (root.empty() || folder == root) {
      t.under_root.files += f.files;
      t.under_root.bytes += f.read_bytes;
    }
    if (folder == "restorekit/") continue;
    t.all.files += f.safe_files;
    t.all.bytes += f.safe_bytes;
    if (folder == "docs/") {
      t.docs.files += f.safe_files;
      t.docs.bytes += f.safe_bytes;
    }
  }
  // Each database's entry, the only file of its name, is no document.
  for (const auto& name : names) {
    if (name.starts_with("restorekit/")) continue;
    RK_TRY_ASSIGN(auto found, entries.find(name));
    if (!found || found->record.path != name || found->record.type != core::EntryType::kFile ||
        !found->record.safe) {
      continue;
    }
    std::uint64_t bytes = found->record.size.value_or(0);
    t.all.files -= 1;
    t.all.bytes -= bytes;
    if (name.starts_with("docs/")) {
      t.docs.files -= 1;
      t.docs.bytes -= bytes;
    }
  }
  return t;
}

Result<EntryTotals> total_entries(const core::EntryStore& entries,
                                  const std::vector<DatabaseCheck>& databases,
                                  std::string_view root, Totalling how) {
  std::set<std::string, std::less<>> names;
  for (const auto& d : databases) names.insert(d.result.entry);
  if (how == Totalling::kTallyWhereItAnswers) {
    RK_TRY_ASSIGN(auto tallied, tallied_totals(entries, names, root));
    if (tallied) return *tallied;
  }
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
