#include <restorekit/verify/rotation.hpp>

#include <algorithm>
#include <ctime>

#include <fmt/format.h>

#include <restorekit/core/fs.hpp>

namespace restorekit::verify {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kPrefix = "backup-";

bool is_backup_name(const std::string& name) {
  if (name.rfind(kPrefix, 0) != 0) return false;
  for (std::string_view ext : {".zip", ".tar.gz", ".tar.zst", ".tar.xz"}) {
    if (name.size() > ext.size() && name.compare(name.size() - ext.size(), ext.size(), ext) == 0) {
      return true;
    }
  }
  return false;
}

std::string stamp() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

}  // namespace

std::vector<fs::path> good_copies(const fs::path& folder) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(folder, ec)) {
    if (e.is_regular_file(ec) && is_backup_name(e.path().filename().string())) {
      out.push_back(e.path());
    }
  }
  // Oldest first: by modification time, then name (several backups may share a second).
  auto when = [](const fs::path& p) {
    std::error_code e;
    return fs::last_write_time(p, e);
  };
  std::sort(out.begin(), out.end(), [&](const fs::path& a, const fs::path& b) {
    auto ta = when(a), tb = when(b);
    return ta != tb ? ta < tb : a < b;
  });
  return out;
}

Result<RotationResult> rotate_backup(const RotationOptions& o) {
  if (o.keep == 0) return fail(ErrorCode::kInvalidArgument, "--keep must be at least 1");
  std::error_code ec;
  fs::create_directories(o.folder, ec);
  if (ec) {
    return fail(ErrorCode::kIo,
                fmt::format("cannot create {}: {}", o.folder.string(), ec.message()),
                o.folder.string());
  }
  core::BackupOptions b = o.backup;
  std::string base = std::string(kPrefix) + stamp();
  b.output = o.folder / fmt::format("{}.{}", base, o.extension);
  for (int i = 1; fs::exists(b.output, ec) || fs::exists(b.output.string() + ".damaged", ec); ++i) {
    b.output = o.folder / fmt::format("{}-{}.{}", base, i, o.extension);
  }
  RK_TRY_ASSIGN(auto written, core::write_backup(b));
  RotationResult r;
  r.written = written.path;
  auto verified = o.verifier ? o.verifier(r.written, o.verify) : verify(r.written, o.verify);
  if (!verified) {
    // Could not verify at all: never a good copy.
    fs::path aside = r.written.string() + ".damaged";
    fs::rename(r.written, aside, ec);
    return tl::unexpected(verified.error());
  }
  r.report = std::move(*verified);
  r.intact = r.report.intact();
  if (!r.intact) {
    fs::path aside = r.written.string() + ".damaged";
    RK_TRY(core::rename_durably(r.written, aside));
    r.written = aside;
    return r;
  }
  auto good = good_copies(o.folder);
  for (std::size_t i = 0; i + o.keep < good.size(); ++i) {
    if (good[i] == r.written) continue;
    fs::remove(good[i], ec);
    if (!ec) r.removed.push_back(good[i]);
  }
  RK_TRY(core::sync_directory(o.folder));
  return r;
}

}  // namespace restorekit::verify
