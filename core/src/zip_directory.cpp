#include <restorekit/core/zip_directory.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <optional>

#include <fmt/format.h>

#include <restorekit/core/fs.hpp>
#include <restorekit/core/safe_path.hpp>

#include "zip_format.hpp"

namespace restorekit::core {

Result<std::size_t> detail::ZipPiece::read(const ReadAt& read, std::uint64_t offset,
                                           std::span<std::byte> out) {
  constexpr std::size_t kFirst = std::size_t{4} << 10;
  constexpr std::size_t kMost = std::size_t{64} << 10;
  if (offset < at_ || offset + out.size() > at_ + bytes_.size()) {
    if (out.size() >= kMost) return read(offset, out);  // a copy through the piece gains nothing
    // A miss that starts in the piece or just past it continues a walk forward.
    bool continues = offset >= at_ && offset - at_ <= bytes_.size() + kFirst;
    next_ = continues ? std::min(kMost, std::max(kFirst, next_ * 2)) : kFirst;
    bytes_.resize(std::max(next_, out.size()));
    RK_TRY_ASSIGN(std::size_t got, read(offset, bytes_));
    bytes_.resize(got);
    at_ = offset;
  }
  std::size_t n =
      static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), at_ + bytes_.size() - offset));
  if (n > 0) std::memcpy(out.data(), bytes_.data() + (offset - at_), n);
  return n;
}

namespace {

using zip::u16;
using zip::u32;
using zip::u64;

constexpr std::uint32_t kEndSignature = 0x06054b50;
constexpr std::uint32_t kZip64EndSignature = 0x06064b50;
constexpr std::uint32_t kZip64LocatorSignature = 0x07064b50;
constexpr std::uint32_t kCentralSignature = 0x02014b50;
constexpr std::uint32_t kLocalSignature = 0x04034b50;
constexpr std::uint32_t kDescriptorSignature = 0x08074b50;
constexpr std::size_t kEndSize = 22;
constexpr std::size_t kCentralSize = 46;
constexpr std::size_t kLocalSize = 30;
constexpr std::size_t kMaxComment = 0xffff;
constexpr std::size_t kMaxFindings = 20;
constexpr std::uint64_t kMaxTrackedEntries = 1'000'000;  // local-only check beyond: skipped
constexpr std::uint32_t kMax32 = 0xffffffff;
constexpr std::uint16_t kFlagDescriptor = 1u << 3;

// What a local or central header says about one entry.
struct Header {
  std::string name;
  std::uint16_t flags = 0;
  std::uint16_t method = 0;
  std::uint32_t crc = 0;
  std::uint64_t compressed = 0;
  std::uint64_t uncompressed = 0;
  std::uint64_t offset = 0;  // central: where the local header is
  std::uint64_t length = 0;  // bytes of the header itself (fixed part, name, extra, comment)
};

// Applies the zip64 extra field (id 1) to the fields stored as 0xffffffff, in the order the
// format gives them.
void apply_zip64(Header& h, std::span<const std::byte> extra, bool central,
                 std::uint32_t offset32) {
  for (std::size_t at = 0; at + 4 <= extra.size();) {
    std::uint16_t id = u16(&extra[at]);
    std::uint16_t len = u16(&extra[at + 2]);
    if (at + 4 + len > extra.size()) return;
    if (id == 1) {
      std::size_t p = at + 4;
      auto take = [&](std::uint64_t& field) {
        if (p + 8 <= at + 4 + len) {
          field = u64(&extra[p]);
          p += 8;
        }
      };
      if (h.uncompressed == kMax32) take(h.uncompressed);
      if (h.compressed == kMax32) take(h.compressed);
      if (central && offset32 == kMax32) take(h.offset);
      return;
    }
    at += 4 + len;
  }
}

// A ReadAt through a piece of its own (detail::ZipPiece).
class PieceReader {
 public:
  explicit PieceReader(const ReadAt& read)
      : through_([this, &read](std::uint64_t offset, std::span<std::byte> out) {
          return piece_.read(read, offset, out);
        }) {}
  PieceReader(const PieceReader&) = delete;
  PieceReader& operator=(const PieceReader&) = delete;
  [[nodiscard]] const ReadAt& read_at() const { return through_; }

 private:
  detail::ZipPiece piece_;
  ReadAt through_;
};

// A zip read at random: its end record, directory headers and local headers. Every read is
// bounded by the file.
class ZipFile {
 public:
  ZipFile(const ReadAt& read, std::uint64_t size) : read_(read), size_(size) {}

  Result<std::vector<std::byte>> bytes(std::uint64_t offset, std::size_t n) {
    std::vector<std::byte> out(n);
    if (offset >= size_) return std::vector<std::byte>{};
    RK_TRY_ASSIGN(auto got, read_(offset, out));
    out.resize(got);
    return out;
  }

  // The end record: the last signature that leaves exactly its comment after it.
  Result<std::optional<std::uint64_t>> find_end() {
    std::uint64_t span = std::min<std::uint64_t>(size_, kEndSize + kMaxComment);
    RK_TRY_ASSIGN(auto tail, bytes(size_ - span, static_cast<std::size_t>(span)));
    if (tail.size() < kEndSize) return std::optional<std::uint64_t>{};
    std::optional<std::uint64_t> loose;
    for (std::size_t i = tail.size() - kEndSize + 1; i-- > 0;) {
      if (u32(&tail[i]) != kEndSignature) continue;
      std::uint64_t at = size_ - span + i;
      if (i + kEndSize + u16(&tail[i + 20]) == tail.size()) return std::optional(at);
      if (!loose) loose = at;
    }
    return loose;  // a comment length that does not fit: still the best guess
  }

  // What the end record at `at` (and a zip64 end record, whose values win) says.
  struct EndRecord {
    std::uint32_t disk = 0;
    std::uint32_t cd_disk = 0;
    std::uint64_t entries = 0;
    std::uint64_t cd_size = 0;
    std::uint64_t cd_offset = 0;
    std::uint64_t end_of_directory = 0;          // where the directory must end
    std::optional<std::uint64_t> missing_zip64;  // a zip64 locator pointing at no zip64 record
  };
  Result<EndRecord> end_record(std::uint64_t at) {
    EndRecord r;
    RK_TRY_ASSIGN(auto e, bytes(at, kEndSize));
    r.disk = u16(&e[4]);
    r.cd_disk = u16(&e[6]);
    r.entries = u16(&e[10]);
    r.cd_size = u32(&e[12]);
    r.cd_offset = u32(&e[16]);
    r.end_of_directory = at;
    if (at < 20) return r;
    RK_TRY_ASSIGN(auto loc, bytes(at - 20, 20));
    if (loc.size() < 20 || u32(&loc[0]) != kZip64LocatorSignature) return r;
    std::uint64_t record = u64(&loc[8]);
    RK_TRY_ASSIGN(auto z, bytes(record, 56));
    if (z.size() < 56 || u32(&z[0]) != kZip64EndSignature) {
      r.missing_zip64 = record;
      return r;
    }
    r.disk = u32(&z[16]);
    r.cd_disk = u32(&z[20]);
    r.entries = u64(&z[32]);
    r.cd_size = u64(&z[40]);
    r.cd_offset = u64(&z[48]);
    r.end_of_directory = record;
    return r;
  }

  Result<std::optional<Header>> central_at(std::uint64_t at) {
    RK_TRY_ASSIGN(auto f, bytes(at, kCentralSize));
    if (f.size() < kCentralSize || u32(&f[0]) != kCentralSignature) {
      return std::optional<Header>{};
    }
    Header h;
    h.flags = u16(&f[8]);
    h.method = u16(&f[10]);
    h.crc = u32(&f[16]);
    h.compressed = u32(&f[20]);
    h.uncompressed = u32(&f[24]);
    std::uint16_t name_len = u16(&f[28]), extra_len = u16(&f[30]), comment_len = u16(&f[32]);
    std::uint32_t offset32 = u32(&f[42]);
    h.offset = offset32;
    RK_TRY_ASSIGN(auto rest, bytes(at + kCentralSize, name_len + extra_len));
    if (rest.size() < static_cast<std::size_t>(name_len + extra_len)) {
      return std::optional<Header>{};
    }
    h.name.assign(reinterpret_cast<const char*>(rest.data()), name_len);
    apply_zip64(h, std::span(rest).subspan(name_len, extra_len), true, offset32);
    h.length = kCentralSize + name_len + extra_len + comment_len;
    return std::optional(std::move(h));
  }

  // The header with what usually follows it (its name and extra field) in one read; a second
  // read only for a longer name and extra field.
  Result<std::optional<Header>> local_at(std::uint64_t at) {
    constexpr std::size_t kUsualRest = 226;
    RK_TRY_ASSIGN(auto f, bytes(at, kLocalSize + kUsualRest));
    if (f.size() < kLocalSize || u32(&f[0]) != kLocalSignature) return std::optional<Header>{};
    Header h;
    h.flags = u16(&f[6]);
    h.method = u16(&f[8]);
    h.crc = u32(&f[14]);
    h.compressed = u32(&f[18]);
    h.uncompressed = u32(&f[22]);
    std::uint16_t name_len = u16(&f[26]), extra_len = u16(&f[28]);
    std::vector<std::byte> rest;
    if (f.size() >= kLocalSize + name_len + extra_len) {
      rest.assign(f.begin() + kLocalSize, f.begin() + kLocalSize + name_len + extra_len);
    } else {
      RK_TRY_ASSIGN(rest, bytes(at + kLocalSize, name_len + extra_len));
    }
    if (rest.size() < static_cast<std::size_t>(name_len + extra_len)) {
      return std::optional<Header>{};
    }
    h.name.assign(reinterpret_cast<const char*>(rest.data()), name_len);
    apply_zip64(h, std::span(rest).subspan(name_len, extra_len), false, 0);
    h.length = kLocalSize + name_len + extra_len;
    return std::optional(std::move(h));
  }

 protected:
  const ReadAt& read_;
  std::uint64_t size_;
};

class Checker : ZipFile {
 public:
  Checker(const ReadAt& read, std::uint64_t size, std::string_view name)
      : ZipFile(read, size), name_(name) {}

  Result<ZipDirectoryReport> run() {
    RK_TRY_ASSIGN(auto end, find_end());
    if (!end) {
      damage(
          fmt::format("{} has no end of central directory record: the zip is truncated or "
                      "not a zip; Windows, macOS and unzip cannot open it",
                      name_));
      return std::move(report_);
    }
    report_.end_record = true;
    RK_TRY(read_end(*end));
    if (!directory_ok_) return std::move(report_);
    RK_TRY(walk_directory());
    RK_TRY(walk_locals());
    return std::move(report_);
  }

 private:
  void damage(std::string message) {
    if (report_.findings.size() == kMaxFindings) {
      report_.findings.back().message = fmt::format(
          "{} (and more disagreements in the central directory)", report_.findings.back().message);
      return;
    }
    if (report_.findings.size() > kMaxFindings) return;
    report_.findings.push_back(
        Finding{"CENTRAL_DIRECTORY", Severity::kError, current_, std::move(message)});
  }

  Result<void> read_end(std::uint64_t at) {
    RK_TRY_ASSIGN(auto e, end_record(at));
    if (e.missing_zip64) {
      damage(
          fmt::format("the zip64 end of central directory locator of {} points to offset "
                      "{:#x}, where there is no zip64 end record",
                      name_, *e.missing_zip64));
    }
    entries_ = e.entries;
    cd_size_ = e.cd_size;
    if (e.disk != 0 || e.cd_disk != 0) {
      damage(
          fmt::format("{} is one part of a zip split over several disks; restorekit reads "
                      "whole zips only",
                      name_));
      return {};
    }
    if (e.cd_size > e.end_of_directory) {
      damage(
          fmt::format("the end of central directory record of {} says the directory holds {} "
                      "bytes, more than precede the record ({:#x})",
                      name_, e.cd_size, e.end_of_directory));
      return {};
    }
    // The directory ends where the end record starts; bytes before the zip (a self-extracting
    // stub) shift every offset by the same amount, never backwards.
    std::uint64_t expected_start = e.end_of_directory - e.cd_size;
    if (e.cd_offset > expected_start) {
      damage(
          fmt::format("the end of central directory record of {} points to offset {:#x}, "
                      "past where the directory can be ({:#x}; the file has {} bytes): the "
                      "directory that Windows, macOS and unzip read is lost",
                      name_, e.cd_offset, expected_start, size_));
      return {};
    }
    report_.prefix = expected_start - e.cd_offset;
    cd_start_ = expected_start;
    report_.entries = entries_;
    directory_ok_ = true;
    return {};
  }

  Result<void> walk_directory() {
    PieceReader forward(read_);
    ZipFile directory(forward.read_at(), size_);
    // The local headers, in the directory's order: in file order too where the writer listed
    // them so (most do), read a piece at a time then.
    PieceReader local_pieces(read_);
    ZipFile locals(local_pieces.read_at(), size_);
    std::uint64_t at = cd_start_;
    std::uint64_t seen = 0;
    while (at < cd_start_ + cd_size_) {
      RK_TRY_ASSIGN(auto central, directory.central_at(at));
      if (!central) {
        current_.clear();
        damage(
            fmt::format("the central directory of {} is damaged at offset {:#x} (entry {}): "
                        "no directory header there",
                        name_, at, seen + 1));
        return {};
      }
      ++seen;
      current_ = central->name;
      RK_TRY(compare_local(locals, *central));
      if (seen <= kMaxTrackedEntries) locals_.push_back(central->offset + report_.prefix);
      at += central->length;
    }
    current_.clear();
    if (seen != entries_) {
      damage(fmt::format("the end record of {} counts {} entries, its central directory holds {}",
                         name_, entries_, seen));
    }
    report_.entries = seen;
    return {};
  }

  Result<void> compare_local(ZipFile& locals, const Header& c) {
    std::uint64_t at = c.offset + report_.prefix;
    RK_TRY_ASSIGN(auto local, locals.local_at(at));
    std::string entry = c.name;
    if (!local) {
      damage(
          fmt::format("entry \"{}\" of {}: the central directory points to offset {:#x}, "
                      "where there is no local header",
                      entry, name_, at));
      return {};
    }
    if (local->name != c.name) {
      damage(fmt::format("entry \"{}\" of {} is named \"{}\" in its local header", entry, name_,
                         local->name));
    }
    if (local->method != c.method) {
      damage(
          fmt::format("entry \"{}\" of {}: compression method {} in the central directory, {} "
                      "in the local header",
                      entry, name_, c.method, local->method));
    }
    if (local->flags & kFlagDescriptor) return {};  // the local header leaves them to a descriptor
    if (local->crc != c.crc || local->compressed != c.compressed ||
        local->uncompressed != c.uncompressed) {
      damage(
          fmt::format("entry \"{}\" of {}: the central directory says CRC-32 {:08x}, {} bytes "
                      "({} compressed), the local header CRC-32 {:08x}, {} bytes ({} "
                      "compressed)",
                      entry, name_, c.crc, c.uncompressed, c.compressed, local->crc,
                      local->uncompressed, local->compressed));
    }
    return {};
  }

  // Local headers in file order: every one must be in the directory.
  Result<void> walk_locals() {
    if (locals_.size() != report_.entries) return {};  // too many to track: skipped
    std::sort(locals_.begin(), locals_.end());
    PieceReader forward(read_);
    ZipFile file(forward.read_at(), size_);
    std::uint64_t at = report_.prefix;
    while (at < cd_start_) {  // forward only: `next` must pass `at`
      RK_TRY_ASSIGN(auto local, file.local_at(at));
      if (!local) return {};  // not a header: padding or a stub; nothing more to walk
      bool listed = std::binary_search(locals_.begin(), locals_.end(), at);
      current_ = local->name;
      if (!listed) {
        damage(
            fmt::format("entry \"{}\" of {} (local header at offset {:#x}) is missing from the "
                        "central directory: Windows, macOS and unzip do not see it",
                        local->name, name_, at));
      }
      RK_TRY_ASSIGN(auto next, after(at, *local));
      if (!next || *next <= at) break;
      at = *next;
    }
    current_.clear();
    return {};
  }

  // Where the entry whose local header is at `at` ends (its data and any data descriptor).
  Result<std::optional<std::uint64_t>> after(std::uint64_t at, const Header& local) {
    std::uint64_t data = at + local.length;
    if (!(local.flags & kFlagDescriptor)) return std::optional(data + local.compressed);
    // The size is in the descriptor after the data: take it from the directory instead.
    auto it = std::lower_bound(locals_.begin(), locals_.end(), at);
    if (it == locals_.end() || *it != at) return std::optional<std::uint64_t>{};
    auto next = std::next(it);
    return std::optional(next == locals_.end() ? cd_start_ : *next);
  }

  std::string name_;
  std::string current_;
  ZipDirectoryReport report_;
  std::uint64_t entries_ = 0;
  std::uint64_t cd_size_ = 0;
  std::uint64_t cd_start_ = 0;
  bool directory_ok_ = false;
  std::vector<std::uint64_t> locals_;
};

}  // namespace

Result<std::optional<ZipDirectoryCursor>> ZipDirectoryCursor::open(ReadAt read,
                                                                   std::uint64_t size) {
  ZipDirectoryCursor c(std::move(read), size);
  ZipFile zip(c.read_, size);
  RK_TRY_ASSIGN(auto end, zip.find_end());
  if (!end) return std::optional<ZipDirectoryCursor>{};
  RK_TRY_ASSIGN(auto e, zip.end_record(*end));
  if (e.missing_zip64 || e.disk != 0 || e.cd_disk != 0 || e.cd_size > e.end_of_directory ||
      e.cd_offset > e.end_of_directory - e.cd_size) {
    return std::optional<ZipDirectoryCursor>{};
  }
  c.at_ = e.end_of_directory - e.cd_size;
  c.end_ = e.end_of_directory;
  c.prefix_ = c.at_ - e.cd_offset;
  return std::optional(std::move(c));
}

Result<std::optional<ZipRecord>> ZipDirectoryCursor::next() {
  if (at_ >= end_) return std::optional<ZipRecord>{};
  ReadAt buffered = [this](std::uint64_t offset, std::span<std::byte> out) {
    return directory_.read(read_, offset, out);
  };
  ZipFile directory(buffered, size_);
  RK_TRY_ASSIGN(auto central, directory.central_at(at_));
  if (!central) {
    at_ = end_;
    return std::optional<ZipRecord>{};
  }
  at_ += central->length;
  return std::optional(ZipRecord{std::move(central->name), central->flags, central->method,
                                 central->crc, central->compressed, central->uncompressed,
                                 central->offset + prefix_});
}

Result<std::optional<std::uint64_t>> ZipDirectoryCursor::data_offset(const ZipRecord& record) {
  std::array<std::byte, kLocalSize> f;
  RK_TRY_ASSIGN(std::size_t got, read(record.local_offset, f));
  if (got < kLocalSize || u32(&f[0]) != kLocalSignature) return std::optional<std::uint64_t>{};
  return std::optional(record.local_offset + kLocalSize + u16(&f[26]) + u16(&f[28]));
}

Result<std::size_t> ZipDirectoryCursor::read(std::uint64_t offset, std::span<std::byte> out) {
  if (offset >= size_) return std::size_t{0};
  return local_.read(read_, offset, out);
}

Result<ZipDirectoryReport> check_zip_directory(const ReadAt& read, std::uint64_t size,
                                               std::string_view name) {
  return Checker(read, size, name).run();
}

Result<std::optional<std::uint64_t>> zip_listed_entries(const ReadAt& read, std::uint64_t size) {
  ZipFile file(read, size);
  RK_TRY_ASSIGN(auto end, file.find_end());
  if (!end) return std::optional<std::uint64_t>{};
  RK_TRY_ASSIGN(auto record, file.end_record(*end));
  return std::optional(record.entries);
}

Result<ZipDirectoryReport> check_zip_directory(const ArchiveSource& zip) {
  RK_TRY_ASSIGN(auto source, zip.open());
  auto size = source->size();
  if (!size || !source->seekable()) {
    return fail(
        ErrorCode::kInvalidArgument,
        fmt::format("{} cannot be read at random: its zip directory is not checked", zip.name()),
        zip.name());
  }
  ReadAt read = [&](std::uint64_t offset, std::span<std::byte> out) {
    return source->read_at(offset, out);
  };
  return check_zip_directory(read, *size, zip.name());
}

}  // namespace restorekit::core
