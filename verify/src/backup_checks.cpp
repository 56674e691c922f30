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
  explicit BackupChecker(BackupCheckInput& in) : in_(in) {
    for (const auto& e : in.entries) by_path_[core::name_key(e.path)] = &e;
  }

  std::vector<Finding> run() {
    if (in_.complete) check_layout();
    check_checksums();
    if (!in_.complete) return std::move(out_);  // the rest needs the whole archive
    check_totals();
    for (const auto& db : in_.header.databases) check_database(db);
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

  void check_layout() {
    const auto& last = in_.entries.back();
    if (last.path != core::kChecksumsEntry) {
      add("MISSING_ENTRY", std::string(core::kChecksumsEntry),
          by_path_.count(std::string(core::kChecksumsEntry))
              ? fmt::format("{} is not the last entry, as format v1 requires",
                            core::kChecksumsEntry)
              : fmt::format("{} is missing: the entries' checksums cannot be checked",
                            core::kChecksumsEntry));
    }
  }

  void check_checksums() {
    auto it = by_path_.find(std::string(core::kChecksumsEntry));
    if (it == by_path_.end() || it->second->data_error) return;
    auto lines = core::parse_checksums(it->second->text);
    if (!lines) {
      add("BAD_CHECKSUMS", std::string(core::kChecksumsEntry), lines.error().message);
      return;
    }
    std::map<std::string, const core::ChecksumLine*> listed;
    for (const auto& line : *lines) {
      listed[core::name_key(line.path)] = &line;
      compare(line);
    }
    for (const auto& e : in_.entries) {
      bool metadata = e.path == core::kHeaderEntry || e.path == core::kChecksumsEntry;
      if (e.type == core::EntryType::kFile && !metadata && !listed.count(core::name_key(e.path))) {
        add("EXTRA_ENTRY", e.path,
            fmt::format("entry \"{}\" is not listed in {}: it was added after the backup was "
                        "written",
                        core::escape_name(e.path), core::kChecksumsEntry));
      }
    }
  }

  void compare(const core::ChecksumLine& line) {
    auto it = by_path_.find(core::name_key(line.path));
    if (it == by_path_.end()) {
      add("MISSING_ENTRY", line.path,
          fmt::format("entry \"{}\" is listed in {} but not in the backup",
                      core::escape_name(line.path), core::kChecksumsEntry));
      return;
    }
    const EntryResult& e = *it->second;
    if (!e.data_read || e.data_error || !e.digests.xxh128) return;  // reported elsewhere
    ++in_.checked;
    if (*e.digests.xxh128 != line.digest) {
      add("CHECKSUM_MISMATCH", line.path,
          fmt::format("entry \"{}\" has XXH3-128 {} but {} records {}",
                      core::escape_name(line.path), e.digests.xxh128->hex(), core::kChecksumsEntry,
                      line.digest.hex()));
    }
  }

  void check_totals() {
    const auto& h = in_.header;
    std::uint64_t files = 0;
    std::uint64_t bytes = 0;
    std::string root = h.documents_root;
    for (const auto& e : in_.entries) {
      bool doc = e.type == core::EntryType::kFile && e.path.rfind(root, 0) == 0;
      if (doc) {
        ++files;
        bytes += e.bytes;
      }
    }
    if (in_.entries.size() != h.total_entries) {
      mismatch(
          "", fmt::format("{} entries, the archive holds {}", h.total_entries, in_.entries.size()));
    }
    if (files != h.document_files || bytes != h.document_bytes) {
      mismatch(root, fmt::format("{} documents of {} bytes, the archive holds {} of {} bytes",
                                 h.document_files, h.document_bytes, files, bytes));
    }
  }

  void check_database(const core::HeaderDatabase& promised) {
    auto it = by_path_.find(core::name_key(promised.entry));
    if (it == by_path_.end()) {
      add("MISSING_ENTRY", promised.entry,
          fmt::format("database {} named in the header is not in the backup", promised.entry));
      return;
    }
    if (it->second->data_read && !it->second->data_error && it->second->bytes != promised.bytes) {
      mismatch(promised.entry, fmt::format("{} of {} bytes, it holds {}", promised.entry,
                                           promised.bytes, it->second->bytes));
    }
    for (const auto& check : in_.databases) {
      if (check.result.entry == promised.entry) compare_rows(promised, check);
    }
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
                 fmt::format("{} rows in table {}, the database holds {}", t.rows,
                             core::escape_name(t.name),
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
        mismatch(promised.entry,
                 fmt::format("{} rows for tenant {} ({}), the database holds {}", t.rows,
                             core::escape_name(t.id), core::escape_name(t.label), got));
      }
    }
  }

  BackupCheckInput& in_;
  std::map<std::string, const EntryResult*, std::less<>> by_path_;
  std::vector<Finding> out_;
};

}  // namespace

std::vector<Finding> check_backup(BackupCheckInput& in) {
  return BackupChecker(in).run();
}

}  // namespace restorekit::verify::detail
