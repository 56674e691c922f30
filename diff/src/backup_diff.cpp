// diff_backup: one pass over the archive stages its database and hashes its documents, then the
// database and the documents are compared with live.
#include <fnmatch.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <map>

#include <fmt/format.h>

#include <restorekit/core/archive_reader.hpp>
#include <restorekit/core/backup_format.hpp>
#include <restorekit/core/fs.hpp>
#include <restorekit/core/hash.hpp>
#include <restorekit/core/names.hpp>
#include <restorekit/core/safe_path.hpp>
#include <restorekit/diff/diff.hpp>

namespace restorekit::diff {

namespace {

namespace fs = std::filesystem;

// The archive pass: the database entry is staged, every other file hashed.
class ArchivePass {
 public:
  // With `documents` false the pass ends as soon as the database is staged.
  ArchivePass(const fs::path& archive, const BackupDiffOptions& o, const fs::path& stage,
              bool documents)
      : archive_(archive), o_(o), stage_(stage), documents_(documents) {}

  Result<void> run() {
    RK_TRY_ASSIGN(auto reader, core::ArchiveReader::open(archive_, o_.reader));
    for (;;) {
      if (o_.diff.cancel.cancelled()) return fail(ErrorCode::kCancelled, "diff cancelled");
      RK_TRY_ASSIGN(const core::Entry* e, reader.next());
      if (!e) break;
      if (e->type != core::EntryType::kFile || !e->safe()) continue;
      RK_TRY(visit(reader, *e));
      if (!documents_ && !database_.empty()) break;
    }
    bytes_read_ = reader.raw_bytes_read();
    if (database_.empty()) {
      return fail(ErrorCode::kNotFound,
                  fmt::format("{} holds no database to compare (no SQLite entry{})",
                              core::escape_name(archive_.string()),
                              o_.database_entry ? " matching " + *o_.database_entry : ""),
                  archive_.string());
    }
    return {};
  }

  [[nodiscard]] const std::string& database() const { return database_; }
  [[nodiscard]] const std::vector<core::EntryRecord>& files() const { return files_; }
  [[nodiscard]] std::uint64_t bytes_read() const { return bytes_read_; }

 private:
  bool wanted_database(const std::string& path) const {
    if (!database_.empty()) return false;
    if (o_.database_entry) return ::fnmatch(o_.database_entry->c_str(), path.c_str(), 0) == 0;
    if (header_database_) return path == *header_database_;
    return true;  // decided by content
  }

  Result<void> visit(core::ArchiveReader& reader, const core::Entry& e) {
    core::Hasher h;
    std::optional<core::UniqueFd> staged;
    bool candidate = wanted_database(e.path);
    bool first = true;
    std::uint64_t bytes = 0;
    std::string text;  // the header, if this is it
    for (;;) {
      RK_TRY_ASSIGN(auto block, reader.read_block());
      if (block.empty()) break;
      if (first && candidate && core::has_sqlite_magic(block)) {
        RK_TRY_ASSIGN(auto fd, core::create_new_file(stage_));
        staged.emplace(std::move(fd));
      }
      first = false;
      bytes += block.size();
      if (staged) {
        RK_TRY(core::write_all(staged->get(), block.data(), block.size(), stage_.string()));
      } else {
        h.update(block);
      }
      if (e.path == core::kHeaderEntry && text.size() < core::kMaxHeaderBytes) {
        text.append(reinterpret_cast<const char*>(block.data()), block.size());
      }
    }
    if (staged) {
      database_ = e.path;
    } else {
      files_.push_back(
          core::EntryRecord{e.path, e.type, bytes, e.mtime, e.encrypted, true, h.digest()});
    }
    if (e.path == core::kHeaderEntry) {
      if (auto header = core::parse_header(text); header && !header->databases.empty()) {
        header_database_ = header->databases.front().entry;
      }
    }
    return {};
  }

  const fs::path& archive_;
  const BackupDiffOptions& o_;
  fs::path stage_;
  bool documents_ = true;
  std::uint64_t bytes_read_ = 0;
  std::string database_;
  std::optional<std::string> header_database_;
  std::vector<core::EntryRecord> files_;
};

}  // namespace

std::string documents_root(const std::optional<std::string>& given,
                           const std::vector<core::EntryRecord>& files) {
  if (given) {
    std::string root = *given;
    if (!root.empty() && root.back() != '/') root += '/';
    return root;
  }
  bool docs = std::any_of(files.begin(), files.end(),
                          [](const auto& f) { return f.path.rfind("docs/", 0) == 0; });
  return docs ? "docs/" : "";
}

Result<DocumentDiff> diff_documents(const std::vector<core::EntryRecord>& files,
                                    const std::string& root, const fs::path& live,
                                    std::size_t samples) {
  DocumentDiff out;
  out.root = root;
  std::map<std::string, std::pair<std::string, fs::path>> live_files;  // by name_key
  std::error_code ec;
  if (!fs::is_directory(live, ec)) {
    return fail(ErrorCode::kNotFound,
                fmt::format("live documents folder {} does not exist", live.string()),
                live.string());
  }
  auto sample = [&](std::vector<std::string>& v, const std::string& path) {
    if (v.size() < samples) v.push_back(path);
  };
  for (fs::recursive_directory_iterator it(live, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file(ec) && !it->is_symlink(ec)) {
      auto rel = fs::relative(it->path(), live).generic_string();
      auto [at, added] = live_files.try_emplace(core::name_key(rel), rel, it->path());
      if (!added) {
        out.live_duplicates.emplace_back(at->second.first, rel);
        ++out.lost;  // the spelling left over is not in the backup under either name
        std::error_code size_ec;
        out.lost_bytes += fs::file_size(it->path(), size_ec);
        sample(out.lost_samples, rel);
      }
    }
  }
  for (const auto& file : files) {
    const std::string& entry = file.path;
    if (file.type != core::EntryType::kFile || !file.hash || !file.safe) continue;
    if (entry.rfind(root, 0) != 0 || entry.rfind("restorekit/", 0) == 0) continue;
    std::string rel = entry.substr(root.size());
    auto it = live_files.find(core::name_key(rel));
    if (it == live_files.end()) {
      ++out.revived;
      sample(out.revived_samples, rel);
      continue;
    }
    const fs::path& live_file = it->second.second;
    bool same = fs::file_size(live_file, ec) == file.size.value_or(0);
    if (same) {
      RK_TRY_ASSIGN(auto digest, core::hash_file(live_file));
      same = digest == *file.hash;
    }
    if (same) {
      ++out.unchanged;
    } else {
      ++out.changed;
      sample(out.changed_samples, rel);
    }
    live_files.erase(it);
  }
  for (const auto& [key, live_file] : live_files) {
    ++out.lost;
    out.lost_bytes += fs::file_size(live_file.second, ec);
    sample(out.lost_samples, live_file.first);
  }
  return out;
}

Result<DiffReport> diff_backup(const fs::path& backup, const fs::path& live,
                               const BackupDiffOptions& o) {
  DiffReport report;
  if (!fs::exists(backup)) {
    return fail(ErrorCode::kNotFound,
                fmt::format("{} does not exist; check the path", backup.string()), backup.string());
  }
  if (core::has_sqlite_magic(backup)) {
    if (o.live_documents && o.without_documents == BackupDiffOptions::WithoutDocuments::kError) {
      return fail(ErrorCode::kInvalidArgument,
                  fmt::format("{} is a bare database file and holds no documents to compare with "
                              "{}; give the backup archive, or leave out the live documents",
                              backup.string(), o.live_documents->string()),
                  backup.string());
    }
    RK_TRY_ASSIGN(report.database, diff_databases(backup, live, o.diff));
    return report;
  }
  // What the index already knows: the staged database, and every document's hash.
  std::string key = core::index_key(backup);
  std::optional<core::Fingerprint> fingerprint;
  std::optional<core::StagedCopy> cached;
  std::vector<core::EntryRecord> known;
  if (o.index) {
    if (auto fp = core::fingerprint_file(backup)) fingerprint = *fp;
  }
  if (fingerprint) {
    cached = o.index->staged_database(key, *fingerprint).value_or(std::nullopt);
    auto summary = o.index->find(key, *fingerprint);
    auto entries = summary && *summary && (*summary)->listed
                       ? o.index->entries(key)
                       : Result<std::vector<core::EntryRecord>>{};
    bool hashed = entries && !entries->empty() &&
                  std::all_of(entries->begin(), entries->end(), [](const auto& e) {
                    return e.type != core::EntryType::kFile || !e.safe || e.hash.has_value();
                  });
    if (hashed) known = std::move(*entries);
  }
  bool need_documents = o.live_documents.has_value() && known.empty();
  std::optional<core::TempDir> temp;
  fs::path database;
  std::vector<core::EntryRecord> files;
  if (cached && !need_documents) {
    database = cached->file;
    report.backup_database = cached->entry;
  } else {
    RK_TRY_ASSIGN(temp, core::TempDir::create(o.temp_dir, "restorekit-diff-"));
    ArchivePass pass(backup, o, temp->path() / "database.sqlite", need_documents);
    RK_TRY(pass.run());
    report.backup_database = pass.database();
    report.archive_bytes_read = pass.bytes_read();
    database = temp->path() / "database.sqlite";
    if (fingerprint) {
      RK_TRY_ASSIGN(database,
                    o.index->keep_staged_database(key, *fingerprint, pass.database(), database));
    }
    files = pass.files();
  }
  if (!known.empty()) {
    // The index's listing holds the database entries too: they are not documents.
    std::erase_if(known, [&](const auto& e) { return e.path == report.backup_database; });
    files = std::move(known);
  }
  RK_TRY_ASSIGN(report.database, diff_databases(database, live, o.diff));
  if (o.live_documents) {
    RK_TRY_ASSIGN(report.documents, diff_documents(files, documents_root(o.documents_root, files),
                                                   *o.live_documents, o.diff.sample_rows));
  }
  return report;
}

}  // namespace restorekit::diff
