// SQLite work on the live database and on restorekit's own copies: snapshots, the exclusive
// lock, writable opens of staged (still hostile) databases, journal modes and fingerprints.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <fmt/format.h>

#include <restorekit/core/fs.hpp>

#include "internal.hpp"

namespace restorekit::restore::detail {

namespace {

constexpr int kLockTimeoutMs = 2000;

std::int64_t ns_of(const struct timespec& t) {
  return static_cast<std::int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
}

std::uint64_t big_endian(const unsigned char* p, int n) {
  std::uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | p[i];
  return v;
}

enum class FileKind { kDatabase, kWal };

// One file's fingerprint; a -wal that is absent or empty (no frames) is all zero.
Result<FileFingerprint> file_fingerprint(const fs::path& p, FileKind kind) {
  core::UniqueFd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (kind == FileKind::kWal && errno == ENOENT) return FileFingerprint{};
    return fail(ErrorCode::kIo, fmt::format("cannot open {}: {}", p.string(), std::strerror(errno)),
                p.string());
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return fail(ErrorCode::kIo, fmt::format("cannot stat {}: {}", p.string(), std::strerror(errno)),
                p.string());
  }
  if (kind == FileKind::kWal && st.st_size == 0) return FileFingerprint{};
  FileFingerprint f{static_cast<std::uint64_t>(st.st_dev),
                    static_cast<std::uint64_t>(st.st_ino),
                    static_cast<std::uint64_t>(st.st_size),
                    ns_of(st.st_mtim),
                    ns_of(st.st_ctim),
                    0};
  // SQLite running as root fchowns a -wal whenever it opens it (the dry run's read does), which
  // moves its ctime without a write; a -wal is only ever appended to or restarted with new
  // salts, which its size, mtime and salts show.
  if (kind == FileKind::kWal) f.ctime_ns = 0;
  // Database header: change counter (24) and version-valid-for (92); WAL header: salts (16).
  unsigned char header[100] = {};
  auto n = ::pread(fd.get(), header, sizeof header, 0);
  if (n == static_cast<ssize_t>(sizeof header) && kind == FileKind::kDatabase) {
    f.marks = big_endian(header + 24, 4) << 32 | big_endian(header + 92, 4);
  } else if (n >= 24 && kind == FileKind::kWal) {
    f.marks = big_endian(header + 16, 8);
  }
  return f;
}

// How long after a write a file's change time may still equal the next write's: one tick of
// the kernel's coarse clock, or whole seconds where the filesystem keeps no nanoseconds.
std::chrono::nanoseconds granularity(const DatabaseFingerprint& f) {
  bool whole_seconds = f.file.ctime_ns % 1'000'000'000 == 0 &&
                       (f.wal.inode == 0 || f.wal.mtime_ns % 1'000'000'000 == 0);
  return whole_seconds ? std::chrono::nanoseconds(std::chrono::seconds(2))
                       : std::chrono::nanoseconds(std::chrono::milliseconds(20));
}

}  // namespace

std::chrono::nanoseconds unsettled_for(const DatabaseFingerprint& f, std::int64_t now_ns) {
  auto changed = std::max(f.file.ctime_ns, f.wal.mtime_ns);
  auto age = std::chrono::nanoseconds(now_ns - changed);
  auto g = granularity(f);
  return age >= g ? std::chrono::nanoseconds(0) : g - age;
}

Result<DatabaseFingerprint> fingerprint(const fs::path& db) {
  // SQLite keeps the -wal beside the file a symbolic link names, not beside the link.
  std::error_code ec;
  auto real = fs::weakly_canonical(db, ec);
  if (ec) real = db;
  DatabaseFingerprint f;
  RK_TRY_ASSIGN(f.file, file_fingerprint(real, FileKind::kDatabase));
  RK_TRY_ASSIGN(f.wal, file_fingerprint(real.string() + "-wal", FileKind::kWal));
  return f;
}

namespace {

// `db`'s fingerprint once its newest change lies a timestamp tick back (waiting for that up to
// three times); nullopt when it kept changing.
Result<std::optional<DatabaseFingerprint>> settled_fingerprint(const fs::path& db) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    RK_TRY_ASSIGN(auto f, fingerprint(db));
    struct timespec now {};
    ::clock_gettime(CLOCK_REALTIME, &now);
    auto wait = unsettled_for(f, ns_of(now));
    if (wait.count() == 0) return std::optional<DatabaseFingerprint>(f);
    std::this_thread::sleep_for(wait);
  }
  return std::optional<DatabaseFingerprint>{};
}

// A passive checkpoint of `db`: its row is (busy, frames in the -wal, frames copied). Every
// frame copied, none held back by a reader.
bool all_frames_copied(core::Database& db) {
  auto st = db.prepare("PRAGMA wal_checkpoint(PASSIVE)");
  if (!st || !st->step().value_or(false)) return false;
  return st->column_int(0) == 0 && st->column_int(1) > 0 && st->column_int(2) == st->column_int(1);
}

}  // namespace

Result<std::optional<DatabaseFingerprint>> fingerprint_around(
    const fs::path& db, const std::function<Result<void>()>& read) {
  RK_TRY_ASSIGN(auto before, settled_fingerprint(db));
  RK_TRY(read());
  if (!before) return std::optional<DatabaseFingerprint>{};
  RK_TRY_ASSIGN(auto after, fingerprint(db));
  return after == *before ? before : std::nullopt;
}

std::optional<DatabaseFingerprint> checkpoint_before_lock(const fs::path& live,
                                                          const DatabaseFingerprint& planned,
                                                          const std::function<void()>& copied) {
  auto before = fingerprint(live);
  if (!before || *before != planned || before->wal == FileFingerprint{}) return std::nullopt;
  std::optional<DatabaseFingerprint> after_copy;
  {
    auto db = core::Database::open(live, core::OpenMode::kReadWrite);
    if (!db) return std::nullopt;
    if (!all_frames_copied(*db)) return std::nullopt;
    if (copied) copied();
    // The -wal as it was before the copy (no commit since: an append moves its size or time,
    // a restart its salts), taken once the file's change by the copy lies a tick back, so that
    // a later write cannot hide in the copy's timestamps.
    auto settled = settled_fingerprint(live);
    if (!settled || !*settled || (*settled)->wal != before->wal) return std::nullopt;
    after_copy = **settled;
  }  // the last connection closed: SQLite removes the -wal, whose frames are all in the file
  auto after = fingerprint(live);
  if (!after || after->wal != FileFingerprint{} || after->file != after_copy->file) {
    return std::nullopt;
  }
  return *after;
}

bool wal_header(const fs::path& db) {
  core::UniqueFd fd(::open(db.c_str(), O_RDONLY | O_CLOEXEC));
  unsigned char version[2] = {};
  return fd && ::pread(fd.get(), version, 2, 18) == 2 && version[0] == 2 && version[1] == 2;
}

Result<void> set_wal_header(const fs::path& db, bool wal) {
  if (wal_header(db) == wal) return {};
  RK_TRY_ASSIGN(auto conn, open_staged_for_writing(db));
  return conn.exec(wal ? "PRAGMA journal_mode=WAL" : "PRAGMA journal_mode=DELETE");
}

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
