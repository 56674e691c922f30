// The shared visitors of the one archive pass (archive_pass.hpp). Each command attaches what it
// needs: verify all four, inspect the metadata collector and the database stager, diff the
// hasher and the stager, restore the document stager on top of verify's.
//
// Every visitor keeps the results of the entry that just ended, readable from the end() of a
// visitor attached after it (and until the next entry begins). They serve the visitors that
// own the pass and never hold it open: done() is always true. Thread safety: one thread.
// Input: untrusted archive data; names were normalised and checked by the reader.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <restorekit/core/archive_pass.hpp>
#include <restorekit/core/backup_format.hpp>
#include <restorekit/core/checksum_list.hpp>
#include <restorekit/core/finding.hpp>
#include <restorekit/core/fs.hpp>
#include <restorekit/core/hash.hpp>
#include <restorekit/core/summary.hpp>

#pragma GCC visibility push(default)  // the public API: exported by the shared libraries

namespace restorekit::core {

// Hashes every entry it reads: XXH3-128 always, plus the algorithm `extra` names for an entry
// (a checksum list's XXH32, XXH64 or XXH3-64).
class HashVisitor final : public EntryVisitor {
 public:
  // The other algorithm wanted for an entry, if any. @error stops the pass.
  using ExtraFn = std::function<Result<std::optional<HashAlgorithm>>(std::string_view path)>;
  explicit HashVisitor(ExtraFn extra = {}) : extra_(std::move(extra)) {}

  Result<Interest> begin(const Entry& entry) override;
  Result<Interest> block(std::span<const std::byte> data) override;
  Result<void> end(const Entry& entry, const EntryEnd& how) override;
  [[nodiscard]] bool done() const override { return true; }

  // Of the last entry: its XXH3-128, and the extra algorithm's hex digits, when read cleanly.
  [[nodiscard]] const std::optional<Digest128>& digest() const { return digest_; }
  [[nodiscard]] const std::optional<std::string>& extra_hex() const { return extra_hex_; }

 private:
  ExtraFn extra_;
  Hasher xxh128_;
  std::optional<AnyHasher> other_;
  std::optional<Digest128> digest_;
  std::optional<std::string> extra_hex_;
};

// A database staged out of the archive into a file of its own.
struct StagedDatabase {
  std::string entry;
  std::uint64_t index = 0;
  std::filesystem::path file;
  DatabaseFormat format = DatabaseFormat::kSqlite;
};

// The one rule for finding databases in a backup (guess_database, sql_dump.hpp): the first
// 4 KiB of an entry decide — SQLite magic, or a SQLite dump — and a database is streamed into
// `dir`/entry-<index>; any other entry is let go after its first 4 KiB. Files named like
// databases that are none (NOT_A_DATABASE, FOREIGN_SQL_DUMP) are named in finding().
// `candidate` (default: every file) limits which entries are looked at.
class DatabaseStager final : public EntryVisitor {
 public:
  using Candidate = std::function<bool(const Entry&)>;
  explicit DatabaseStager(std::filesystem::path dir, Candidate candidate = {})
      : dir_(std::move(dir)), candidate_(std::move(candidate)) {}

  Result<Interest> begin(const Entry& entry) override;
  Result<Interest> block(std::span<const std::byte> data) override;
  Result<void> end(const Entry& entry, const EntryEnd& how) override;
  [[nodiscard]] bool done() const override { return true; }

  // While an entry streams: whether its kind is known yet, and whether it is a database.
  [[nodiscard]] bool decided() const { return state_ != State::kPeeking; }
  [[nodiscard]] bool staging() const { return state_ == State::kStaging; }
  // Of the last entry: the database staged (read cleanly to its end), or why it is none.
  [[nodiscard]] const std::optional<StagedDatabase>& staged() const { return staged_; }
  [[nodiscard]] const std::optional<Finding>& finding() const { return finding_; }

 private:
  enum class State { kIdle, kPeeking, kStaging };
  Result<void> decide();
  Result<void> write(std::span<const std::byte> data);

  std::filesystem::path dir_;
  Candidate candidate_;
  const Entry* entry_ = nullptr;
  State state_ = State::kIdle;
  std::vector<std::byte> head_;
  UniqueFd fd_;
  std::optional<StagedDatabase> staged_;
  std::optional<Finding> finding_;
};

// Writes every document — each safe regular file and folder that is neither a database (as
// `databases`, attached before it, decides) nor restorekit's metadata — below `root` under its
// archive path, keeping its mtime, so that a restore can move the tree into place with one
// rename. A name that another entry already made a file or a folder keeps what came first
// (verify reports DUPLICATE_ENTRY or PATH_CONFLICT, which block a restore anyway).
class DocumentStager final : public EntryVisitor {
 public:
  DocumentStager(std::filesystem::path root, const DatabaseStager& databases)
      : root_(std::move(root)), databases_(databases) {}

  Result<Interest> begin(const Entry& entry) override;
  Result<Interest> block(std::span<const std::byte> data) override;
  Result<void> end(const Entry& entry, const EntryEnd& how) override;
  [[nodiscard]] bool done() const override { return true; }

 private:
  Result<void> open_file();
  Result<void> write(std::span<const std::byte> data);

  std::filesystem::path root_;
  const DatabaseStager& databases_;
  const Entry* entry_ = nullptr;
  std::vector<std::byte> held_;  // data before the database stager decided
  std::filesystem::path file_;
  UniqueFd fd_;
  bool skipped_ = false;  // a database, or a name already taken
};

// Keeps restorekit's own metadata entries (header.json, checksums.xxh128) verbatim, up to
// 256 MiB, and parses the header once, when it is the archive's first entry. Given a spool
// folder, it writes the checksum list to a file there instead (list_file()), so that a list of
// any length costs no memory; the header is always kept as text.
class MetadataVisitor final : public EntryVisitor {
 public:
  static constexpr std::uint64_t kMaxText = std::uint64_t{256} << 20;

  MetadataVisitor() = default;
  explicit MetadataVisitor(std::filesystem::path spool_dir) : spool_dir_(std::move(spool_dir)) {}

  Result<Interest> begin(const Entry& entry) override;
  Result<Interest> block(std::span<const std::byte> data) override;
  Result<void> end(const Entry& entry, const EntryEnd& how) override;
  [[nodiscard]] bool done() const override { return true; }

  // The last entry's text (empty unless it is metadata); take_text() moves it out.
  [[nodiscard]] const std::string& text() const { return text_; }
  [[nodiscard]] std::string take_text() { return std::move(text_); }
  // With a spool folder: the file the last entry (a checksum list) was written to, whole or as
  // far as it could be read; nullopt for any other entry.
  [[nodiscard]] std::optional<std::filesystem::path> take_list_file() {
    return std::exchange(list_file_, std::nullopt);
  }
  // The header: nullopt until a first entry named restorekit/header.json was read cleanly.
  [[nodiscard]] const std::optional<Result<BackupHeader>>& header() const { return header_; }

 private:
  bool keeping_ = false;
  std::string text_;
  std::filesystem::path spool_dir_;
  UniqueFd spool_;
  std::optional<std::filesystem::path> list_file_;
  std::optional<Result<BackupHeader>> header_;
};

// True for restorekit/header.json and restorekit/checksums.xxh128.
bool is_metadata_entry(std::string_view path);

}  // namespace restorekit::core

#pragma GCC visibility pop
