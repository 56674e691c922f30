// Renders restore's reports: a plan (dry run), an apply or rollback, a recovery. Text puts the
// verdict first ("SAFE TO APPLY — predicted downtime 4.2 s", "BLOCKED: LIVE_IN_USE (...)"); JSON
// is "restorekit.restore/1".
#pragma once

#include <optional>
#include <ostream>

#include <nlohmann/json.hpp>

#include <restorekit/restore/restore.hpp>

namespace restorekit::cli {

// A plan and, when it was applied (restore --yes / --apply / --rollback), the apply's report.
struct RestoreOutcome {
  std::optional<restore::Plan> plan;
  std::optional<restore::ApplyReport> applied;
  bool dry_run = false;
};

// "safe", "blocked", "restored", "refused".
std::string restore_verdict(const RestoreOutcome& outcome);
void render_restore_text(const RestoreOutcome& outcome, std::ostream& out);
// The restore document with chosen_documents empty: write_restore_json / restore_json_text list
// them.
nlohmann::ordered_json restore_json(const RestoreOutcome& outcome);
// restore_json with the plan's chosen documents listed one by one as they are read.
// @error reading the list.
Result<void> write_restore_json(const RestoreOutcome& outcome, std::ostream& out);
// The same as one string (json_text's form: no final newline). @error reading the list.
Result<std::string> restore_json_text(const RestoreOutcome& outcome);

// "clean" (nothing was interrupted) or "recovered".
std::string recover_verdict(const restore::RecoverReport& report);
void render_recover_text(const restore::RecoverReport& report, std::ostream& out);
nlohmann::ordered_json recover_json(const restore::RecoverReport& report);

}  // namespace restorekit::cli
