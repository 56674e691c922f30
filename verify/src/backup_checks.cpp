#include "backup_checks.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <tuple>
#include <utility>

#include <fmt/format.h>

#include <restorekit/core/names.hpp>
#include <restorekit/core/safe_path.hpp>

namespace restorekit::verify::detail {

namespace {

using core::Finding;
using core::Severity;
using Line = core::ChecksumIndex::Line;

class BackupChecker {
 public:
  explicit BackupChecker(BackupCheckInput& in) : in_(in) {}

  Result<std::vector<Finding>> run() {
    if (in_.complete) RK_TRY(check_layout());
    RK_TRY(check_checksums());
    if (!in_.complete) return std::move(out_);  // the rest needs the whole archive
    check_totals();
    for (const auto& db : in_.header.databases) RK_TRY(check_database(db));
    return std::move(out_);
  }

 private:
  void add(std::string code, std::string entry, std::string message,
           Severity severity = Severity::kError) {
    out_.push_back(Finding{std::move(code), severity, std::move(entry), std::move(message)});
  }

  void mismatch(std::string entry, std::string what) {
    add("HEADER_MISMATCH", std::move(entry),
        fmt::format("the header promises {}; the backup was altered after it was written", what));
  }

  Result<void> check_layout() {
    const auto* list = in_.checksums;
    if (!list || list->index != in_.last_index) {
      add("MISSING_ENTRY", std::string(core::kChecksumsEntry),
          list ? fmt::format("{} is not the last entry, as format v1 requires",
                             core::kChecksumsEntry)
               : fmt::format("{} is missing: the entries' checksums cannot be checked",
                             core::kChecksumsEntry));
    }
    return {};
  }

  // The list, sorted by name key, is merged against the store's entries in the same order:
  // one scan of each instead of a lookup per line. A line is compared with the first entry of
  // its key (lines with no entry are MISSING_ENTRY); a file whose key no line names is
  // EXTRA_ENTRY (a second entry of a listed key is a duplicate, reported as such). Findings come
  // in line order, then the extra entries in archive order.
  Result<void> check_checksums() {
    const auto* list = in_.checksums;
    if (!list || list->data_error || !in_.index) return {};
    if (const auto& bad = in_.index->bad()) {
      add("BAD_CHECKSUMS", std::string(core::kChecksumsEntry), bad->message);
      return {};
    }
    std::vector<std::pair<std::uint64_t, Finding>> by_line;
    std::vector<std::pair<std::uint64_t, Finding>> extra;  // by archive index
    RK_TRY(in_.index->merge(
        *in_.walk,
        [&](const Line& line, const core::StoredEntry* first) -> Result<void> {
          if (!first) {
            by_line.emplace_back(
                line.number,
                Finding{"MISSING_ENTRY", Severity::kError, line.path,
                        fmt::format("entry \"{}\" is listed in {} but not in the backup", line.path,
                                    core::kChecksumsEntry)});
          } else if (auto f = compare(line, *first)) {
            by_line.emplace_back(line.number, std::move(*f));
          }
          return {};
        },
        [&](const core::StoredEntry& s) { extra_entry(s, extra); }));
    for (auto* found : {&by_line, &extra}) {
      std::sort(found->begin(), found->end(),
                [](const auto& a, const auto& b) { return a.first < b.first; });
      for (auto& [at, f] : *found) out_.push_back(std::move(f));
    }
    return {};
  }

  static void extra_entry(const core::StoredEntry& s,
                          std::vector<std::pair<std::uint64_t, Finding>>& extra) {
    const auto& e = s.record;
    bool metadata = e.path == core::kHeaderEntry || e.path == core::kChecksumsEntry;
    if (e.type != core::EntryType::kFile || metadata) return;
    extra.emplace_back(s.index,
                       Finding{"EXTRA_ENTRY", Severity::kError, e.path,
                               fmt::format("entry \"{}\" is not listed in {}: it was added after "
                                           "the backup was written",
                                           e.path, core::kChecksumsEntry)});
  }

  // The line against the first entry of its name; a mismatch, if any.
  std::optional<Finding> compare(const Line& line, const core::StoredEntry& found) {
    const auto& hash = found.record.hash;
    if (!hash) return std::nullopt;  // not read, or failed: reported elsewhere
    ++in_.checked;
    if (*hash == line.digest) return std::nullopt;
    return Finding{"CHECKSUM_MISMATCH", Severity::kError, line.path,
                   fmt::format("entry \"{}\" has XXH3-128 {} but {} records {}", line.path,
                               hash->hex(), core::kChecksumsEntry, line.digest.hex())};
  }

  void check_totals() {
    const auto& h = in_.header;
    const auto& found = in_.totals.under_root;
    if (in_.entries.size() != h.total_entries) {
      mismatch(
          "", fmt::format("{} entries, the archive holds {}", h.total_entries, in_.entries.size()));
    }
    if (found.files != h.document_files || found.bytes != h.document_bytes) {
      mismatch(h.documents_root,
               fmt::format("{} documents of {} bytes, the archive holds {} of {} bytes",
                           h.document_files, h.document_bytes, found.files, found.bytes));
    }
  }

  Result<void> check_database(const core::HeaderDatabase& promised) {
    RK_TRY_ASSIGN(auto found, in_.entries.find(promised.entry));
    if (!found) {
      add("MISSING_ENTRY", promised.entry,
          fmt::format("database {} named in the header is not in the backup", promised.entry));
      return {};
    }
    std::uint64_t bytes = found->record.size.value_or(0);
    if (found->data_read && !found->failed && bytes != promised.bytes) {
      mismatch(promised.entry,
               fmt::format("{} of {} bytes, it holds {}", promised.entry, promised.bytes, bytes));
    }
    for (const auto& check : in_.databases) {
      if (check.result.entry == promised.entry) compare_rows(promised, check);
    }
    return {};
  }

  void compare_rows(const core::HeaderDatabase& promised, const DatabaseCheck& check) {
    std::map<std::string, std::uint64_t> actual;
    for (const auto& t : check.summary.tables) {
      if (t.rows) actual[t.name] = *t.rows;
    }
    for (const auto& t : promised.tables) {
      auto found = actual.find(t.name);
      if (found == actual.end() || found->second != t.rows) {
        mismatch(fmt::format("{}:{}", promised.entry, t.name),
                 fmt::format("{} rows in table {}, the database holds {}", t.rows, t.name,
                             found == actual.end() ? std::string("no such table")
                                                   : std::to_string(found->second)));
      }
    }
    if (promised.user_version != check.summary.user_version) {
      mismatch(promised.entry, fmt::format("user_version {}, the database has {}",
                                           promised.user_version, check.summary.user_version));
    }
    compare_tenants(promised, check);
  }

  void compare_tenants(const core::HeaderDatabase& promised, const DatabaseCheck& check) {
    if (promised.tenants.empty()) return;
    std::map<std::string, std::uint64_t> actual;
    for (const auto& t : check.tenants) actual[t.id] = t.rows;
    for (const auto& t : promised.tenants) {
      // The header counts the tenant's own row in the tenant table too.
      std::uint64_t got = actual.count(t.id) ? actual[t.id] : 0;
      if (got != t.rows && got + 1 != t.rows) {
        mismatch(promised.entry, fmt::format("{} rows for tenant {} ({}), the database holds {}",
                                             t.rows, t.id, t.label, got));
      }
    }
  }

  BackupCheckInput& in_;
  std::vector<Finding> out_;
};

}  // namespace

Result<std::vector<Finding>> check_backup(BackupCheckInput& in) {
  return BackupChecker(in).run();
}

Result<std::vector<Finding>> check_callers_list(core::ChecksumIndex& index, const std::string& list,
                                                core::EntryStore& entries, std::uint64_t& checked) {
  std::vector<std::pair<std::uint64_t, Finding>> found;
  RK_TRY(index.merge(
      entries,
      [&](const core::ChecksumIndex::Line& x, const core::StoredEntry* entry) -> Result<void> {
        if (!entry) {
          found.emplace_back(x.number,
                             Finding{"MISSING_ENTRY", Severity::kError, x.path,
                                     fmt::format("{} lists \"{}\" (line {}), but the backup "
                                                 "does not hold it",
                                                 list, x.path, x.number)});
          return {};
        }
        if (!entry->data_read || entry->failed) return {};  // already reported
        std::string actual = x.algorithm == core::HashAlgorithm::kXxh128
                                 ? entry->record.hash->hex()
                                 : entry->extra_hex.value_or("");
        ++checked;
        std::string expected = x.expected_hex();
        if (actual == expected) return {};
        found.emplace_back(
            x.number, Finding{"CHECKSUM_MISMATCH", Severity::kError, x.path,
                              fmt::format("entry \"{}\" has {} {} but {} line {} expects {}",
                                          x.path, core::algorithm_name(x.algorithm), actual, list,
                                          x.number, expected)});
        return {};
      },
      [](const core::StoredEntry&) {}));
  std::stable_sort(found.begin(), found.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<Finding> out;
  out.reserve(found.size());
  for (auto& [line, f] : found) out.push_back(std::move(f));
  return out;
}

}  // namespace restorekit::verify::detail
