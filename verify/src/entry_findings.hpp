// The findings of the entries themselves (private to verify), made after the pass from the
// entries kept in memory: damage the readers met (each message once, however many readers met
// it), encrypted entries that could not be read, unsafe names and links, data errors, sizes
// that do not match, and the name checks over every entry (name_checks.hpp).
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include <restorekit/core/entry_store.hpp>
#include <restorekit/core/finding.hpp>

#include "entry_pass.hpp"

namespace restorekit::verify::detail {

// The finding code of an error that damaged an entry or the archive ("CRC_ERROR", ...).
[[nodiscard]] std::string finding_code(ErrorCode code);

// What the pass found beside the entries' own results (the stops, the stream's notes, the zip
// directory's findings), with damage reported once by message.
class PassFindings {
 public:
  // Damage to `entry` (empty: the archive); an operational error (I/O, cancelled) is returned
  // instead, since it says nothing about the archive. A message already reported is not again.
  Result<void> damage(const Error& e, const std::string& entry);
  // A message reported in another finding (a stop that names the entry it failed on).
  void reported(const std::string& message) { reported_.insert(message); }
  [[nodiscard]] bool was_reported(const std::string& message) const {
    return reported_.count(message) != 0;
  }
  // Takes back the damage reported with `message` (a wrong password, not damage).
  void retract(const std::string& message);
  void add(core::Finding f) { findings_.push_back(std::move(f)); }
  [[nodiscard]] const std::vector<core::Finding>& findings() const { return findings_; }

 private:
  std::vector<core::Finding> findings_;
  std::set<std::string> reported_;  // messages of damage already reported
};

// True when encrypted entries could not be read for want of the right password. With a
// password given, an encrypted entry that failed to decrypt while no encrypted entry of the
// archive decrypted cleanly (`decrypted` is 0) is a wrong password that passed AES's 2-byte check
// value (1 in 65,536), not damage: it becomes BAD_PASSWORD (and the pass it stopped is not
// TRUNCATED); without one, PASSWORD_REQUIRED.
// `left_out`'s encrypted entries count as the ones kept do.
bool classify_encrypted(std::vector<EntryResult>& notable, std::uint64_t decrypted,
                        bool password_given, PassFindings& pass, LeftOut& left_out);

// Counts a damaged entry that is not kept (past kDamagedListed) under the finding it would
// have had.
void tally_left_out(const EntryResult& e, LeftOut& left_out);

// Keeps the first kDamagedListed damage_only() entries of `notable` (in index order: the
// readers' own first ones, merged) and counts the rest into `left_out`.
void limit_damaged(std::vector<EntryResult>& notable, LeftOut& left_out);
// Adds `from`'s counts to `into`.
void merge_left_out(const LeftOut& from, LeftOut& into);

// Per-entry structure, in archive order: unsafe names and links, data errors not reported by
// the pass, sizes, the name checks over every entry, one finding per kind of encrypted entry
// that could not be read, and one per code for the damaged entries left out. @error kDatabase.
Result<std::vector<core::Finding>> entry_findings(const std::vector<EntryResult>& notable,
                                                  const core::EntryStore& store,
                                                  const PassFindings& pass,
                                                  const LeftOut& left_out);

}  // namespace restorekit::verify::detail
