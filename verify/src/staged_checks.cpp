#include "staged_checks.hpp"

#include <algorithm>
#include <chrono>

#include <restorekit/core/sqlite.hpp>

namespace restorekit::verify::detail {

namespace {

std::vector<core::TenantCount> count_tenants(const std::filesystem::path& staged,
                                             const std::string& column, const CancelToken& cancel) {
  auto db = core::Database::open_untrusted(staged);
  if (!db) return {};
  db->stop_when(cancel);
  auto summary = core::describe_database(*db, core::CountRows::kNo);
  if (!summary) return {};
  return core::count_tenants(*db, *summary, core::TenantSpec{column, {}, "id", {}})
      .value_or(std::vector<core::TenantCount>{});
}

}  // namespace

void StagedChecks::read(const EntryResult& e) {
  std::lock_guard lock(mutex_);
  if (e.header && *e.header) header_column_ = (**e.header).tenant_column;
  if (!e.staged || e.data_error) return;
  std::optional<std::string> column = header_column_;
  if (!column && o_.profile) column = o_.profile->tenant_column;
  bool dump = e.staged->format == core::DatabaseFormat::kSqlDump;
  checks_.emplace(
      e.index, std::async(std::launch::async, [staged = e.staged->file, path = e.path, dump, column,
                                               n = threads_, cancel = o_.cancel] {
        auto t = std::chrono::steady_clock::now();
        auto check = check_database(staged, path, dump, column, n, cancel);
        check.result.seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
        return check;
      }));
}

std::vector<DatabaseCheck> StagedChecks::collect(const std::vector<EntryResult>& notable,
                                                 const std::optional<std::string>& tenant_column) {
  std::vector<DatabaseCheck> out;
  for (auto& [index, pending] : checks_) {
    auto check = pending.get();
    auto it = std::lower_bound(notable.begin(), notable.end(), index,
                               [](const EntryResult& e, std::uint64_t i) { return e.index < i; });
    if (it == notable.end() || it->index != index || !it->staged) continue;
    if (tenant_column && check.tenants.empty()) {
      check.tenants = count_tenants(it->staged->file, *tenant_column, o_.cancel);
    }
    check.result.staged = it->staged->file;
    out.push_back(std::move(check));
  }
  checks_.clear();
  return out;
}

void StagedChecks::join() {
  for (auto& [index, pending] : checks_) pending.wait();
}

}  // namespace restorekit::verify::detail
