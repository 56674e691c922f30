// A database from a backup over arbitrary bytes: written to a file (restorekit opens staged
// databases by path), opened as untrusted, described, integrity-checked, content-hashed,
// tenants counted and diffed against a fixed live database, as verify, diff and restore do;
// then a record restore from it into a copy of live (its SQL is built from the backup's table
// and column names and foreign keys).
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
#include <restorekit/restore/restore.hpp>

#include "internal.hpp"  // restore's run_selective

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
  auto target = dir / "target.sqlite";
  std::error_code ec;
  fs::copy_file(dir / "live.sqlite", target, fs::copy_options::overwrite_existing, ec);
  if (auto live = core::Database::open(target, core::OpenMode::kReadWrite); live && !ec) {
    restore::Selection sel;
    sel.rows = {restore::RowRef{"t", {"1"}}};
    sel.where = {restore::RowCondition{"k", "a IS NOT NULL"}};
    sel.relations = {core::Relation{{"n", "x"}, {"t", "id"}}};
    (void)restore::detail::run_selective(*live, path, sel, {core::ColumnRef{"t", "v"}});
  }
  return 0;
}
