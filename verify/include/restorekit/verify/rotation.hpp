// Backup rotation: a folder keeps the N newest *verified* backups. The new backup is written,
// verified in full, and only then are the oldest good copies beyond N deleted; a backup that
// fails verification is kept aside as `<name>.damaged`, never counted as a good copy.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <restorekit/core/backup.hpp>
#include <restorekit/verify/verify.hpp>

#pragma GCC visibility push(default)  // the public API: exported by the shared libraries

namespace restorekit::verify {

struct RotationOptions {
  core::BackupOptions backup;         // `output` is ignored: the folder and a dated name are used
  std::filesystem::path folder;       // created if missing
  unsigned keep = 7;                  // good copies to keep, the new one included (>= 1)
  std::string extension = "tar.zst";  // zip, tar.gz, tar.zst, tar.xz
  VerifyOptions verify;
  // Test seam: how the new backup is verified (default: verify()).
  std::function<Result<VerifyReport>(const std::filesystem::path&, const VerifyOptions&)> verifier;
};

struct RotationResult {
  std::filesystem::path written;  // the new backup (renamed to *.damaged when it failed)
  bool intact = false;
  VerifyReport report;
  std::vector<std::filesystem::path> removed;  // old good copies deleted
};

// The good copies in `folder` (backup-*.<ext>, not *.damaged), oldest (modified) first.
std::vector<std::filesystem::path> good_copies(const std::filesystem::path& folder);

// @error the backup's and verify's operational errors (then nothing old is deleted), kIo.
[[nodiscard]] Result<RotationResult> rotate_backup(const RotationOptions& options);

}  // namespace restorekit::verify

#pragma GCC visibility pop
