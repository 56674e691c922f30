#include <restorekit/core/backup.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include <restorekit/core/fs.hpp>
#include <restorekit/core/hash.hpp>
#include <restorekit/core/safe_path.hpp>

namespace restorekit::core {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kWorkPrefix = ".restorekit-backup-";

constexpr std::size_t kCopyChunk = std::size_t{1} << 20;

struct DocFile {
  std::string entry;  // "docs/..." archive path
  fs::path source;
  std::uint64_t size = 0;
  std::int64_t mtime = 0;
  std::uint32_t mode = 0644;
};

struct DocTree {
  std::vector<std::pair<std::string, std::int64_t>> directories;  // entry path, mtime
  std::vector<DocFile> files;
  std::vector<std::string> skipped;
  std::uint64_t bytes = 0;
};

std::int64_t mtime_of(const struct stat& st) {
  return static_cast<std::int64_t>(st.st_mtime);
}

Result<std::string> doc_entry_name(const fs::path& root, const fs::path& p) {
  std::string rel = fs::relative(p, root).generic_string();
  auto norm = normalize_entry_path(rel);
  if (!norm || *norm != rel || rel.find('\\') != std::string::npos) {
    return fail(ErrorCode::kInvalidArgument,
                fmt::format("document {} has a name that cannot be stored safely (control "
                            "characters, backslash, ':' or invalid UTF-8); rename it",
                            p.string()),
                p.string());
  }
  return "docs/" + rel;
}

Result<DocTree> scan_documents(const fs::path& root) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) {
    return fail(ErrorCode::kNotFound,
                fmt::format("documents folder {} does not exist or is not a folder", root.string()),
                root.string());
  }
  DocTree tree;
  fs::recursive_directory_iterator it(root, fs::directory_options::none, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0) continue;  // vanished while scanning
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
      tree.skipped.push_back(it->path().string());
      continue;
    }
    RK_TRY_ASSIGN(std::string entry, doc_entry_name(root, it->path()));
    if (S_ISDIR(st.st_mode)) {
      tree.directories.emplace_back(entry, mtime_of(st));
    } else {
      tree.files.push_back(DocFile{entry, it->path(), static_cast<std::uint64_t>(st.st_size),
                                   mtime_of(st), st.st_mode & 0777});
      tree.bytes += static_cast<std::uint64_t>(st.st_size);
    }
  }
  if (ec) {
    return fail(ErrorCode::kIo, fmt::format("cannot list {}: {}", root.string(), ec.message()),
                root.string());
  }
  std::sort(tree.directories.begin(), tree.directories.end());
  std::sort(tree.files.begin(), tree.files.end(),
            [](const DocFile& a, const DocFile& b) { return a.entry < b.entry; });
  return tree;
}

std::string host_name() {
  std::array<char, 256> buf{};
  if (::gethostname(buf.data(), buf.size() - 1) != 0) return "unknown";
  return buf.data();
}

std::string database_entry_name(const fs::path& db) {
  std::string stem = db.stem().string();
  auto norm = normalize_entry_path(stem);
  if (!norm || norm->find('/') != std::string::npos) stem = "database";
  return fmt::format("db/{}.sqlite", stem);
}

Result<HeaderDatabase> describe_snapshot(const fs::path& snapshot, std::string entry,
                                         const std::optional<TenantSpec>& tenants) {
  RK_TRY_ASSIGN(auto db, Database::open(snapshot, OpenMode::kReadOnly));
  RK_TRY_ASSIGN(auto summary, describe_database(db));
  HeaderDatabase out;
  out.entry = std::move(entry);
  out.bytes = fs::file_size(snapshot);
  out.user_version = summary.user_version;
  out.page_size = summary.page_size;
  for (const auto& t : summary.tables) {
    if (t.rows) out.tables.push_back(HeaderTable{t.name, *t.rows});
  }
  if (tenants) {
    RK_TRY_ASSIGN(out.tenants, count_tenants(db, summary, *tenants));
  }
  return out;
}

// Streams the archive's entries, hashing each file as it is written.
class BackupStream {
 public:
  BackupStream(ArchiveWriter& writer, const BackupOptions& options, std::uint64_t total)
      : writer_(writer), options_(options), throttle_(options.progress) {
    progress_.bytes_total = total;
  }

  Result<void> add_text(std::string_view entry, std::string_view text, std::int64_t mtime) {
    RK_TRY(writer_.begin_file(entry, text.size(), mtime));
    RK_TRY(writer_.write(std::as_bytes(std::span(text.data(), text.size()))));
    return writer_.end_file();
  }

  Result<void> add_file(std::string_view entry, const fs::path& source, std::uint64_t size,
                        std::int64_t mtime, std::uint32_t mode) {
    UniqueFd fd(::open(source.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) {
      return fail(ErrorCode::kIo,
                  fmt::format("cannot read {}: {}", source.string(), std::strerror(errno)),
                  source.string());
    }
    RK_TRY(writer_.begin_file(entry, size, mtime, mode));
    Hasher hasher;
    RK_TRY(copy(fd.get(), source.string(), hasher, entry));
    RK_TRY(writer_.end_file());
    checksums_ += checksum_line(entry, hasher.digest());
    return {};
  }

  Result<void> add_directory(std::string_view entry, std::int64_t mtime) {
    return writer_.add_directory(entry, mtime);
  }

  [[nodiscard]] const std::string& checksums() const { return checksums_; }
  void finish_progress() { throttle_.finish(progress_); }

 private:
  Result<void> copy(int fd, const std::string& name, Hasher& hasher, std::string_view entry) {
    buffer_.resize(kCopyChunk);
    for (;;) {
      if (options_.cancel.cancelled()) {
        return fail(ErrorCode::kCancelled, "backup cancelled; nothing was written");
      }
      ssize_t n = ::read(fd, buffer_.data(), buffer_.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        return fail(ErrorCode::kIo, fmt::format("cannot read {}: {}", name, std::strerror(errno)),
                    name);
      }
      if (n == 0) return {};
      auto block = std::span<const std::byte>(buffer_.data(), static_cast<std::size_t>(n));
      hasher.update(block);
      RK_TRY(writer_.write(block));
      progress_.bytes_done += block.size();
      progress_.current = entry;
      throttle_.update(progress_);
    }
  }

  ArchiveWriter& writer_;
  const BackupOptions& options_;
  ProgressThrottle throttle_;
  Progress progress_;
  std::vector<std::byte> buffer_;
  std::string checksums_;
};

Result<void> check_options(const BackupOptions& o) {
  std::error_code ec;
  if (o.database.empty() || o.output.empty()) {
    return fail(ErrorCode::kInvalidArgument, "a backup needs a database and an output path");
  }
  if (fs::is_directory(o.database, ec)) {
    return fail(ErrorCode::kInvalidArgument,
                fmt::format("{} is a folder; give --db the database file itself (such as {})",
                            o.database.string(), (o.database / "app.sqlite").string()),
                o.database.string());
  }
  if (!fs::is_regular_file(o.database, ec)) {
    return fail(ErrorCode::kNotFound,
                fmt::format("database {} does not exist; check the path", o.database.string()),
                o.database.string());
  }
  if (fs::exists(o.output, ec)) {
    return fail(
        ErrorCode::kInvalidArgument,
        fmt::format("{} already exists; choose another name or remove it first", o.output.string()),
        o.output.string());
  }
  return {};
}

// Writes the whole archive to `fd` (header first, checksums last).
Result<std::uint64_t> write_archive(int fd, const BackupOptions& o, ArchiveKind kind,
                                    const BackupHeader& header, const fs::path& snapshot,
                                    const DocTree& docs) {
  WriterOptions wo{kind, o.password, o.level, o.threads};
  RK_TRY_ASSIGN(auto writer, ArchiveWriter::open_fd(fd, o.output.string(), wo));
  auto now = std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  BackupStream stream(writer, o, header.total_bytes);
  RK_TRY(stream.add_text(kHeaderEntry, header_to_json(header), now));
  const auto& db = header.databases.front();
  RK_TRY(stream.add_file(db.entry, snapshot, db.bytes, now, 0600));
  if (o.documents) RK_TRY(stream.add_directory("docs", now));
  for (const auto& [dir, mtime] : docs.directories) RK_TRY(stream.add_directory(dir, mtime));
  for (const auto& f : docs.files)
    RK_TRY(stream.add_file(f.entry, f.source, f.size, f.mtime, f.mode));
  RK_TRY(stream.add_text(kChecksumsEntry, stream.checksums(), now));
  RK_TRY(writer.finish());
  stream.finish_progress();
  return writer.bytes_written();
}

}  // namespace

Result<BackupResult> write_backup(const BackupOptions& o) {
  RK_TRY(check_options(o));
  RK_TRY_ASSIGN(ArchiveKind kind, archive_kind_from_name(o.output));
  if (o.password && kind != ArchiveKind::kZip) {
    return fail(ErrorCode::kInvalidArgument,
                fmt::format("{}: only zip backups can be encrypted; name the output .zip",
                            o.output.string()),
                o.output.string());
  }
  fs::path out_dir = o.output.parent_path().empty() ? fs::path(".") : o.output.parent_path();
  // What killed backups left here goes first; a running backup's folder is locked.
  remove_stale_temp_dirs(out_dir, kWorkPrefix);
  RK_TRY_ASSIGN(auto work, TempDir::create_locked(out_dir, kWorkPrefix));
  fs::path snapshot = work.path() / "snapshot.sqlite";
  RK_TRY(snapshot_database(o.database, snapshot));

  DocTree docs;
  if (o.documents) {
    RK_TRY_ASSIGN(docs, scan_documents(*o.documents));
  }

  BackupHeader header;
  header.created_at = rfc3339_utc(std::chrono::duration_cast<std::chrono::seconds>(
                                      std::chrono::system_clock::now().time_since_epoch())
                                      .count());
  header.tool_version = o.tool_version;
  header.source_host = host_name();
  header.source_database = fs::absolute(o.database).lexically_normal().string();
  header.source_documents =
      o.documents ? fs::absolute(*o.documents).lexically_normal().string() : std::string();
  if (o.tenants) header.tenant_column = o.tenants->column;
  RK_TRY_ASSIGN(auto db, describe_snapshot(snapshot, database_entry_name(o.database), o.tenants));
  header.databases.push_back(std::move(db));
  header.document_files = docs.files.size();
  header.document_bytes = docs.bytes;
  header.total_bytes = header.databases.front().bytes + docs.bytes;
  header.total_entries = 3 + docs.files.size() + docs.directories.size() + (o.documents ? 1 : 0);

  fs::path partial = work.path() / "archive.partial";
  RK_TRY_ASSIGN(auto fd, create_new_file(partial));
  RK_TRY_ASSIGN(auto archive_bytes, write_archive(fd.get(), o, kind, header, snapshot, docs));
  RK_TRY(sync_fd(fd.get(), partial.string()));
  ::fchmod(fd.get(), 0644);
  // link() refuses to replace an existing file, unlike rename(): a backup never clobbers one
  // that appeared while it was being written.
  if (::link(partial.c_str(), o.output.c_str()) != 0) {
    return fail(ErrorCode::kIo,
                fmt::format("cannot create {}: {}", o.output.string(), std::strerror(errno)),
                o.output.string());
  }
  RK_TRY(sync_directory(out_dir));
  return BackupResult{o.output, std::move(header), archive_bytes, std::move(docs.skipped)};
}

}  // namespace restorekit::core
