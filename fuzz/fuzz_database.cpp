// A database from a backup over arbitrary bytes: written to a file (restorekit opens staged
// databases by path), opened as untrusted, described, integrity-checked, content-hashed,
// tenants counted and diffed against a fixed live database, as verify, diff and restore do.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <restorekit/core/content_hash.hpp>
#include <restorekit/core/sqlite.hpp>
#include <restorekit/diff/diff.hpp>

using namespace restorekit;
namespace fs = std::filesystem;

namespace {

fs::path scratch() {
  static fs::path dir = [] {
    auto d = fs::temp_directory_path() / ("rk-fuzz-db-" + std::to_string(::getpid()));
    fs::create_directories(d);
    auto live = d / "live.sqlite";
    auto db = core::Database::open(live, core::OpenMode::kCreate);
    if (!db || !db->exec("CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, company_id, v);"
                         "CREATE TABLE IF NOT EXISTS k(a, b, c, PRIMARY KEY(a, b)) WITHOUT ROWID;"
                         "CREATE TABLE IF NOT EXISTS n(x, y);"
                         "INSERT OR IGNORE INTO t VALUES(1, 1, 'a'), (2, 2, x'00'), (3, 1, 1.5);"
                         "INSERT OR IGNORE INTO k VALUES(1, 'x', NULL), ('y', 2, 3);"
                         "INSERT INTO n VALUES(1, 2);")) {
      std::abort();
    }
    return d;
  }();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto dir = scratch();
  auto path = dir / "backup.sqlite";
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  auto db = core::Database::open_untrusted(path);
  if (!db) return 0;
  auto summary = core::describe_database(*db);
  if (auto st = db->prepare("PRAGMA integrity_check(10)")) {
    (void)st->for_each([] { return Result<void>{}; });
  }
  (void)core::content_hash(*db);
  if (summary) {
    (void)core::count_tenants(*db, *summary, core::TenantSpec{"company_id", {}, "id", {}});
  }
  diff::DiffOptions o;
  o.tenants = core::TenantSpec{"company_id", {}, "id", {}};
  o.sample_rows = 2;
  (void)diff::diff_databases(path, dir / "live.sqlite", o);
  o.no_key = diff::NoKeyTables::kByContent;
  (void)diff::diff_databases(path, dir / "live.sqlite", o);
  return 0;
}
