#include <restorekit/core/hash.hpp>

#include <xxhash.h>
#ifdef RESTOREKIT_XXH_DISPATCH
#include <xxh_x86dispatch.h>  // XXH3 with AVX2 / AVX-512 where the CPU has them
#endif

#include <fcntl.h>

#include <unistd.h>
#include <memory>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include <restorekit/core/fs.hpp>

namespace restorekit::core {

namespace {

// Each byte's value as a hex digit, or -1: one load per digit of a checksum list's lines.
constexpr std::array<std::int8_t, 256> kHexValue = [] {
  std::array<std::int8_t, 256> t{};
  t.fill(-1);
  for (int i = 0; i < 10; ++i) t['0' + i] = static_cast<std::int8_t>(i);
  for (int i = 0; i < 6; ++i) {
    t['a' + i] = static_cast<std::int8_t>(10 + i);
    t['A' + i] = static_cast<std::int8_t>(10 + i);
  }
  return t;
}();

int hex_value(char c) {
  return kHexValue[static_cast<unsigned char>(c)];
}

Digest128 from_xxh(XXH128_hash_t h) {
  return Digest128{h.high64, h.low64};
}

}  // namespace

std::string Digest128::hex() const {
  static constexpr char kDigits[] = "0123456789abcdef";
  XXH128_canonical_t canonical;
  XXH128_canonicalFromHash(&canonical, XXH128_hash_t{low, high});
  std::string out(32, '0');
  for (std::size_t i = 0; i < 16; ++i) {
    out[2 * i] = kDigits[canonical.digest[i] >> 4];
    out[2 * i + 1] = kDigits[canonical.digest[i] & 0xf];
  }
  return out;
}

std::optional<Digest128> Digest128::from_hex(std::string_view hex) {
  if (hex.size() != 32) return std::nullopt;
  XXH128_canonical_t canonical;
  for (std::size_t i = 0; i < 16; ++i) {
    int hi = hex_value(hex[2 * i]);
    int lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    canonical.digest[i] = static_cast<unsigned char>(hi << 4 | lo);
  }
  return from_xxh(XXH128_hashFromCanonical(&canonical));
}

struct Hasher::State {
  XXH3_state_t* xxh = XXH3_createState();
  State() { XXH3_128bits_reset(xxh); }
  ~State() { XXH3_freeState(xxh); }
  State(const State&) = delete;
  State& operator=(const State&) = delete;
};

Hasher::Hasher() : state_(std::make_unique<State>()) {}
Hasher::~Hasher() = default;
Hasher::Hasher(Hasher&&) noexcept = default;
Hasher& Hasher::operator=(Hasher&&) noexcept = default;

void Hasher::update(std::span<const std::byte> data) {
  XXH3_128bits_update(state_->xxh, data.data(), data.size());
}

void Hasher::update(std::string_view data) {
  XXH3_128bits_update(state_->xxh, data.data(), data.size());
}

Digest128 Hasher::digest() const {
  return from_xxh(XXH3_128bits_digest(state_->xxh));
}

void Hasher::reset() {
  XXH3_128bits_reset(state_->xxh);
}

Digest128 hash128(std::span<const std::byte> data) {
  return from_xxh(XXH3_128bits(data.data(), data.size()));
}

Digest128 hash128(std::string_view data) {
  return from_xxh(XXH3_128bits(data.data(), data.size()));
}

Result<Digest128> hash_file(const std::filesystem::path& path) {
  UniqueFd fd = open_for_reading(path, O_NOFOLLOW);
  auto failed = [&] {
    return fail(ErrorCode::kIo,
                fmt::format("cannot read {}: {}", path.string(), std::strerror(errno)),
                path.string());
  };
  if (!fd) return failed();
  Hasher h;
  // One buffer per thread, never zeroed: the live side of a documents diff hashes thousands of
  // small files, and a fresh zeroed 1 MiB each cost more than reading them.
  constexpr std::size_t kBuffer = std::size_t{1} << 20;
  thread_local std::unique_ptr<char[]> buf = std::make_unique_for_overwrite<char[]>(kBuffer);
  for (;;) {
    auto n = ::read(fd.get(), buf.get(), kBuffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return failed();
    if (n == 0) break;
    h.update(std::string_view(buf.get(), static_cast<std::size_t>(n)));
  }
  return h.digest();
}

Result<std::vector<Digest128>> hash_files(const std::vector<std::filesystem::path>& paths) {
  std::vector<Digest128> out(paths.size());
  std::atomic<std::size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex mutex;
  std::optional<std::pair<std::size_t, Error>> first_error;  // guarded by mutex
  auto work = [&] {
    for (std::size_t k; !failed && (k = next++) < paths.size();) {
      auto hash = hash_file(paths[k]);
      if (hash) {
        out[k] = *hash;
        continue;
      }
      std::lock_guard lock(mutex);
      if (!first_error || k < first_error->first) first_error.emplace(k, hash.error());
      failed = true;
    }
  };
  unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  std::size_t helpers = std::min<std::size_t>(std::min(cores, 8u) - 1, paths.size() / 16);
  std::vector<std::thread> pool;
  for (std::size_t i = 0; i < helpers; ++i) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  if (first_error) return tl::unexpected(first_error->second);
  return out;
}

}  // namespace restorekit::core
