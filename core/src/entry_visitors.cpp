#include <restorekit/core/entry_visitors.hpp>

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>

#include <fmt/format.h>

#include <restorekit/core/sql_dump.hpp>

namespace restorekit::core {

namespace {

constexpr std::size_t kPeekBytes = 4096;  // what guess_database looks at

bool is_readable_file(const Entry& e) {
  return e.safe() && e.type == EntryType::kFile;
}

}  // namespace

bool is_metadata_entry(std::string_view path) {
  return path == kHeaderEntry || path == kChecksumsEntry;
}

// ---- HashVisitor ----

Result<Interest> HashVisitor::begin(const Entry& entry) {
  digest_.reset();
  extra_hex_.reset();
  other_.reset();
  if (!is_readable_file(entry)) return Interest::kSkip;
  xxh128_.reset();
  if (extra_) {
    RK_TRY_ASSIGN(auto algorithm, extra_(entry.path));
    if (algorithm && *algorithm != HashAlgorithm::kXxh128) other_.emplace(*algorithm);
  }
  return Interest::kData;
}

Result<Interest> HashVisitor::block(std::span<const std::byte> data) {
  xxh128_.update(data);
  if (other_) other_->update(data);
  return Interest::kData;
}

Result<void> HashVisitor::end(const Entry& entry, const EntryEnd& how) {
  if (!is_readable_file(entry) || !how.data_read || how.failure) return {};
  digest_ = xxh128_.digest();
  if (other_) extra_hex_ = other_->hex();
  return {};
}

// ---- DatabaseStager ----

Result<Interest> DatabaseStager::begin(const Entry& entry) {
  entry_ = &entry;
  staged_.reset();
  finding_.reset();
  head_.clear();  // keeps its capacity: no allocation per entry
  fd_ = UniqueFd();
  bool wanted = is_readable_file(entry) && (!candidate_ || candidate_(entry));
  state_ = wanted ? State::kPeeking : State::kIdle;
  return wanted ? Interest::kData : Interest::kSkip;
}

Result<Interest> DatabaseStager::block(std::span<const std::byte> data) {
  if (state_ == State::kStaging) {
    RK_TRY(write(data));
    return Interest::kData;
  }
  if (state_ != State::kPeeking) return Interest::kSkip;
  // Only the peek is copied; once a database is recognised, the rest of the block follows it.
  std::size_t take = std::min(data.size(), kPeekBytes - head_.size());
  head_.insert(head_.end(), data.begin(), data.begin() + static_cast<std::ptrdiff_t>(take));
  if (head_.size() < kPeekBytes) return Interest::kData;
  RK_TRY(decide());
  if (!staging()) return Interest::kSkip;
  RK_TRY(write(data.subspan(take)));
  return Interest::kData;
}

Result<void> DatabaseStager::decide() {
  auto guess = guess_database(entry_->path, head_);
  bool sqlite = guess.kind == DatabaseKind::kSqlite;
  bool dump = guess.kind == DatabaseKind::kSqliteDump;
  if (!sqlite && !dump) {
    state_ = State::kIdle;
    finding_ = database_guess_finding(entry_->path, guess);
    return {};
  }
  staged_ =
      StagedDatabase{entry_->path, entry_->index, dir_ / fmt::format("entry-{}", entry_->index),
                     dump ? DatabaseFormat::kSqlDump : DatabaseFormat::kSqlite};
  RK_TRY_ASSIGN(fd_, create_new_file(staged_->file));
  state_ = State::kStaging;
  return write(head_);
}

Result<void> DatabaseStager::write(std::span<const std::byte> data) {
  return write_all(fd_.get(), data.data(), data.size(), staged_->file.string());
}

Result<void> DatabaseStager::end(const Entry& entry, const EntryEnd& how) {
  (void)entry;
  if (state_ == State::kPeeking && how.data_read && !how.failure) RK_TRY(decide());
  fd_ = UniqueFd();
  bool clean = state_ == State::kStaging && how.data_read && !how.failure;
  state_ = State::kIdle;
  if (!clean && staged_) {  // a damaged database is not checked further
    std::error_code ec;
    std::filesystem::remove(staged_->file, ec);
    staged_.reset();
  }
  return {};
}

// ---- DocumentStager ----

Result<Interest> DocumentStager::begin(const Entry& entry) {
  entry_ = &entry;
  held_.clear();
  fd_ = UniqueFd();
  skipped_ = false;
  if (!entry.safe() || is_metadata_entry(entry.path)) return Interest::kSkip;
  if (entry.type == EntryType::kDirectory) {
    std::error_code ec;
    std::filesystem::create_directories(root_ / entry.path, ec);  // a file wins later
    return Interest::kSkip;
  }
  return entry.type == EntryType::kFile ? Interest::kData : Interest::kSkip;
}

Result<Interest> DocumentStager::block(std::span<const std::byte> data) {
  if (!databases_.decided()) {  // the stager holds at most its 4 KiB peek
    held_.insert(held_.end(), data.begin(), data.end());
    return Interest::kData;
  }
  if (databases_.staging()) return Interest::kSkip;
  if (!fd_ && !skipped_) {
    RK_TRY(open_file());
    if (fd_) RK_TRY(write(held_));
    held_.clear();
  }
  if (!fd_) return Interest::kSkip;
  RK_TRY(write(data));
  return Interest::kData;
}

Result<void> DocumentStager::open_file() {
  file_ = root_ / entry_->path;
  // Paths are normalised and safe, and the tree is restorekit's own: no component is a link.
  std::error_code ec;
  std::filesystem::create_directories(file_.parent_path(), ec);
  if (ec == std::errc::not_a_directory || ec == std::errc::file_exists) {
    skipped_ = true;
    return {};
  }
  if (ec) {
    return fail(ErrorCode::kIo, fmt::format("cannot stage {}: {}", file_.string(), ec.message()),
                file_.string());
  }
  auto fd = create_new_file(file_, 0666);
  if (!fd && (errno == EEXIST || errno == EISDIR)) {
    skipped_ = true;
    return {};
  }
  RK_TRY_ASSIGN(fd_, std::move(fd));
  return {};
}

Result<void> DocumentStager::write(std::span<const std::byte> data) {
  return write_all(fd_.get(), data.data(), data.size(), file_.string());
}

Result<void> DocumentStager::end(const Entry& entry, const EntryEnd& how) {
  if (entry.type != EntryType::kFile || !entry.safe() || is_metadata_entry(entry.path)) return {};
  if (!how.data_read || how.failure) return {};
  // A short entry: the database stager decided at its end (it was attached first).
  if (!fd_ && !skipped_ && !databases_.staged()) {
    RK_TRY(open_file());
    if (fd_) RK_TRY(write(held_));
  }
  held_ = {};
  if (fd_) {
    struct timespec times[2] = {{0, UTIME_OMIT}, {entry.mtime, 0}};
    ::futimens(fd_.get(), times);  // best effort: documents keep their dates
    fd_ = UniqueFd();
  }
  return {};
}

// ---- MetadataVisitor ----

Result<Interest> MetadataVisitor::begin(const Entry& entry) {
  text_.clear();
  list_file_.reset();
  spool_ = UniqueFd();
  keeping_ = is_readable_file(entry) && is_metadata_entry(entry.path);
  if (!keeping_) return Interest::kSkip;
  // The file is made at the first block: the reader that reads the data (of several) spools it.
  if (!spool_dir_.empty() && entry.path == kChecksumsEntry) {
    list_file_ = spool_dir_ / fmt::format("checksums-{}.xxh128", entry.index);
  }
  return Interest::kData;
}

Result<Interest> MetadataVisitor::block(std::span<const std::byte> data) {
  if (list_file_) {
    if (!spool_) {
      RK_TRY_ASSIGN(spool_, create_new_file(*list_file_));
    }
    RK_TRY(write_all(spool_.get(), data.data(), data.size(), list_file_->string()));
  } else if (text_.size() + data.size() <= kMaxText) {
    text_.append(reinterpret_cast<const char*>(data.data()), data.size());
  }
  return Interest::kData;
}

Result<void> MetadataVisitor::end(const Entry& entry, const EntryEnd& how) {
  if (list_file_ && !how.data_read) list_file_.reset();  // another reader's entry
  if (list_file_ && !spool_) {                           // an empty list
    RK_TRY_ASSIGN(spool_, create_new_file(*list_file_));
  }
  spool_ = UniqueFd();
  if (!keeping_ || entry.index != 0 || entry.path != kHeaderEntry) return {};
  if (how.data_read && !how.failure) header_ = parse_header(text_);
  return {};
}

}  // namespace restorekit::core
