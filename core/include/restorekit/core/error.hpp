// restorekit::Error and Result<T>: how every fallible restorekit function reports failure.
//
// An Error means an operation could not proceed (cannot open, wrong password, unsafe entry
// refused, I/O failure). Problems *found in* a backup (a bad checksum, a corrupt table) are not
// errors: they are findings, data in a report. An Error carries a stable code (scripts may match
// on `code_name()`), one human sentence that says what went wrong and what to do, and the file
// or entry concerned.
//
// Thread safety: plain values. No exception crosses the public API.
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include <tl/expected.hpp>

#pragma GCC visibility push(default)  // the public API: exported by the shared libraries

namespace restorekit {

enum class ErrorCode {
  kInvalidArgument,        // a caller-supplied option or value is unusable
  kNotFound,               // a file or entry does not exist
  kIo,                     // the operating system refused a read, write, rename, ...
  kNotAnArchive,           // the bytes are not an archive format restorekit reads
  kUnsupportedFormat,      // a recognised but disabled or unsupported format/feature
  kTruncated,              // the archive ends before its structure says it should
  kCorruptData,            // decompression or structure failed
  kCrcError,               // an archive's own checksum (zip CRC-32, gzip trailer) failed
  kPasswordRequired,       // encrypted content and no password was given
  kBadPassword,            // every candidate password was wrong
  kEncryptionUnsupported,  // encrypted, but in a scheme libarchive cannot decrypt (7z AES, RAR)
  kUnsafePath,             // an entry path escapes the target or holds forbidden characters
  kUnsafeLink,             // a link whose target leaves the tree
  kLimitExceeded,          // entry count or total size bound exceeded
  kRatioLimit,             // compression ratio bound exceeded (a decompression bomb)
  kDatabase,               // SQLite refused an operation
  kBadBackup,              // a restorekit backup whose header or checksums cannot be parsed
  kProfile,                // a profile file is unreadable or holds an unknown/invalid key
  kCancelled,              // the caller's cancellation token was tripped
  kConflict,               // the live system forbids it now: in use, changed since the plan,
                           // or an interrupted restore waits for `restore --recover`
  kInternal,               // a broken invariant inside restorekit (a bug)
};

// Stable upper-case name of a code, e.g. "BAD_PASSWORD". Never changes once released.
std::string_view code_name(ErrorCode code);

// True for failures that mean an archive could not be looked at (missing, not an archive, an
// I/O error, encryption restorekit cannot read, cancelled) rather than that it is damaged: the
// one rule verify and the catalog share to tell "could not verify" from "damaged".
bool is_operational(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;  // one sentence: what failed and what to do
  std::string subject;  // the file or archive entry concerned; may be empty

  Error() = default;
  Error(ErrorCode c, std::string msg, std::string subj = {})
      : code(c), message(std::move(msg)), subject(std::move(subj)) {}
};

template <typename T>
using Result = tl::expected<T, Error>;

// Shorthand for returning a failure: `return fail(ErrorCode::kIo, "...", path);`
inline tl::unexpected<Error> fail(ErrorCode code, std::string message, std::string subject = {}) {
  return tl::unexpected<Error>(Error(code, std::move(message), std::move(subject)));
}

}  // namespace restorekit

// RK_TRY(expr): evaluate a Result<void>-like expression; return its error from the enclosing
// function if it failed.
#define RK_TRY(expr)                                                                 \
  do {                                                                               \
    auto&& rk_try_result_ = (expr);                                                  \
    if (!rk_try_result_) {                                                           \
      return tl::unexpected<::restorekit::Error>(std::move(rk_try_result_).error()); \
    }                                                                                \
  } while (false)

#define RK_CONCAT_INNER_(a, b) a##b
#define RK_CONCAT_(a, b) RK_CONCAT_INNER_(a, b)

// RK_TRY_ASSIGN(lhs, expr): `lhs = *expr` on success, else return the error.
// lhs may be a declaration: RK_TRY_ASSIGN(auto reader, ArchiveReader::open(...));
#define RK_TRY_ASSIGN(lhs, expr) RK_TRY_ASSIGN_IMPL_(RK_CONCAT_(rk_tmp_, __LINE__), lhs, expr)
#define RK_TRY_ASSIGN_IMPL_(tmp, lhs, expr)                             \
  auto tmp = (expr);                                                    \
  if (!tmp) {                                                           \
    return tl::unexpected<::restorekit::Error>(std::move(tmp).error()); \
  }                                                                     \
  lhs = std::move(*tmp)

#pragma GCC visibility pop
