// Micro benchmarks of the hot paths: XXH3-128 hashing and the archive reader's block path
// (decompression + zero-copy blocks), so that regressions show up as throughput numbers.
#include <benchmark/benchmark.h>
#include <isa-l/crc.h>
#include <isa-l/igzip_lib.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include <fmt/format.h>

#include <restorekit/core/archive_reader.hpp>
#include <restorekit/core/archive_writer.hpp>
#include <restorekit/core/checksum_index.hpp>
#include <restorekit/core/hash.hpp>

namespace {

// The benchmark is the application: it sets the UTF-8 locale the reader asks for.
[[maybe_unused]] const bool kUtf8Locale = (restorekit::core::ensure_utf8_locale(), true);

using namespace restorekit::core;

std::vector<std::byte> payload(std::size_t size, std::uint64_t seed = 7) {
  std::vector<std::byte> data(size);
  std::uint64_t state = seed;
  for (std::size_t i = 0; i < size; ++i) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    // Half compressible: text-like low entropy in the first half of each 4 KiB.
    data[i] = static_cast<std::byte>((i & 4096) ? (state >> 56) : ('a' + (i % 26)));
  }
  return data;
}

void BM_Hash128(benchmark::State& state) {
  auto data = payload(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    Hasher h;
    h.update(data);
    benchmark::DoNotOptimize(h.digest());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_Hash128)->Arg(64 << 10)->Arg(1 << 20)->Arg(16 << 20);

// Eight different 4 MiB files (different seeds, so no long-distance matches between them).
std::vector<std::byte> archive_of(ArchiveKind kind) {
  std::vector<std::byte> out;
  auto w = ArchiveWriter::open_memory(out, WriterOptions{kind, {}, -1, 0});
  for (int i = 0; i < 8; ++i) {
    auto data = payload(4 << 20, 100 + static_cast<std::uint64_t>(i));
    (void)w->begin_file("docs/f" + std::to_string(i), data.size(), 0);
    (void)w->write(data);
    (void)w->end_file();
  }
  (void)w->finish();
  return out;
}

// Reads every entry of `archive` (hashing its blocks when `hash`), as verify's pass does.
void read_archive(benchmark::State& state, const std::vector<std::byte>& archive, bool hash,
                  Prefetch prefetch, std::int64_t payload_bytes) {
  ReaderOptions options;
  options.prefetch = prefetch;
  for (auto _ : state) {
    auto reader = ArchiveReader::open(memory_source(archive), options);
    Hasher h;
    while (auto e = reader->next()) {
      if (!*e) break;
      for (;;) {
        auto block = reader->read_block();
        if (!block || block->empty()) break;
        if (hash) h.update(*block);
      }
    }
    benchmark::DoNotOptimize(h.digest());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * payload_bytes);
}

void read_and_hash(benchmark::State& state, ArchiveKind kind, bool hash,
                   Prefetch prefetch = Prefetch::kNo) {
  read_archive(state, archive_of(kind), hash, prefetch, 8 * (4 << 20));
}

void BM_ReadTarZst(benchmark::State& s) {
  read_and_hash(s, ArchiveKind::kTarZst, false);
}
void BM_ReadHashTarZst(benchmark::State& s) {
  read_and_hash(s, ArchiveKind::kTarZst, true);
}
// With prefetching, as verify reads: our tar.zst's frames decode on every core.
void BM_ReadHashTarZstPrefetch(benchmark::State& s) {
  read_and_hash(s, ArchiveKind::kTarZst, true, Prefetch::kYes);
}
void BM_ReadTarGz(benchmark::State& s) {
  read_and_hash(s, ArchiveKind::kTarGz, false);
}
void BM_ReadHashTarGz(benchmark::State& s) {
  read_and_hash(s, ArchiveKind::kTarGz, true);
}
void BM_ReadHashZip(benchmark::State& s) {
  read_and_hash(s, ArchiveKind::kZip, true);
}
BENCHMARK(BM_ReadTarZst)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ReadHashTarZst)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ReadHashTarZstPrefetch)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ReadTarGz)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ReadHashTarGz)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ReadHashZip)->Unit(benchmark::kMillisecond);

// The gzip decoder's inflate and CRC-32, by zlib and by ISA-L, on the same raw deflate stream
// (issue 14: "measure both and keep the faster"; the decoder uses ISA-L).
std::vector<std::byte> raw_deflate(const std::vector<std::byte>& data) {
  z_stream z{};
  deflateInit2(&z, 6, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::vector<std::byte> out(deflateBound(&z, data.size()));
  z.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

constexpr std::size_t kInflateBytes = 32 << 20;

// Text-like rows (what documents and SQL dumps mostly are): numbers, words, separators.
std::vector<std::byte> text_payload() {
  static const char* words[] = {"invoice", "customer", "Berlin", "paid",  "overdue", "2026-11-30",
                                "contact", "phone",    "note",   "order", "shipped", "refund"};
  std::string text;
  std::uint64_t state = 42;
  while (text.size() < kInflateBytes) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    text += std::to_string(state >> 40) + ";" + words[(state >> 20) % 12] + ";" +
            words[(state >> 8) % 12] + ";" + std::to_string((state >> 30) % 100000) + "\n";
  }
  text.resize(kInflateBytes);
  std::vector<std::byte> out(text.size());
  std::memcpy(out.data(), text.data(), text.size());
  return out;
}

// Text rows (decoding-bound) in a tar.zst of ours, read as verify reads (prefetching: its 2 MiB
// frames decode on every core, 1.34 GB/s on 2 cores) and as inspect reads (one thread, 1.04
// GB/s; a single prefetching thread that copies into its buffers measured 0.90 GB/s).
std::vector<std::byte> text_archive() {
  std::vector<std::byte> out;
  auto w = ArchiveWriter::open_memory(out, WriterOptions{ArchiveKind::kTarZst, {}, -1, 0});
  auto data = text_payload();
  (void)w->begin_file("docs/rows.csv", data.size(), 0);
  (void)w->write(data);
  (void)w->end_file();
  (void)w->finish();
  return out;
}

void read_text(benchmark::State& state, Prefetch prefetch) {
  read_archive(state, text_archive(), true, prefetch, static_cast<std::int64_t>(kInflateBytes));
}
void BM_ReadHashTextTarZst(benchmark::State& s) {
  read_text(s, Prefetch::kYes);
}
void BM_ReadHashTextTarZstNoPrefetch(benchmark::State& s) {
  read_text(s, Prefetch::kNo);
}
// The same tar as one streamed zstd frame (no content size: what stock zstd writes from a pipe,
// tar --zstd and bsdtar): read as verify reads, one thread decodes ahead, block by block into a
// ring whose chunks are handed out as they are.
std::vector<std::byte> streamed_text_archive() {
  auto frames = text_archive();  // our frames, decoded to the plain tar
  std::vector<std::byte> plain(kInflateBytes + (1 << 20));
  ZSTD_DCtx* d = ZSTD_createDCtx();
  ZSTD_inBuffer fin{frames.data(), frames.size(), 0};
  ZSTD_outBuffer fout{plain.data(), plain.size(), 0};
  while (fin.pos < fin.size && !ZSTD_isError(ZSTD_decompressStream(d, &fout, &fin))) {
  }
  ZSTD_freeDCtx(d);
  plain.resize(fout.pos);
  std::vector<std::byte> out(ZSTD_compressBound(plain.size()));
  ZSTD_CCtx* z = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(z, ZSTD_c_checksumFlag, 1);
  ZSTD_inBuffer in{plain.data(), plain.size(), 0};
  ZSTD_outBuffer o{out.data(), out.size(), 0};
  while (ZSTD_compressStream2(z, &o, &in, ZSTD_e_end) != 0) {
  }
  ZSTD_freeCCtx(z);
  out.resize(o.pos);
  return out;
}
void BM_ReadHashStreamedTarZst(benchmark::State& s) {
  read_archive(s, streamed_text_archive(), true, Prefetch::kYes,
               static_cast<std::int64_t>(kInflateBytes));
}
BENCHMARK(BM_ReadHashTextTarZst)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ReadHashStreamedTarZst)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ReadHashTextTarZstNoPrefetch)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_InflateZlib(benchmark::State& state) {
  auto packed = raw_deflate(state.range(0) ? text_payload() : payload(kInflateBytes));
  std::vector<std::byte> out(1 << 20);
  for (auto _ : state) {
    z_stream z{};
    inflateInit2(&z, -MAX_WBITS);
    z.next_in = reinterpret_cast<Bytef*>(packed.data());
    z.avail_in = static_cast<uInt>(packed.size());
    unsigned long crc = 0;
    int rc = Z_OK;
    while (rc == Z_OK) {
      z.next_out = reinterpret_cast<Bytef*>(out.data());
      z.avail_out = static_cast<uInt>(out.size());
      rc = inflate(&z, Z_NO_FLUSH);
      crc = crc32_z(crc, reinterpret_cast<const Bytef*>(out.data()), out.size() - z.avail_out);
    }
    inflateEnd(&z);
    benchmark::DoNotOptimize(crc);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * kInflateBytes));
}

void BM_InflateIsal(benchmark::State& state) {
  auto packed = raw_deflate(state.range(0) ? text_payload() : payload(kInflateBytes));
  std::vector<std::byte> out(1 << 20);
  auto z = std::make_unique<inflate_state>();
  for (auto _ : state) {
    isal_inflate_init(z.get());
    z->next_in = reinterpret_cast<std::uint8_t*>(packed.data());
    z->avail_in = static_cast<std::uint32_t>(packed.size());
    std::uint32_t crc = 0;
    while (z->block_state != ISAL_BLOCK_FINISH) {
      z->next_out = reinterpret_cast<std::uint8_t*>(out.data());
      z->avail_out = static_cast<std::uint32_t>(out.size());
      if (isal_inflate(z.get()) < 0) break;
      crc = crc32_gzip_refl(crc, reinterpret_cast<const unsigned char*>(out.data()),
                            out.size() - z->avail_out);
    }
    benchmark::DoNotOptimize(crc);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * kInflateBytes));
}
// Arg 0: the half-random payload above; 1: text rows.
BENCHMARK(BM_InflateZlib)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_InflateIsal)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

// A zip of small documents inflates one short raw deflate stream per entry: 10,000 text
// streams of 20-800 bytes (bench/compare.sh's "many" dataset has 100,000), each inflated from a
// reset state into a 256 KiB buffer with its CRC-32, as restorekit's zip reading does. What
// the streams cost apart from the bytes (state reset, the dynamic block's decoding tables)
// shows here, not in the 32 MiB pair above.
std::vector<std::vector<std::byte>> small_streams() {
  auto text = text_payload();
  std::vector<std::vector<std::byte>> out;
  std::size_t at = 0;
  for (std::size_t i = 0; i < 10000; ++i) {
    std::size_t n = 20 + (i * 7919) % 780;
    std::vector<std::byte> doc(text.begin() + static_cast<std::ptrdiff_t>(at),
                               text.begin() + static_cast<std::ptrdiff_t>(at + n));
    at += n;
    out.push_back(raw_deflate(doc));
  }
  return out;
}

void BM_InflateSmallZlib(benchmark::State& state) {
  auto streams = small_streams();
  std::vector<std::byte> out(256 << 10);
  z_stream z{};
  inflateInit2(&z, -MAX_WBITS);
  for (auto _ : state) {
    unsigned long crc = 0;
    for (auto& packed : streams) {
      inflateReset(&z);
      z.next_in = reinterpret_cast<Bytef*>(packed.data());
      z.avail_in = static_cast<uInt>(packed.size());
      z.next_out = reinterpret_cast<Bytef*>(out.data());
      z.avail_out = static_cast<uInt>(out.size());
      if (inflate(&z, Z_FINISH) != Z_STREAM_END) state.SkipWithError("inflate");
      crc ^= crc32_z(0, reinterpret_cast<const Bytef*>(out.data()), out.size() - z.avail_out);
    }
    benchmark::DoNotOptimize(crc);
  }
  inflateEnd(&z);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * streams.size()));
}

void BM_InflateSmallIsal(benchmark::State& state) {
  auto streams = small_streams();
  std::vector<std::byte> out(256 << 10);
  auto z = std::make_unique<inflate_state>();
  isal_inflate_init(z.get());
  for (auto _ : state) {
    std::uint32_t crc = 0;
    for (auto& packed : streams) {
      isal_inflate_reset(z.get());
      z->crc_flag = ISAL_DEFLATE;
      z->next_in = reinterpret_cast<std::uint8_t*>(packed.data());
      z->avail_in = static_cast<std::uint32_t>(packed.size());
      z->next_out = reinterpret_cast<std::uint8_t*>(out.data());
      z->avail_out = static_cast<std::uint32_t>(out.size());
      if (isal_inflate(z.get()) < 0 || z->block_state != ISAL_BLOCK_FINISH) {
        state.SkipWithError("isal_inflate");
      }
      crc ^= crc32_gzip_refl(0, reinterpret_cast<const unsigned char*>(out.data()),
                             out.size() - z->avail_out);
    }
    benchmark::DoNotOptimize(crc);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * streams.size()));
}
BENCHMARK(BM_InflateSmallZlib)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_InflateSmallIsal)->Unit(benchmark::kMillisecond);

// Our backup's checksum list parsed and put in name order, as verify does after the pass while
// the documents' hashes are merged against it: `lines` lines of 32 hex digits and a path, in
// folders of ten, in name order as our backups write it (arg 1: the folder names are not ASCII,
// as in the sample's "zürich-Петрова").
void BM_ChecksumIndexBuild(benchmark::State& s) {
  auto lines = static_cast<std::size_t>(s.range(0));
  std::string folder = s.range(1) != 0 ? "zürich-Петрова-ag-" : "company-";
  auto file = std::filesystem::temp_directory_path() /
              ("restorekit-bench-" + std::to_string(::getpid()) + ".xxh128");
  {
    std::ofstream out(file, std::ios::binary);
    for (std::size_t i = 0; i < lines; ++i) {
      out << hash128(std::to_string(i)).hex()
          << fmt::format("  docs/{}{:05}/letter-{:06}.txt\n", folder, i / 10, i);
    }
  }
  for (auto _ : s) {
    auto index = ChecksumIndex::build(file, "checksums.xxh128", ChecksumIndex::Accept::kXxh128Only,
                                      restorekit::CancelToken{});
    if (!index || index->bad()) s.SkipWithError("the list did not parse");
    benchmark::DoNotOptimize(index);
  }
  std::filesystem::remove(file);
  s.SetItemsProcessed(static_cast<std::int64_t>(s.iterations() * lines));
}
BENCHMARK(BM_ChecksumIndexBuild)->Args({6000, 0})->Args({6000, 1})->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
