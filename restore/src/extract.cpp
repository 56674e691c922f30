#include <restorekit/restore/extract.hpp>

#include <fcntl.h>
#include <fnmatch.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <string_view>

#include <fmt/format.h>

#include <restorekit/core/archive_pass.hpp>
#include <restorekit/core/backup_format.hpp>
#include <restorekit/core/checksum_index.hpp>
#include <restorekit/core/entry_visitors.hpp>
#include <restorekit/core/fs.hpp>
#include <restorekit/core/names.hpp>
#include <restorekit/core/sql_dump.hpp>
#include <restorekit/core/sqlite.hpp>

#include "extract_place.hpp"
#include "extract_table.hpp"
#include "references.hpp"

namespace restorekit::restore {

namespace fs = std::filesystem;
using core::Entry;
using core::EntryEnd;
using core::EntryType;
using core::Finding;
using core::Interest;
using core::Severity;

bool ExtractReport::failed() const {
  return std::any_of(findings.begin(), findings.end(),
                     [](const Finding& f) { return f.severity == Severity::kError; });
}

namespace {

// The database a document choice (--tenant, --row) reads: handed a staged database, it returns
// the name keys of the chosen documents, or nullptr when this is not the database to read.
using ReadChoice = std::function<Result<bool>(const core::StagedDatabase&)>;

class Extractor final : public core::EntryVisitor {
 public:
  Extractor(const ExtractOptions& o, detail::ExtractTable& table, core::FindingCap& findings,
            fs::path temp)
      : o_(o), table_(table), findings_(findings), temp_(std::move(temp)) {
    for (const auto& p : o.patterns) patterns_.emplace_back(p);
    matched_.resize(patterns_.size());
  }

  // The visitors of the pass this extractor runs in, attached before it (`metadata` only in
  // the first pass).
  void attach_to(const core::HashVisitor& hash, core::MetadataVisitor* metadata,
                 const core::DatabaseStager* databases, ReadChoice read_choice) {
    hash_ = &hash;
    metadata_ = metadata;
    databases_ = databases;
    read_choice_ = std::move(read_choice);
  }
  // A second pass takes only the chosen documents that came before the database.
  void second_pass() { second_pass_ = true; }
  [[nodiscard]] bool needs_second_pass() const {
    return deferred_ && choice_read_ && !second_pass_;
  }
  [[nodiscard]] bool choice_read() const { return choice_read_; }

  Result<Interest> begin(const Entry& e) override {
    writing_ = false;
    maybe_deferred_ = false;
    if (e.path == core::kChecksumsEntry || core::is_metadata_entry(e.path)) return Interest::kSkip;
    RK_TRY_ASSIGN(bool wanted, selected(e));
    if (!wanted) return Interest::kSkip;
    if (!e.safe()) {
      note(code_name(e.problem->code), Severity::kError, e,
           fmt::format("\"{}\" is not extracted: {}", e.raw_path, e.problem->message));
      return Interest::kSkip;
    }
    if (e.type != EntryType::kFile && e.type != EntryType::kDirectory) {
      note("NOT_EXTRACTED", Severity::kInfo, e,
           fmt::format("\"{}\" is a link: extract writes only files and folders", e.path));
      return Interest::kSkip;
    }
    bool folder = e.type == EntryType::kDirectory;
    if (!folder) {
      RK_TRY_ASSIGN(bool first, table_.take(e.path));
      if (!first) {
        note("DUPLICATE_ENTRY", Severity::kError, e,
             fmt::format("\"{}\" is in the backup more than once (under the name rule); only the "
                         "first is extracted",
                         e.path));
        return Interest::kSkip;
      }
    }
    RK_TRY_ASSIGN(row_, table_.add(e.path, folder, e.size.value_or(0), e.index));
    if (folder || o_.mode == ExtractMode::kListOnly) return Interest::kSkip;
    RK_TRY(refuse_existing(e));
    // The entry's permission bits (no set-id or sticky bits), less the umask.
    unsigned mode = e.mode & 0777u ? e.mode & 0777u : 0644u;
    temp_file_ = detail::temp_file(temp_, e.index);
    RK_TRY_ASSIGN(fd_, core::create_new_file(temp_file_, mode));
    writing_ = true;
    return Interest::kData;
  }

  Result<Interest> block(std::span<const std::byte> data) override {
    RK_TRY(core::write_all(fd_.get(), data.data(), data.size(), temp_file_.string()));
    return Interest::kData;
  }

  Result<void> end(const Entry& e, const EntryEnd& how) override {
    if (metadata_ && e.path == core::kChecksumsEntry) {
      if (auto file = metadata_->take_list_file()) own_list_ = std::move(*file);
    }
    bool database = databases_ && databases_->staged();
    if (maybe_deferred_ && !database) deferred_ = true;  // a document the choice may want
    if (database && !choice_read_ && read_choice_) {
      RK_TRY_ASSIGN(choice_read_, read_choice_(*databases_->staged()));
    }
    if (!writing_) return {};
    writing_ = false;
    struct timespec times[2] = {{0, UTIME_OMIT}, {e.mtime, 0}};
    ::futimens(fd_.get(), times);  // best effort: files keep their dates
    fd_ = core::UniqueFd();
    if (how.failure) {
      note(code_name(how.failure->code), Severity::kError, e,
           fmt::format("\"{}\" is not extracted: {}", e.path, how.failure->message));
      return table_.read(row_, how.bytes, std::nullopt, std::nullopt);
    }
    return table_.read(row_, how.bytes, hash_->digest(), hash_->extra_hex());
  }

  // Patterns that matched no entry.
  [[nodiscard]] std::vector<std::string> unmatched() const {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < patterns_.size(); ++i) {
      if (!matched_[i]) out.push_back(patterns_[i].text());
    }
    return out;
  }
  // Our backup's checksum list, spooled by the first pass.
  [[nodiscard]] const std::optional<fs::path>& own_list() const { return own_list_; }

 private:
  Result<bool> selected(const Entry& e) {
    const std::string& name = e.safe() ? e.path : e.raw_path;
    if (second_pass_) {
      RK_TRY_ASSIGN(bool chosen, table_.pick(name));
      if (!chosen) return false;
      RK_TRY_ASSIGN(bool taken, table_.taken(name));
      return !taken;
    }
    if (patterns_.empty() && !o_.documents.any()) return true;
    bool any = false;
    for (std::size_t i = 0; i < patterns_.size(); ++i) {
      if (patterns_[i].matches(name)) any = matched_[i] = true;
    }
    if (!o_.documents.any()) return any;
    if (!choice_read_) {
      maybe_deferred_ = e.type == EntryType::kFile;  // unless it is the database
      return any;
    }
    RK_TRY_ASSIGN(bool chosen, table_.pick(name));
    return chosen || any;
  }

  Result<void> refuse_existing(const Entry& e) const {
    if (o_.overwrite == Overwrite::kReplace) return {};
    std::error_code ec;
    fs::path target = o_.out / e.path;
    if (!fs::exists(fs::symlink_status(target, ec))) return {};
    return fail(ErrorCode::kConflict,
                fmt::format("{} exists; nothing was extracted (give --overwrite to replace it, or "
                            "extract into another folder)",
                            target.string()),
                target.string());
  }

  void note(std::string_view code, Severity severity, const Entry& e, std::string message) {
    findings_.add(Finding{std::string(code), severity, e.path.empty() ? e.raw_path : e.path,
                          std::move(message)});
  }

  const ExtractOptions& o_;
  detail::ExtractTable& table_;
  const core::HashVisitor* hash_ = nullptr;
  core::MetadataVisitor* metadata_ = nullptr;
  const core::DatabaseStager* databases_ = nullptr;
  ReadChoice read_choice_;
  bool choice_read_ = false;     // the choice's documents are in the table
  bool maybe_deferred_ = false;  // the current entry may be a chosen document (choice unread)
  bool deferred_ = false;        // such an entry went by
  bool second_pass_ = false;
  core::FindingCap& findings_;
  fs::path temp_;
  std::vector<core::NamePattern> patterns_;
  std::vector<bool> matched_;
  std::int64_t row_ = 0;  // the current entry's row in the table
  fs::path temp_file_;    // ... and the file its data goes to
  core::UniqueFd fd_;
  bool writing_ = false;
  std::optional<fs::path> own_list_;
};

class Extraction {
 public:
  Extraction(const fs::path& archive, const ExtractOptions& o) : archive_(archive), o_(o) {}

  Result<ExtractReport> run() {
    auto start = std::chrono::steady_clock::now();
    report_.archive = archive_.string();
    report_.out = o_.out;
    if (o_.documents.any() && !o_.profile) {
      return fail(ErrorCode::kInvalidArgument,
                  "choosing documents by tenant or row needs a profile (--profile) whose "
                  "[documents] references name the columns that hold document names");
    }
    RK_TRY(load_caller_list());
    struct RemoveIfEmpty {  // a folder this run made and then put nothing in
      fs::path made;
      ~RemoveIfEmpty() {
        std::error_code ec;
        if (!made.empty() && fs::is_empty(made, ec)) fs::remove(made, ec);
      }
    } made;
    std::optional<core::TempDir> temp;  // goes before `made` looks
    if (o_.mode == ExtractMode::kWrite) {
      RK_TRY_ASSIGN(bool created, make_out());
      if (created) made.made = o_.out;
      RK_TRY_ASSIGN(temp, core::TempDir::create(o_.out, ".restorekit-extract-"));
    }
    RK_TRY_ASSIGN(scratch_, core::TempDir::create({}, "restorekit-extract-"));
    RK_TRY_ASSIGN(table_, detail::ExtractTable::create());
    report_.listing = table_;
    Extractor extractor(o_, *table_, findings_, temp ? temp->path() : fs::path());
    RK_TRY_ASSIGN(auto reader, core::ArchiveReader::open(archive_, o_.reader));
    RK_TRY(read_all(reader, extractor));
    CheckedBy fallback = archive_checks(reader) ? CheckedBy::kArchive : CheckedBy::kNothing;
    RK_TRY_ASSIGN(
        auto totals,
        detail::check_and_place({o_, *table_, caller_ ? &*caller_ : nullptr, extractor.own_list(),
                                 fallback, temp ? temp->path() : fs::path(), findings_}));
    report_.files = totals.files;
    report_.bytes = totals.bytes;
    report_.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    findings_.finish();
    return std::move(report_);
  }

 private:
  // Reads the archive into the table (twice where the documents come before the database that
  // chooses them) and judges what was asked for against what it holds.
  Result<void> read_all(core::ArchiveReader& reader, Extractor& extractor) {
    RK_TRY(read(reader, extractor));
    if (o_.documents.any() && !extractor.choice_read()) {
      return fail(ErrorCode::kNotFound,
                  fmt::format("{} holds no database{} to choose documents from; nothing was "
                              "extracted",
                              archive_.string(),
                              o_.profile->database_entry
                                  ? fmt::format(" matching \"{}\"", *o_.profile->database_entry)
                                  : ""),
                  archive_.string());
    }
    if (extractor.needs_second_pass()) {  // documents came before the database
      extractor.second_pass();
      RK_TRY_ASSIGN(auto again, core::ArchiveReader::open(archive_, o_.reader));
      RK_TRY(read(again, extractor));
    }
    RK_TRY_ASSIGN(auto chosen_missing, table_->missing());
    if (auto n = chosen_missing; n > 0) {
      report_.findings.push_back(
          Finding{"DOC_MISSING", Severity::kWarning, "",
                  fmt::format("{} document{} that the chosen rows name {} not in the backup", n,
                              n == 1 ? "" : "s", n == 1 ? "is" : "are")});
    }
    if (auto missing = extractor.unmatched(); !missing.empty()) {
      return fail(ErrorCode::kInvalidArgument,
                  fmt::format("nothing in {} matches {}; nothing was extracted (`restorekit "
                              "inspect --entries` lists the entries)",
                              archive_.string(), fmt::join(missing, ", ")),
                  archive_.string());
    }
    return {};
  }

  Result<void> load_caller_list() {
    if (!o_.checksums_file) return {};
    RK_TRY_ASSIGN(caller_, core::ChecksumIndex::callers_list(*o_.checksums_file, o_.cancel));
    return {};
  }

  // @return whether the target folder was created.
  Result<bool> make_out() {
    std::error_code ec;
    auto st = fs::symlink_status(o_.out, ec);
    if (st.type() == fs::file_type::directory) return false;
    if (st.type() != fs::file_type::not_found) {
      return fail(ErrorCode::kInvalidArgument,
                  fmt::format("{} is not a folder; give a folder to extract into", o_.out.string()),
                  o_.out.string());
    }
    if (!fs::create_directories(o_.out, ec) && ec) {
      return fail(ErrorCode::kIo,
                  fmt::format("cannot create folder {}: {}", o_.out.string(), ec.message()),
                  o_.out.string());
    }
    return true;
  }

  // One pass over `reader` feeding `extractor`; the first one also stages the database a
  // document choice reads.
  Result<void> read(core::ArchiveReader& reader, Extractor& extractor) {
    bool first = !read_once_;
    read_once_ = true;
    core::PassOptions po;
    po.cancel = o_.cancel;
    po.drain = true;
    ProgressThrottle throttle(o_.progress);
    Progress progress;
    po.progress = [&](std::uint64_t) {
      progress.bytes_done = reader.raw_bytes_read();
      progress.bytes_total = reader.raw_size().value_or(0);
      throttle.update(progress);
    };
    core::HashVisitor hash(caller_ ? core::HashVisitor::ExtraFn([this](std::string_view p) {
      return caller_->other_algorithm(p);
    })
                                   : core::HashVisitor::ExtraFn());
    // The first pass keeps our backup's checksum list, spooled to a file; a second one takes
    // only documents.
    core::MetadataVisitor metadata(scratch_->path());
    std::optional<core::DatabaseStager> databases;
    core::ArchivePass pass(po);
    if (first) pass.attach(metadata);
    if (first && o_.documents.any()) {
      databases.emplace(scratch_->path(), [](const Entry& e) {
        return !core::is_metadata_entry(e.path) && e.path != core::kChecksumsEntry;
      });
      pass.attach(*databases);
    }
    pass.attach(hash);
    pass.attach(extractor);
    extractor.attach_to(hash, first ? &metadata : nullptr, databases ? &*databases : nullptr,
                        [&](const core::StagedDatabase& db) { return read_choice(db, metadata); });
    RK_TRY_ASSIGN(auto outcome, pass.run(reader));
    for (const auto& e : {outcome.stopped, outcome.drain_error}) {
      if (!e) continue;
      report_.findings.push_back(
          Finding{std::string(code_name(e->code)), Severity::kError, "",
                  fmt::format("{}; entries after the damage are not extracted", e->message)});
    }
    if (!first) return {};
    for (auto& n : reader.stream_notes()) {
      if (n.code == "ZSTD_NO_CHECKSUM" || n.code == "XZ_NO_CHECK") stream_unchecked_ = true;
      report_.findings.push_back(std::move(n));
    }
    return {};
  }

  // Reads the document choice from a staged database: the profile's database (its entry glob),
  // else the first one. @return nullptr for a database that is not the one.
  Result<bool> read_choice(const core::StagedDatabase& staged,
                           const core::MetadataVisitor& metadata) {
    const auto& glob = o_.profile->database_entry;
    if (glob && ::fnmatch(glob->c_str(), staged.entry.c_str(), 0) != 0) return false;
    fs::path file = staged.file;
    if (staged.format == core::DatabaseFormat::kSqlDump) {
      file = staged.file.string() + ".sqlite";
      RK_TRY(core::load_sql_dump(staged.file, file, staged.entry));
    }
    RK_TRY_ASSIGN(auto db, core::Database::open_untrusted(file));
    db.stop_when(o_.cancel);
    bool ours = metadata.header() && metadata.header()->has_value();
    std::string root = o_.profile->documents_root.value_or(ours ? "docs/" : "");
    detail::ReferenceOptions options;
    options.sink = [this](const std::string& key) { return table_->choose(key); };
    RK_TRY_ASSIGN(auto refs,
                  detail::referenced_documents(db, *o_.profile, o_.documents, root, options));
    for (auto& n : refs.notes) report_.findings.push_back(std::move(n));
    return true;
  }

  // Whether the archive's own checks cover every byte of an entry's data.
  [[nodiscard]] bool archive_checks(const core::ArchiveReader& reader) const {
    const auto& info = reader.info();
    if (info.format == "zip" || info.format == "7z") return true;
    return !info.filters.empty() && !stream_unchecked_;
  }

  const fs::path& archive_;
  const ExtractOptions& o_;
  ExtractReport report_;
  core::FindingCap findings_{report_.findings};  // the findings of the entries
  std::optional<core::TempDir> scratch_;         // our checksum list and a staged database
  std::shared_ptr<detail::ExtractTable> table_;
  std::optional<core::ChecksumIndex> caller_;  // --checksums, in name-key order
  bool stream_unchecked_ = false;
  bool read_once_ = false;
};

}  // namespace

Result<ExtractReport> extract(const fs::path& archive, const ExtractOptions& options) {
  RK_TRY(core::require_utf8_locale());
  return Extraction(archive, options).run();
}

}  // namespace restorekit::restore
