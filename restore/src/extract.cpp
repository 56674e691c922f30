#include <restorekit/restore/extract.hpp>

#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>  // renameat2, RENAME_NOREPLACE
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <map>
#include <set>
#include <string_view>

#include <fmt/format.h>

#include <restorekit/core/archive_pass.hpp>
#include <restorekit/core/backup_format.hpp>
#include <restorekit/core/checksum_list.hpp>
#include <restorekit/core/entry_visitors.hpp>
#include <restorekit/core/fs.hpp>
#include <restorekit/core/names.hpp>
#include <restorekit/core/sql_dump.hpp>
#include <restorekit/core/sqlite.hpp>

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

// Expected hashes by name_key(path): the backup's own list, then the caller's (which wins).
class Expectations {
 public:
  void add(const std::vector<core::ExpectedHash>& list) {
    for (const auto& e : list) by_key_[core::name_key(e.path)] = e;
  }
  [[nodiscard]] const core::ExpectedHash* find(std::string_view path) const {
    auto it = by_key_.find(core::name_key(path));
    return it == by_key_.end() ? nullptr : &it->second;
  }
  [[nodiscard]] std::optional<core::HashAlgorithm> extra(std::string_view path) const {
    const auto* e = find(path);
    if (!e || e->algorithm == core::HashAlgorithm::kXxh128) return std::nullopt;
    return e->algorithm;
  }

 private:
  std::map<std::string, core::ExpectedHash, std::less<>> by_key_;
};

// A file written to the private folder during the pass, waiting for its check.
struct Pending {
  std::size_t entry = 0;  // in the report
  fs::path temp;
  std::optional<std::string> extra_hex;  // the caller's list's other algorithm
  bool read_cleanly = false;
};

// Creates the folders of `relative` below `root`, refusing any that exists as something else
// than a real folder (a symbolic link is never followed).
Result<void> make_folders(const fs::path& root, const fs::path& relative) {
  fs::path at = root;
  for (const auto& part : relative) {
    at /= part;
    std::error_code ec;
    auto st = fs::symlink_status(at, ec);
    if (st.type() == fs::file_type::directory) continue;
    if (st.type() != fs::file_type::not_found) {
      return fail(ErrorCode::kUnsafePath,
                  fmt::format("{} is in the way: it is {} where a folder is needed; move it or "
                              "extract into another folder",
                              at.string(),
                              st.type() == fs::file_type::symlink ? "a symbolic link" : "a file"),
                  at.string());
    }
    if (!fs::create_directory(at, ec) && ec) {
      return fail(ErrorCode::kIo,
                  fmt::format("cannot create folder {}: {}", at.string(), ec.message()),
                  at.string());
    }
  }
  return {};
}

// The database a document choice (--tenant, --row) reads: handed a staged database, it returns
// the name keys of the chosen documents, or nullptr when this is not the database to read.
using ReadChoice = std::function<Result<const std::set<std::string>*>(const core::StagedDatabase&)>;

class Extractor final : public core::EntryVisitor {
 public:
  Extractor(const ExtractOptions& o, ExtractReport& report, fs::path temp)
      : o_(o), report_(report), temp_(std::move(temp)) {
    for (const auto& p : o.patterns) patterns_.emplace_back(p);
    matched_.resize(patterns_.size());
  }

  // The visitors of the pass this extractor runs in, attached before it.
  void attach_to(const core::HashVisitor& hash, const core::MetadataVisitor& metadata,
                 const core::DatabaseStager* databases, ReadChoice read_choice) {
    hash_ = &hash;
    metadata_ = &metadata;
    databases_ = databases;
    read_choice_ = std::move(read_choice);
  }
  // A second pass takes only the chosen documents that came before the database.
  void second_pass() { second_pass_ = true; }
  [[nodiscard]] bool needs_second_pass() const { return deferred_ && chosen_ && !second_pass_; }
  [[nodiscard]] bool choice_read() const { return chosen_ != nullptr; }
  // Chosen documents that no entry holds.
  [[nodiscard]] std::size_t chosen_missing() const {
    return chosen_ ? chosen_->size() - found_.size() : 0;
  }

  Result<Interest> begin(const Entry& e) override {
    writing_ = false;
    maybe_deferred_ = false;
    if (e.path == core::kChecksumsEntry || core::is_metadata_entry(e.path)) return Interest::kSkip;
    if (!selected(e)) return Interest::kSkip;
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
    report_.entries.push_back(ExtractedEntry{e.path, e.type == EntryType::kDirectory,
                                             e.size.value_or(0), std::nullopt, CheckedBy::kNothing,
                                             false});
    if (e.type == EntryType::kDirectory) return Interest::kSkip;
    if (!names_.insert(core::name_key(e.path)).second) {
      report_.entries.pop_back();
      note("DUPLICATE_ENTRY", Severity::kError, e,
           fmt::format("\"{}\" is in the backup more than once (under the name rule); only the "
                       "first is extracted",
                       e.path));
      return Interest::kSkip;
    }
    if (o_.mode == ExtractMode::kListOnly) return Interest::kSkip;
    RK_TRY(refuse_existing(e));
    Pending p{report_.entries.size() - 1, temp_ / fmt::format("{}", e.index), std::nullopt, false};
    // The entry's permission bits (no set-id or sticky bits), less the umask.
    unsigned mode = e.mode & 0777u ? e.mode & 0777u : 0644u;
    RK_TRY_ASSIGN(fd_, core::create_new_file(p.temp, mode));
    pending_.push_back(std::move(p));
    writing_ = true;
    return Interest::kData;
  }

  Result<Interest> block(std::span<const std::byte> data) override {
    RK_TRY(core::write_all(fd_.get(), data.data(), data.size(), pending_.back().temp.string()));
    return Interest::kData;
  }

  Result<void> end(const Entry& e, const EntryEnd& how) override {
    if (e.path == core::kChecksumsEntry && !metadata_->text().empty()) {
      own_list_ = metadata_->text();
    }
    bool database = databases_ && databases_->staged();
    if (maybe_deferred_ && !database) deferred_ = true;  // a document the choice may want
    if (database && !chosen_ && read_choice_) {
      RK_TRY_ASSIGN(chosen_, read_choice_(*databases_->staged()));
    }
    if (!writing_) return {};
    writing_ = false;
    struct timespec times[2] = {{0, UTIME_OMIT}, {e.mtime, 0}};
    ::futimens(fd_.get(), times);  // best effort: files keep their dates
    fd_ = core::UniqueFd();
    Pending& p = pending_.back();
    auto& x = report_.entries[p.entry];
    x.bytes = how.bytes;
    if (how.failure) {
      note(code_name(how.failure->code), Severity::kError, e,
           fmt::format("\"{}\" is not extracted: {}", e.path, how.failure->message));
      return {};
    }
    p.read_cleanly = true;
    x.xxh128 = hash_->digest();
    p.extra_hex = hash_->extra_hex();
    return {};
  }

  // Patterns that matched no entry.
  [[nodiscard]] std::vector<std::string> unmatched() const {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < patterns_.size(); ++i) {
      if (!matched_[i]) out.push_back(patterns_[i].text());
    }
    return out;
  }
  [[nodiscard]] const std::string& own_list() const { return own_list_; }
  [[nodiscard]] std::vector<Pending>& pending() { return pending_; }

 private:
  bool selected(const Entry& e) {
    const std::string& name = e.safe() ? e.path : e.raw_path;
    if (second_pass_) return chosen(name) && !names_.count(core::name_key(name));
    if (patterns_.empty() && !o_.documents.any()) return true;
    bool any = false;
    for (std::size_t i = 0; i < patterns_.size(); ++i) {
      if (patterns_[i].matches(name)) any = matched_[i] = true;
    }
    if (!o_.documents.any()) return any;
    if (!chosen_) {
      maybe_deferred_ = e.type == EntryType::kFile;  // unless it is the database
      return any;
    }
    return chosen(name) || any;
  }

  bool chosen(const std::string& name) {
    if (!chosen_) return false;
    std::string key = core::name_key(name);
    if (!chosen_->count(key)) return false;
    found_.insert(std::move(key));
    return true;
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
    report_.findings.push_back(Finding{std::string(code), severity,
                                       e.path.empty() ? e.raw_path : e.path, std::move(message)});
  }

  const ExtractOptions& o_;
  const core::HashVisitor* hash_ = nullptr;
  const core::MetadataVisitor* metadata_ = nullptr;
  const core::DatabaseStager* databases_ = nullptr;
  ReadChoice read_choice_;
  const std::set<std::string>* chosen_ = nullptr;  // name keys; set once the database was read
  std::set<std::string> found_;                    // ... of those, the ones an entry holds
  bool maybe_deferred_ = false;  // the current entry may be a chosen document (choice unread)
  bool deferred_ = false;        // such an entry went by
  bool second_pass_ = false;
  ExtractReport& report_;
  fs::path temp_;
  std::vector<core::NamePattern> patterns_;
  std::vector<bool> matched_;
  std::vector<Pending> pending_;
  std::set<std::string, std::less<>> names_;  // name_key of every file taken
  core::UniqueFd fd_;
  bool writing_ = false;
  std::string own_list_;
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
    Extractor extractor(o_, report_, temp ? temp->path() : fs::path());
    RK_TRY_ASSIGN(auto reader, core::ArchiveReader::open(archive_, o_.reader));
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
    if (auto n = extractor.chosen_missing(); n > 0) {
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
    RK_TRY(check_and_place(reader, extractor));
    report_.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return std::move(report_);
  }

 private:
  Result<void> load_caller_list() {
    if (!o_.checksums_file) return {};
    RK_TRY_ASSIGN(auto text, core::read_small_file(*o_.checksums_file, std::uint64_t{1} << 30));
    RK_TRY_ASSIGN(auto list, core::parse_checksum_list(text, o_.checksums_file->string()));
    caller_.add(list);
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
    core::HashVisitor hash([this](std::string_view p) { return caller_.extra(p); });
    core::MetadataVisitor metadata;
    std::optional<core::TempDir> staging;
    std::optional<core::DatabaseStager> databases;
    core::ArchivePass pass(po);
    pass.attach(metadata);
    if (first && o_.documents.any()) {
      RK_TRY_ASSIGN(staging, core::TempDir::create({}, "restorekit-extract-"));
      databases.emplace(staging->path(), [](const Entry& e) {
        return !core::is_metadata_entry(e.path) && e.path != core::kChecksumsEntry;
      });
      pass.attach(*databases);
    }
    pass.attach(hash);
    pass.attach(extractor);
    extractor.attach_to(hash, metadata, databases ? &*databases : nullptr,
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
  Result<const std::set<std::string>*> read_choice(const core::StagedDatabase& staged,
                                                   const core::MetadataVisitor& metadata) {
    const auto& glob = o_.profile->database_entry;
    if (glob && ::fnmatch(glob->c_str(), staged.entry.c_str(), 0) != 0) return nullptr;
    fs::path file = staged.file;
    if (staged.format == core::DatabaseFormat::kSqlDump) {
      file = staged.file.string() + ".sqlite";
      RK_TRY(core::load_sql_dump(staged.file, file, staged.entry));
    }
    RK_TRY_ASSIGN(auto db, core::Database::open_untrusted(file));
    db.stop_when(o_.cancel);
    bool ours = metadata.header() && metadata.header()->has_value();
    std::string root = o_.profile->documents_root.value_or(ours ? "docs/" : "");
    RK_TRY_ASSIGN(auto refs, detail::referenced_documents(db, *o_.profile, o_.documents, root));
    for (auto& n : refs.notes) report_.findings.push_back(std::move(n));
    chosen_ = std::move(refs.keys);
    return &chosen_;
  }

  // Whether the archive's own checks cover every byte of an entry's data.
  [[nodiscard]] bool archive_checks(const core::ArchiveReader& reader) const {
    const auto& info = reader.info();
    if (info.format == "zip" || info.format == "7z") return true;
    return !info.filters.empty() && !stream_unchecked_;
  }

  Result<void> check_and_place(const core::ArchiveReader& reader, Extractor& extractor) {
    Expectations own;
    if (!extractor.own_list().empty()) {
      auto list =
          core::parse_checksum_list(extractor.own_list(), std::string(core::kChecksumsEntry));
      if (list) own.add(*list);
    }
    CheckedBy fallback = archive_checks(reader) ? CheckedBy::kArchive : CheckedBy::kNothing;
    for (auto& x : report_.entries) {
      if (o_.mode == ExtractMode::kListOnly) x.checked = checked_by(own, x.path, fallback);
    }
    for (auto& p : extractor.pending()) {
      auto& x = report_.entries[p.entry];
      if (!p.read_cleanly) continue;
      x.checked = checked_by(own, x.path, fallback);
      if (!matches(own, x, p)) continue;
      RK_TRY(place(p.temp, x.path));
      x.placed = true;
    }
    for (auto& x : report_.entries) {
      if (x.folder && o_.mode == ExtractMode::kWrite) {
        RK_TRY(make_folders(o_.out, fs::path(x.path)));
        x.placed = true;
      }
      bool counted = o_.mode == ExtractMode::kListOnly ? !x.folder : x.placed && !x.folder;
      if (!counted) continue;
      ++report_.files;
      report_.bytes += x.bytes;
    }
    if (o_.mode == ExtractMode::kWrite) RK_TRY(core::sync_directory(o_.out));
    return {};
  }

  CheckedBy checked_by(const Expectations& own, std::string_view path, CheckedBy fallback) const {
    return caller_.find(path) || own.find(path) ? CheckedBy::kChecksumList : fallback;
  }

  // Compares a file with the caller's line for it, else the backup's own.
  bool matches(const Expectations& own, const ExtractedEntry& x, const Pending& p) {
    const core::ExpectedHash* want = caller_.find(x.path);
    std::string source = want ? o_.checksums_file->string() : std::string(core::kChecksumsEntry);
    if (!want) want = own.find(x.path);
    if (!want) return true;
    std::string actual = want->algorithm != core::HashAlgorithm::kXxh128 ? p.extra_hex.value_or("")
                         : x.xxh128                                      ? x.xxh128->hex()
                                                                         : std::string();
    if (actual == want->hex) return true;
    report_.findings.push_back(Finding{
        "CHECKSUM_MISMATCH", Severity::kError, x.path,
        fmt::format("\"{}\" is not extracted: its {} is {} but {} line {} expects {}", x.path,
                    core::algorithm_name(want->algorithm), actual, source, want->line, want->hex)});
    return false;
  }

  // Renames the checked file into place: never over an existing file unless asked to, and
  // never through a symbolic link.
  Result<void> place(const fs::path& temp, const std::string& path) {
    fs::path relative(path);
    RK_TRY(make_folders(o_.out, relative.parent_path()));
    fs::path target = o_.out / relative;
    unsigned flags = o_.overwrite == Overwrite::kReplace ? 0 : RENAME_NOREPLACE;
    if (::renameat2(AT_FDCWD, temp.c_str(), AT_FDCWD, target.c_str(), flags) == 0) return {};
    int err = errno;
    if (err == EEXIST) {
      return fail(ErrorCode::kConflict,
                  fmt::format("{} appeared while extracting; it was left as it is (give "
                              "--overwrite to replace it)",
                              target.string()),
                  target.string());
    }
    return fail(ErrorCode::kIo,
                fmt::format("cannot put {} in place: {}", target.string(), std::strerror(err)),
                target.string());
  }

  const fs::path& archive_;
  const ExtractOptions& o_;
  ExtractReport report_;
  Expectations caller_;
  bool stream_unchecked_ = false;
  bool read_once_ = false;
  std::set<std::string> chosen_;  // name keys of the documents the choice names
};

}  // namespace

Result<ExtractReport> extract(const fs::path& archive, const ExtractOptions& options) {
  RK_TRY(core::require_utf8_locale());
  return Extraction(archive, options).run();
}

}  // namespace restorekit::restore
