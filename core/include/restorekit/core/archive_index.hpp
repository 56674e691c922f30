// ArchiveIndex: what inspect and diff ask of an index of backup archives, so that a repeated
// question about an unchanged archive is answered without reading it again. The catalog module
// (catalog/index.hpp) implements it over SQLite; core only names the contract, so that the
// modules that read archives do not depend on the catalog.
//
// Thread safety: as the implementation says (the catalog's Index: one per thread).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <restorekit/core/entry_store.hpp>
#include <restorekit/core/error.hpp>
#include <restorekit/core/summary.hpp>

#pragma GCC visibility push(default)  // the public API: exported by the shared libraries

namespace restorekit::core {

// The key an index files an archive under: its absolute path, symlinks resolved.
std::string index_key(const std::filesystem::path& archive);

// A database staged from an archive, kept so that diff and restore need not read the archive
// again. The file is a copy of hostile input: open it as untrusted.
struct StagedCopy {
  std::string entry;  // the archive entry it came from
  std::filesystem::path file;
};

class ArchiveIndex {
 public:
  virtual ~ArchiveIndex() = default;

  // The stored summary of the archive at `path` (an index_key), only when its fingerprint
  // equals `fingerprint`; nullopt when unknown or changed. @error kDatabase.
  [[nodiscard]] virtual Result<std::optional<ArchiveSummary>> find(
      const std::string& path, const Fingerprint& fingerprint) = 0;
  // Stores (replacing) an archive's summary; with `entries`, its complete listing too.
  // @error kDatabase.
  [[nodiscard]] virtual Result<void> put(const ArchiveSummary& summary,
                                         const EntryStore* entries = nullptr) = 0;
  // The stored listing of an archive, handed to `fn` one entry at a time in archive order
  // (nothing when never listed). @error kDatabase, or the first error `fn` returns.
  using EntryFn = std::function<Result<void>(EntryRecord&&)>;
  [[nodiscard]] virtual Result<void> each_entry(const std::string& path, const EntryFn& fn) = 0;
  // The same listing as a vector (memory grows with the entries). @error kDatabase.
  [[nodiscard]] Result<std::vector<EntryRecord>> entries(const std::string& path) {
    std::vector<EntryRecord> out;
    RK_TRY(each_entry(path, [&](EntryRecord&& e) -> Result<void> {
      out.push_back(std::move(e));
      return {};
    }));
    return out;
  }
  // The same listing as a sealed EntryStore on disk (bounded memory). @error kDatabase.
  [[nodiscard]] Result<std::shared_ptr<EntryStore>> entry_store(const std::string& path) {
    RK_TRY_ASSIGN(auto store, EntryStore::create());
    std::uint64_t index = 0;
    RK_TRY(each_entry(path, [&](EntryRecord&& e) -> Result<void> {
      StoredEntry s{index++, std::move(e), false, false, std::nullopt};
      s.data_read = s.record.hash.has_value();
      return store->add(std::move(s), Ownership::kOwned);
    }));
    RK_TRY(store->seal());
    return store;
  }
  // The staged database kept for the archive, when its fingerprint still matches and the file
  // exists. @error kDatabase.
  [[nodiscard]] virtual Result<std::optional<StagedCopy>> staged_database(
      const std::string& path, const Fingerprint& fingerprint) = 0;
  // Keeps `file` (a database staged from the archive's `entry`) for later; @return where the
  // copy is now. @error kIo, kDatabase.
  [[nodiscard]] virtual Result<std::filesystem::path> keep_staged_database(
      const std::string& path, const Fingerprint& fingerprint, const std::string& entry,
      const std::filesystem::path& file) = 0;
};

}  // namespace restorekit::core

#pragma GCC visibility pop
