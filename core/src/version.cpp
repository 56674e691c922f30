#include <restorekit/core/version.hpp>

#include <archive.h>
#include <lzma.h>
#include <sqlite3.h>
#include <utf8proc.h>
#include <xxhash.h>
#include <zstd.h>

#include <fmt/format.h>

#include <restorekit/core/backup_format.hpp>

#include "build_commit.h"  // generated at build time by cmake/BuildCommit.cmake

namespace restorekit::core {

std::string_view version() {
  return RESTOREKIT_VERSION;
}

std::string_view build_commit() {
  return RESTOREKIT_BUILD_COMMIT;
}

std::vector<LinkedLibrary> linked_libraries() {
  unsigned xxh = XXH_versionNumber();  // major * 10000 + minor * 100 + release
  // archive_version_string() is "libarchive 3.6.2": the name is ours to print.
  std::string_view archive = archive_version_string();
  if (archive.starts_with("libarchive ")) archive.remove_prefix(11);
  return {{"libarchive", std::string(archive)},
          {"SQLite", sqlite3_libversion()},
          {"zstd", ZSTD_versionString()},
          {"xxHash", fmt::format("{}.{}.{}", xxh / 10000, xxh / 100 % 100, xxh % 100)},
          {"liblzma", lzma_version_string()},
          {"utf8proc", utf8proc_version()}};
}

std::string_view backup_format() {
  return kFormatV1;
}

std::vector<std::string_view> json_schemas() {
  return {schema::kInspect, schema::kVerify,  schema::kDiff,    schema::kRestore,
          schema::kBackup,  schema::kCatalog, schema::kExtract, schema::kReport,
          schema::kPlan,    schema::kJournal, schema::kSnapshot};
}

}  // namespace restorekit::core
