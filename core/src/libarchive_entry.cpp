#include "libarchive_entry.hpp"

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <cctype>
#include <cerrno>

#include <fmt/format.h>

#include <restorekit/core/names.hpp>
#include <restorekit/core/safe_path.hpp>

namespace restorekit::core::detail {

namespace {

// libarchive's name getters call exit(1) when a conversion fails while errno holds ENOMEM,
// which may be left over from any earlier, handled failure (a refused allocation on the way):
// errno is cleared before each.
const char* name_of(archive_entry* ae, const char* (*getter)(archive_entry*)) {
  errno = 0;
  return getter(ae);
}

std::string_view format_family(int format) {
  switch (format & ARCHIVE_FORMAT_BASE_MASK) {
    case ARCHIVE_FORMAT_ZIP: return "zip";
    case ARCHIVE_FORMAT_TAR: return "tar";
    case ARCHIVE_FORMAT_7ZIP: return "7z";
    case ARCHIVE_FORMAT_CPIO: return "cpio";
    default: return "unknown";
  }
}

void fill_type(Entry& entry, archive_entry* ae) {
  const char* hard = name_of(ae, archive_entry_hardlink_utf8);
  auto filetype = archive_entry_filetype(ae);
  if (hard) {
    entry.type = EntryType::kHardlink;
    entry.link_target = hard;
  } else if (filetype == AE_IFREG || filetype == 0) {
    entry.type = EntryType::kFile;
  } else if (filetype == AE_IFDIR) {
    entry.type = EntryType::kDirectory;
  } else if (filetype == AE_IFLNK) {
    entry.type = EntryType::kSymlink;
    const char* target = name_of(ae, archive_entry_symlink_utf8);
    entry.link_target = target ? target : "";
  } else {
    entry.type = EntryType::kOther;
    if (!entry.problem) {
      entry.problem = Error(ErrorCode::kUnsafePath,
                            fmt::format("entry \"{}\" is a device, FIFO or socket; only regular "
                                        "files and directories are extracted",
                                        entry.raw_path),
                            entry.raw_path);
    }
  }
  bool is_link = entry.type == EntryType::kSymlink || entry.type == EntryType::kHardlink;
  if (is_link && !entry.problem) {
    auto kind = entry.type == EntryType::kSymlink ? LinkKind::kSymbolic : LinkKind::kHard;
    if (auto ok = check_link(entry.path, entry.link_target, kind); !ok) {
      entry.problem = ok.error();
    }
  }
}

}  // namespace

bool contains_ci(std::string_view haystack, std::string_view needle) {
  auto it = std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end(),
                        [](char a, char b) { return std::tolower(a) == std::tolower(b); });
  return it != haystack.end();
}

ErrorCode classify_message(std::string_view msg) {
  if (contains_ci(msg, "passphrase required") || contains_ci(msg, "password required")) {
    return ErrorCode::kPasswordRequired;
  }
  if (contains_ci(msg, "incorrect passphrase") || contains_ci(msg, "incorrect password") ||
      contains_ci(msg, "wrong passphrase")) {
    return ErrorCode::kBadPassword;
  }
  if (contains_ci(msg, "encrypt") &&
      (contains_ci(msg, "not supported") || contains_ci(msg, "unsupported"))) {
    return ErrorCode::kEncryptionUnsupported;
  }
  if (contains_ci(msg, "crc") || contains_ci(msg, "checksum")) return ErrorCode::kCrcError;
  if (contains_ci(msg, "truncat") || contains_ci(msg, "premature end") ||
      contains_ci(msg, "unexpected end") || contains_ci(msg, "unexpected eof")) {
    return ErrorCode::kTruncated;
  }
  if (contains_ci(msg, "unrecognized archive format")) return ErrorCode::kNotAnArchive;
  return ErrorCode::kCorruptData;
}

std::string reading_sentence(ErrorCode code, std::string_view where, std::string_view msg) {
  switch (code) {
    case ErrorCode::kPasswordRequired:
      return fmt::format("{} is encrypted and no password was given ({})", where, msg);
    case ErrorCode::kBadPassword: return fmt::format("wrong password for {} ({})", where, msg);
    case ErrorCode::kEncryptionUnsupported:
      return fmt::format(
          "{} uses an encryption restorekit cannot decrypt ({}); re-create the backup as an "
          "AES-256 zip or decrypt it with its own tool first",
          where, msg);
    case ErrorCode::kNotAnArchive:
      return fmt::format(
          "{} is not an archive restorekit reads (zip, 7z, tar, tar.gz/.bz2/.xz/.zst/.lz4, cpio)",
          where);
    case ErrorCode::kTruncated:
      return fmt::format("{} is truncated ({}); the backup file is incomplete", where, msg);
    default: return fmt::format("{} is damaged: {}", where, msg);
  }
}

Entry entry_from(archive_entry* ae, std::uint64_t index) {
  Entry entry;
  entry.index = index;
  // libarchive's readers keep a name as stored (converted to the locale's charset, UTF-8 here),
  // which they hand out as it is; an ASCII name is its own UTF-8. Only other names are asked
  // for in UTF-8, which libarchive converts again on every entry (it reads CESU-8 too): 240 ns
  // a name, a tenth of a 100,000-entry tar's reading thread.
  const char* raw = name_of(ae, archive_entry_pathname);
  const char* utf8 = raw && is_ascii(raw) ? raw : name_of(ae, archive_entry_pathname_utf8);
  entry.raw_path = utf8 ? utf8 : (raw ? raw : "");
  if (!utf8) {
    entry.problem =
        Error(ErrorCode::kUnsafePath,
              fmt::format("entry \"{}\" has a name that cannot be read as UTF-8", entry.raw_path),
              entry.raw_path);
  } else if (auto norm = normalize_entry_path(entry.raw_path)) {
    entry.path = std::move(*norm);
  } else {
    entry.problem = norm.error();
  }
  if (archive_entry_size_is_set(ae)) {
    entry.size = static_cast<std::uint64_t>(std::max<la_int64_t>(0, archive_entry_size(ae)));
  }
  entry.mtime = archive_entry_mtime_is_set(ae) ? archive_entry_mtime(ae) : 0;
  entry.mode = archive_entry_perm(ae);
  entry.encrypted = archive_entry_is_encrypted(ae) != 0;
  fill_type(entry, ae);
  return entry;
}

bool names_the_root(archive_entry* ae) {
  const char* raw = name_of(ae, archive_entry_pathname);
  if (!raw || !*raw || archive_entry_filetype(ae) != AE_IFDIR) return false;
  return std::string_view(raw).find_first_not_of("./") == std::string_view::npos;
}

ArchiveInfo info_of(archive* handle, Codec codec) {
  ArchiveInfo info;
  info.format = std::string(format_family(archive_format(handle)));
  const char* detail = archive_format_name(handle);
  info.format_detail = detail ? detail : "";
  if (codec != Codec::kNone) info.filters.emplace_back(codec_name(codec));
  for (int i = 0; i < archive_filter_count(handle); ++i) {
    if (archive_filter_code(handle, i) == ARCHIVE_FILTER_NONE) continue;
    const char* f = archive_filter_name(handle, i);
    info.filters.emplace_back(f ? f : "unknown");
  }
  return info;
}

const char* PasswordFeed::next() {
  if (!replay_.empty()) {
    current_ = std::move(replay_.front());
    replay_.pop_front();
    return current_.c_str();
  }
  if (!proven_asked_) {
    proven_asked_ = true;
    proven_ = passwords_.proven();
    if (proven_) {
      current_ = *proven_;
      offered_.push_back(current_);
      return current_.c_str();
    }
  }
  while (next_candidate_ < passwords_.candidates.size() &&
         passwords_.candidates[next_candidate_] == proven_) {
    ++next_candidate_;  // offered first already
  }
  if (next_candidate_ < passwords_.candidates.size()) {
    current_ = passwords_.candidates[next_candidate_++];
  } else {
    if (!passwords_.prompt) return nullptr;
    auto answer = passwords_.prompted(next_prompt_++);
    if (!answer) return nullptr;
    current_ = std::move(*answer);
  }
  offered_.push_back(current_);
  return current_.c_str();
}

void PasswordFeed::offer_again() {
  replay_.clear();
  if (offered_.empty()) return;
  replay_.push_back(offered_.back());
  replay_.insert(replay_.end(), offered_.begin(), offered_.end() - 1);
}

}  // namespace restorekit::core::detail
