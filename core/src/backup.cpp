#include <restorekit/core/backup.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include <fmt/format.h>

#include <restorekit/core/fs.hpp>
#include <restorekit/core/hash.hpp>
#include <restorekit/core/names.hpp>
#include <restorekit/core/safe_path.hpp>
#include <restorekit/core/sqlite.hpp>

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

// The documents folder as listed once: the header states its counts before the files are
// written, and they are written as listed. The listing is kept in a SQLite file in the backup's
// work folder, not in memory (300,000 documents held as paths took 210 MiB), and read back
// folders first, each kind in name order.
class DocTree {
 public:
  static Result<DocTree> open(const fs::path& file) {
    RK_TRY_ASSIGN(auto db, Database::open(file, OpenMode::kCreate));
    RK_TRY(db.use_as_scratch(4));
    RK_TRY(db.exec(R"sql(
CREATE TABLE docs(folder INTEGER NOT NULL, entry TEXT NOT NULL, source TEXT NOT NULL,
                  size INTEGER NOT NULL, mtime INTEGER NOT NULL, mode INTEGER NOT NULL);
BEGIN;
)sql"));
    RK_TRY_ASSIGN(auto insert, db.prepare("INSERT INTO docs VALUES(?1, ?2, ?3, ?4, ?5, ?6)"));
    return DocTree(std::move(db), std::move(insert));
  }

  Result<void> add(bool folder, const DocFile& f) {
    insert_->bind(1, std::int64_t{folder});
    insert_->bind(2, std::string_view(f.entry));
    insert_->bind(3, std::string_view(f.source.native()));
    insert_->bind(4, static_cast<std::int64_t>(f.size));
    insert_->bind(5, f.mtime);
    insert_->bind(6, static_cast<std::int64_t>(f.mode));
    RK_TRY(insert_->run());
    if (!names_not_nfc && key_of_its_own(f.entry)) names_not_nfc = true;
    if (folder) {
      ++directories;
    } else {
      ++files;
      bytes += f.size;
    }
    return {};
  }

  Result<void> seal() {
    insert_.reset();
    return db_->exec("COMMIT");
  }

  // Every folder, then every file, each in name order (byte order, as std::string compares).
  Result<void> for_each(const std::function<Result<void>(bool folder, const DocFile&)>& fn) {
    RK_TRY_ASSIGN(auto st, db_->prepare("SELECT folder, entry, source, size, mtime, mode FROM "
                                        "docs ORDER BY folder DESC, entry"));
    DocFile f;
    return st.for_each([&]() -> Result<void> {
      f.entry.assign(st.column_text(1));
      f.source = std::string(st.column_text(2));
      f.size = static_cast<std::uint64_t>(st.column_int(3));
      f.mtime = st.column_int(4);
      f.mode = static_cast<std::uint32_t>(st.column_int(5));
      return fn(st.column_int(0) != 0, f);
    });
  }

  std::uint64_t directories = 0;
  std::uint64_t files = 0;
  std::uint64_t bytes = 0;
  bool names_not_nfc = false;  // the tar keeps them raw (WriterOptions::raw_names)
  std::vector<std::string> skipped;

 private:
  DocTree(Database db, Statement insert)
      : db_(std::make_unique<Database>(std::move(db))), insert_(std::move(insert)) {}
  std::unique_ptr<Database> db_;  // the statements hold its connection: it does not move
  std::optional<Statement> insert_;
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

// Lists the documents folder into `tree`.
Result<void> scan_documents(const fs::path& root, DocTree& tree) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) {
    return fail(ErrorCode::kNotFound,
                fmt::format("documents folder {} does not exist or is not a folder", root.string()),
                root.string());
  }
  fs::recursive_directory_iterator it(root, fs::directory_options::none, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0) continue;  // vanished while scanning
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
      tree.skipped.push_back(it->path().string());
      continue;
    }
    RK_TRY_ASSIGN(std::string entry, doc_entry_name(root, it->path()));
    bool folder = S_ISDIR(st.st_mode);
    RK_TRY(tree.add(folder, DocFile{std::move(entry), it->path(),
                                    folder ? 0 : static_cast<std::uint64_t>(st.st_size),
                                    mtime_of(st), st.st_mode & 0777}));
  }
  if (ec) {
    return fail(ErrorCode::kIo, fmt::format("cannot list {}: {}", root.string(), ec.message()),
                root.string());
  }
  return tree.seal();
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
  std::error_code ec;
  out.bytes = fs::file_size(snapshot, ec);
  if (ec) {
    return fail(ErrorCode::kIo,
                fmt::format("cannot read the size of {}: {}", snapshot.string(), ec.message()),
                snapshot.string());
  }
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
  // The checksum lines go to `list` (a new file), not to memory: a line per document.
  BackupStream(ArchiveWriter& writer, const BackupOptions& options, std::uint64_t total,
               fs::path list)
      : writer_(writer), options_(options), throttle_(options.progress), list_(std::move(list)) {
    progress_.bytes_total = total;
  }

  Result<void> add_text(std::string_view entry, std::string_view text, std::int64_t mtime) {
    RK_TRY(writer_.begin_file(entry, text.size(), mtime));
    RK_TRY(writer_.write(std::as_bytes(std::span(text.data(), text.size()))));
    return writer_.end_file();
  }

  Result<void> add_file(std::string_view entry, const fs::path& source, std::uint64_t size,
                        std::int64_t mtime, std::uint32_t mode) {
    RK_TRY_ASSIGN(auto digest, add_data(entry, source, size, mtime, mode));
    if (!list_fd_) {
      RK_TRY_ASSIGN(list_fd_, create_new_file(list_));
    }
    std::string line = checksum_line(entry, digest);
    list_bytes_ += line.size();
    return write_all(list_fd_.get(), line.data(), line.size(), list_.string());
  }

  // The checksum list of every file added, as the last entry.
  Result<void> add_list(std::string_view entry, std::int64_t mtime) {
    if (!list_fd_) {
      RK_TRY_ASSIGN(list_fd_, create_new_file(list_));
    }
    list_fd_ = UniqueFd();
    return add_data(entry, list_, list_bytes_, mtime, 0644).map([](const Digest128&) {});
  }

  Result<void> add_directory(std::string_view entry, std::int64_t mtime) {
    return writer_.add_directory(entry, mtime);
  }

  void finish_progress() { throttle_.finish(progress_); }

 private:
  // Writes the entry from `source`. @return its XXH3-128.
  Result<Digest128> add_data(std::string_view entry, const fs::path& source, std::uint64_t size,
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
    return hasher.digest();
  }

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
  fs::path list_;
  UniqueFd list_fd_;
  std::uint64_t list_bytes_ = 0;
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
                                    DocTree* docs, const fs::path& list) {
  const auto& db = header.databases.front();
  bool not_nfc = (docs && docs->names_not_nfc) || key_of_its_own(db.entry).has_value();
  WriterOptions wo{kind, o.password, o.level, o.threads, not_nfc};
  RK_TRY_ASSIGN(auto writer, ArchiveWriter::open_fd(fd, o.output.string(), wo));
  auto now = std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  BackupStream stream(writer, o, header.total_bytes, list);
  RK_TRY(stream.add_text(kHeaderEntry, header_to_json(header), now));
  RK_TRY(stream.add_file(db.entry, snapshot, db.bytes, now, 0600));
  if (docs) {
    RK_TRY(stream.add_directory("docs", now));
    RK_TRY(docs->for_each([&](bool folder, const DocFile& f) {
      return folder ? stream.add_directory(f.entry, f.mtime)
                    : stream.add_file(f.entry, f.source, f.size, f.mtime, f.mode);
    }));
  }
  RK_TRY(stream.add_list(kChecksumsEntry, now));
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

  std::optional<DocTree> docs;
  if (o.documents) {
    RK_TRY_ASSIGN(docs, DocTree::open(work.path() / "documents.sqlite"));
    RK_TRY(scan_documents(*o.documents, *docs));
  }
  std::uint64_t files = docs ? docs->files : 0;
  std::uint64_t bytes = docs ? docs->bytes : 0;
  std::uint64_t folders = docs ? docs->directories : 0;

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
  header.document_files = files;
  header.document_bytes = bytes;
  header.total_bytes = header.databases.front().bytes + bytes;
  header.total_entries = 3 + files + folders + (o.documents ? 1 : 0);

  fs::path partial = work.path() / "archive.partial";
  RK_TRY_ASSIGN(auto fd, create_new_file(partial));
  RK_TRY_ASSIGN(auto archive_bytes,
                write_archive(fd.get(), o, kind, header, snapshot, docs ? &*docs : nullptr,
                              work.path() / "checksums.xxh128"));
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
  return BackupResult{o.output, std::move(header), archive_bytes,
                      docs ? std::move(docs->skipped) : std::vector<std::string>{}};
}

}  // namespace restorekit::core
