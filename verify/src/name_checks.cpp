#include "name_checks.hpp"

#include <fmt/format.h>

#include <restorekit/core/names.hpp>
#include <restorekit/core/safe_path.hpp>

namespace restorekit::verify::detail {

using core::Finding;
using core::Severity;

Result<std::vector<Finding>> duplicate_names(const core::EntryStore& store) {
  RK_TRY_ASSIGN(auto duplicates, store.duplicates(kDamagedListed));
  std::vector<Finding> out;
  std::uint64_t spellings = 0;  // listed
  for (const auto& d : duplicates.items) {
    const std::string& path = d.entry.record.path;
    if (d.first_spelling == path) {
      out.push_back(Finding{"DUPLICATE_ENTRY", Severity::kError, path,
                            fmt::format("entry \"{}\" appears more than once; which copy a "
                                        "restore would use is undefined",
                                        path)});
      continue;
    }
    ++spellings;
    out.push_back(Finding{
        "DUPLICATE_ENTRY", Severity::kWarning, path,
        fmt::format("entries \"{}\" and \"{}\" are one name in two Unicode spellings (NFC and "
                    "NFD): Linux keeps both, macOS and Windows would merge them into one file",
                    d.first_spelling, path)});
  }
  // Past the ones listed: the same name again (an error), or another spelling (a warning).
  std::uint64_t exact_listed = duplicates.items.size() - spellings;
  std::uint64_t exact = duplicates.total - duplicates.spellings;
  if (exact > exact_listed) {
    out.push_back(
        core::more_than_listed("DUPLICATE_ENTRY", Severity::kError, exact - exact_listed));
  }
  if (duplicates.spellings > spellings) {
    out.push_back(core::more_than_listed("DUPLICATE_ENTRY", Severity::kWarning,
                                         duplicates.spellings - spellings));
  }
  return out;
}

Result<std::vector<Finding>> path_checks(const core::EntryStore& store,
                                         const std::vector<EntryResult>& notable) {
  RK_TRY_ASSIGN(auto conflicts, store.path_conflicts(kDamagedListed));
  std::vector<Finding> out;
  for (const auto& c : conflicts.items) {
    const auto& e = c.record;
    out.push_back(Finding{
        "PATH_CONFLICT", Severity::kError, e.path,
        fmt::format("\"{}\" is both a {} and a folder holding other entries: a restore cannot "
                    "write both (entries behind a link would be written through it or "
                    "dropped), so this backup cannot be restored as it is",
                    e.path, e.type == core::EntryType::kSymlink ? "symbolic link" : "file")});
  }
  if (conflicts.total > conflicts.items.size()) {
    out.push_back(core::more_than_listed("PATH_CONFLICT", Severity::kError,
                                         conflicts.total - conflicts.items.size()));
  }
  for (const auto& e : notable) {
    if (e.too_long)
      out.push_back(Finding{"NOT_RESTORABLE_HERE", Severity::kWarning, e.path, *e.too_long});
  }
  return out;
}

Result<std::optional<Finding>> zip_truncation(const core::EntryStore& store,
                                              const std::vector<EntryResult>& notable,
                                              std::string_view archive, std::uint64_t size) {
  auto first = std::find_if(notable.begin(), notable.end(),
                            [](const EntryResult& e) { return e.data_error.has_value(); });
  if (first == notable.end()) return std::nullopt;
  RK_TRY_ASSIGN(auto last_intact, store.last_intact_before(first->index));
  return Finding{"TRUNCATED", Severity::kError, first->path,
                 fmt::format("{} is truncated: it ends after {} bytes, inside entry \"{}\", and "
                             "has no central directory; the last intact entry is \"{}\"",
                             archive, size, first->path, last_intact)};
}

}  // namespace restorekit::verify::detail
