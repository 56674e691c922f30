// What libarchive says, in restorekit's terms: a header as an Entry, the archive's format and
// filters as ArchiveInfo, a free-text error message as a stable ErrorCode and a sentence, and the
// passwords handed to libarchive's passphrase callback. Stateless except PasswordFeed (one per
// reader). Used by ArchiveReader only.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <restorekit/core/archive_reader.hpp>
#include <restorekit/core/error.hpp>

#include "decoding_source.hpp"

struct archive;
struct archive_entry;

namespace restorekit::core::detail {

// Case-insensitive substring search (libarchive's messages and locale names vary in case).
[[nodiscard]] bool contains_ci(std::string_view haystack, std::string_view needle);

// libarchive reports errors as free text: the text mapped to restorekit's stable codes.
[[nodiscard]] ErrorCode classify_message(std::string_view msg);

// The sentence for an error of reading `where` ("archive.zip", or `entry "x" of archive.zip`)
// with libarchive's (or restorekit's own zip reading's) message `msg`, already classified.
[[nodiscard]] std::string reading_sentence(ErrorCode code, std::string_view where,
                                           std::string_view msg);

// The entry libarchive read a header of, with its problem (a name that is not UTF-8 or not
// safe, a device, an unsafe link) where it has one. `index` counts from 0.
[[nodiscard]] Entry entry_from(archive_entry* ae, std::uint64_t index);

// "./" (what `tar -C dir -cf x .` writes first) is the archive's root itself: nothing to
// restore and nothing unsafe, so it is passed over like the peers do.
[[nodiscard]] bool names_the_root(archive_entry* ae);

// The format and filters of an open archive whose first header was read; `codec` is the
// decoder restorekit put below libarchive (Codec::kNone for none).
[[nodiscard]] ArchiveInfo info_of(archive* handle, Codec codec);

// The passwords libarchive's passphrase callback hands out, in order: the candidate proven on
// the archive (Passwords::proven()), the other candidates, then the prompt's answers (shared
// with the other readers of the same Passwords).
class PasswordFeed {
 public:
  explicit PasswordFeed(const Passwords& passwords) : passwords_(passwords) {}

  // The next password to try, or nullptr when there is none left. Valid until the next call.
  const char* next();

  // A zip window's new reader is offered the passwords in the order libarchive keeps them: it
  // moves a password that fails to the end of its list, so the one in use (the last handed out)
  // comes first, then the others. Offered from the first again, a wrong one would be tried on
  // each window's first encrypted entry, and ZipCrypto's one-byte check passes 1 in 256 wrong
  // passwords (then the entry fails its CRC).
  void offer_again();

 private:
  const Passwords& passwords_;
  std::size_t next_candidate_ = 0;
  std::size_t next_prompt_ = 0;
  bool proven_asked_ = false;
  std::optional<std::string> proven_;  // Passwords::proven(), offered before the candidates
  std::vector<std::string> offered_;   // handed to libarchive, in order
  std::deque<std::string> replay_;     // offered again first, to a zip window's new reader
  std::string current_;                // storage for the password handed out last
};

// A sparse entry's data as one run of bytes: libarchive hands its blocks with their offsets, and
// the holes between them and at the end are zeros, handed out in blocks of up to 64 KiB.
class SparseFill {
 public:
  // A new entry starts at offset 0 with nothing owed.
  void reset() { *this = SparseFill{}; }

  // What is owed before anything new is read (zeros of a hole, or the block held back behind
  // it); empty when nothing is.
  std::span<const std::byte> owed() {
    if (hole_ > 0) return zeros();
    auto block = pending_;
    pending_ = {};
    offset_ += block.size();
    return block;
  }

  // libarchive's next block, at `offset` in the entry: zeros first where it leaves a hole (the
  // block is then held back), else the block.
  std::span<const std::byte> place(std::span<const std::byte> block, std::uint64_t offset) {
    if (offset > offset_) {
      hole_ = offset - offset_;
      pending_ = block;
      return zeros();
    }
    offset_ += block.size();
    return block;
  }

  // libarchive has no more blocks of an entry of `size` bytes: the zeros of a hole at its end,
  // empty when there is none.
  std::span<const std::byte> end(std::optional<std::uint64_t> size) {
    if (size && offset_ < *size) hole_ = *size - offset_;
    return hole_ > 0 ? zeros() : std::span<const std::byte>{};
  }

 private:
  static constexpr std::array<std::byte, 64 * 1024> kZeros{};

  std::span<const std::byte> zeros() {
    auto n = static_cast<std::size_t>(std::min<std::uint64_t>(hole_, kZeros.size()));
    hole_ -= n;
    offset_ += n;
    return {kZeros.data(), n};
  }

  std::uint64_t offset_ = 0;            // next expected offset inside the entry
  std::uint64_t hole_ = 0;              // zero bytes still owed before `pending_`
  std::span<const std::byte> pending_;  // a block held back while a hole is handed out
};

}  // namespace restorekit::core::detail
