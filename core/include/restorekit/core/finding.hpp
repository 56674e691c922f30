// Findings: problems found *in* a backup (data in a report, not errors). Codes are stable and
// upper-case (DESIGN.md lists them); the severity decides exit codes in the CLI: any kError
// finding means "problems found".
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

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
  // How many entries it stands for: 1, or, for the one finding that counts the entries of a
  // kind past those listed one by one (more_than_listed), that many.
  std::uint64_t count = 1;
};

// A damaged archive may hold millions of damaged entries: a report lists the first
// kFindingsListed of a kind (code and severity) one by one and counts the rest in one finding,
// so that memory and output stay bounded.
inline constexpr std::size_t kFindingsListed = 1000;

// The one finding for `n` entries of a kind past the first `listed`; its entry is empty.
Finding more_than_listed(const std::string& code, Severity severity, std::uint64_t n,
                         std::size_t listed = kFindingsListed);

// Appends findings to a list, keeping the first `listed` of each kind and counting the rest;
// finish() appends one more_than_listed() finding per kind that was cut. One thread at a time.
class FindingCap {
 public:
  explicit FindingCap(std::vector<Finding>& out, std::size_t listed = kFindingsListed)
      : out_(out), listed_(listed) {}
  void add(Finding f);
  // `n` more of a kind seen past the ones listed (when the caller kept only the first).
  void count(const std::string& code, Severity severity, std::uint64_t n);
  void finish();

 private:
  std::vector<Finding>& out_;
  std::size_t listed_;
  std::map<std::pair<std::string, Severity>, std::uint64_t> seen_;
};

}  // namespace restorekit::core

#pragma GCC visibility pop
