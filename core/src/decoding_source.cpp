#include "decoding_source.hpp"

#include "big_buffer.hpp"
#include "ordered_pipeline.hpp"

#include <isa-l/crc.h>
#include <isa-l/igzip_lib.h>
#include <lzma.h>
#define ZSTD_STATIC_LINKING_ONLY  // the frame header and block-by-block ("bufferless") API
#include <zstd.h>
#include <zstd_errors.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <limits>
#include <new>
#include <thread>

#include <fmt/format.h>

namespace restorekit::core {

namespace {

using detail::BigBuffer;
using detail::ByteBuffer;
using detail::make_big_buffer;

constexpr std::size_t kOutChunk = std::size_t{1} << 20;
constexpr std::uint64_t kXzMemoryLimit = std::uint64_t{256} << 20;
constexpr int kZstdWindowLogMax = 27;  // zstd's own default limit (128 MiB windows)

bool starts_with(std::span<const std::byte> data, std::initializer_list<unsigned char> magic) {
  if (data.size() < magic.size()) return false;
  std::size_t i = 0;
  for (unsigned char m : magic) {
    if (data[i++] != std::byte{m}) return false;
  }
  return true;
}

// A gzip member that ended inside a decoded chunk: where, and what its trailer promised.
struct MemberEnd {
  std::size_t offset = 0;  // in the chunk: the member's data ends here
  std::uint32_t crc = 0;
  std::uint32_t isize = 0;  // uncompressed size modulo 2^32
};
using Marks = std::vector<MemberEnd>;

// Reads the compressed input ahead on a thread of its own, so that the decoding thread (the
// busy one on a stream that decodes on one thread) spends no time in read()'s copy out of the
// page cache (7% of its time on a tar.gz). `first` (bytes a decoder already took from the inner
// source) comes out first. Three chunks are read ahead of the one being decoded: with one, the
// decoding thread waited 5-11 ms of a 100 ms tar.gz for its input whenever the reading thread
// did not get a core at once (four threads on two cores); with three, 1-5 ms (sample tar.gz
// verify 106 -> 99 ms, tar.zst 85 -> 80 ms; eight gave no more). The compression ratio limit
// counts what the decoder consumed (StreamNotes), not these bytes.
class ReadAheadSource final : public ByteSource {
 public:
  ReadAheadSource(std::unique_ptr<ByteSource> inner, std::vector<std::byte> first)
      : inner_(std::move(inner)),
        first_(std::move(first)),
        chunks_(inner_->name(), kSlots, [this](Chunk& c) { return fill(c); }) {}
  ~ReadAheadSource() override { chunks_.stop(); }  // before the source its thread reads goes
  ReadAheadSource(const ReadAheadSource&) = delete;
  ReadAheadSource& operator=(const ReadAheadSource&) = delete;

  Result<std::span<const std::byte>> read() override {
    if (!first_.empty()) {
      current_.swap(first_);
      first_.clear();
      return std::span<const std::byte>(current_);
    }
    RK_TRY_ASSIGN(Chunk * chunk, chunks_.next());
    if (!chunk) return std::span<const std::byte>{};
    return std::span<const std::byte>(chunk->data.get(), chunk->size);
  }
  Result<std::uint64_t> seek(std::int64_t, int) override {
    return fail(ErrorCode::kInvalidArgument, "a stream read ahead cannot seek", name());
  }
  [[nodiscard]] bool seekable() const override { return false; }
  [[nodiscard]] std::optional<std::uint64_t> size() const override { return inner_->size(); }
  [[nodiscard]] std::string name() const override { return inner_->name(); }

 private:
  static constexpr std::size_t kSlots = 4;
  // A chunk takes one read of the inner source (a file's 1 MiB), or as much of it as fits: at
  // 2 MiB its buffer is one huge page (big_buffer.hpp), first touched with one page fault.
  static constexpr std::size_t kChunkBytes = std::size_t{2} << 20;
  struct Chunk {
    BigBuffer data;
    std::size_t size = 0;
  };

  // On the reading thread. @return false at the end of the input. An input that reads at
  // offsets (a file, memory) is read straight into the chunk: read() would copy its bytes
  // through the source's own buffer first (~3% of a foreign tar.zst's verify).
  Result<bool> fill(Chunk& chunk) {
    if (!chunk.data) chunk.data = make_big_buffer(kChunkBytes);
    if (pending_.empty() && inner_->reads_at_in_place()) {
      if (!at_) {
        RK_TRY_ASSIGN(at_, inner_->seek(0, SEEK_CUR));
      }
      RK_TRY_ASSIGN(chunk.size,
                    inner_->read_at(*at_, std::span<std::byte>(chunk.data.get(), kChunkBytes)));
      *at_ += chunk.size;
      return chunk.size > 0;
    }
    if (pending_.empty()) {
      RK_TRY_ASSIGN(pending_, inner_->read());
      if (pending_.empty()) return false;
    }
    chunk.size = std::min(pending_.size(), kChunkBytes);
    std::memcpy(chunk.data.get(), pending_.data(), chunk.size);
    pending_ = pending_.subspan(chunk.size);
    return true;
  }

  std::unique_ptr<ByteSource> inner_;
  std::vector<std::byte> first_;
  std::vector<std::byte> current_;      // the first bytes, once handed out
  std::span<const std::byte> pending_;  // the inner source's last read, not yet all in a chunk
  std::optional<std::uint64_t> at_;     // where the next read_at() reads, once reading so
  OrderedPipeline<Chunk> chunks_;
};

// Shared plumbing: pulls compressed chunks from the inner source, tracks position and owns the
// output buffer. Subclasses decode.
class Decoder : public ByteSource {
 public:
  Decoder(std::unique_ptr<ByteSource> inner, StreamNotes* notes, std::string_view codec)
      : inner_(std::move(inner)), notes_(notes), codec_(codec) {}

  // Decodes the next bytes into `dst`. @return how many; 0 at the end of the stream.
  // `marks` receives what check() must verify about this chunk (gzip: member ends).
  virtual Result<std::size_t> decode(std::span<std::byte> dst, Marks& marks) = 0;

  // Verifies a decoded chunk, in order, on the consuming thread: with prefetching, the gzip
  // CRC-32 is computed here rather than on the decompressing thread, which is the busy one.
  virtual Result<void> check(std::span<const std::byte>, const Marks&) { return {}; }

  Result<std::span<const std::byte>> read() override {
    if (!out_) out_ = std::make_unique_for_overwrite<std::byte[]>(kOutChunk);
    Marks marks;
    RK_TRY_ASSIGN(std::size_t n, decode(std::span<std::byte>(out_.get(), kOutChunk), marks));
    std::span<const std::byte> chunk(out_.get(), n);
    RK_TRY(check(chunk, marks));
    return chunk;
  }

  Result<std::uint64_t> seek(std::int64_t, int) override {
    return fail(ErrorCode::kInvalidArgument, "a decompressed stream cannot seek", name());
  }
  [[nodiscard]] bool seekable() const override { return false; }
  [[nodiscard]] std::optional<std::uint64_t> size() const override { return inner_->size(); }
  [[nodiscard]] std::string name() const override { return inner_->name(); }

  // From now on the input is read ahead on a thread of its own. What the last read left in
  // `in_` (it points into the inner source's buffer, which that thread will reuse) is kept.
  void read_ahead() {
    std::vector<std::byte> rest(in_.begin(), in_.end());
    in_ = {};
    inner_ = std::make_unique<ReadAheadSource>(std::move(inner_), std::move(rest));
  }

 protected:
  // Refills `in_` when it is empty. @return false at the end of the compressed input.
  Result<bool> refill() {
    if (!in_.empty()) return true;
    RK_TRY_ASSIGN(in_, inner_->read());
    return !in_.empty();
  }
  void consume(std::size_t n) {
    in_ = in_.subspan(n);
    consumed_ += n;
    if (notes_) notes_->consumed(n);
  }
  // Whether the next bytes can be read straight into a buffer of the caller's (read_direct()):
  // the input reads at offsets (files, memory) and nothing of its last chunk is left.
  [[nodiscard]] bool reads_direct() const { return in_.empty() && inner_->reads_at_in_place(); }
  // Reads the next bytes into `dst` with read_at() at the stream's position, sparing the copy
  // out of the input's buffer; they count as consumed. The input's own position stays behind
  // until catch_up(). @return the bytes read, 0 at the end.
  Result<std::size_t> read_direct(std::span<std::byte> dst) {
    if (!start_) {  // where the stream starts in the input (0, unless it was read from elsewhere)
      RK_TRY_ASSIGN(std::uint64_t position, inner_->seek(0, SEEK_CUR));
      start_ = position - consumed_;
    }
    RK_TRY_ASSIGN(std::size_t n, inner_->read_at(*start_ + consumed_, dst));
    if (n == 0) return n;
    behind_ = true;
    consumed_ += n;
    if (notes_) notes_->consumed(n);
    return n;
  }
  // After read_direct(): the input's own position moves to where those reads ended.
  Result<void> catch_up() {
    if (!behind_) return {};
    RK_TRY(inner_->seek(static_cast<std::int64_t>(*start_ + consumed_), SEEK_SET));
    behind_ = false;
    return {};
  }
  tl::unexpected<Error> damaged(ErrorCode code, std::string_view what) const {
    return damaged(code, what, consumed_);
  }
  // `offset`: where in the compressed stream the decoder stood (bytes read ahead excluded).
  tl::unexpected<Error> damaged(ErrorCode code, std::string_view what, std::uint64_t offset) const {
    return fail(code,
                fmt::format("{} stream of {} is damaged at compressed byte {}: {}", codec_, name(),
                            offset, what),
                name());
  }
  tl::unexpected<Error> truncated() const {
    return fail(ErrorCode::kTruncated,
                fmt::format("{} stream of {} ends at compressed byte {} before its end; the "
                            "backup file is incomplete",
                            codec_, name(), consumed_),
                name());
  }
  void note(std::string code, std::string message) {
    if (notes_) notes_->add(Finding{std::move(code), Severity::kWarning, "", std::move(message)});
  }

  std::unique_ptr<ByteSource> inner_;
  StreamNotes* notes_;
  std::string_view codec_;
  std::span<const std::byte> in_;
  std::uint64_t consumed_ = 0;
  std::unique_ptr<std::byte[]> out_;  // allocated on first read(); unused when prefetching
  bool finished_ = false;

 private:
  bool behind_ = false;                 // read_direct() read past the input's own position
  std::optional<std::uint64_t> start_;  // of the stream in the input, for read_direct()
};

// gzip (RFC 1952) with ISA-L's raw inflate and CRC-32 (igzip: 2.8x zlib's speed on text rows,
// 1.1x on half-random data; bench/micro_bench's BM_Inflate pairs): the member header and
// trailer are parsed here, and the CRC-32/ISIZE check runs in check(), so that it can overlap
// decompression.
class GzipDecoder final : public Decoder {
 public:
  GzipDecoder(std::unique_ptr<ByteSource> inner, StreamNotes* notes)
      : Decoder(std::move(inner), notes, "gzip"), isal_(std::make_unique<inflate_state>()) {
    isal_inflate_init(isal_.get());
  }
  GzipDecoder(const GzipDecoder&) = delete;
  GzipDecoder& operator=(const GzipDecoder&) = delete;

  Result<std::size_t> decode(std::span<std::byte> dst, Marks& marks) override {
    std::size_t produced = 0;
    while (!finished_) {
      RK_TRY_ASSIGN(bool more, refill());
      if (!more) {
        if (stage_ != Stage::kBetween && stage_ != Stage::kGarbage) return truncated();
        finished_ = true;
        break;
      }
      switch (stage_) {
        case Stage::kGarbage: consume(in_.size()); break;
        case Stage::kBetween: RK_TRY(start_member()); break;
        case Stage::kHeader: RK_TRY(read_header()); break;
        case Stage::kBody: {
          RK_TRY_ASSIGN(std::size_t n, inflate_some(dst.subspan(produced)));
          produced += n;
          break;
        }
        case Stage::kTrailer: read_trailer(marks, produced); break;
      }
      if (produced == dst.size() || (produced > 0 && stage_ == Stage::kBody && in_.empty())) break;
    }
    return produced;
  }

  Result<void> check(std::span<const std::byte> chunk, const Marks& marks) override {
    std::size_t pos = 0;
    for (const auto& end : marks) {
      update(chunk.subspan(pos, end.offset - pos));
      pos = end.offset;
      if (crc_ != end.crc || static_cast<std::uint32_t>(size_) != end.isize) {
        return fail(ErrorCode::kCrcError,
                    fmt::format("gzip member {} of {} fails its trailer check (CRC-32 {:08x} and "
                                "size {} recorded, {:08x} and {} decoded): the data is damaged",
                                members_checked_ + 1, name(), end.crc, end.isize, crc_,
                                static_cast<std::uint32_t>(size_)),
                    name());
      }
      ++members_checked_;
      crc_ = 0;
      size_ = 0;
    }
    update(chunk.subspan(pos));
    return {};
  }

 private:
  enum class Stage { kBetween, kHeader, kBody, kTrailer, kGarbage };
  static constexpr std::size_t kMaxHeader = 64 * 1024;

  void update(std::span<const std::byte> data) {
    crc_ = crc32_gzip_refl(crc_, reinterpret_cast<const unsigned char*>(data.data()), data.size());
    size_ += data.size();
  }

  // At a member boundary: another member, zero padding (tolerated, noted), or garbage.
  Result<void> start_member() {
    if (in_[0] == std::byte{0}) {
      if (!padding_noted_) {
        note("GZIP_TRAILING_DATA", fmt::format("{} has zero bytes after its gzip data", name()));
      }
      padding_noted_ = true;
      auto nonzero =
          std::find_if(in_.begin(), in_.end(), [](std::byte b) { return b != std::byte{0}; });
      consume(static_cast<std::size_t>(nonzero - in_.begin()));
      return {};
    }
    header_.clear();
    stage_ = Stage::kHeader;
    return {};
  }

  // Collects the header (it may span input chunks) and checks it.
  Result<void> read_header() {
    std::size_t take = std::min(in_.size(), kMaxHeader - header_.size());
    std::size_t before = header_.size();
    header_.insert(header_.end(), in_.begin(), in_.begin() + static_cast<std::ptrdiff_t>(take));
    RK_TRY_ASSIGN(std::size_t length, header_length());
    if (length == std::numeric_limits<std::size_t>::max()) {
      // As gzip itself does: data after the last member is ignored, and said so.
      note("GZIP_TRAILING_DATA",
           fmt::format("{} holds data after its last gzip member, which is ignored", name()));
      stage_ = Stage::kGarbage;
      return {};
    }
    if (length == 0) {
      if (header_.size() >= kMaxHeader) return damaged(ErrorCode::kCorruptData, "oversized header");
      consume(take);
      return {};
    }
    consume(length - before);
    ++members_;
    check_header_fields();
    isal_inflate_reset(isal_.get());
    isal_->crc_flag = ISAL_DEFLATE;  // raw deflate: the trailer is checked here
    stage_ = Stage::kBody;
    return {};
  }

  // @return the header's length once complete, 0 while more bytes are needed.
  Result<std::size_t> header_length() {
    auto byte = [&](std::size_t i) { return static_cast<unsigned>(header_[i]); };
    if (header_.size() >= 2 && (byte(0) != 0x1f || byte(1) != 0x8b)) {
      if (members_ == 0) return damaged(ErrorCode::kCorruptData, "this is not gzip data");
      return std::numeric_limits<std::size_t>::max();  // trailing data, not another member
    }
    if (header_.size() < 10) return std::size_t{0};
    unsigned flags = byte(3);
    if (byte(2) != 8 || (flags & 0xe0) != 0) {
      return damaged(ErrorCode::kCorruptData, "unknown compression method or header flags");
    }
    std::size_t pos = 10;
    if (flags & 0x04) {  // FEXTRA
      if (header_.size() < pos + 2) return std::size_t{0};
      pos += 2 + (byte(pos) | byte(pos + 1) << 8);
    }
    for (unsigned flag : {0x08u, 0x10u}) {  // FNAME, FCOMMENT: zero-terminated
      if (!(flags & flag)) continue;
      while (pos < header_.size() && header_[pos] != std::byte{0}) ++pos;
      if (pos >= header_.size()) return std::size_t{0};
      ++pos;
    }
    if (flags & 0x02) {  // FHCRC: the low 16 bits of the header's CRC-32
      if (header_.size() < pos + 2) return std::size_t{0};
      auto crc =
          crc32_gzip_refl(0, reinterpret_cast<const unsigned char*>(header_.data()), pos) & 0xffffu;
      if (crc != (byte(pos) | byte(pos + 1) << 8)) {
        return damaged(ErrorCode::kCrcError, "the header's CRC-16 does not match");
      }
      pos += 2;
    }
    if (header_.size() < pos) return std::size_t{0};
    return pos;
  }

  // Header fields nothing else checks (RFC 1952): flag them when implausible.
  void check_header_fields() {
    auto byte = [&](std::size_t i) { return static_cast<unsigned>(header_[i]); };
    std::uint32_t mtime = byte(4) | byte(5) << 8 | byte(6) << 16 | byte(7) << 24;
    auto now = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
    constexpr std::int64_t k1980 = 315532800;
    bool odd_time = mtime != 0 && (mtime < k1980 || mtime > now + 86400);
    bool odd_xfl = byte(8) != 0 && byte(8) != 2 && byte(8) != 4;
    bool odd_os = byte(9) > 13 && byte(9) != 255;
    if (odd_time || odd_xfl || odd_os) {
      note("GZIP_HEADER",
           fmt::format("the gzip header of {} holds implausible values (mtime {}, XFL {}, OS {}); "
                       "the header was altered, the data may still be intact",
                       name(), mtime, byte(8), byte(9)));
    }
  }

  Result<std::size_t> inflate_some(std::span<std::byte> dst) {
    inflate_state& z = *isal_;
    z.next_in = reinterpret_cast<std::uint8_t*>(const_cast<std::byte*>(in_.data()));
    z.avail_in = static_cast<std::uint32_t>(std::min<std::size_t>(in_.size(), UINT32_MAX));
    z.next_out = reinterpret_cast<std::uint8_t*>(dst.data());
    z.avail_out = static_cast<std::uint32_t>(std::min<std::size_t>(dst.size(), UINT32_MAX));
    std::size_t offered = z.avail_in;
    int rc = isal_inflate(&z);
    if (rc < 0) return damaged(ErrorCode::kCorruptData, isal_error(rc));
    if (z.block_state == ISAL_BLOCK_FINISH) {
      // igzip reads ahead 8 bytes at a time: whole bytes still in its bit buffer belong to the
      // trailer, not to the deflate stream.
      std::uint32_t unread = static_cast<std::uint32_t>(z.read_in_length) / 8;
      z.avail_in += unread;
      z.read_in_length = 0;
      z.read_in = 0;
      stage_ = Stage::kTrailer;
      trailer_.clear();
    }
    consume(offered - z.avail_in);
    return static_cast<std::size_t>(dst.size() - z.avail_out);
  }

  static std::string isal_error(int rc) {
    switch (rc) {
      case ISAL_INVALID_BLOCK: return "invalid deflate block";
      case ISAL_INVALID_SYMBOL: return "invalid deflate symbol";
      case ISAL_INVALID_LOOKBACK: return "invalid deflate back-reference distance";
      default: return fmt::format("invalid deflate data (igzip error {})", rc);
    }
  }

  // The 8-byte trailer (it may span input chunks): CRC-32 and ISIZE, both little-endian.
  void read_trailer(Marks& marks, std::size_t produced) {
    std::size_t take = std::min(in_.size(), std::size_t{8} - trailer_.size());
    trailer_.insert(trailer_.end(), in_.begin(), in_.begin() + static_cast<std::ptrdiff_t>(take));
    consume(take);
    if (trailer_.size() < 8) return;
    auto le32 = [&](std::size_t i) {
      std::uint32_t v = 0;
      for (std::size_t k = 0; k < 4; ++k)
        v |= std::to_integer<std::uint32_t>(trailer_[i + k]) << (8 * k);
      return v;
    };
    marks.push_back(MemberEnd{produced, le32(0), le32(4)});
    stage_ = Stage::kBetween;
  }

  std::unique_ptr<inflate_state> isal_;
  Stage stage_ = Stage::kBetween;
  std::vector<std::byte> header_;
  std::vector<std::byte> trailer_;
  bool padding_noted_ = false;
  std::uint64_t members_ = 0;  // members whose header was read
  // check() state, on the consuming thread:
  std::uint32_t crc_ = 0;
  std::uint64_t size_ = 0;
  std::uint64_t members_checked_ = 0;
};

// Compressed bytes taken from a stream but not yet decoded: appended at the back, consumed from
// the front without moving the rest each time.
class Gathered {
 public:
  [[nodiscard]] std::span<const std::byte> bytes() const {
    return std::span<const std::byte>(data_).subspan(start_);
  }
  [[nodiscard]] std::size_t size() const { return data_.size() - start_; }
  void append(std::span<const std::byte> more) {
    data_.insert(data_.end(), more.begin(), more.end());
  }
  void drop(std::size_t n, std::size_t compact_after) {
    start_ += n;
    if (start_ == data_.size()) {
      data_.clear();
      start_ = 0;
    } else if (start_ >= compact_after) {
      data_.erase(data_.begin(), data_.begin() + static_cast<std::ptrdiff_t>(start_));
      start_ = 0;
    }
  }
  // Hands every byte over to `out`, replacing what it held (its storage is kept); leaves this
  // empty. Only a few bytes are here between frames (a header, the tail of the last step).
  void move_to(ByteBuffer& out) {
    out.assign(data_.begin() + static_cast<std::ptrdiff_t>(start_), data_.end());
    data_.clear();
    start_ = 0;
  }
  // Takes `bytes` back whole, in front of anything appended since (this must be empty).
  void take_back(ByteBuffer& bytes) {
    drop(0, 1);
    bytes.insert(bytes.end(), data_.begin(), data_.end());
    data_.swap(bytes);
    bytes.clear();
  }

 private:
  ByteBuffer data_;
  std::size_t start_ = 0;
};

// A zstd frame that decodes whole (ZstdDecoder's parallel path): its compressed bytes, gathered
// under the input lock, and the buffer it decodes into, both kept for the slot's next frame.
struct ZstdFrame {
  std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> dctx{nullptr, &ZSTD_freeDCtx};
  ByteBuffer frame;  // compressed
  BigBuffer out;
  std::size_t capacity = 0;
  std::size_t content = 0;
  std::uint64_t offset = 0;  // of the frame in the compressed stream
};

// Decodes `slot` into its buffer, on a worker outside the input lock; damage names the frame's
// compressed offset in `source`.
Result<void> decode_zstd_frame(const std::string& source, ZstdFrame& slot) {
  auto damaged = [&](ErrorCode code, std::string_view what) {
    return fail(code,
                fmt::format("zstd stream of {} is damaged in the frame at compressed byte {}: {}",
                            source, slot.offset, what),
                source);
  };
  std::size_t n = ZSTD_decompressDCtx(slot.dctx.get(), slot.out.get(), slot.content,
                                      slot.frame.data(), slot.frame.size());
  if (ZSTD_isError(n)) {
    bool check = ZSTD_getErrorCode(n) == ZSTD_error_checksum_wrong;
    return damaged(check ? ErrorCode::kCrcError : ErrorCode::kCorruptData, ZSTD_getErrorName(n));
  }
  if (n != slot.content) {
    return damaged(ErrorCode::kCorruptData,
                   fmt::format("a frame promised {} bytes and held {}", slot.content, n));
  }
  return {};
}

// The compressed input of a zstd stream as its two paths take it: first the bytes already
// taken from the input but not yet decoded (head_: a frame's header, gathered to read it, or
// what a whole frame left over), then the input itself. Notes frames without checksums, once.
class ZstdInput : public Decoder {
 public:
  using Decoder::Decoder;

 protected:
  friend class ZstdWholeFrames;
  static constexpr std::size_t kFrameHeaderMax = 18;  // RFC 8878: magic + the longest header
  static constexpr std::size_t kGatherStep = std::size_t{256} << 10;

  // Ensures head holds at least `want` bytes unless the input ends first.
  Result<void> fill_head(std::size_t want) {
    while (head_.size() < want) {
      RK_TRY_ASSIGN(bool more, refill());
      if (!more) return {};
      std::size_t take = std::min(in_.size(), want - head_.size());
      head_.append(in_.first(take));
      consume(take);
    }
    return {};
  }

  // The next `n` input bytes in one piece: in place where the input's chunk holds them, else
  // gathered in head_. Fewer only where the input ends. taken(n) moves past them.
  Result<std::span<const std::byte>> exactly(std::size_t n) {
    if (head_.size() == 0) {
      RK_TRY_ASSIGN(bool more, refill());
      if (more && in_.size() >= n) return in_.first(n);
    }
    RK_TRY(fill_head(n));
    return head_.bytes().first(std::min(n, head_.size()));
  }
  void taken(std::size_t n) {
    if (head_.size() > 0) {
      head_.drop(n, kGatherStep);
    } else {
      consume(n);
    }
  }

  // Where the next byte to decode stands in the compressed stream (bytes in head_ are not
  // decoded yet).
  [[nodiscard]] std::uint64_t position() const { return consumed_ - head_.size(); }

  // Frame header (RFC 8878): magic, then the descriptor whose bit 2 is Content_Checksum_flag.
  void note_missing_checksum_at(std::span<const std::byte> frame) {
    if (checksum_noted_ || frame.size() < 5 || detect_codec(frame) != Codec::kZstd) return;
    if ((static_cast<unsigned>(frame[4]) & 0x04u) == 0) {
      checksum_noted_ = true;
      note("ZSTD_NO_CHECKSUM",
           fmt::format("the zstd frames of {} carry no checksums: damage inside them can only be "
                       "caught by the archive's own checks (none for tar) or a checksum file",
                       name()));
    }
  }

  Gathered head_;  // bytes of the next frame(s), taken from the input

 private:
  bool checksum_noted_ = false;
};

// ZstdDecoder's parallel path. A stream of independent frames whose headers give their content
// size (our backups' 2 MiB frames; pzstd's, or stock zstd run on parts) is decoded several
// frames at once by an OrderedPipeline: a worker gathers the next frame's compressed bytes
// under the input lock and decodes it outside, and the caller's thread only takes finished
// frames, so reading the file, finding frame ends and decompressing all stay off it. Frames of
// up to kMaxParallelFrame are decoded whole, each in a slot of its own (its buffers are kept
// for the next frame); one slot per core plus one, at most five, and a worker for each but the
// one the caller holds. The workers read the input (head_, in_, consumed_) only inside
// gather(), one at a time.
class ZstdWholeFrames {
 public:
  explicit ZstdWholeFrames(ZstdInput& input) : in_(input) {}
  ~ZstdWholeFrames() { stop(); }
  ZstdWholeFrames(const ZstdWholeFrames&) = delete;
  ZstdWholeFrames& operator=(const ZstdWholeFrames&) = delete;

  // The content size of the frame starting `head`, where it can be decoded whole. Skippable
  // frames report 0. Decoded into a buffer of its content size, a frame needs no window of its
  // own, whatever its header asks for.
  [[nodiscard]] static std::optional<std::size_t> content_of(std::span<const std::byte> head) {
    std::uint64_t content = ZSTD_getFrameContentSize(head.data(), head.size());
    if (content == ZSTD_CONTENTSIZE_ERROR || content == ZSTD_CONTENTSIZE_UNKNOWN ||
        content > kMaxParallelFrame) {
      return std::nullopt;
    }
    return static_cast<std::size_t>(content);
  }

  // The next frame, decoded: handed out as one chunk straight from its slot (no copy), which
  // returns to the pool at the next call. Empty once no frame is left to decode whole: at the
  // end of the input, or before a frame that must stream (its bytes are then at the input's
  // head, for the streaming path; the workers have let go of the input).
  Result<std::span<const std::byte>> next() {
    if (!frames_) start();
    for (;;) {
      RK_TRY_ASSIGN(Frame * frame, frames_->next());
      if (!frame) break;
      if (frame->content > 0) return std::span<const std::byte>(frame->out.get(), frame->content);
    }  // content 0: a skippable frame
    stop();
    return std::span<const std::byte>{};
  }

  // Ends the workers: before the input they read goes.
  void stop() {
    if (frames_) frames_->stop();
  }

 private:
  static constexpr std::size_t kMaxParallelFrame = std::size_t{4} << 20;
  static constexpr std::size_t kGatherStep = ZstdInput::kGatherStep;
  using Frame = ZstdFrame;

  void start() {
    source_ = in_.name();
    unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    std::size_t slots = std::clamp(cores + 1, 2u, 5u);
    frames_ = std::make_unique<OrderedPipeline<Frame>>(
        source_, slots, slots - 1, [this](Frame& f) { return gather(f); },
        [this](Frame& f) { return decode_zstd_frame(source_, f); });
  }

  // Takes the next frame's compressed bytes into `slot` if it can be decoded whole; false at
  // the end of the input or at a frame that must stream (its bytes stay in head_ for the
  // streaming path, which also reports a damaged or cut frame where it is).
  Result<bool> gather(Frame& slot) {
    auto& head = in_.head_;
    RK_TRY(in_.fill_head(ZstdInput::kFrameHeaderMax));
    if (head.size() == 0) {
      in_.finished_ = true;
      return false;
    }
    auto whole = content_of(head.bytes());
    if (!whole) return false;
    in_.note_missing_checksum_at(head.bytes());
    // Gather the whole frame into the slot (its compressed size is known once all its blocks
    // are here); bytes past the frame go back to the head, and so does everything when the
    // frame must stream after all. The slot's buffer is sized once for any frame it can take
    // and kept: growing it step by step copied and page-faulted each frame's bytes again.
    slot.offset = in_.position();
    auto& frame = slot.frame;
    frame.reserve(ZSTD_compressBound(*whole) + kGatherStep);
    head.move_to(frame);
    std::size_t size = 0;
    for (;;) {
      size = ZSTD_findFrameCompressedSize(frame.data(), frame.size());
      if (!ZSTD_isError(size)) break;
      if (ZSTD_getErrorCode(size) != ZSTD_error_srcSize_wrong ||
          frame.size() > ZSTD_compressBound(kMaxParallelFrame) + 4096) {
        head.take_back(frame);
        RK_TRY(in_.catch_up());
        return false;  // damaged: streamed from the head, then the input
      }
      auto more = in_.reads_direct() ? read_into(frame) : refill_into(frame);
      if (!more || !*more) {
        head.take_back(frame);
        if (!more) return tl::unexpected(more.error());
        RK_TRY(in_.catch_up());
        return false;  // truncated
      }
    }
    if (frame.size() > size) {
      head.append(std::span<const std::byte>(frame).subspan(size));
      frame.resize(size);
    }
    RK_TRY(in_.catch_up());
    if (slot.capacity < *whole) {
      slot.out = make_big_buffer(*whole);
      slot.capacity = *whole;
    }
    if (!slot.dctx) slot.dctx.reset(ZSTD_createDCtx());
    slot.content = *whole;
    return true;
  }

  // The next step of the input appended to `frame` through the input's buffer (a copy).
  // @return false at the end of the input.
  Result<bool> refill_into(ByteBuffer& frame) {
    RK_TRY_ASSIGN(bool more, in_.refill());
    if (!more) return false;
    auto take = in_.in_.first(std::min(in_.in_.size(), kGatherStep));
    frame.insert(frame.end(), take.begin(), take.end());
    in_.consume(take.size());
    return true;
  }

  // The same read straight into `frame` (read_direct()); the input's own position is set once
  // the frame is whole.
  Result<bool> read_into(ByteBuffer& frame) {
    std::size_t at = frame.size();
    frame.resize(at + kGatherStep);
    auto n = in_.read_direct(std::span<std::byte>(frame.data() + at, kGatherStep));
    frame.resize(at + (n ? *n : 0));
    if (!n) return tl::unexpected(n.error());
    return *n > 0;
  }

  ZstdInput& in_;
  std::string source_;  // name(), for the workers' messages
  std::unique_ptr<OrderedPipeline<Frame>> frames_;
};

// zstd (RFC 8878). Parallel, frames that can be decoded whole go through ZstdWholeFrames; from
// the first frame that cannot (no content size, more than 4 MiB of content, damaged or cut),
// the rest of the stream takes the streaming path, one frame at a time, on the caller's thread.
class ZstdDecoder final : public ZstdInput {
 public:
  ZstdDecoder(std::unique_ptr<ByteSource> inner, StreamNotes* notes, bool parallel)
      : ZstdInput(std::move(inner), notes, "zstd"),
        z_(ZSTD_createDCtx()),
        parallel_(parallel),
        whole_(*this) {
    ZSTD_DCtx_setParameter(z_, ZSTD_d_windowLogMax, kZstdWindowLogMax);
  }
  ~ZstdDecoder() override { ZSTD_freeDCtx(z_); }
  ZstdDecoder(const ZstdDecoder&) = delete;
  ZstdDecoder& operator=(const ZstdDecoder&) = delete;

  // The streaming path, one frame after the other (parallel or not, a frame that cannot be
  // decoded whole goes this way). Where decode_into_slots() allowed it, a frame whose window
  // fits a slot is decoded block by block straight into the slots instead (direct_blocks()).
  Result<std::size_t> decode(std::span<std::byte> dst, Marks&) override {
    std::size_t produced = 0;
    for (;;) {
      if (!mid_frame_ && slot_bytes_ > 0) RK_TRY(start_frame());
      if (direct_) {
        RK_TRY_ASSIGN(bool full, direct_blocks(dst, produced));
        if (full) return produced;
        continue;  // the frame ended: the next one goes on in the same slot
      }
      RK_TRY_ASSIGN(std::size_t n, stream(dst.subspan(produced)));
      produced += n;
      if (produced > 0 || finished_) return produced;
    }
  }

  void stream_only() { parallel_ = false; }

  // Called once, before the first decode(), where every decode() gets a whole slot of the
  // returned size from a PrefetchingDecoder (which fills its slots in turn, so the slot filled
  // before stays untouched while the next one fills). Frames whose window fits in a slot are
  // then decoded block by block straight into the slots (zstd's buffer-less API: "two or more
  // buffers of size windowSize each", zstd.h): the previous slot holds the rest of the window.
  // Streamed, zstd decodes into a window buffer of its own and copies every byte out of it,
  // ~20% of the decoding thread's time on a foreign tar.zst. The size comes from the first
  // frame's window, up to kDirectWindowMax; later frames with larger windows stream.
  std::size_t decode_into_slots(std::size_t smallest) {
    ZSTD_frameHeader header{};
    auto head = head_.bytes();
    if (ZSTD_getFrameHeader(&header, head.data(), head.size()) != 0 ||
        header.frameType != ZSTD_frame || header.windowSize > kDirectWindowMax) {
      return smallest;
    }
    slot_bytes_ = std::max(smallest, slot_for(header));
    return slot_bytes_;
  }

  // Whether the stream starts with a frame that can be decoded whole: then this decoder reads
  // ahead by itself (its workers) and needs no prefetching thread.
  Result<bool> starts_with_whole_frame() {
    RK_TRY(fill_head(kFrameHeaderMax));
    return ZstdWholeFrames::content_of(head_.bytes()).has_value();
  }

  // Parallel: each decoded frame is handed out as one chunk, straight from its slot (no copy).
  Result<std::span<const std::byte>> read() override {
    if (!parallel_) return Decoder::read();
    if (!streaming_) {
      RK_TRY_ASSIGN(auto frame, whole_.next());
      if (!frame.empty()) return frame;
      streaming_ = true;  // every frame before the end, or before one that must stream, is out
    }
    if (finished_) return std::span<const std::byte>{};
    if (!stream_buffer_) stream_buffer_ = std::make_unique_for_overwrite<std::byte[]>(kOutChunk);
    for (;;) {
      RK_TRY_ASSIGN(std::size_t n, stream(std::span<std::byte>(stream_buffer_.get(), kOutChunk)));
      if (n > 0 || finished_) return std::span<const std::byte>(stream_buffer_.get(), n);
    }
  }

 private:
  // Frames with windows up to this are decoded straight into the slots (decode_into_slots()):
  // four slots of 4.5 MiB at most, where streaming keeps a 4 MiB window and four 2 MiB slots.
  static constexpr std::uint64_t kDirectWindowMax = std::uint64_t{4} << 20;

  // A slot that holds a window and two more blocks (zstd's own minimum for a round buffer),
  // in whole 256 KiB.
  static std::size_t slot_for(const ZSTD_frameHeader& header) {
    constexpr std::size_t kStep = std::size_t{256} << 10;
    std::size_t need = ZSTD_decodingBufferSize_min(header.windowSize, ZSTD_CONTENTSIZE_UNKNOWN) +
                       header.blockSizeMax;
    return (need + kStep - 1) / kStep * kStep;
  }

  // At a frame's start, with slots: whether this frame decodes block by block into them.
  Result<void> start_frame() {
    direct_ = false;
    RK_TRY(fill_head(kFrameHeaderMax));
    ZSTD_frameHeader header{};
    auto head = head_.bytes();
    if (head.empty() || ZSTD_getFrameHeader(&header, head.data(), head.size()) != 0 ||
        header.frameType != ZSTD_frame || slot_for(header) > slot_bytes_) {
      return {};  // the end, a skippable, damaged or cut frame, a larger window: streamed
    }
    note_missing_checksum_at(head);
    std::size_t rc = ZSTD_decompressBegin(z_);
    if (ZSTD_isError(rc)) return damaged(ErrorCode::kInternal, ZSTD_getErrorName(rc));
    direct_ = true;
    block_max_ = header.blockSizeMax;
    return {};
  }

  // Decodes whole blocks of the current frame into `dst` from `produced` on. @return true when
  // `dst` has no room left for another block, false once the frame ended.
  Result<bool> direct_blocks(std::span<std::byte> dst, std::size_t& produced) {
    for (;;) {
      std::size_t need = ZSTD_nextSrcSizeToDecompress(z_);
      if (need == 0) {
        direct_ = false;
        mid_frame_ = false;
        ZSTD_DCtx_reset(z_, ZSTD_reset_session_only);  // a streamed frame may follow
        return false;
      }
      auto type = ZSTD_nextInputType(z_);
      bool block = type == ZSTDnit_block || type == ZSTDnit_lastBlock;
      if (block && dst.size() - produced < block_max_) return true;
      std::uint64_t at = position();  // where this piece starts in the stream
      RK_TRY_ASSIGN(auto src, exactly(need));
      mid_frame_ = true;
      if (src.size() < need) return truncated();
      std::size_t n = ZSTD_decompressContinue(z_, dst.data() + produced, dst.size() - produced,
                                              src.data(), src.size());
      if (ZSTD_isError(n)) {
        bool check = ZSTD_getErrorCode(n) == ZSTD_error_checksum_wrong;
        return damaged(check ? ErrorCode::kCrcError : ErrorCode::kCorruptData, ZSTD_getErrorName(n),
                       at);
      }
      taken(need);
      produced += n;
    }
  }

  // One step of the streaming decoder, fed first from head_ (bytes gathered for a frame that
  // could not go whole), then from the input.
  Result<std::size_t> stream(std::span<std::byte> dst) {
    std::span<const std::byte> src;
    bool from_head = head_.size() > 0;
    if (from_head) {
      src = head_.bytes();
    } else {
      RK_TRY_ASSIGN(bool more, refill());
      if (!more) {
        if (mid_frame_) return truncated();
        finished_ = true;
        return std::size_t{0};
      }
      src = in_;
      if (!mid_frame_) note_missing_checksum_at(src);
    }
    if (!mid_frame_ && from_head) note_missing_checksum_at(src);
    ZSTD_inBuffer in{src.data(), src.size(), 0};
    ZSTD_outBuffer out{dst.data(), dst.size(), 0};
    std::size_t rc = ZSTD_decompressStream(z_, &out, &in);
    if (from_head) {
      head_.drop(in.pos, kGatherStep);
    } else {
      consume(in.pos);
    }
    if (ZSTD_isError(rc)) {
      bool check = ZSTD_getErrorCode(rc) == ZSTD_error_checksum_wrong;
      // Bytes gathered ahead for whole frames are not where the damage is.
      return damaged(check ? ErrorCode::kCrcError : ErrorCode::kCorruptData, ZSTD_getErrorName(rc),
                     position());
    }
    mid_frame_ = rc != 0;
    return out.pos;
  }

  ZSTD_DCtx* z_;
  bool parallel_;
  std::unique_ptr<std::byte[]> stream_buffer_;
  bool mid_frame_ = false;
  std::size_t slot_bytes_ = 0;  // decode_into_slots(): each decode() fills one slot of this size
  bool direct_ = false;         // the current frame decodes block by block into the slots
  std::size_t block_max_ = 0;   // of the current frame's blocks, decoded
  // Parallel: the caller's thread streams only after whole_'s workers ended. A member of the
  // derived class, whole_ is destroyed before the input (ZstdInput's, Decoder's) its workers read.
  ZstdWholeFrames whole_;
  bool streaming_ = false;
};

class XzDecoder final : public Decoder {
 public:
  XzDecoder(std::unique_ptr<ByteSource> inner, StreamNotes* notes)
      : Decoder(std::move(inner), notes, "xz") {
    init_ = lzma_stream_decoder(&s_, kXzMemoryLimit, LZMA_CONCATENATED | LZMA_TELL_NO_CHECK);
  }
  ~XzDecoder() override { lzma_end(&s_); }
  XzDecoder(const XzDecoder&) = delete;
  XzDecoder& operator=(const XzDecoder&) = delete;

  Result<std::size_t> decode(std::span<std::byte> dst, Marks&) override {
    if (init_ != LZMA_OK) return damaged(ErrorCode::kInternal, "liblzma could not start");
    while (!finished_) {
      RK_TRY_ASSIGN(bool more, refill());
      s_.next_in = reinterpret_cast<const uint8_t*>(in_.data());
      s_.avail_in = in_.size();
      s_.next_out = reinterpret_cast<uint8_t*>(dst.data());
      s_.avail_out = dst.size();
      lzma_ret rc = lzma_code(&s_, more ? LZMA_RUN : LZMA_FINISH);
      consume(in_.size() - s_.avail_in);
      std::size_t produced = dst.size() - s_.avail_out;
      if (rc == LZMA_STREAM_END) finished_ = true;
      if (rc == LZMA_NO_CHECK) {
        note("XZ_NO_CHECK", fmt::format("the xz stream of {} carries no integrity check", name()));
      } else if (rc != LZMA_OK && rc != LZMA_STREAM_END) {
        RK_TRY(fail_with(rc, more));
      }
      if (produced > 0) return produced;
    }
    return std::size_t{0};
  }

 private:
  Result<void> fail_with(lzma_ret rc, bool more) {
    switch (rc) {
      case LZMA_BUF_ERROR:
        if (!more) return truncated();
        return damaged(ErrorCode::kCorruptData, "no progress possible");
      case LZMA_MEMLIMIT_ERROR:
        return damaged(ErrorCode::kLimitExceeded, "it needs more than 256 MiB of memory");
      case LZMA_DATA_ERROR:
        return damaged(ErrorCode::kCrcError, "corrupt data or a failed integrity check");
      default:
        return damaged(ErrorCode::kCorruptData,
                       fmt::format("liblzma error {}", static_cast<int>(rc)));
    }
  }

  lzma_stream s_ = LZMA_STREAM_INIT;
  lzma_ret init_;
};

// Decodes ahead on a second thread, so that decompression overlaps the caller's work (tar
// parsing, hashing). Buffers cycle between the two threads; at most kSlots are in flight.
class PrefetchingDecoder final : public ByteSource {
 public:
  static constexpr std::size_t kSlotBytes = std::size_t{2} << 20;  // unless told otherwise

  // One thread fills the slots of `slot_bytes` each in turn, and never the one filled last
  // while it fills the next (ZstdDecoder::decode_into_slots() relies on this).
  explicit PrefetchingDecoder(std::unique_ptr<Decoder> decoder, std::size_t slot_bytes = kSlotBytes)
      : decoder_(std::move(decoder)),
        slot_bytes_(slot_bytes),
        chunks_(decoder_->name(), kSlots, [this](Chunk& c) { return decode(c); }) {}
  ~PrefetchingDecoder() override { chunks_.stop(); }  // before the decoder its thread uses goes
  PrefetchingDecoder(const PrefetchingDecoder&) = delete;
  PrefetchingDecoder& operator=(const PrefetchingDecoder&) = delete;

  Result<std::span<const std::byte>> read() override {
    RK_TRY_ASSIGN(Chunk * chunk, chunks_.next());
    if (!chunk) return std::span<const std::byte>{};
    std::span<const std::byte> bytes(chunk->data.get(), chunk->size);
    RK_TRY(decoder_->check(bytes, chunk->marks));
    return bytes;
  }

  Result<std::uint64_t> seek(std::int64_t offset, int whence) override {
    return decoder_->seek(offset, whence);
  }
  [[nodiscard]] bool seekable() const override { return false; }
  [[nodiscard]] std::optional<std::uint64_t> size() const override { return decoder_->size(); }
  [[nodiscard]] std::string name() const override { return decoder_->name(); }

 private:
  static constexpr std::size_t kSlots = 4;
  struct Chunk {
    BigBuffer data;
    std::size_t size = 0;
    Marks marks;
  };

  // On the decoding thread. @return false at the end of the stream.
  Result<bool> decode(Chunk& chunk) {
    if (!chunk.data) chunk.data = make_big_buffer(slot_bytes_);
    chunk.marks.clear();
    RK_TRY_ASSIGN(chunk.size, decoder_->decode(std::span<std::byte>(chunk.data.get(), slot_bytes_),
                                               chunk.marks));
    return chunk.size > 0;
  }

  std::unique_ptr<Decoder> decoder_;
  std::size_t slot_bytes_;
  OrderedPipeline<Chunk> chunks_;
};

std::unique_ptr<Decoder> make_decoder(std::unique_ptr<ByteSource> inner, Codec codec,
                                      StreamNotes* notes) {
  switch (codec) {
    case Codec::kGzip: return std::make_unique<GzipDecoder>(std::move(inner), notes);
    case Codec::kZstd: return std::make_unique<ZstdDecoder>(std::move(inner), notes, false);
    case Codec::kXz: return std::make_unique<XzDecoder>(std::move(inner), notes);
    case Codec::kNone: break;
  }
  return nullptr;
}

}  // namespace

Codec detect_codec(std::span<const std::byte> head) {
  if (starts_with(head, {0x1f, 0x8b})) return Codec::kGzip;
  if (starts_with(head, {0x28, 0xb5, 0x2f, 0xfd})) return Codec::kZstd;
  if (starts_with(head, {0xfd, '7', 'z', 'X', 'Z', 0x00})) return Codec::kXz;
  return Codec::kNone;
}

std::string_view codec_name(Codec codec) {
  switch (codec) {
    case Codec::kGzip: return "gzip";
    case Codec::kZstd: return "zstd";
    case Codec::kXz: return "xz";
    case Codec::kNone: return "none";
  }
  return "none";
}

std::unique_ptr<ByteSource> make_decoding_source(std::unique_ptr<ByteSource> inner, Codec codec,
                                                 StreamNotes* notes, Prefetch prefetch) {
  if (codec == Codec::kNone) return inner;
  if (codec == Codec::kZstd && prefetch == Prefetch::kYes) {
    // Where the whole stream will be read and it starts with frames that decode whole (ours),
    // they decode ahead on several threads; otherwise one thread decodes ahead.
    auto zstd = std::make_unique<ZstdDecoder>(std::move(inner), notes, true);
    auto whole = zstd->starts_with_whole_frame();
    if (whole && *whole) return zstd;
    zstd->stream_only();
    std::size_t slot_bytes = zstd->decode_into_slots(PrefetchingDecoder::kSlotBytes);
    zstd->read_ahead();
    return std::make_unique<PrefetchingDecoder>(std::move(zstd), slot_bytes);
  }
  auto decoder = make_decoder(std::move(inner), codec, notes);
  if (prefetch == Prefetch::kNo) return decoder;
  // One thread decodes, another reads the input, the caller's parses (the frames that decode
  // whole above read and decode on several threads and take no reading thread: measured, it
  // only added a copy).
  decoder->read_ahead();
  return std::make_unique<PrefetchingDecoder>(std::move(decoder));
}

}  // namespace restorekit::core
