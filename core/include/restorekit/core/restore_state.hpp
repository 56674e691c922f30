// Where restore keeps its state beside a live database, and the guard every command uses
// before it touches a live database (DESIGN.md, "Restore model").
//
//   <live>.restorekit/             private (0700), on the live database's filesystem
//     journal.json                 present only while a restore is unfinished
//     staging-XXXXXX/              staged database and documents of a plan being applied
//     snapshots/<UTC timestamp>/   safety snapshots: database.sqlite, documents/, snapshot.json
#pragma once

#include <filesystem>

#include <restorekit/core/error.hpp>

#pragma GCC visibility push(default)  // the public API: exported by the shared libraries

namespace restorekit::core {

// "<live>.restorekit" next to the live database.
std::filesystem::path restore_state_dir(const std::filesystem::path& live);
std::filesystem::path restore_journal_path(const std::filesystem::path& live);
std::filesystem::path restore_snapshots_dir(const std::filesystem::path& live);

// @error kConflict when an interrupted restore of `live` left its journal: nothing may touch
//   the live database before `restore --recover` finished or undid it.
[[nodiscard]] Result<void> require_no_unfinished_restore(const std::filesystem::path& live);

}  // namespace restorekit::core

#pragma GCC visibility pop
