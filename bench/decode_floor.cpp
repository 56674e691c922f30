// decode_floor: the CPU time of decoding one archive's compressed stream and nothing else, by the
// same library calls restorekit's reader makes (libzstd's ZSTD_decompressStream into 2 MiB
// buffers; ISA-L's raw inflate after the gzip header), optionally with XXH3-128 over
// every decoded byte (--hash: what verify checks each entry against). No parsing, no listing,
// no writing. bench/compare.sh prints it beside a yardstick as that yardstick's floor: a single
// zstd frame or deflate stream decodes on one core, so no verify of it can take less wall time;
// our multi-frame backups decode on every core, so theirs is this CPU time over the cores.
//
// Usage: decode_floor [--hash] FILE.zst|FILE.gz   prints "<cpu seconds> <decoded bytes>"
#include <sys/resource.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <span>
#include <string_view>

#include <isa-l/igzip_lib.h>
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

bool zstd(std::FILE* f, Sink& sink) {
  std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> dctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  auto in = std::make_unique<unsigned char[]>(kIn);
  auto out = std::make_unique<unsigned char[]>(kOut);
  for (std::size_t n; (n = std::fread(in.get(), 1, kIn, f)) > 0;) {
    ZSTD_inBuffer ib{in.get(), n, 0};
    while (ib.pos < ib.size) {
      ZSTD_outBuffer ob{out.get(), kOut, 0};
      std::size_t rc = ZSTD_decompressStream(dctx.get(), &ob, &ib);
      if (ZSTD_isError(rc)) {
        std::fprintf(stderr, "decode_floor: %s\n", ZSTD_getErrorName(rc));
        return false;
      }
      sink.take(out.get(), ob.pos);
    }
  }
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
