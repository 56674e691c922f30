// XXH3-128 streaming hashing behind a tiny RAII wrapper (xxHash stays out of public headers).
//
// Digest hex form is the canonical big-endian one that `xxhsum -H2` prints, so restorekit's
// checksum files are checked by stock tools. Thread safety: one Hasher per thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <restorekit/core/error.hpp>

#pragma GCC visibility push(default)  // the public API: exported by the shared libraries

namespace restorekit::core {

struct Digest128 {
  std::uint64_t high = 0;
  std::uint64_t low = 0;
  friend bool operator==(const Digest128&, const Digest128&) = default;

  // 32 lowercase hex digits, as `xxhsum -H2` prints.
  [[nodiscard]] std::string hex() const;
  // Parses 32 hex digits (either case); nullopt for anything else.
  static std::optional<Digest128> from_hex(std::string_view hex);
};

class Hasher {
 public:
  Hasher();
  ~Hasher();
  Hasher(Hasher&&) noexcept;
  Hasher& operator=(Hasher&&) noexcept;
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;

  void update(std::span<const std::byte> data);
  void update(std::string_view data);
  [[nodiscard]] Digest128 digest() const;
  void reset();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// One-shot XXH3-128 of a buffer.
Digest128 hash128(std::span<const std::byte> data);
Digest128 hash128(std::string_view data);

// XXH3-128 of a regular file's bytes; a symbolic link is not followed.
// @error kIo naming the file (missing, a link, unreadable).
[[nodiscard]] Result<Digest128> hash_file(const std::filesystem::path& path);

// hash_file of each path, in order, on every core (at most 8 threads; one for a few files): a
// documents folder of thousands of files is read and hashed by all cores, not one.
// @error the first failing path's (in `paths` order) error.
[[nodiscard]] Result<std::vector<Digest128>> hash_files(
    const std::vector<std::filesystem::path>& paths);

}  // namespace restorekit::core

#pragma GCC visibility pop
