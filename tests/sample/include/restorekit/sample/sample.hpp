// The sample data generator: a deterministic CRM-like application (database + documents) and
// a "live" variant mutated like a working day. Used by the demo, the tests and the benchmarks.
//
// Database (SQLite, user_version 7): companies (the tenants), persons (BLOB photos, NULLs,
// non-ASCII names), appointments (REAL prices), documents (metadata whose `path` points into
// the documents folder), person_tags (composite primary key), settings (WITHOUT ROWID,
// composite key), audit_log (no declared key); declared foreign keys throughout.
// Documents: text files (compressible) and incompressible binaries, nested per company and
// person, some with non-ASCII names.
// Live variant: rows inserted, deleted and updated, a column added (persons.mobile,
// user_version 8), documents added, removed and changed.
//
// The same options always give byte-identical databases and documents.
#pragma once

#include <cstdint>
#include <filesystem>

#include <restorekit/core/error.hpp>

namespace restorekit::sample {

struct SampleOptions {
  std::filesystem::path out_dir;             // created if missing; must not hold a previous sample
  std::uint64_t rows = 20'000;               // total rows over all tables (1k .. 5M)
  std::uint64_t documents = 200;             // number of document files
  std::uint64_t document_bytes = 16 * 1024;  // average document size
  std::uint64_t seed = 42;
  bool live = true;  // also write the mutated live variant
};

struct SampleResult {
  std::filesystem::path database;        // out/app.sqlite
  std::filesystem::path documents;       // out/docs
  std::filesystem::path live_database;   // out/live/app.sqlite (when live)
  std::filesystem::path live_documents;  // out/live/docs (when live)
  std::filesystem::path profile;         // out/profile.toml describing the application
  std::uint64_t rows = 0;
  std::uint64_t document_files = 0;
  std::uint64_t document_bytes = 0;
};

// @error kInvalidArgument (rows outside 1k..5M, out_dir holds a sample), kIo, kDatabase.
[[nodiscard]] Result<SampleResult> generate_sample(const SampleOptions& options);

}  // namespace restorekit::sample
