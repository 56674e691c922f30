#include "entry_pass.hpp"

#include <xxhash.h>

#include <memory>

#include <fmt/format.h>

#include <restorekit/core/backup_format.hpp>
#include <restorekit/core/fs.hpp>
#include <restorekit/core/sql_dump.hpp>
#include <restorekit/core/sqlite.hpp>

namespace restorekit::verify::detail {

namespace {

constexpr std::size_t kPeekBytes = 4096;
constexpr std::uint64_t kMaxMetadataText = std::uint64_t{256} << 20;

// The hash a checksum list asked for besides XXH3-128, computed in the same pass.
class ExtraHasher {
 public:
  explicit ExtraHasher(HashAlgorithm a) : algorithm_(a) {
    XXH32_reset(s32_.get(), 0);
    XXH64_reset(s64_.get(), 0);
    XXH3_64bits_reset(s3_.get());
  }
  void update(std::span<const std::byte> d) {
    switch (algorithm_) {
      case HashAlgorithm::kXxh32: XXH32_update(s32_.get(), d.data(), d.size()); break;
      case HashAlgorithm::kXxh64: XXH64_update(s64_.get(), d.data(), d.size()); break;
      case HashAlgorithm::kXxh3_64: XXH3_64bits_update(s3_.get(), d.data(), d.size()); break;
      case HashAlgorithm::kXxh128: break;
    }
  }
  std::string hex() {
    switch (algorithm_) {
      case HashAlgorithm::kXxh32: return fmt::format("{:08x}", XXH32_digest(s32_.get()));
      case HashAlgorithm::kXxh64: return fmt::format("{:016x}", XXH64_digest(s64_.get()));
      case HashAlgorithm::kXxh3_64: return fmt::format("{:016x}", XXH3_64bits_digest(s3_.get()));
      case HashAlgorithm::kXxh128: break;
    }
    return {};
  }

 private:
  template <typename T, XXH_errorcode (*Free)(T*)>
  struct Deleter {
    void operator()(T* p) const { Free(p); }
  };
  HashAlgorithm algorithm_;
  std::unique_ptr<XXH32_state_t, Deleter<XXH32_state_t, XXH32_freeState>> s32_{XXH32_createState()};
  std::unique_ptr<XXH64_state_t, Deleter<XXH64_state_t, XXH64_freeState>> s64_{XXH64_createState()};
  std::unique_ptr<XXH3_state_t, Deleter<XXH3_state_t, XXH3_freeState>> s3_{XXH3_createState()};
};

bool is_metadata(std::string_view path) {
  return path == core::kHeaderEntry || path == core::kChecksumsEntry;
}

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
    if (owned && e.safe() && e.type == core::EntryType::kFile) {
      RK_TRY(read_data(e, r));
      if (plan_.on_entry) plan_.on_entry(r);
    }
    if (!r.data_error) out_.last_good_entry = r.path;
    out_.entries.push_back(std::move(r));
    return {};
  }

  Result<void> read_data(const core::Entry& e, EntryResult& r) {
    r.data_read = true;
    core::Hasher hasher;
    std::optional<ExtraHasher> extra;
    if (plan_.extra) {
      if (auto it = plan_.extra->find(e.path); it != plan_.extra->end()) extra.emplace(it->second);
    }
    std::vector<std::byte> head;
    std::optional<core::UniqueFd> stage;
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
      RK_TRY(maybe_stage(e, r, head, stage, *block));
    }
    if (head.size() > 0 && !stage) RK_TRY(decide_database(e, r, head, stage, true));
    if (r.data_error && r.staged) {  // a damaged database is not checked further
      std::error_code ec;
      std::filesystem::remove(*r.staged, ec);
      r.staged.reset();
    }
    r.digests.xxh128 = hasher.digest();
    if (extra) r.digests.extra_hex = extra->hex();
    return {};
  }

  // Collects the first bytes; once enough are seen, decides whether the entry is a database
  // and from then on streams it into its staging file.
  Result<void> maybe_stage(const core::Entry& e, EntryResult& r, std::vector<std::byte>& head,
                           std::optional<core::UniqueFd>& stage, std::span<const std::byte> block) {
    if (stage) {
      return core::write_all(stage->get(), block.data(), block.size(), r.staged->string());
    }
    if (head.size() >= kPeekBytes) return {};  // decided: not a database
    head.insert(head.end(), block.begin(), block.end());
    if (head.size() < kPeekBytes) return {};
    return decide_database(e, r, head, stage, false);
  }

  Result<void> decide_database(const core::Entry& e, EntryResult& r, std::vector<std::byte>& head,
                               std::optional<core::UniqueFd>& stage, bool ended) {
    std::string_view text(reinterpret_cast<const char*>(head.data()), head.size());
    bool sqlite = core::has_sqlite_magic(head);
    bool dump = !sqlite && core::looks_like_sql_dump(e.path, text);
    if (!sqlite && !dump) {
      if (!ended) head.resize(kPeekBytes);  // keep "decided" without holding more
      return {};
    }
    r.sql_dump = dump;
    r.staged = plan_.stage_dir / fmt::format("entry-{}", e.index);
    RK_TRY_ASSIGN(auto fd, core::create_new_file(*r.staged));
    RK_TRY(core::write_all(fd.get(), head.data(), head.size(), r.staged->string()));
    stage.emplace(std::move(fd));
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
