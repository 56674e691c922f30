#include "entry_pass.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <xxhash.h>

#include <cerrno>

#include <memory>

#include <fmt/format.h>

#include <restorekit/core/backup_format.hpp>
#include <restorekit/core/fs.hpp>
#include <restorekit/core/safe_path.hpp>
#include <restorekit/core/sql_dump.hpp>
#include <restorekit/core/sqlite.hpp>

namespace restorekit::verify::detail {

namespace {

constexpr std::size_t kPeekBytes = 4096;
constexpr std::uint64_t kMaxMetadataText = std::uint64_t{256} << 20;

// The hash a checksum list asked for besides XXH3-128, computed in the same pass.
class ExtraHasher {
 public:
  explicit ExtraHasher(core::HashAlgorithm a) : algorithm_(a) {
    XXH32_reset(s32_.get(), 0);
    XXH64_reset(s64_.get(), 0);
    XXH3_64bits_reset(s3_.get());
  }
  void update(std::span<const std::byte> d) {
    switch (algorithm_) {
      case core::HashAlgorithm::kXxh32: XXH32_update(s32_.get(), d.data(), d.size()); break;
      case core::HashAlgorithm::kXxh64: XXH64_update(s64_.get(), d.data(), d.size()); break;
      case core::HashAlgorithm::kXxh3_64: XXH3_64bits_update(s3_.get(), d.data(), d.size()); break;
      case core::HashAlgorithm::kXxh128: break;
    }
  }
  std::string hex() {
    switch (algorithm_) {
      case core::HashAlgorithm::kXxh32: return fmt::format("{:08x}", XXH32_digest(s32_.get()));
      case core::HashAlgorithm::kXxh64: return fmt::format("{:016x}", XXH64_digest(s64_.get()));
      case core::HashAlgorithm::kXxh3_64:
        return fmt::format("{:016x}", XXH3_64bits_digest(s3_.get()));
      case core::HashAlgorithm::kXxh128: break;
    }
    return {};
  }

 private:
  template <typename T, XXH_errorcode (*Free)(T*)>
  struct Deleter {
    void operator()(T* p) const { Free(p); }
  };
  core::HashAlgorithm algorithm_;
  std::unique_ptr<XXH32_state_t, Deleter<XXH32_state_t, XXH32_freeState>> s32_{XXH32_createState()};
  std::unique_ptr<XXH64_state_t, Deleter<XXH64_state_t, XXH64_freeState>> s64_{XXH64_createState()};
  std::unique_ptr<XXH3_state_t, Deleter<XXH3_state_t, XXH3_freeState>> s3_{XXH3_createState()};
};

bool is_metadata(std::string_view path) {
  return path == core::kHeaderEntry || path == core::kChecksumsEntry;
}

}  // namespace

bool EntryResult::notable() const {
  bool size_mismatch = data_read && !data_error && declared_size && *declared_size != bytes;
  return problem || data_error || staged || not_a_database || too_long || size_mismatch ||
         is_metadata(path);
}

core::StoredEntry EntryResult::stored() const {
  core::EntryRecord r{path,        type,      data_read ? std::optional(bytes) : declared_size,
                      mtime,       encrypted, !problem,
                      std::nullopt};
  if (data_read && !data_error) r.hash = digests.xxh128;
  return core::StoredEntry{index, std::move(r), data_read, data_error.has_value(),
                           data_read && !data_error ? digests.extra_hex : std::nullopt};
}

namespace {

// Decides from an entry's first bytes whether it is a database (SQLite magic, or a SQL dump)
// and, if so, streams it into a staging file. Any other entry is streamed into the files tree
// when one is asked for; else at most kPeekBytes of it are held.
class Stager {
 public:
  Stager(const core::Entry& e, EntryResult& r, const PassPlan& plan)
      : entry_(e), result_(r), dir_(plan.stage_dir), files_dir_(plan.files_dir) {}

  Result<void> feed(std::span<const std::byte> block) {
    if (state_ == State::kStaging) return write(block);
    if (state_ == State::kOther) return fd_ ? write_file(block) : Result<void>{};
    std::size_t take = std::min(block.size(), kPeekBytes - head_.size());
    head_.insert(head_.end(), block.begin(), block.begin() + static_cast<std::ptrdiff_t>(take));
    if (head_.size() < kPeekBytes) return {};
    RK_TRY(decide());
    return feed(block.subspan(take));
  }

  // At the entry's end: an entry shorter than the peek is decided now.
  Result<void> finish() {
    if (state_ == State::kPeeking) RK_TRY(decide());
    if (state_ == State::kOther && fd_) {
      struct timespec times[2] = {{0, UTIME_OMIT}, {entry_.mtime, 0}};
      ::futimens(fd_.get(), times);  // best effort: documents keep their dates
    }
    return {};
  }

 private:
  enum class State { kPeeking, kStaging, kOther };

  Result<void> decide() {
    auto guess = core::guess_database(entry_.path, head_);
    bool sqlite = guess.kind == core::DatabaseKind::kSqlite;
    bool dump = guess.kind == core::DatabaseKind::kSqliteDump;
    if (!sqlite && !dump) {
      state_ = State::kOther;
      result_.not_a_database = core::database_guess_finding(entry_.path, guess);
      if (!files_dir_.empty() && !is_metadata(entry_.path)) RK_TRY(open_file());
      if (fd_) RK_TRY(write_file(head_));
      head_ = {};
      return {};
    }
    result_.sql_dump = dump;
    result_.staged = dir_ / fmt::format("entry-{}", entry_.index);
    RK_TRY_ASSIGN(fd_, core::create_new_file(*result_.staged));
    state_ = State::kStaging;
    RK_TRY(write(head_));
    head_ = {};
    return {};
  }

  Result<void> write(std::span<const std::byte> data) {
    return core::write_all(fd_.get(), data.data(), data.size(), result_.staged->string());
  }

  // A document goes to the files tree under its archive path. A second entry of the same name,
  // or a path that another entry made a file (or a folder), keeps what came first: verify
  // reports DUPLICATE_ENTRY or PATH_CONFLICT, which block a restore anyway.
  Result<void> open_file() {
    file_ = files_dir_ / entry_.path;
    // Paths are normalised and safe, and the tree is restorekit's own: no component is a link.
    std::error_code ec;
    std::filesystem::create_directories(file_.parent_path(), ec);
    if (ec == std::errc::not_a_directory || ec == std::errc::file_exists) return {};
    if (ec) {
      return fail(ErrorCode::kIo, fmt::format("cannot stage {}: {}", file_.string(), ec.message()),
                  file_.string());
    }
    auto fd = core::create_new_file(file_, 0666);
    if (!fd && (errno == EEXIST || errno == EISDIR)) return {};
    RK_TRY_ASSIGN(fd_, std::move(fd));
    return {};
  }

  Result<void> write_file(std::span<const std::byte> data) {
    return core::write_all(fd_.get(), data.data(), data.size(), file_.string());
  }

  const core::Entry& entry_;
  EntryResult& result_;
  const std::filesystem::path& dir_;
  const std::filesystem::path& files_dir_;
  std::filesystem::path file_;
  State state_ = State::kPeeking;
  std::vector<std::byte> head_;
  core::UniqueFd fd_;
};

class Worker {
 public:
  Worker(core::ArchiveReader& reader, const PassPlan& plan) : reader_(reader), plan_(plan) {}

  Result<PassOutcome> run() {
    for (;;) {
      auto next = reader_.next();
      if (!next) {
        stop(next.error());
        break;
      }
      if (*next == nullptr) break;
      RK_TRY(visit(**next));
    }
    if (!out_.stopped && plan_.worker == 0) {
      if (auto drained = reader_.drain(); !drained) out_.drain_error = drained.error();
    }
    out_.raw_offset = reader_.raw_bytes_read();
    return std::move(out_);
  }

 private:
  void stop(const Error& e) { out_.stopped = e; }

  Result<void> visit(const core::Entry& e) {
    bool owned = e.index % plan_.workers == plan_.worker;
    if (!owned && plan_.worker != 0) return {};
    EntryResult r;
    r.index = e.index;
    r.path = e.safe() ? e.path : e.raw_path;
    r.type = e.type;
    r.encrypted = e.encrypted;
    r.declared_size = e.size;
    r.problem = e.problem;
    r.mtime = e.mtime;
    if (owned && e.safe() && e.type == core::EntryType::kDirectory && !plan_.files_dir.empty()) {
      std::error_code ec;
      std::filesystem::create_directories(plan_.files_dir / e.path, ec);  // a file wins later
    }
    if (owned && e.safe() && e.type == core::EntryType::kFile) {
      RK_TRY(read_data(e, r));
      if (plan_.on_entry) plan_.on_entry(r);
    }
    if (!r.data_error) out_.last_good_entry = r.path;
    if (e.safe()) r.too_long = core::too_long_to_restore(e.path);
    // Worker 0 lists every entry; a row of the owner replaces its row in the store.
    RK_TRY(
        plan_.store->add(r.stored(), owned ? core::Ownership::kOwned : core::Ownership::kNotOwned));
    if (!owned) return {};
    out_.bytes += r.bytes;
    if (r.encrypted && r.data_read && !r.data_error) ++out_.decrypted;
    if (r.notable()) out_.notable.push_back(std::move(r));
    return {};
  }

  Result<void> read_data(const core::Entry& e, EntryResult& r) {
    r.data_read = true;
    // Progress counts the bytes of this worker's own entries: what it skipped (the other
    // workers' entries of a zip) is counted by the worker that reads them.
    if (plan_.workers > 1) reported_ = reader_.raw_bytes_read();
    core::Hasher hasher;
    std::optional<ExtraHasher> extra;
    if (plan_.extra) {
      if (auto it = plan_.extra->find(e.path); it != plan_.extra->end()) extra.emplace(it->second);
    }
    Stager stager(e, r, plan_);
    bool keep_text = is_metadata(e.path);
    for (;;) {
      if (plan_.cancel.cancelled()) return fail(ErrorCode::kCancelled, "verify cancelled");
      auto block = reader_.read_block();
      if (!block) {
        r.data_error = block.error();
        r.fatal = reader_.dead();
        if (r.fatal) stop(block.error());
        break;
      }
      progress();
      if (block->empty()) break;
      r.bytes += block->size();
      hasher.update(*block);
      if (extra) extra->update(*block);
      if (keep_text && r.text.size() + block->size() <= kMaxMetadataText) {
        r.text.append(reinterpret_cast<const char*>(block->data()), block->size());
      }
      RK_TRY(stager.feed(*block));
    }
    RK_TRY(stager.finish());
    if (r.data_error && r.staged) {  // a damaged database is not checked further
      std::error_code ec;
      std::filesystem::remove(*r.staged, ec);
      r.staged.reset();
    }
    r.digests.xxh128 = hasher.digest();
    if (extra) r.digests.extra_hex = extra->hex();
    return {};
  }

  void progress() {
    if (!plan_.raw_bytes) return;
    std::uint64_t now = reader_.raw_bytes_read();
    plan_.raw_bytes->fetch_add(now - reported_, std::memory_order_relaxed);
    reported_ = now;
    if (plan_.on_progress) plan_.on_progress();
  }

  core::ArchiveReader& reader_;
  const PassPlan& plan_;
  PassOutcome out_;
  std::uint64_t reported_ = 0;
};

}  // namespace

Result<PassOutcome> run_pass(core::ArchiveReader& reader, const PassPlan& plan) {
  return Worker(reader, plan).run();
}

}  // namespace restorekit::verify::detail
