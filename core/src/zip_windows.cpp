#include "zip_windows.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>

#include "zip_format.hpp"

namespace restorekit::core {

namespace {

using zip::u16;
using zip::u32;
using zip::u64;

constexpr std::size_t kWindowBytes = std::size_t{1} << 20;
constexpr std::size_t kCentralSize = 46;
constexpr std::size_t kEndSize = 22;
constexpr std::size_t kZip64EndSize = 56;
constexpr std::size_t kZip64LocatorSize = 20;
constexpr std::uint64_t kTailSearch = 16 * 1024;  // libarchive looks for the end record here

bool signature(const std::byte* p, char third, char fourth) {
  return p[0] == std::byte{'P'} && p[1] == std::byte{'K'} &&
         p[2] == static_cast<std::byte>(third) && p[3] == static_cast<std::byte>(fourth);
}
bool ends_directory(const std::byte* p) {
  return signature(p, 5, 6) || signature(p, 6, 6);
}

Result<std::vector<std::byte>> bytes_at(const ReadAt& read, std::uint64_t at, std::uint64_t n,
                                        std::uint64_t size) {
  if (at >= size) return std::vector<std::byte>{};
  std::vector<std::byte> out(static_cast<std::size_t>(std::min(n, size - at)));
  RK_TRY_ASSIGN(std::size_t got, read(at, out));
  out.resize(got);
  return out;
}

// Where libarchive 3.6.2's seekable zip reader starts reading the directory, and the correction
// it adds to every local-header offset: archive_read_format_zip_seekable_bid (the last end record
// in the file's last 16 KiB), read_eocd, read_zip64_eocd and the forward search at the start of
// slurp_central_directory, replayed on the same bytes. nullopt where libarchive would not bid,
// or where the answer would depend on how it buffers (a directory in the last 24 bytes).
struct Location {
  std::uint64_t first_record = 0;
  std::uint64_t correction = 0;
};
Result<std::optional<Location>> locate_like_libarchive(const ReadAt& read, std::uint64_t size) {
  std::optional<Location> none;
  std::uint64_t tail_size = std::min(kTailSearch, size);
  if (tail_size <= kEndSize) return none;
  std::uint64_t tail_at = size - tail_size;
  RK_TRY_ASSIGN(auto tail, bytes_at(read, tail_at, tail_size, size));
  if (tail.size() != tail_size) return none;
  std::size_t i = tail.size() - kEndSize;
  while (i > 0 && !signature(&tail[i], 5, 6)) --i;
  if (i == 0) return none;
  const std::byte* e = &tail[i];
  std::int64_t end_at = static_cast<std::int64_t>(tail_at + i);
  std::optional<std::int64_t> cd_offset, adjusted;
  // read_eocd: one volume, and (in 32-bit arithmetic, as libarchive adds) the directory ends
  // before the record.
  std::uint32_t cd_size32 = u32(e + 12), cd_offset32 = u32(e + 16);
  if (u16(e + 4) == 0 && u16(e + 6) == 0 && u16(e + 10) == u16(e + 8) &&
      static_cast<std::uint32_t>(cd_offset32 + cd_size32) <= end_at) {
    cd_offset = cd_offset32;
    adjusted = end_at - cd_size32;
  }
  // read_zip64_eocd: a locator just before the end record, pointing at a zip64 end record.
  if (i >= kZip64LocatorSize && signature(e - kZip64LocatorSize, 6, 7)) {
    const std::byte* loc = e - kZip64LocatorSize;
    auto record_at = static_cast<std::int64_t>(u64(loc + 8));
    if (u32(loc + 4) == 0 && u32(loc + 16) == 1 && record_at >= 0) {
      RK_TRY_ASSIGN(auto z,
                    bytes_at(read, static_cast<std::uint64_t>(record_at), kZip64EndSize, size));
      if (z.size() == kZip64EndSize) {
        auto length = static_cast<std::int64_t>(u64(&z[4]) + 12);
        if (length >= 56 && length <= 16384 &&
            static_cast<std::uint64_t>(record_at) + static_cast<std::uint64_t>(length) <= size &&
            u32(&z[16]) == 0 && u32(&z[20]) == 0 && u64(&z[24]) == u64(&z[32])) {
          cd_offset = adjusted = static_cast<std::int64_t>(u64(&z[48]));
        }
      }
    }
  }
  if (!cd_offset || *adjusted < 0 || static_cast<std::uint64_t>(*adjusted) >= size) return none;
  // The first directory or end signature at or after `adjusted`, searched in pieces that
  // overlap by three bytes.
  constexpr std::size_t kPiece = 64 * 1024;
  std::vector<std::byte> piece(kPiece);
  for (auto at = static_cast<std::uint64_t>(*adjusted); at + 4 <= size; at += kPiece - 3) {
    RK_TRY_ASSIGN(std::size_t got, read(at, piece));
    for (std::size_t k = 0; k + 4 <= got; ++k) {
      if (piece[k] != std::byte{'P'}) continue;
      const std::byte* p = &piece[k];
      if (!signature(p, 1, 2) && !ends_directory(p)) continue;
      std::uint64_t found = at + k;
      auto correction = static_cast<std::int64_t>(found) - *cd_offset;
      // Within the last 24 bytes libarchive's answer depends on its buffers; a negative
      // correction is a hostile offset past the directory: both are libarchive's to read.
      if (found + 24 > size || correction < 0) return none;
      return std::optional(Location{found, static_cast<std::uint64_t>(correction)});
    }
    if (got < kPiece) break;
  }
  return none;
}

template <typename T>
void put(std::vector<std::byte>& out, T value) {
  for (std::size_t b = 0; b < sizeof(T); ++b) {
    out.push_back(static_cast<std::byte>((static_cast<std::uint64_t>(value) >> (8 * b)) & 0xff));
  }
}

}  // namespace

Result<std::optional<ZipWindows>> ZipWindows::open(ReadAt read, std::uint64_t size,
                                                   std::size_t entries) {
  std::optional<ZipWindows> none;
  RK_TRY_ASSIGN(auto where, locate_like_libarchive(read, size));
  if (!where) return none;
  ZipWindows w(std::move(read), size, std::max<std::size_t>(entries, 1));
  w.at_ = where->first_record;
  w.correction_ = where->correction;
  RK_TRY_ASSIGN(bool first, w.fill());
  // A directory that fits one window, or breaks within it, is libarchive's to read whole (it
  // holds no more than a window's records either way).
  if (!first || w.ended_ || w.stopped_) return none;
  return std::optional(std::move(w));
}

Result<bool> ZipWindows::advance() {
  if (stopped_) return tl::unexpected(*stopped_);
  if (ended_) return false;
  RK_TRY_ASSIGN(bool more, fill());
  if (!more && stopped_) return tl::unexpected(*stopped_);
  return more;
}

// The records from at_ on, as many as a window holds; what libarchive's slurp would stop at ends
// the walk (stopped_ when it is damage: the records before it are still a window).
Result<bool> ZipWindows::fill() {
  tail_.clear();
  std::size_t records = 0;
  std::array<std::byte, kCentralSize> head;
  while (records < entries_ && tail_.size() < kWindowBytes) {
    RK_TRY_ASSIGN(std::size_t got, piece_.read(read_, at_, std::span(head).first(4)));
    if (got == 4 && ends_directory(head.data())) {
      ended_ = true;
      break;
    }
    if (got == 4 && !signature(head.data(), 1, 2)) {
      stopped_ = Error(ErrorCode::kCorruptData, "Invalid central directory signature");
      break;
    }
    if (got == 4) {
      RK_TRY_ASSIGN(got, piece_.read(read_, at_, head));
    }
    std::uint64_t length = got < kCentralSize ? 0
                                              : kCentralSize + std::uint64_t{u16(&head[28])} +
                                                    u16(&head[30]) + u16(&head[32]);
    if (length == 0 || at_ + length > size_) {
      stopped_ = Error(ErrorCode::kTruncated, "Truncated ZIP file header");
      break;
    }
    std::size_t was = tail_.size();
    tail_.resize(was + static_cast<std::size_t>(length));
    RK_TRY_ASSIGN(got, piece_.read(read_, at_, std::span(tail_).subspan(was)));
    if (got < length) return fail(ErrorCode::kIo, "the zip shrank while it was read");
    at_ += length;
    ++records;
  }
  if (records == 0) {
    tail_.clear();
    return false;
  }
  close_tail(records);
  ++windows_;
  first_record_ += records_;
  records_ = records;
  return true;
}

// Padding, then the records (already in tail_), then a zip64 end record, its locator and an end
// record. libarchive takes the directory's place from the zip64 record (the 32-bit one says
// "see zip64") and searches forward from it for the first record: the padding (zeros) puts the
// records `correction_` bytes past that place, so libarchive adds the same correction to every
// local-header offset as it does reading the real directory.
void ZipWindows::close_tail(std::size_t records) {
  tail_at_ = size_ + correction_;
  std::uint64_t directory_size = tail_.size();
  std::uint64_t zip64_at = tail_at_ + directory_size;
  put<std::uint32_t>(tail_, 0x06064b50);
  put<std::uint64_t>(tail_, kZip64EndSize - 12);
  put<std::uint16_t>(tail_, 45);
  put<std::uint16_t>(tail_, 45);
  put<std::uint32_t>(tail_, 0);  // this disk
  put<std::uint32_t>(tail_, 0);  // the directory's disk
  put<std::uint64_t>(tail_, records);
  put<std::uint64_t>(tail_, records);
  put<std::uint64_t>(tail_, directory_size);
  put<std::uint64_t>(tail_, size_);  // where the search for the first record starts
  put<std::uint32_t>(tail_, 0x07064b50);
  put<std::uint32_t>(tail_, 0);
  put<std::uint64_t>(tail_, zip64_at);
  put<std::uint32_t>(tail_, 1);
  put<std::uint32_t>(tail_, 0x06054b50);
  put<std::uint16_t>(tail_, 0);
  put<std::uint16_t>(tail_, 0);
  put<std::uint16_t>(tail_, 0xffff);
  put<std::uint16_t>(tail_, 0xffff);
  put<std::uint32_t>(tail_, static_cast<std::uint32_t>(directory_size));
  put<std::uint32_t>(tail_, 0xffffffff);
  put<std::uint16_t>(tail_, 0);  // no comment
}

Result<std::span<const std::byte>> ZipWindowSource::read() {
  std::uint64_t real = windows_.real_size();
  if (at_ < real) {
    RK_TRY_ASSIGN(auto chunk, inner_->read());
    chunk =
        chunk.first(static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), real - at_)));
    at_ += chunk.size();
    if (!chunk.empty() || at_ < real) return chunk;  // a file that ends early: its end
  }
  std::uint64_t tail_at = windows_.tail_at();
  if (at_ < tail_at) {  // the padding: zeros
    static constexpr std::array<std::byte, 64 * 1024> kZeros{};
    auto n = static_cast<std::size_t>(std::min<std::uint64_t>(kZeros.size(), tail_at - at_));
    at_ += n;
    return std::span<const std::byte>(kZeros.data(), n);
  }
  auto tail = windows_.tail();
  if (at_ >= tail_at + tail.size()) return std::span<const std::byte>{};
  auto from = static_cast<std::size_t>(at_ - tail_at);
  at_ = tail_at + tail.size();
  return tail.subspan(from);
}

Result<std::uint64_t> ZipWindowSource::seek(std::int64_t offset, int whence) {
  std::int64_t base = whence == SEEK_CUR   ? static_cast<std::int64_t>(at_)
                      : whence == SEEK_END ? static_cast<std::int64_t>(windows_.virtual_size())
                                           : 0;
  std::int64_t target = base + offset;
  if (target < 0) {
    return fail(ErrorCode::kIo, inner_->name() + ": seek before the start of the file");
  }
  auto to = static_cast<std::uint64_t>(target);
  if (to < windows_.real_size()) RK_TRY(inner_->seek(target, SEEK_SET));
  at_ = to;
  return to;
}

Result<bool> ZipWindowPart::first() {
  if (owns(0)) return true;
  skipped_(windows_.records());
  return next();
}

Result<bool> ZipWindowPart::next() {
  for (;;) {
    std::uint64_t last = windows_.windows() - 1;
    auto more = windows_.advance();
    if (!more && (more.error().code == ErrorCode::kIo || owns(last))) return more;
    if (!more || !*more) return false;
    if (owns(windows_.windows() - 1)) return true;
    skipped_(windows_.records());
  }
}

}  // namespace restorekit::core
