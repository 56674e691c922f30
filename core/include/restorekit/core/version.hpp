// Versions: this build of restorekit, the libraries it runs with, and the versions of the
// formats it reads and writes (backup format, JSON schemas), as `restorekit --version` prints
// them and CHANGELOG.md lists them. Thread-safe (constant data and pure functions).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#pragma GCC visibility push(default)  // the public API: exported by the shared libraries

namespace restorekit::core {

// restorekit's version, one number for every module and the CLI ("0.2.0").
[[nodiscard]] std::string_view version();

// The git commit the build came from (12 hex digits, "-dirty" when the work tree had
// uncommitted changes), or "unknown" for a build outside a git checkout.
[[nodiscard]] std::string_view build_commit();

struct LinkedLibrary {
  std::string name;     // "libarchive", "SQLite", "zstd", "xxHash", "liblzma", "utf8proc"
  std::string version;  // as the library reports it at run time (not the headers' version)
};

// The libraries this process actually runs with, asked at run time: a shared library upgraded
// under the executable shows its new version.
[[nodiscard]] std::vector<LinkedLibrary> linked_libraries();

// The backup format `backup` writes and `verify` checks ("restorekit-backup/1").
[[nodiscard]] std::string_view backup_format();

// The schema of every JSON document restorekit writes ("restorekit.<what>/<version>", its
// "schema" field): a version goes up when a field scripts rely on changes meaning or goes away.
namespace schema {
inline constexpr std::string_view kInspect = "restorekit.inspect/1";
inline constexpr std::string_view kVerify = "restorekit.verify/1";
inline constexpr std::string_view kDiff = "restorekit.diff/1";
inline constexpr std::string_view kRestore = "restorekit.restore/1";
inline constexpr std::string_view kBackup = "restorekit.backup/1";
inline constexpr std::string_view kCatalog = "restorekit.catalog/1";
inline constexpr std::string_view kExtract = "restorekit.extract/1";
inline constexpr std::string_view kReport = "restorekit.report/1";      // report --json: verdict
inline constexpr std::string_view kPlan = "restorekit.plan/2";          // a kept restore plan
inline constexpr std::string_view kJournal = "restorekit.journal/2";    // apply's crash journal
inline constexpr std::string_view kSnapshot = "restorekit.snapshot/2";  // a safety snapshot
}  // namespace schema

// Every schema above, in that order.
[[nodiscard]] std::vector<std::string_view> json_schemas();

}  // namespace restorekit::core

#pragma GCC visibility pop
