// Findings: problems found *in* a backup (data in a report, not errors). Codes are stable and
// upper-case (DESIGN.md lists them); the severity decides exit codes in the CLI: any kError
// finding means "problems found".
#pragma once

#include <string>
#include <string_view>

#pragma GCC visibility push(default)  // the public API: exported by the shared libraries

namespace restorekit::core {

enum class Severity { kError, kWarning, kInfo };

std::string_view severity_name(Severity severity);  // "error", "warning", "info"

// What reading a whole backup concluded: every byte checked and sound; damage found; or
// locked (encrypted entries could not be read for want of the right password: not damage).
enum class Verdict { kIntact, kDamaged, kLocked };

std::string_view verdict_name(Verdict verdict);    // "intact", "damaged", "locked"
Verdict verdict_from_name(std::string_view name);  // unknown names read as kDamaged

struct Finding {
  std::string code;  // e.g. "UNSAFE_PATH"
  Severity severity = Severity::kWarning;
  std::string entry;    // the entry or table concerned; untrusted text, escape before printing
  std::string message;  // one sentence
};

}  // namespace restorekit::core

#pragma GCC visibility pop
