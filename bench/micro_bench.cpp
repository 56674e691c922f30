// Micro benchmarks of the hot paths: XXH3-128 hashing and the archive reader's block path
// (decompression + zero-copy blocks), so that regressions show up as throughput numbers.
#include <benchmark/benchmark.h>

#include <restorekit/core/archive_reader.hpp>
#include <restorekit/core/archive_writer.hpp>
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

void read_and_hash(benchmark::State& state, ArchiveKind kind, bool hash) {
  auto archive = archive_of(kind);
  for (auto _ : state) {
    auto reader = ArchiveReader::open(memory_source(archive));
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
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * 8 * (4 << 20));
}

void BM_ReadTarZst(benchmark::State& s) {
  read_and_hash(s, ArchiveKind::kTarZst, false);
}
void BM_ReadHashTarZst(benchmark::State& s) {
  read_and_hash(s, ArchiveKind::kTarZst, true);
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
BENCHMARK(BM_ReadTarGz)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ReadHashTarGz)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ReadHashZip)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
