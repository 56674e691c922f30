#include "extract_place.hpp"

#include <fcntl.h>
#include <stdio.h>  // renameat2, RENAME_NOREPLACE

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <restorekit/core/backup_format.hpp>
#include <restorekit/core/fs.hpp>

namespace restorekit::restore::detail {

namespace fs = std::filesystem;
using core::Finding;
using core::Severity;

namespace {

// The last line of each key of a checksum list, for keys asked in ascending order (the files
// walked in name-key order): one scan of the list instead of a lookup per file.
class LastLineOfKey {
 public:
  explicit LastLineOfKey(core::ChecksumIndex* index) : index_(index) {}

  Result<void> start() {
    if (!index_) return {};
    RK_TRY(index_->start());
    RK_TRY_ASSIGN(line_, index_->next());
    return {};
  }

  // @return the list's last line for `key`, or nullptr. @error kDatabase.
  Result<const core::ChecksumIndex::Line*> find(std::string_view key) {
    if (!index_) return nullptr;
    if (found_ && found_->key == key) return &*found_;
    found_.reset();
    for (; line_ && std::string_view(line_->key) <= key;) {
      if (line_->key == key) found_ = *line_;
      RK_TRY_ASSIGN(line_, index_->next());
    }
    return found_ ? &*found_ : nullptr;
  }

 private:
  core::ChecksumIndex* index_;
  const core::ChecksumIndex::Line* line_ = nullptr;
  std::optional<core::ChecksumIndex::Line> found_;
};

// Creates the folders of `relative` below `root`, refusing any that exists as something else
// than a real folder (a symbolic link is never followed).
Result<void> make_folders(const fs::path& root, const fs::path& relative) {
  fs::path at = root;
  for (const auto& part : relative) {
    at /= part;
    std::error_code ec;
    auto st = fs::symlink_status(at, ec);
    if (st.type() == fs::file_type::directory) continue;
    if (st.type() != fs::file_type::not_found) {
      return fail(ErrorCode::kUnsafePath,
                  fmt::format("{} is in the way: it is {} where a folder is needed; move it or "
                              "extract into another folder",
                              at.string(),
                              st.type() == fs::file_type::symlink ? "a symbolic link" : "a file"),
                  at.string());
    }
    if (!fs::create_directory(at, ec) && ec) {
      return fail(ErrorCode::kIo,
                  fmt::format("cannot create folder {}: {}", at.string(), ec.message()),
                  at.string());
    }
  }
  return {};
}

class Placer {
 public:
  explicit Placer(const PlaceInput& in) : in_(in), o_(in.options) {}

  Result<ExtractTable::Totals> run() {
    const fs::path& temp = in_.temp;
    std::optional<core::ChecksumIndex> own;
    if (const auto& file = in_.own_list) {
      RK_TRY_ASSIGN(
          own, core::ChecksumIndex::build(*file, core::kChecksumsEntry,
                                          core::ChecksumIndex::Accept::kXxh128Only, o_.cancel));
      if (own->bad()) own.reset();  // unusable: the archive's own checks still hold
    }
    LastLineOfKey theirs(in_.caller_list);
    LastLineOfKey ours(own ? &*own : nullptr);
    RK_TRY(theirs.start());
    RK_TRY(ours.start());
    CheckedBy fallback = in_.fallback;
    bool listing = o_.mode == ExtractMode::kListOnly;
    // The first mismatches in name order (a wrong list can fail every file), listed by index.
    std::vector<std::pair<std::uint64_t, Finding>> mismatched;
    std::uint64_t more_mismatched = 0;
    auto walked =
        in_.table.for_each_file_by_key(!listing, [&](const ExtractTable::File& f) -> Result<void> {
          RK_TRY_ASSIGN(const auto* caller_line, theirs.find(f.key));
          RK_TRY_ASSIGN(const auto* own_line, ours.find(f.key));
          CheckedBy checked = caller_line || own_line ? CheckedBy::kChecksumList : fallback;
          if (listing) return in_.table.settle(f.row, checked, false);
          if (auto bad = mismatch(f, caller_line, own_line)) {
            if (mismatched.size() < core::kFindingsListed) {
              mismatched.emplace_back(f.index, std::move(*bad));
            } else {
              ++more_mismatched;
            }
            return in_.table.settle(f.row, checked, false);
          }
          RK_TRY(place(temp_file(temp, f.index), f.path));
          return in_.table.settle(f.row, checked, true);
        });
    RK_TRY(walked);
    std::sort(mismatched.begin(), mismatched.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    for (auto& [index, f] : mismatched) in_.findings.add(std::move(f));
    in_.findings.count("CHECKSUM_MISMATCH", Severity::kError, more_mismatched);
    if (!listing) {
      RK_TRY(in_.table.for_each_folder(
          [&](std::string_view path) { return make_folders(o_.out, fs::path(path)); }));
    }
    RK_TRY_ASSIGN(auto totals,
                  in_.table.finish(listing ? fallback : CheckedBy::kNothing, !listing, listing));
    if (!listing) RK_TRY(core::sync_directory(o_.out));
    return totals;
  }

  // A file against the caller's line for it, else the backup's own: the finding when they
  // differ.
  std::optional<Finding> mismatch(const ExtractTable::File& f,
                                  const core::ChecksumIndex::Line* caller_line,
                                  const core::ChecksumIndex::Line* own_line) const {
    const auto* want = caller_line ? caller_line : own_line;
    if (!want) return std::nullopt;
    std::string source =
        caller_line ? o_.checksums_file->string() : std::string(core::kChecksumsEntry);
    std::string actual = want->algorithm != core::HashAlgorithm::kXxh128
                             ? std::string(f.extra_hex.value_or(""))
                         : f.xxh128 ? f.xxh128->hex()
                                    : std::string();
    std::string expected = want->expected_hex();
    if (actual == expected) return std::nullopt;
    return Finding{
        "CHECKSUM_MISMATCH", Severity::kError, std::string(f.path),
        fmt::format("\"{}\" is not extracted: its {} is {} but {} line {} expects {}", f.path,
                    core::algorithm_name(want->algorithm), actual, source, want->number, expected)};
  }

  // Renames the checked file into place: never over an existing file unless asked to, and
  // never through a symbolic link.
  Result<void> place(const fs::path& temp, std::string_view path) {
    fs::path relative(path);
    RK_TRY(make_folders(o_.out, relative.parent_path()));
    fs::path target = o_.out / relative;
    unsigned flags = o_.overwrite == Overwrite::kReplace ? 0 : RENAME_NOREPLACE;
    if (::renameat2(AT_FDCWD, temp.c_str(), AT_FDCWD, target.c_str(), flags) == 0) return {};
    int err = errno;
    if (err == EEXIST) {
      return fail(ErrorCode::kConflict,
                  fmt::format("{} appeared while extracting; it was left as it is (give "
                              "--overwrite to replace it)",
                              target.string()),
                  target.string());
    }
    return fail(ErrorCode::kIo,
                fmt::format("cannot put {} in place: {}", target.string(), std::strerror(err)),
                target.string());
  }

  const PlaceInput& in_;
  const ExtractOptions& o_;
};

}  // namespace

Result<ExtractTable::Totals> check_and_place(const PlaceInput& in) {
  return Placer(in).run();
}

fs::path temp_file(const fs::path& temp, std::uint64_t index) {
  return temp / fmt::format("{}", index);
}

}  // namespace restorekit::restore::detail
