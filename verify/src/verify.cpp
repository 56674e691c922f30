#include <restorekit/verify/verify.hpp>

#include <algorithm>
#include <chrono>
#include <future>
#include <map>

#include <fmt/format.h>

#include <restorekit/core/backup_format.hpp>
#include <restorekit/core/fs.hpp>
#include <restorekit/core/names.hpp>
#include <restorekit/core/safe_path.hpp>
#include <restorekit/core/zip_directory.hpp>

#include "backup_checks.hpp"
#include "database_checks.hpp"
#include "entry_findings.hpp"
#include "entry_pass.hpp"
#include "name_checks.hpp"
#include "reader_passes.hpp"
#include "staged_checks.hpp"
#include "summary.hpp"

namespace restorekit::verify {

namespace fs = std::filesystem;
using core::Finding;
using core::Severity;
using detail::EntryResult;
using detail::PassOutcome;

bool VerifyReport::intact() const {
  return count(Severity::kError) == 0;
}

core::Verdict VerifyReport::verdict() const {
  bool locked = std::any_of(findings.begin(), findings.end(), [](const Finding& f) {
    return f.code == "PASSWORD_REQUIRED" || f.code == "BAD_PASSWORD";
  });
  if (locked) return core::Verdict::kLocked;
  return intact() ? core::Verdict::kIntact : core::Verdict::kDamaged;
}

std::size_t VerifyReport::count(Severity severity) const {
  std::uint64_t n = 0;
  for (const auto& f : findings) n += f.severity == severity ? f.count : 0;
  return static_cast<std::size_t>(n);
}

namespace {

// Seconds since `t`, which moves to now.
double lap(std::chrono::steady_clock::time_point& t) {
  auto now = std::chrono::steady_clock::now();
  double s = std::chrono::duration<double>(now - t).count();
  t = now;
  return s;
}

class Verifier {
 public:
  Verifier(const core::ArchiveSource& archive, const VerifyOptions& o) : archive_(archive), o_(o) {}

  Result<VerifyReport> run() {
    auto started = std::chrono::steady_clock::now();
    RK_TRY(load_checksum_list());
    RK_TRY_ASSIGN(store_, core::EntryStore::create());
    RK_TRY_ASSIGN(auto staging, core::TempDir::create(o_.temp_dir, "restorekit-verify-"));
    report_.staging = std::make_shared<const core::TempDir>(std::move(staging));
    auto t = std::chrono::steady_clock::now();
    RK_TRY(pass());
    if (directory_.valid()) {
      RK_TRY_ASSIGN(auto d, directory_.get());
      for (auto& f : d.findings) pass_.add(std::move(f));
      truncated_zip_ = !d.end_record;
    }
    report_.timings.pass = lap(t);
    report_.complete = complete_;
    // Our checksum list is parsed on another core while the entry list is finished and checked.
    find_header();
    index_checksums();
    RK_TRY(store_->seal());
    report_.entries = store_->size();
    report_.listing = store_;
    bool locked = detail::classify_encrypted(entries_, decrypted_, o_.reader.passwords.any(), pass_,
                                             left_out_);
    append(pass_.findings());
    RK_TRY_ASSIGN(auto entry_findings, detail::entry_findings(entries_, *store_, pass_, left_out_));
    append(std::move(entry_findings));
    if (truncated_zip_) RK_TRY(summarise_truncation());
    report_.timings.entries = lap(t);
    // A locked backup says nothing about what it could not read: no header, checksum, database
    // or reference findings derived from unread data.
    if (locked) {
      staged_checks_.join();
    } else {
      RK_TRY(check_contents());
    }
    RK_TRY(summarise());
    report_.timings.contents = lap(t);
    // Checks cut short by the token report damage that is not there: a cancelled run is no
    // verdict.
    if (o_.cancel.cancelled()) return fail(ErrorCode::kCancelled, "verify cancelled");
    std::stable_sort(report_.findings.begin(), report_.findings.end(),
                     [](const Finding& a, const Finding& b) { return a.severity < b.severity; });
    report_.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return std::move(report_);
  }

 private:
  Result<void> load_checksum_list() {
    if (!o_.checksums_file) return {};
    RK_TRY_ASSIGN(caller_list_, core::ChecksumIndex::callers_list(*o_.checksums_file, o_.cancel));
    return {};
  }

  // The pass over the archive (reader_passes.hpp): a staged database's checks start as soon as
  // its entry was read.
  Result<void> pass() {
    report_.path = archive_.name();
    detail::PassesInput in{archive_,
                           o_,
                           *store_,
                           caller_list_ ? &*caller_list_ : nullptr,
                           report_.staging->path(),
                           [this](const EntryResult& e) { staged_checks_.read(e); }};
    RK_TRY_ASSIGN(auto out, detail::read_archive(in, pass_));
    entries_ = std::move(out.notable);
    left_out_ = std::move(out.left_out);
    report_.bytes = out.bytes;
    decrypted_ = out.decrypted;
    report_.archive_bytes = out.archive_bytes;
    if (out.readers > 0) report_.threads = out.readers;
    complete_ = out.complete;
    report_.archive = std::move(out.archive);
    directory_ = std::move(out.directory);
    return {};
  }

  void add(std::string code, Severity severity, std::string entry, std::string message) {
    report_.findings.push_back(
        Finding{std::move(code), severity, std::move(entry), std::move(message)});
  }

  // A zip without its end record was cut short: the decompression errors of the entries it cut
  // are one TRUNCATED finding naming where reading stopped, not one CORRUPT_DATA per reader.
  Result<void> summarise_truncation() {
    RK_TRY_ASSIGN(
        auto t, detail::zip_truncation(*store_, entries_, archive_.name(), report_.archive_bytes));
    if (!t) return {};
    std::erase_if(report_.findings, [](const Finding& f) { return f.code == "CORRUPT_DATA"; });
    report_.findings.push_back(std::move(*t));
    return {};
  }

  void append(std::vector<Finding> findings) {
    for (auto& f : findings) report_.findings.push_back(std::move(f));
  }

  // Our backups put their header first.
  void find_header() {
    if (entries_.empty() || entries_.front().index != 0) return;
    const EntryResult& first = entries_.front();
    if (first.path != core::kHeaderEntry) return;
    header_entry_ = &first;
    // Parsed once, by the pass's metadata collector; a header whose read failed is parsed from
    // what was read, so that BAD_HEADER says what is wrong with it.
    if (!header_) header_ = first.header ? *first.header : core::parse_header(first.text);
  }

  // Our backup's checksum list (spooled to a file by the pass) is parsed and put in name order
  // on disk on another core while the entries are checked.
  void index_checksums() {
    const EntryResult* list = checksums_entry();
    if (!ours() || !list || list->data_error || !list->list_file) return;
    checksum_index_ = std::async(std::launch::async, [file = *list->list_file, cancel = o_.cancel] {
      return core::ChecksumIndex::build(file, core::kChecksumsEntry,
                                        core::ChecksumIndex::Accept::kXxh128Only, cancel);
    });
  }

  const EntryResult* checksums_entry() const {
    for (const auto& e : entries_) {
      if (e.path == core::kChecksumsEntry) return &e;
    }
    return nullptr;
  }

  bool ours() const { return header_entry_ && header_ && header_->has_value(); }

  Result<void> check_contents() {
    report_.kind = ours() ? core::BackupKind::kRestorekit : core::BackupKind::kForeign;
    auto databases = check_databases();
    RK_TRY_ASSIGN(totals_, detail::total_entries(*store_, databases,
                                                 ours() ? (*header_)->documents_root : ""));
    if (ours()) {
      std::optional<core::EntryStore::KeyedWalk> walk;
      std::optional<core::ChecksumIndex> index;
      if (checksum_index_.valid()) {
        // The entries' sort for the merge runs while the list may still be parsing.
        RK_TRY_ASSIGN(walk, store_->start_by_key());
        RK_TRY_ASSIGN(auto built, checksum_index_.get());
        index.emplace(std::move(built));
        if (index->bad()) walk.reset();  // not merged: the statement ends here
      }
      detail::BackupCheckInput in{**header_,
                                  *store_,
                                  databases,
                                  *totals_,
                                  complete_,
                                  checksums_entry(),
                                  index ? &*index : nullptr,
                                  walk ? &*walk : nullptr,
                                  store_->size() == 0 ? 0 : store_->size() - 1};
      RK_TRY_ASSIGN(auto found, detail::check_backup(in));
      append(std::move(found));
      report_.checksums_checked = in.checked;
    } else if (header_entry_) {
      add("BAD_HEADER", Severity::kError, std::string(core::kHeaderEntry),
          header_->error().message);
    }
    if (caller_list_ && caller_list_->size() > 0) {
      RK_TRY_ASSIGN(auto found,
                    detail::check_callers_list(*caller_list_, o_.checksums_file->string(), *store_,
                                               report_.checksums_checked));
      append(std::move(found));
    }
    check_references();
    checked_ = std::move(databases);
    return {};
  }

  Result<void> summarise() {
    // Totalled with the databases' checks, or (a locked backup, which has none) here.
    if (!totals_) {
      RK_TRY_ASSIGN(totals_, detail::total_entries(*store_, checked_, ""));
    }
    std::optional<core::BackupHeader> header;
    if (ours()) header = **header_;
    report_.summary = detail::summarise(
        {report_, header, header_entry_ ? header_entry_->text : std::string(), checked_, *totals_});
    return {};
  }

  std::vector<detail::DatabaseCheck> check_databases() {
    std::vector<detail::DatabaseCheck> out;
    std::optional<std::string> tenant_column;
    if (o_.profile) tenant_column = o_.profile->tenant_column;
    if (ours() && (*header_)->tenant_column) tenant_column = (*header_)->tenant_column;
    if (store_->size() == 0 && complete_) {
      add("EMPTY_ARCHIVE", Severity::kError, "",
          fmt::format("{} holds no entries: nothing can be restored from it", archive_.name()));
      return out;
    }
    for (auto& check : staged_checks_.collect(entries_, tenant_column)) {
      append(check.findings);
      report_.databases.push_back(check.result);
      out.push_back(std::move(check));
    }
    not_databases();
    if (out.empty() && complete_) no_database();
    return out;
  }

  // Entries named like databases that are none restorekit reads.
  void not_databases() {
    for (const auto& e : entries_) {
      if (e.not_a_database) report_.findings.push_back(*e.not_a_database);
    }
  }

  // No database at all: a warning for a documents-only archive, an error where one is expected
  // (--require-database, the profile's database.entry, a restorekit header listing one).
  void no_database() {
    std::optional<std::string> expected;
    if (o_.require_database) expected = "--require-database was given";
    if (o_.profile && o_.profile->database_entry) {
      expected = fmt::format("the profile expects \"{}\"", *o_.profile->database_entry);
    }
    if (ours() && !(*header_)->databases.empty()) {
      expected = fmt::format("its header lists \"{}\"", (*header_)->databases.front().entry);
    }
    std::string what = fmt::format("{} holds no readable database (no SQLite file, no SQLite dump)",
                                   archive_.name());
    if (expected) {
      add("NO_DATABASE", Severity::kError, "",
          fmt::format("{}, but {}: nothing of the application's data could be restored", what,
                      *expected));
    } else {
      add("NO_DATABASE", Severity::kWarning, "",
          fmt::format("{}; only documents could be restored from it", what));
    }
  }

  void check_references() {
    if (!o_.profile || o_.profile->references.empty()) return;
    std::string root = o_.profile->documents_root.value_or(
        report_.kind == core::BackupKind::kRestorekit ? "docs/" : "");
    for (const auto& e : entries_) {
      if (!e.staged || e.staged->format == core::DatabaseFormat::kSqlDump) continue;
      for (auto& f : detail::check_document_references(
               e.staged->file, e.path, o_.profile->references, root, *store_, o_.cancel)) {
        report_.findings.push_back(std::move(f));
      }
    }
  }

  const core::ArchiveSource& archive_;
  std::future<Result<core::ZipDirectoryReport>> directory_;  // zip: the central directory
  const VerifyOptions& o_;
  std::optional<core::ChecksumIndex> caller_list_;  // --checksums, in name-key order
  std::shared_ptr<core::EntryStore> store_;         // every entry, on disk
  std::vector<detail::DatabaseCheck> checked_;      // the databases' checks, for the summary
  std::optional<detail::EntryTotals> totals_;       // total_entries() with those databases
  std::vector<EntryResult> entries_;                // the notable ones, in index order
  detail::LeftOut left_out_;                        // damaged entries past those listed one by one
  std::future<Result<core::ChecksumIndex>> checksum_index_;  // index_checksums()
  std::uint64_t decrypted_ = 0;                              // encrypted entries read cleanly
  const EntryResult* header_entry_ = nullptr;         // restorekit/header.json as the first entry
  std::optional<Result<core::BackupHeader>> header_;  // parsed once
  detail::PassFindings pass_;  // the stops, stream notes and zip directory findings
  detail::StagedChecks staged_checks_{o_, detail::thread_count(o_)};
  bool complete_ = true;
  bool truncated_zip_ = false;  // a zip without its end of central directory record
  VerifyReport report_;
};

}  // namespace

Result<VerifyReport> verify(const core::ArchiveSource& archive, const VerifyOptions& options) {
  return Verifier(archive, options).run();
}

}  // namespace restorekit::verify
