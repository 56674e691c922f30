#include <restorekit/core/restore_state.hpp>

#include <fmt/format.h>

namespace restorekit::core {

std::filesystem::path restore_state_dir(const std::filesystem::path& live) {
  auto p = std::filesystem::absolute(live);
  return p.parent_path() / (p.filename().string() + ".restorekit");
}

std::filesystem::path restore_journal_path(const std::filesystem::path& live) {
  return restore_state_dir(live) / "journal.json";
}

std::filesystem::path restore_snapshots_dir(const std::filesystem::path& live) {
  return restore_state_dir(live) / "snapshots";
}

Result<void> require_no_unfinished_restore(const std::filesystem::path& live) {
  std::error_code ec;
  auto journal = restore_journal_path(live);
  if (!std::filesystem::exists(journal, ec)) return {};
  return fail(ErrorCode::kConflict,
              fmt::format("a restore of {} was interrupted and is unfinished (journal {}); run "
                          "`restorekit restore --recover --live {}` first",
                          live.string(), journal.string(), live.string()),
              live.string());
}

}  // namespace restorekit::core
