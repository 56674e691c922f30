#include "name_checks.hpp"

#include <map>

#include <fmt/format.h>

#include <restorekit/core/names.hpp>
#include <restorekit/core/safe_path.hpp>

namespace restorekit::verify::detail {

using core::Finding;
using core::Severity;

std::vector<Finding> duplicate_names(const std::vector<EntryResult>& entries,
                                     std::set<std::string, std::less<>>& keys) {
  std::vector<Finding> out;
  std::map<std::string, std::string, std::less<>> first;  // name_key -> first spelling
  for (const auto& e : entries) {
    if (e.type == core::EntryType::kDirectory) continue;
    auto [it, inserted] = first.emplace(core::name_key(e.path), e.path);
    if (inserted) continue;
    if (it->second == e.path) {
      out.push_back(Finding{"DUPLICATE_ENTRY", Severity::kError, e.path,
                            fmt::format("entry \"{}\" appears more than once; which copy a "
                                        "restore would use is undefined",
                                        core::escape_name(e.path))});
      continue;
    }
    out.push_back(Finding{
        "DUPLICATE_ENTRY", Severity::kWarning, e.path,
        fmt::format("entries \"{}\" and \"{}\" are one name in two Unicode spellings (NFC and "
                    "NFD): Linux keeps both, macOS and Windows would merge them into one file",
                    core::escape_name(it->second), core::escape_name(e.path))});
  }
  for (auto& [key, spelling] : first) keys.insert(key);
  return out;
}

std::vector<Finding> path_checks(const std::vector<EntryResult>& entries) {
  std::set<std::string, std::less<>> folders;
  for (const auto& e : entries) {
    if (e.problem) continue;
    if (e.type == core::EntryType::kDirectory) folders.insert(e.path);
    for (auto slash = e.path.find('/'); slash != std::string::npos;
         slash = e.path.find('/', slash + 1)) {
      folders.insert(e.path.substr(0, slash));
    }
  }
  std::vector<Finding> out;
  for (const auto& e : entries) {
    if (e.problem) continue;
    if (e.type != core::EntryType::kDirectory && folders.count(e.path)) {
      out.push_back(Finding{
          "PATH_CONFLICT", Severity::kError, e.path,
          fmt::format("\"{}\" is both a {} and a folder holding other entries: a restore cannot "
                      "write both (entries behind a link would be written through it or "
                      "dropped), so this backup cannot be restored as it is",
                      core::escape_name(e.path),
                      e.type == core::EntryType::kSymlink ? "symbolic link" : "file")});
    }
    if (auto why = core::too_long_to_restore(e.path)) {
      out.push_back(Finding{"NOT_RESTORABLE_HERE", Severity::kWarning, e.path, *why});
    }
  }
  return out;
}

std::optional<Finding> zip_truncation(const std::vector<EntryResult>& entries,
                                      std::string_view archive, std::uint64_t size) {
  const EntryResult* first = nullptr;
  for (const auto& e : entries) {
    if (e.data_error && (!first || e.index < first->index)) first = &e;
  }
  if (!first) return std::nullopt;
  std::string last_intact;
  for (const auto& e : entries) {
    if (e.index < first->index && !e.data_error) last_intact = e.path;
  }
  return Finding{"TRUNCATED", Severity::kError, first->path,
                 fmt::format("{} is truncated: it ends after {} bytes, inside entry \"{}\", and "
                             "has no central directory; the last intact entry is \"{}\"",
                             core::escape_name(archive), size, core::escape_name(first->path),
                             core::escape_name(last_intact))};
}

}  // namespace restorekit::verify::detail
