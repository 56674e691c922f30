// Checksum lists as xxhsum writes them: restorekit/checksums.xxh128 in our backups, and the
// lists `verify --checksums` checks foreign backups against.
//
// Accepted lines (xxhsum 0.8): GNU style "<hex>  <path>" where the digest length selects the
// algorithm (8 hex: XXH32, 16: XXH64, 32: XXH128), with an optional '*' binary marker and the
// leading-backslash escaping of names holding '\' or a newline; and BSD style
// "XXH32 (<path>) = <hex>", "XXH64 (...)", "XXH128 (...)", "XXH3 (...)" (XXH3 64-bit), each
// optionally with the "_LE" suffix of --little-endian output. Empty lines and lines starting
// with '#' are ignored. Input: untrusted. Thread-safe (pure functions).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <restorekit/core/error.hpp>

#pragma GCC visibility push(default)  // the public API: exported by the shared libraries

namespace restorekit::core {

enum class HashAlgorithm { kXxh32, kXxh64, kXxh3_64, kXxh128 };

std::string_view algorithm_name(HashAlgorithm algorithm);  // "XXH32", "XXH64", "XXH3", "XXH128"

// A streaming hasher for any algorithm a checksum list may name, printing the digest as
// xxhsum does (lowercase canonical hex). One thread at a time.
class AnyHasher {
 public:
  explicit AnyHasher(HashAlgorithm algorithm);
  ~AnyHasher();
  AnyHasher(AnyHasher&&) noexcept;
  AnyHasher& operator=(AnyHasher&&) noexcept;
  AnyHasher(const AnyHasher&) = delete;
  AnyHasher& operator=(const AnyHasher&) = delete;

  void update(std::span<const std::byte> data);
  [[nodiscard]] std::string hex() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

struct ExpectedHash {
  std::string path;  // normalised archive path (a leading "./" dropped)
  HashAlgorithm algorithm = HashAlgorithm::kXxh128;
  std::string hex;       // lowercase canonical (big-endian) hex digits
  std::size_t line = 0;  // 1-based line number, for messages
};

// @error kInvalidArgument naming the first malformed line (number and escaped text), or a
// path that is unsafe (absolute, "..").
[[nodiscard]] Result<std::vector<ExpectedHash>> parse_checksum_list(std::string_view text,
                                                                    std::string_view name);

// Line `number` (1-based) of list `name`, without its newline: nullopt for a line that holds
// nothing (empty, a '#' comment). @error as parse_checksum_list.
[[nodiscard]] Result<std::optional<ExpectedHash>> parse_checksum_line(std::string_view line,
                                                                      std::size_t number,
                                                                      std::string_view name);

// The lines of the list in `file`, parsed and handed to `fn` in order, read in 64 KiB pieces:
// memory stays one piece and one line whatever the list's length (a line longer than
// kMaxChecksumLine is malformed). `name` names the list in messages. @error as
// parse_checksum_list, kIo (the file), or the first error `fn` returns.
inline constexpr std::size_t kMaxChecksumLine = 64 * 1024;
[[nodiscard]] Result<void> for_each_checksum_line(
    const std::filesystem::path& file, std::string_view name,
    const std::function<Result<void>(ExpectedHash&&)>& fn);

}  // namespace restorekit::core

#pragma GCC visibility pop
