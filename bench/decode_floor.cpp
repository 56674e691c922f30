// decode_floor: the CPU time of decoding one archive's compressed stream and nothing else, by the
// same library calls restorekit's reader makes (libzstd: a streamed frame block by block into
// the buffers it is read from, others streamed; ISA-L's raw inflate after the gzip header),
// optionally with XXH3-128 over every decoded byte (--hash: what verify checks each entry against).
// No parsing, no listing, no writing. bench/compare.sh prints it beside a yardstick as that
// yardstick's floor: a single zstd frame or deflate stream decodes on one core, so no verify of it
// can take less wall time; our multi-frame backups decode on every core, so theirs is this CPU time
// over the cores.
//
// Usage: decode_floor [--hash] FILE.zst|FILE.gz   prints "<cpu seconds> <decoded bytes>"
#include <sys/resource.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include <isa-l/igzip_lib.h>
#define ZSTD_STATIC_LINKING_ONLY  // the frame header and block-by-block API, as restorekit
#include <zstd.h>

#include <restorekit/core/hash.hpp>

namespace {

constexpr std::size_t kIn = std::size_t{1} << 20;
constexpr std::size_t kOut = std::size_t{2} << 20;

struct Sink {
  restorekit::core::Hasher* hash = nullptr;  // null: count only
  unsigned long long bytes = 0;
  void take(const unsigned char* p, std::size_t n) {
    bytes += n;
    if (hash) hash->update(std::span(reinterpret_cast<const std::byte*>(p), n));
  }
};

// The compressed file in 1 MiB reads, as restorekit's read-ahead hands it over; a piece that
// straddles two reads is moved to the front first (a block at most).
class Input {
 public:
  explicit Input(std::FILE* f) : f_(f), buf_(kIn) {}
  // At least `n` bytes from the front (fewer only at the end of the file, or past 1 MiB: a
  // zstd block is at most 128 KiB), not consumed.
  std::span<const unsigned char> peek(std::size_t n) {
    n = std::min(n, buf_.size());
    if (end_ - start_ < n) {
      std::memmove(buf_.data(), buf_.data() + start_, end_ - start_);
      end_ -= start_;
      start_ = 0;
      while (end_ < n) {
        std::size_t got = std::fread(buf_.data() + end_, 1, buf_.size() - end_, f_);
        if (got == 0) break;
        end_ += got;
      }
    }
    return {buf_.data() + start_, end_ - start_};
  }
  void consume(std::size_t n) { start_ += n; }

 private:
  std::FILE* f_;
  std::vector<unsigned char> buf_;
  std::size_t start_ = 0, end_ = 0;
};

// One frame by ZSTD_decompressStream into a 2 MiB buffer. @return false on damage.
bool stream_frame(ZSTD_DCtx* dctx, Input& in, Sink& sink) {
  static auto out = std::make_unique<unsigned char[]>(kOut);
  ZSTD_DCtx_reset(dctx, ZSTD_reset_session_only);
  for (std::size_t rc = 1; rc != 0;) {
    auto avail = in.peek(1);
    if (avail.empty()) return false;  // cut
    ZSTD_inBuffer ib{avail.data(), avail.size(), 0};
    ZSTD_outBuffer ob{out.get(), kOut, 0};
    rc = ZSTD_decompressStream(dctx, &ob, &ib);
    if (ZSTD_isError(rc)) return false;
    in.consume(ib.pos);
    sink.take(out.get(), ob.pos);
  }
  return true;
}

// As restorekit decodes a zstd stream read ahead: a frame whose window is at most 4 MiB block
// by block straight into four buffers in turn, each a window and two blocks (decoding_source.cpp,
// ZstdDecoder::decode_into_slots), others streamed.
bool zstd(std::FILE* f, Sink& sink) {
  Input in(f);
  std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> dctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  constexpr std::size_t kStep = std::size_t{256} << 10;
  std::vector<std::unique_ptr<unsigned char[]>> slots(4);
  std::size_t slot_bytes = 0, cur = 0, fill = 0;
  auto fail = [](const char* what) {
    std::fprintf(stderr, "decode_floor: %s\n", what);
    return false;
  };
  for (auto head = in.peek(ZSTD_FRAMEHEADERSIZE_MAX); !head.empty();
       head = in.peek(ZSTD_FRAMEHEADERSIZE_MAX)) {
    ZSTD_frameHeader h{};
    if (ZSTD_getFrameHeader(&h, head.data(), head.size()) != 0 || h.frameType != ZSTD_frame ||
        h.windowSize > (std::uint64_t{4} << 20)) {
      if (!stream_frame(dctx.get(), in, sink)) return fail("damaged or cut zstd frame");
      continue;
    }
    std::size_t need_slot = (ZSTD_decodingBufferSize_min(h.windowSize, ZSTD_CONTENTSIZE_UNKNOWN) +
                             h.blockSizeMax + kStep - 1) /
                            kStep * kStep;
    if (need_slot > slot_bytes) {  // the first frame sizes the slots, as in restorekit
      if (fill > 0) sink.take(slots[cur].get(), fill);
      slot_bytes = std::max(kOut, need_slot);
      for (auto& slot : slots) slot = std::make_unique_for_overwrite<unsigned char[]>(slot_bytes);
      cur = fill = 0;
    }
    ZSTD_decompressBegin(dctx.get());
    for (std::size_t need; (need = ZSTD_nextSrcSizeToDecompress(dctx.get())) > 0;) {
      auto type = ZSTD_nextInputType(dctx.get());
      if ((type == ZSTDnit_block || type == ZSTDnit_lastBlock) &&
          slot_bytes - fill < h.blockSizeMax) {
        sink.take(slots[cur].get(), fill);
        cur = (cur + 1) % slots.size();
        fill = 0;
      }
      auto src = in.peek(need);
      if (src.size() < need) return fail("cut zstd frame");
      std::size_t n = ZSTD_decompressContinue(dctx.get(), slots[cur].get() + fill,
                                              slot_bytes - fill, src.data(), need);
      if (ZSTD_isError(n)) return fail(ZSTD_getErrorName(n));
      in.consume(need);
      fill += n;
    }
  }
  if (fill > 0) sink.take(slots[cur].get(), fill);
  return true;
}

bool gzip(std::FILE* f, Sink& sink) {
  auto state = std::make_unique<inflate_state>();
  isal_inflate_init(state.get());
  auto in = std::make_unique<unsigned char[]>(kIn);
  auto out = std::make_unique<unsigned char[]>(kOut);
  isal_gzip_header header{};
  isal_gzip_header_init(&header);
  bool body = false;
  for (std::size_t n; (n = std::fread(in.get(), 1, kIn, f)) > 0;) {
    state->next_in = in.get();
    state->avail_in = static_cast<std::uint32_t>(n);
    // As restorekit inflates: the header read first, then raw deflate (its CRC-32 is computed
    // on another thread, so it is no part of this one's floor).
    if (!body) {
      if (isal_read_gzip_header(state.get(), &header) != ISAL_DECOMP_OK) {
        std::fprintf(stderr, "decode_floor: no gzip header in the first %zu bytes\n", kIn);
        return false;
      }
      state->crc_flag = ISAL_DEFLATE;
      body = true;
    }
    while (state->avail_in > 0 && state->block_state != ISAL_BLOCK_FINISH) {
      state->next_out = out.get();
      state->avail_out = static_cast<std::uint32_t>(kOut);
      int rc = isal_inflate(state.get());
      if (rc < 0) {
        std::fprintf(stderr, "decode_floor: inflate error %d\n", rc);
        return false;
      }
      sink.take(out.get(), kOut - state->avail_out);
    }
  }
  return state->block_state == ISAL_BLOCK_FINISH;
}

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return s(ru.ru_utime) + s(ru.ru_stime);
}

}  // namespace

int main(int argc, char** argv) {
  bool hash = argc == 3 && std::strcmp(argv[1], "--hash") == 0;
  if (argc != (hash ? 3 : 2)) {
    std::fprintf(stderr, "usage: decode_floor [--hash] FILE.zst|FILE.gz\n");
    return 2;
  }
  std::string_view path = argv[argc - 1];
  std::FILE* f = std::fopen(path.data(), "rb");
  if (!f) {
    std::perror(path.data());
    return 2;
  }
  Sink sink;
  restorekit::core::Hasher hasher;  // restorekit's XXH3-128 (xxHash's dispatcher where it has one)
  if (hash) sink.hash = &hasher;
  double start = cpu_seconds();
  bool ok = path.ends_with(".gz") ? gzip(f, sink) : zstd(f, sink);
  double spent = cpu_seconds() - start;
  std::fclose(f);
  if (!ok) return 1;
  std::printf("%.4f %llu\n", spent, sink.bytes);
  return 0;
}
