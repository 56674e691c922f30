// Putting backups into the catalog (the core index) and recording verify results: shared by
// `verify` (which records its result) and `catalog add/verify`.
#pragma once

#include <filesystem>
#include <string>

#include <restorekit/core/index.hpp>
#include <restorekit/verify/verify.hpp>

#include "common.hpp"

namespace restorekit::cli {

enum class AddOutcome { kRead, kUnchanged, kDamaged, kLocked, kNotABackup };

// Makes sure the catalog holds the archive with its current fingerprint: an unchanged archive
// is not read; otherwise inspect reads it (the header of our backups, a listing of others). An
// archive that cannot be read is recorded as damaged; a file that is no archive is skipped.
// An encrypted archive without a usable password is recorded as locked, not damaged.
// `message` receives the reason for kDamaged / kLocked / kNotABackup.
AddOutcome add_to_catalog(core::Index& index, const std::filesystem::path& archive,
                          const BackupInputs& inputs, std::string* message = nullptr);

// Records a verify report (listing with hashes, verdict) for the archive, adding it first when
// the catalog does not hold it. @error kDatabase, kIo.
[[nodiscard]] Result<void> record_verify(core::Index& index, const std::filesystem::path& archive,
                                         const BackupInputs& inputs,
                                         const verify::VerifyReport& report);

}  // namespace restorekit::cli
