// SQLite work on the live database and on restorekit's own copies: page copies through the
// backup API, the exclusive lock, writable opens of staged (still hostile) databases.
#include <sqlite3.h>

#include <fmt/format.h>

#include "internal.hpp"

namespace restorekit::restore::detail {

namespace {

constexpr int kLockTimeoutMs = 2000;

}  // namespace

Result<void> copy_pages(core::Database& src, core::Database& dest,
                        const std::function<void(int, int)>& on_chunk, const CancelToken& cancel,
                        int chunk_pages, const std::function<Result<void>()>& before_commit) {
  sqlite3_backup* b = sqlite3_backup_init(dest.handle(), "main", src.handle(), "main");
  if (!b) return tl::unexpected(dest.error("starting the page copy"));
  auto abandon = [&](Error e) -> Result<void> {
    sqlite3_backup_finish(b);  // rolls the destination back
    return tl::unexpected(std::move(e));
  };
  // A step of 0 pages takes the locks and counts the pages, so that the last step is known.
  int rc = sqlite3_backup_step(b, 0);
  bool checked = !before_commit;
  while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
    if (rc != SQLITE_OK) sqlite3_sleep(20);
    if (cancel.cancelled()) {
      return abandon(Error(ErrorCode::kCancelled,
                           "restore cancelled before the commit point; live is unchanged"));
    }
    if (!checked && sqlite3_backup_remaining(b) <= chunk_pages) {
      checked = true;
      if (auto ok = before_commit(); !ok) return abandon(ok.error());
    }
    rc = sqlite3_backup_step(b, chunk_pages);
    if (rc == SQLITE_OK && on_chunk) {
      int total = sqlite3_backup_pagecount(b);
      on_chunk(total - sqlite3_backup_remaining(b), total);
    }
  }
  sqlite3_backup_finish(b);
  if (rc != SQLITE_DONE) {
    return fail(
        ErrorCode::kDatabase,
        fmt::format("copying {} into {} failed: {}", src.path(), dest.path(), sqlite3_errstr(rc)),
        dest.path());
  }
  return {};
}

Result<void> copy_to_new_file(core::Database& src, const fs::path& dest) {
  std::error_code ec;
  if (fs::exists(dest, ec)) {
    return fail(ErrorCode::kIo, fmt::format("{} already exists; not overwriting", dest.string()),
                dest.string());
  }
  RK_TRY_ASSIGN(auto out, core::Database::open(dest, core::OpenMode::kCreate));
  return copy_pages(src, out, {}, CancelToken{});
}

Result<core::Database> open_staged_for_writing(const fs::path& path) {
  RK_TRY_ASSIGN(auto db, core::Database::open(path, core::OpenMode::kReadWrite));
  int off = 0;
  sqlite3_db_config(db.handle(), SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
  sqlite3_db_config(db.handle(), SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, nullptr);
  sqlite3_db_config(db.handle(), SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, &off);
  sqlite3_db_config(db.handle(), SQLITE_DBCONFIG_ENABLE_VIEW, 0, &off);
  sqlite3_db_config(db.handle(), SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, &off);
  return db;
}

Result<core::Database> lock_live(const fs::path& live) {
  RK_TRY_ASSIGN(auto db, core::Database::open(live, core::OpenMode::kReadWrite));
  sqlite3_busy_timeout(db.handle(), kLockTimeoutMs);
  auto busy = [&](const Error& e) {
    return fail(ErrorCode::kConflict,
                fmt::format("{} is in use by another connection ({}); stop the application "
                            "before restoring",
                            live.string(), e.message),
                live.string());
  };
  RK_TRY(db.exec("PRAGMA locking_mode=EXCLUSIVE"));
  auto version = db.query_int("PRAGMA user_version");
  if (!version) return busy(version.error());
  // A write takes the exclusive lock, and locking_mode=EXCLUSIVE keeps it until close.
  if (auto w = db.exec(fmt::format("BEGIN EXCLUSIVE; PRAGMA user_version={}; COMMIT", *version));
      !w) {
    (void)db.exec("ROLLBACK");
    return busy(w.error());
  }
  return db;
}

Result<std::string> journal_mode(core::Database& db) {
  RK_TRY_ASSIGN(auto st, db.prepare("PRAGMA journal_mode"));
  RK_TRY_ASSIGN(bool row, st.step());
  return row ? std::string(st.column_text(0)) : std::string("delete");
}

}  // namespace restorekit::restore::detail
