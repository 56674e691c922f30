#include "own_zip.hpp"

#include <isa-l/crc.h>
#include <isa-l/igzip_lib.h>

#include <algorithm>

#include <fmt/format.h>

namespace restorekit::core {

namespace {

constexpr std::size_t kChunk = std::size_t{256} << 10;
constexpr std::uint16_t kMethodStored = 0;
constexpr std::uint16_t kMethodDeflate = 8;
constexpr std::uint16_t kFlagEncrypted = 1;

tl::unexpected<Error> damaged(std::string message) {
  return tl::unexpected(Error(ErrorCode::kCorruptData, std::move(message)));
}

}  // namespace

OwnZipReader::OwnZipReader(ByteSource& file) : file_(file) {}
OwnZipReader::~OwnZipReader() = default;

void OwnZipReader::header_read(std::optional<std::uint64_t> here) {
  record_.reset();
  if (state_ == Cursor::kOff) return;
  if (state_ == Cursor::kUnopened) {
    state_ = Cursor::kOff;
    auto size = file_.size();
    if (!size) return;
    ByteSource* file = &file_;
    auto c = ZipDirectoryCursor::open(
        [file](std::uint64_t at, std::span<std::byte> out) { return file->read_at(at, out); },
        *size);
    if (!c || !*c) return;
    cursor_ = std::move(**c);
    state_ = Cursor::kInStep;
  }
  for (; skip_ > 0; --skip_) {
    auto skipped = cursor_->next();
    if (!skipped || !*skipped) {
      state_ = Cursor::kOff;
      return;
    }
  }
  auto record = cursor_->next();
  if (!record || !*record || !here) {
    state_ = Cursor::kOff;
    return;
  }
  record_ = std::move(**record);
  here_ = *here;
}

bool OwnZipReader::may_read(std::optional<std::uint64_t> size) const {
  return record_ && (record_->flags & kFlagEncrypted) == 0 &&
         (record_->method == kMethodStored || record_->method == kMethodDeflate) &&
         (!size || *size == record_->uncompressed);
}

bool OwnZipReader::begin() {
  auto data = cursor_->data_offset(*record_);
  if (!data || !*data || **data != here_) {
    state_ = Cursor::kOff;
    return false;
  }
  data_offset_ = **data;
  read_ = written_ = 0;
  crc_ = 0;
  finished_ = false;
  if (!in_) {
    in_ = std::make_unique_for_overwrite<std::byte[]>(kChunk);
    out_ = std::make_unique_for_overwrite<std::byte[]>(kChunk);
    inflate_ = std::make_unique<inflate_state>();
    isal_inflate_init(inflate_.get());
  }
  isal_inflate_reset(inflate_.get());
  inflate_->crc_flag = ISAL_DEFLATE;  // raw deflate; the CRC-32 is checked here
  ++entries_;
  return true;
}

Result<std::span<const std::byte>> OwnZipReader::read() {
  if (finished_) return std::span<const std::byte>{};
  std::span<const std::byte> block;
  if (record_->method == kMethodStored) {
    RK_TRY_ASSIGN(block, stored());
  } else {
    RK_TRY_ASSIGN(block, inflated());
  }
  if (!block.empty()) {
    crc_ =
        crc32_gzip_refl(crc_, reinterpret_cast<const unsigned char*>(block.data()), block.size());
    written_ += block.size();
    return block;
  }
  finished_ = true;
  // As libarchive: sizes agree modulo 4 GiB (writers that got zip64 wrong store the low half).
  if ((written_ ^ record_->uncompressed) & 0xffffffffu) {
    return damaged(fmt::format("ZIP entry holds {} bytes, its directory lists {}", written_,
                               record_->uncompressed));
  }
  if (crc_ != record_->crc) {
    return damaged(fmt::format("ZIP bad CRC: {:#x} should be {:#x}", crc_, record_->crc));
  }
  return block;
}

// Up to `want` more compressed bytes into `into`; a zip cut short is truncated.
Result<std::size_t> OwnZipReader::fill(std::byte* into, std::size_t want) {
  want = static_cast<std::size_t>(std::min<std::uint64_t>(want, record_->compressed - read_));
  if (want == 0) return std::size_t{0};
  RK_TRY_ASSIGN(std::size_t got,
                cursor_->read(data_offset_ + read_, std::span<std::byte>(into, want)));
  read_ += got;
  if (got < want) return damaged("Truncated ZIP file data");
  return got;
}

Result<std::span<const std::byte>> OwnZipReader::stored() {
  RK_TRY_ASSIGN(std::size_t n, fill(out_.get(), kChunk));
  return std::span<const std::byte>(out_.get(), n);
}

Result<std::span<const std::byte>> OwnZipReader::inflated() {
  inflate_state& z = *inflate_;
  for (;;) {
    if (z.block_state == ISAL_BLOCK_FINISH) return std::span<const std::byte>{};
    if (z.avail_in == 0) {  // none left: igzip may still hold bits and output to hand out
      RK_TRY_ASSIGN(std::size_t n, fill(in_.get(), kChunk));
      z.next_in = reinterpret_cast<std::uint8_t*>(in_.get());
      z.avail_in = static_cast<std::uint32_t>(n);
    }
    z.next_out = reinterpret_cast<std::uint8_t*>(out_.get());
    z.avail_out = static_cast<std::uint32_t>(kChunk);
    std::uint32_t before_in = z.avail_in;
    int rc = isal_inflate(&z);
    if (rc < 0) return damaged(fmt::format("ZIP decompression failed ({})", rc));
    std::size_t n = kChunk - z.avail_out;
    if (n > 0) return std::span<const std::byte>(out_.get(), n);
    if (z.block_state != ISAL_BLOCK_FINISH && z.avail_in == before_in &&
        read_ == record_->compressed) {
      return damaged("Truncated ZIP file data");  // the stream wants more than the entry has
    }
  }
}

}  // namespace restorekit::core
