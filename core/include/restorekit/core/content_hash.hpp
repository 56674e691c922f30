// A database's logical content hash: what restore compares to prove that the live database
// holds exactly the state before or after a restore (SQLite's own `dbhash` is not packaged in
// Debian 12). It covers user_version, application_id, every schema object (type, name, table,
// SQL) and every row of every table, rowid included, in storage order (rowid or primary key),
// with values type-tagged (integer, real by its bits, text, blob, null). Page layout, free
// pages, journal mode and page size do not count: a VACUUM keeps the hash, any change of a row
// or of the schema changes it.
#pragma once

#include <restorekit/core/error.hpp>
#include <restorekit/core/hash.hpp>
#include <restorekit/core/progress.hpp>
#include <restorekit/core/sqlite.hpp>

#pragma GCC visibility push(default)  // the public API: exported by the shared libraries

namespace restorekit::core {

// Hashes `db` (trusted or untrusted connection; read-only work, in one read transaction).
// @error kDatabase, kCancelled.
[[nodiscard]] Result<Digest128> content_hash(Database& db, const CancelToken& cancel = {});

}  // namespace restorekit::core

#pragma GCC visibility pop
