// The raw SQLite connection behind a Database, for core's own files only (the SQL dump loader's
// authorizer and limits): no other module reaches sqlite3 directly.
#pragma once

#include <sqlite3.h>

#include <restorekit/core/sqlite.hpp>

namespace restorekit::core {

sqlite3* raw_handle(const Database& db);

}  // namespace restorekit::core
