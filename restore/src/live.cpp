// SQLite work on the live database and on restorekit's own copies: snapshots, the exclusive
// lock, writable opens of staged (still hostile) databases.
#include <fmt/format.h>

#include "internal.hpp"

namespace restorekit::restore::detail {

namespace {

constexpr int kLockTimeoutMs = 2000;

}  // namespace

Result<void> copy_to_new_file(core::Database& src, const fs::path& dest) {
  std::error_code ec;
  if (fs::exists(dest, ec)) {
    return fail(ErrorCode::kIo, fmt::format("{} already exists; not overwriting", dest.string()),
                dest.string());
  }
  RK_TRY_ASSIGN(auto out, core::Database::open(dest, core::OpenMode::kCreate));
  return core::copy_pages(src, out);
}

Result<core::Database> open_staged_for_writing(const fs::path& path) {
  RK_TRY_ASSIGN(auto db, core::Database::open(path, core::OpenMode::kReadWrite));
  db.apply_defences();
  return db;
}

Result<core::Database> lock_live(const fs::path& live) {
  RK_TRY_ASSIGN(auto db, core::Database::open(live, core::OpenMode::kReadWrite));
  db.set_busy_timeout(kLockTimeoutMs);
  auto busy = [&](const Error& e) {
    return fail(ErrorCode::kConflict,
                fmt::format("{} is in use by another connection ({}); stop the application "
                            "before restoring",
                            live.string(), e.message),
                live.string());
  };
  RK_TRY(db.exec("PRAGMA locking_mode=EXCLUSIVE"));
  // An exclusive transaction takes the exclusive lock and locking_mode=EXCLUSIVE keeps it until
  // close, committed empty: the file is not written (its mtime, ctime and size stay as the dry run
  // saw them, and no journal is left), and it is refused while any other connection holds the
  // database open in WAL mode, even idle (checked on SQLite 3.40).
  if (auto w = db.exec("BEGIN EXCLUSIVE; COMMIT"); !w) {
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
