#include <restorekit/verify/verify.hpp>

#include <algorithm>
#include <chrono>
#include <future>
#include <map>
#include <mutex>
#include <thread>

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
  return static_cast<std::size_t>(std::count_if(
      findings.begin(), findings.end(), [&](const Finding& f) { return f.severity == severity; }));
}

namespace {

// Seconds since `t`, which moves to now.
double lap(std::chrono::steady_clock::time_point& t) {
  auto now = std::chrono::steady_clock::now();
  double s = std::chrono::duration<double>(now - t).count();
  t = now;
  return s;
}

// A zip whose entries average fewer bytes of the file than this is read by one reader: every
// reader parses every header, so a second one costs ~4 us an entry and gains on the data alone.
// Measured on 2 cores (Info-ZIP zips of base64 text, 20,000 entries): 403 bytes an entry, one
// reader 9% faster; 627, even; 853, two readers 5% faster; 1,227 and more, two ever faster.
constexpr std::uint64_t kSmallZipEntry = 640;

unsigned thread_count(const VerifyOptions& o) {
  unsigned hw = std::max(1u, std::thread::hardware_concurrency());
  return std::clamp(o.threads == 0 ? hw : o.threads, 1u, 64u);
}

class Verifier {
 public:
  Verifier(const core::ArchiveSource& archive, const VerifyOptions& o)
      : archive_(archive), o_(o), throttle_(o.progress) {}

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
    RK_TRY(store_->seal());
    report_.entries = store_->size();
    report_.listing = store_;
    find_header();
    index_checksums();
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
    const auto& file = *o_.checksums_file;
    RK_TRY_ASSIGN(auto index,
                  core::ChecksumIndex::build(
                      file, file.string(), core::ChecksumIndex::Accept::kAnyAlgorithm, o_.cancel));
    if (index.bad()) return tl::unexpected(*index.bad());
    caller_list_.emplace(std::move(index));
    return {};
  }

  // Opens the first reader, then (zip only) more readers on more threads; merges outcomes.
  Result<void> pass() {
    report_.path = archive_.name();
    core::ReaderOptions reader_options = o_.reader;
    reader_options.prefetch = core::Prefetch::kYes;  // hashing hides behind decompression
    auto opened = core::ArchiveReader::open(archive_, reader_options);
    if (!opened) {
      // A small damaged stream fails while the reader starts: damage, unless operational.
      complete_ = false;
      if (archive_.path()) report_.archive_bytes = fs::file_size(*archive_.path(), ec_);
      return pass_.damage(opened.error(), "");
    }
    std::optional<core::ArchiveReader> reader(std::move(*opened));
    report_.archive_bytes = reader->raw_size().value_or(0);
    // Zip entries are independent: each reader seeks straight to its own entries, and the
    // central directory is checked against the local headers beside the pass.
    unsigned workers = reader->starts_like_zip() ? zip_readers(*reader) : 1;
    if (reader->starts_like_zip()) {
      directory_ =
          std::async(std::launch::async, [this] { return core::check_zip_directory(archive_); });
    }
    report_.threads = workers;
    std::vector<Result<PassOutcome>> outcomes(workers, fail(ErrorCode::kInternal, "not run"));
    std::vector<std::thread> threads;
    std::mutex progress_mutex;
    auto on_progress = [&] {
      std::lock_guard lock(progress_mutex);
      progress_.bytes_done = raw_bytes_.load(std::memory_order_relaxed);
      progress_.bytes_total = report_.archive_bytes;
      throttle_.update(progress_);
    };
    std::vector<detail::PassPlan> plans(workers);
    auto on_entry = [this](const EntryResult& e) { staged_checks_.read(e); };
    for (unsigned w = 0; w < workers; ++w) {
      plans[w] = detail::PassPlan{store_.get(),
                                  w,
                                  workers,
                                  caller_list_ ? &*caller_list_ : nullptr,
                                  report_.staging->path(),
                                  &o_.visitors,
                                  o_.cancel,
                                  &raw_bytes_,
                                  on_progress,
                                  on_entry};
    }
    for (unsigned w = 1; w < workers; ++w) {
      threads.emplace_back([&, w] {
        auto r = core::ArchiveReader::open(archive_, o_.reader);
        outcomes[w] = r ? detail::run_pass(*r, plans[w]) : tl::unexpected(r.error());
      });
    }
    outcomes[0] = detail::run_pass(*reader, plans[0]);
    report_.archive = reader->info();
    for (const auto& n : reader->stream_notes()) pass_.add(n);
    for (auto& t : threads) t.join();
    return merge(outcomes);
  }

  // Up to --threads readers for a zip, but one where its entries are small: every reader parses
  // every header (reading only its own entries' data), so a second reader pays off only where
  // the data, not the headers, is the work.
  unsigned zip_readers(core::ArchiveReader& reader) {
    unsigned most = thread_count(o_);
    if (most == 1) return 1;
    auto listed = reader.zip_listed_entries();
    if (!listed || !*listed || **listed == 0) return most;
    std::uint64_t per_entry = reader.raw_size().value_or(0) / **listed;
    return per_entry < kSmallZipEntry ? 1 : most;
  }

  Result<void> merge(std::vector<Result<PassOutcome>>& outcomes) {
    for (auto& o : outcomes) {
      if (!o) return tl::unexpected(o.error());
    }
    for (auto& o : outcomes) {
      for (auto& r : o->notable) entries_.push_back(std::move(r));
      report_.bytes += o->bytes;
      decrypted_ += o->decrypted;
    }
    std::sort(entries_.begin(), entries_.end(),
              [](const EntryResult& a, const EntryResult& b) { return a.index < b.index; });
    // Each reader kept its own first damaged entries: the first of all of them stay.
    for (auto& o : outcomes) detail::merge_left_out(o->left_out, left_out_);
    detail::limit_damaged(entries_, left_out_);
    for (auto& o : outcomes) {
      complete_ = complete_ && !o->pass.stopped;
      RK_TRY(stopped(o->pass));
      if (o->pass.drain_error) RK_TRY(pass_.damage(*o->pass.drain_error, ""));
    }
    return {};
  }

  // A fatal error that ended a pass: the archive is damaged (or could not be verified).
  Result<void> stopped(const core::PassOutcome& o) {
    if (!o.stopped) return {};
    Error e = *o.stopped;
    if (e.code == ErrorCode::kTruncated) {
      e.message = fmt::format(
          "{}; the last intact entry is \"{}\", reading stopped at byte {} of "
          "{}",
          e.message, o.last_good_entry, o.raw_offset, report_.archive_bytes);
    }
    RK_TRY(pass_.damage(e, o.last_good_entry));
    pass_.reported(o.stopped->message);  // the failed entry reports the same damage
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
      std::optional<core::ChecksumIndex> index;
      if (checksum_index_.valid()) {
        RK_TRY_ASSIGN(auto built, checksum_index_.get());
        index.emplace(std::move(built));
      }
      detail::BackupCheckInput in{**header_,
                                  *store_,
                                  databases,
                                  *totals_,
                                  complete_,
                                  checksums_entry(),
                                  index ? &*index : nullptr,
                                  store_->size() == 0 ? 0 : store_->size() - 1};
      RK_TRY_ASSIGN(auto found, detail::check_backup(in));
      append(std::move(found));
      report_.checksums_checked = in.checked;
    } else if (header_entry_) {
      add("BAD_HEADER", Severity::kError, std::string(core::kHeaderEntry),
          header_->error().message);
    }
    if (caller_list_) RK_TRY(check_list());
    check_references(databases);
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

  // The caller's list merged against the entries in name-key order; findings in line order.
  Result<void> check_list() {
    const std::string list = o_.checksums_file->string();
    std::vector<std::pair<std::uint64_t, Finding>> found;
    RK_TRY(caller_list_->merge(
        *store_,
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
          ++report_.checksums_checked;
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
    for (auto& [line, f] : found) report_.findings.push_back(std::move(f));
    return {};
  }

  void check_references(const std::vector<detail::DatabaseCheck>&) {
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
  ProgressThrottle throttle_;
  Progress progress_;
  std::atomic<std::uint64_t> raw_bytes_{0};
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
  detail::StagedChecks staged_checks_{o_, thread_count(o_)};
  bool complete_ = true;
  bool truncated_zip_ = false;  // a zip without its end of central directory record
  std::error_code ec_;
  VerifyReport report_;
};

}  // namespace

Result<VerifyReport> verify(const core::ArchiveSource& archive, const VerifyOptions& options) {
  return Verifier(archive, options).run();
}

}  // namespace restorekit::verify
