#include "checksum_index.hpp"

#include <fmt/format.h>

#include <restorekit/core/backup_format.hpp>
#include <restorekit/core/checksum_list.hpp>
#include <restorekit/core/names.hpp>

namespace restorekit::verify::detail {

namespace {

// A small page cache: the sort that start() runs spills to disk rather than grow.
constexpr std::string_view kSchema = R"sql(
PRAGMA journal_mode=OFF;
PRAGMA synchronous=OFF;
PRAGMA locking_mode=EXCLUSIVE;
PRAGMA temp_store=FILE;
PRAGMA cache_size=-4096;
CREATE TABLE listed(number INTEGER PRIMARY KEY, key TEXT, path TEXT NOT NULL,
                    high INTEGER NOT NULL, low INTEGER NOT NULL);
)sql";

constexpr std::uint64_t kLinesPerCancelCheck = 4096;

}  // namespace

Result<ChecksumIndex> ChecksumIndex::build(const std::filesystem::path& file,
                                           const CancelToken& cancel) {
  RK_TRY_ASSIGN(auto db, core::Database::open_scratch());
  RK_TRY(db.exec(kSchema));
  ChecksumIndex index(std::move(db));
  RK_TRY(index.db_.exec("BEGIN"));
  RK_TRY_ASSIGN(auto insert, index.db_.prepare("INSERT INTO listed VALUES(?1, ?2, ?3, ?4, ?5)"));
  std::uint64_t lines = 0;
  auto parsed = core::for_each_checksum_line(
      file, core::kChecksumsEntry, [&](core::ExpectedHash&& e) -> Result<void> {
        if (++lines % kLinesPerCancelCheck == 0 && cancel.cancelled()) {
          return fail(ErrorCode::kCancelled, "verify cancelled");
        }
        auto digest = core::Digest128::from_hex(e.hex);
        if (e.algorithm != core::HashAlgorithm::kXxh128 || !digest) {
          return fail(
              ErrorCode::kBadBackup,
              fmt::format("{} line {} is not an XXH3-128 line", core::kChecksumsEntry, e.line),
              std::string(core::kChecksumsEntry));
        }
        insert.reset();
        insert.bind(1, static_cast<std::int64_t>(e.line));
        // The key only where the name is not its own key (almost every name is).
        std::string key = core::is_ascii(e.path) ? std::string() : core::name_key(e.path);
        if (key.empty() || key == e.path) {
          insert.bind_null(2);
        } else {
          insert.bind(2, std::string_view(key));
        }
        insert.bind(3, std::string_view(e.path));
        insert.bind(4, static_cast<std::int64_t>(digest->high));
        insert.bind(5, static_cast<std::int64_t>(digest->low));
        return insert.run();
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
  RK_TRY(index.db_.exec("COMMIT"));
  return index;
}

Result<void> ChecksumIndex::start() {
  walk_.reset();
  RK_TRY_ASSIGN(walk_, db_.prepare("SELECT coalesce(key, path), number, path, high, low FROM "
                                   "listed ORDER BY 1, 2"));
  return {};
}

Result<const ChecksumIndex::Line*> ChecksumIndex::next() {
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
