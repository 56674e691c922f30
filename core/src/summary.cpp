// What core knows of archives and backups by name: the summary's enums and their names, the
// key and the fingerprint an index files an archive under.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include <restorekit/core/archive_index.hpp>
#include <restorekit/core/fs.hpp>
#include <restorekit/core/hash.hpp>
#include <restorekit/core/summary.hpp>

namespace restorekit::core {

namespace {

constexpr std::size_t kFingerprintSpan = 64 * 1024;
constexpr std::size_t kFingerprintBlocks = 32;
constexpr std::size_t kFingerprintBlock = 4096;

}  // namespace

std::string_view database_format_name(DatabaseFormat format) {
  return format == DatabaseFormat::kSqlDump ? "sql-dump" : "sqlite";
}

DatabaseFormat database_format_from_name(std::string_view name) {
  return name == "sql-dump" ? DatabaseFormat::kSqlDump : DatabaseFormat::kSqlite;
}

std::string_view verdict_name(Verdict verdict) {
  switch (verdict) {
    case Verdict::kIntact: return "intact";
    case Verdict::kDamaged: return "damaged";
    case Verdict::kLocked: return "locked";
  }
  return "damaged";
}

Verdict verdict_from_name(std::string_view name) {
  if (name == "intact") return Verdict::kIntact;
  if (name == "locked") return Verdict::kLocked;
  return Verdict::kDamaged;
}

Finding more_than_listed(const std::string& code, Severity severity, std::uint64_t n,
                         std::size_t listed) {
  return Finding{code, severity, "",
                 fmt::format("{} more entr{} {} {} (the first {} are listed one by one)", n,
                             n == 1 ? "y" : "ies", n == 1 ? "has" : "have", code, listed),
                 n};
}

void FindingCap::add(Finding f) {
  if (++seen_[{f.code, f.severity}] <= listed_) out_.push_back(std::move(f));
}

void FindingCap::count(const std::string& code, Severity severity, std::uint64_t n) {
  if (n > 0) seen_[{code, severity}] += n;
}

void FindingCap::finish() {
  for (auto& [kind, n] : seen_) {
    if (n > listed_)
      out_.push_back(more_than_listed(kind.first, kind.second, n - listed_, listed_));
    n = std::min<std::uint64_t>(n, listed_);  // counted once
  }
}

std::string_view severity_name(Severity severity) {
  switch (severity) {
    case Severity::kError: return "error";
    case Severity::kWarning: return "warning";
    case Severity::kInfo: return "info";
  }
  return "warning";
}

std::string index_key(const std::filesystem::path& archive) {
  std::error_code ec;
  auto abs = std::filesystem::weakly_canonical(std::filesystem::absolute(archive), ec);
  return (ec ? std::filesystem::absolute(archive) : abs).string();
}

Result<Fingerprint> fingerprint_file(const std::filesystem::path& path) {
  UniqueFd fd = open_for_reading(path);  // a FIFO is refused below
  if (!fd && errno == ENOENT) {
    return fail(ErrorCode::kNotFound,
                fmt::format("{} does not exist; check the path", path.string()), path.string());
  }
  if (!fd) {
    return fail(ErrorCode::kIo,
                fmt::format("cannot open {}: {}", path.string(), std::strerror(errno)),
                path.string());
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return fail(ErrorCode::kInvalidArgument, fmt::format("{} is not a regular file", path.string()),
                path.string());
  }
  Fingerprint fp;
  fp.size = static_cast<std::uint64_t>(st.st_size);
  fp.mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  std::vector<std::byte> buf(kFingerprintSpan);
  Hasher hasher;
  // The head and the tail (where headers, checksums and zip's central directory live), and
  // blocks spread evenly between them: bit rot there is seen without reading the whole file.
  std::vector<std::pair<off_t, std::size_t>> spans = {
      {0, kFingerprintSpan},
      {std::max<off_t>(0, st.st_size - off_t{kFingerprintSpan}), kFingerprintSpan}};
  for (std::size_t i = 1; i <= kFingerprintBlocks; ++i) {
    spans.emplace_back(
        static_cast<off_t>(static_cast<std::uint64_t>(st.st_size) * i / (kFingerprintBlocks + 1)),
        kFingerprintBlock);
  }
  for (auto [offset, length] : spans) {
    ssize_t n = ::pread(fd.get(), buf.data(), length, offset);
    if (n < 0) {
      return fail(ErrorCode::kIo,
                  fmt::format("cannot read {}: {}", path.string(), std::strerror(errno)),
                  path.string());
    }
    hasher.update(std::span<const std::byte>(buf.data(), static_cast<std::size_t>(n)));
  }
  fp.head_tail = hasher.digest();
  return fp;
}

}  // namespace restorekit::core
