#include "checksum_index.hpp"

#include <algorithm>
#include <tuple>

#include <fmt/format.h>

#include <restorekit/core/backup_format.hpp>
#include <restorekit/core/checksum_list.hpp>
#include <restorekit/core/names.hpp>

namespace restorekit::verify::detail {

namespace {

constexpr std::string_view kSchema = R"sql(
CREATE TABLE listed(number INTEGER PRIMARY KEY, key TEXT, path TEXT NOT NULL,
                    high INTEGER NOT NULL, low INTEGER NOT NULL);
)sql";

constexpr std::uint64_t kLinesPerCancelCheck = 4096;

}  // namespace

Result<void> ChecksumIndex::add(core::ExpectedHash&& e) {
  auto digest = core::Digest128::from_hex(e.hex);
  if (e.algorithm != core::HashAlgorithm::kXxh128 || !digest) {
    return fail(ErrorCode::kBadBackup,
                fmt::format("{} line {} is not an XXH3-128 line", core::kChecksumsEntry, e.line),
                std::string(core::kChecksumsEntry));
  }
  auto key = core::key_of_its_own(e.path);  // the database keeps NULL for the rest
  if (!db_) {
    lines_.push_back(Line{key ? std::move(*key) : e.path, e.line, std::move(e.path), *digest});
    return {};
  }
  insert_->bind(1, static_cast<std::int64_t>(e.line));
  if (key) {
    insert_->bind(2, std::string_view(*key));
  } else {
    insert_->bind_null(2);
  }
  insert_->bind(3, std::string_view(e.path));
  insert_->bind(4, static_cast<std::int64_t>(digest->high));
  insert_->bind(5, static_cast<std::int64_t>(digest->low));
  return insert_->run();
}

Result<ChecksumIndex> ChecksumIndex::build(const std::filesystem::path& file,
                                           const CancelToken& cancel,
                                           std::uint64_t in_memory_bytes) {
  ChecksumIndex index;
  std::error_code ec;
  if (std::filesystem::file_size(file, ec) > in_memory_bytes || ec) {
    RK_TRY_ASSIGN(auto db, core::Database::open_scratch());
    RK_TRY(db.use_as_scratch(4));  // start()'s sort spills to disk rather than grow
    RK_TRY(db.exec(kSchema));
    RK_TRY(db.exec("BEGIN"));
    index.db_.emplace(std::move(db));
    RK_TRY_ASSIGN(index.insert_,
                  index.db_->prepare("INSERT INTO listed VALUES(?1, ?2, ?3, ?4, ?5)"));
  }
  std::uint64_t lines = 0;
  auto parsed = core::for_each_checksum_line(
      file, core::kChecksumsEntry, [&](core::ExpectedHash&& e) -> Result<void> {
        if (++lines % kLinesPerCancelCheck == 0 && cancel.cancelled()) {
          return fail(ErrorCode::kCancelled, "verify cancelled");
        }
        return index.add(std::move(e));
      });
  if (!parsed) {
    auto code = parsed.error().code;
    if (code == ErrorCode::kCancelled || code == ErrorCode::kIo || code == ErrorCode::kDatabase) {
      return tl::unexpected(parsed.error());
    }
    // As parse_checksums says it: the list is not a backup's.
    index.bad_ =
        Error(ErrorCode::kBadBackup, parsed.error().message, std::string(core::kChecksumsEntry));
  }
  if (index.db_) {
    index.insert_.reset();
    RK_TRY(index.db_->exec("COMMIT"));
  } else {
    std::sort(index.lines_.begin(), index.lines_.end(), [](const Line& a, const Line& b) {
      return std::tie(a.key, a.number) < std::tie(b.key, b.number);
    });
  }
  return index;
}

Result<void> ChecksumIndex::start() {
  walk_.reset();
  next_ = 0;
  if (!db_) return {};
  RK_TRY_ASSIGN(walk_, db_->prepare("SELECT coalesce(key, path), number, path, high, low FROM "
                                    "listed ORDER BY 1, 2"));
  return {};
}

Result<const ChecksumIndex::Line*> ChecksumIndex::next() {
  if (!db_) return next_ < lines_.size() ? &lines_[next_++] : nullptr;
  if (!walk_) return nullptr;
  RK_TRY_ASSIGN(bool more, walk_->step());
  if (!more) {
    walk_.reset();
    return nullptr;
  }
  line_.key.assign(walk_->column_text(0));
  line_.number = static_cast<std::uint64_t>(walk_->column_int(1));
  line_.path.assign(walk_->column_text(2));
  line_.digest = core::Digest128{static_cast<std::uint64_t>(walk_->column_int(3)),
                                 static_cast<std::uint64_t>(walk_->column_int(4))};
  return &line_;
}

}  // namespace restorekit::verify::detail
