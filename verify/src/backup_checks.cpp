#include "backup_checks.hpp"

#include <map>

#include <fmt/format.h>

#include <restorekit/core/names.hpp>
#include <restorekit/core/safe_path.hpp>

namespace restorekit::verify::detail {

namespace {

using core::Finding;
using core::Severity;

class BackupChecker {
 public:
  explicit BackupChecker(BackupCheckInput& in) : in_(in) {}

  Result<std::vector<Finding>> run() {
    if (in_.complete) RK_TRY(check_layout());
    RK_TRY(check_checksums());
    if (!in_.complete) return std::move(out_);  // the rest needs the whole archive
    RK_TRY(check_totals());
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

  // Every line is looked up in the store; the entries found are marked, and a file left
  // unmarked is EXTRA_ENTRY unless it shares its name with a marked one (a duplicate, which is
  // reported as such).
  Result<void> check_checksums() {
    const auto* list = in_.checksums;
    if (!list || list->data_error) return {};
    auto lines = core::parse_checksums(list->text);
    if (!lines) {
      add("BAD_CHECKSUMS", std::string(core::kChecksumsEntry), lines.error().message);
      return {};
    }
    std::vector<bool> listed(in_.last_index + 1);
    for (const auto& line : *lines) RK_TRY(compare(line, listed));
    return in_.entries.for_each([&](const core::StoredEntry& s) -> Result<void> {
      const auto& e = s.record;
      bool metadata = e.path == core::kHeaderEntry || e.path == core::kChecksumsEntry;
      if (e.type != core::EntryType::kFile || metadata || listed[s.index]) return {};
      RK_TRY_ASSIGN(auto first, in_.entries.find(e.path));
      if (first && first->index != s.index && listed[first->index]) return {};
      add("EXTRA_ENTRY", e.path,
          fmt::format("entry \"{}\" is not listed in {}: it was added after the backup was "
                      "written",
                      e.path, core::kChecksumsEntry));
      return {};
    });
  }

  Result<void> compare(const core::ChecksumLine& line, std::vector<bool>& listed) {
    RK_TRY_ASSIGN(auto found, in_.entries.find(line.path));
    if (!found) {
      add("MISSING_ENTRY", line.path,
          fmt::format("entry \"{}\" is listed in {} but not in the backup", line.path,
                      core::kChecksumsEntry));
      return {};
    }
    if (found->index < listed.size()) listed[found->index] = true;
    const auto& hash = found->record.hash;
    if (!hash) return {};  // not read, or failed: reported elsewhere
    ++in_.checked;
    if (*hash != line.digest) {
      add("CHECKSUM_MISMATCH", line.path,
          fmt::format("entry \"{}\" has XXH3-128 {} but {} records {}", line.path, hash->hex(),
                      core::kChecksumsEntry, line.digest.hex()));
    }
    return {};
  }

  Result<void> check_totals() {
    const auto& h = in_.header;
    std::uint64_t files = 0;
    std::uint64_t bytes = 0;
    std::string root = h.documents_root;
    RK_TRY(in_.entries.for_each([&](const core::StoredEntry& s) -> Result<void> {
      const auto& e = s.record;
      if (e.type == core::EntryType::kFile && e.path.rfind(root, 0) == 0) {
        ++files;
        if (s.data_read) bytes += e.size.value_or(0);
      }
      return {};
    }));
    if (in_.entries.size() != h.total_entries) {
      mismatch(
          "", fmt::format("{} entries, the archive holds {}", h.total_entries, in_.entries.size()));
    }
    if (files != h.document_files || bytes != h.document_bytes) {
      mismatch(root, fmt::format("{} documents of {} bytes, the archive holds {} of {} bytes",
                                 h.document_files, h.document_bytes, files, bytes));
    }
    return {};
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

}  // namespace restorekit::verify::detail
