// Preflight checks of a restore: who holds the live database, what the backup's schema would
// bring or take away, and whether the disk holds what apply writes.
#include <dirent.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <set>

#include <fmt/format.h>

#include <restorekit/core/safe_path.hpp>

#include "internal.hpp"

namespace restorekit::restore {

namespace {

using core::Finding;
using core::Severity;

std::string process_name(const std::string& pid) {
  std::ifstream in("/proc/" + pid + "/comm");
  std::string name;
  std::getline(in, name);
  return name.empty() ? "?" : name;
}

}  // namespace

std::vector<std::string> processes_using(const std::filesystem::path& live) {
  std::error_code ec;
  auto base = std::filesystem::weakly_canonical(std::filesystem::absolute(live), ec).string();
  std::set<std::string> targets = {base, base + "-wal", base + "-journal", base + "-shm"};
  std::vector<std::string> out;
  std::string self = std::to_string(::getpid());
  DIR* proc = ::opendir("/proc");
  if (!proc) return out;
  while (auto* d = ::readdir(proc)) {
    std::string pid = d->d_name;
    if (pid.empty() || !std::all_of(pid.begin(), pid.end(), ::isdigit) || pid == self) continue;
    std::string fd_dir = "/proc/" + pid + "/fd";
    DIR* fds = ::opendir(fd_dir.c_str());
    if (!fds) continue;  // another user's process, or gone
    bool holds = false;
    while (auto* f = ::readdir(fds)) {
      if (f->d_name[0] == '.') continue;
      char target[4096];
      auto n = ::readlink((fd_dir + "/" + f->d_name).c_str(), target, sizeof target - 1);
      if (n <= 0) continue;
      if (targets.count(std::string(target, static_cast<std::size_t>(n)))) {
        holds = true;
        break;
      }
    }
    ::closedir(fds);
    if (holds) out.push_back(fmt::format("pid {} ({})", pid, process_name(pid)));
  }
  ::closedir(proc);
  std::sort(out.begin(), out.end());
  return out;
}

namespace detail {

std::string human(std::uint64_t bytes) {
  if (bytes >= 1'000'000'000) return fmt::format("{:.1f} GB", static_cast<double>(bytes) / 1e9);
  if (bytes >= 1'000'000) return fmt::format("{:.1f} MB", static_cast<double>(bytes) / 1e6);
  if (bytes >= 1'000) return fmt::format("{:.1f} kB", static_cast<double>(bytes) / 1e3);
  return fmt::format("{} bytes", bytes);
}

std::vector<Finding> live_in_use_checks(const fs::path& live, const std::optional<fs::path>& lock) {
  std::vector<Finding> out;
  auto users = processes_using(live);
  if (!users.empty()) {
    std::string list;
    for (const auto& u : users) list += (list.empty() ? "" : ", ") + u;
    out.push_back(Finding{"LIVE_IN_USE", Severity::kError, live.string(),
                          fmt::format("{} is open in {}; stop the application (every instance) "
                                      "before restoring",
                                      live.string(), list)});
  }
  std::error_code ec;
  if (lock && fs::exists(*lock, ec)) {
    out.push_back(Finding{"LIVE_IN_USE", Severity::kError, lock->string(),
                          fmt::format("the application's lock file {} exists, so the application "
                                      "is running; stop it before restoring (or remove a stale "
                                      "lock file)",
                                      lock->string())});
  }
  return out;
}

std::vector<Finding> schema_checks(const core::DatabaseSummary& backup,
                                   const core::DatabaseSummary& live, bool allow) {
  std::vector<Finding> out;
  Severity severity = allow ? Severity::kWarning : Severity::kError;
  std::string hint = allow ? " (allowed by --allow-schema-changes)"
                           : "; review it, then pass --allow-schema-changes to restore anyway";
  auto live_object = [&](const core::SchemaObject& o) {
    return std::any_of(live.objects.begin(), live.objects.end(), [&](const auto& l) {
      return l.type == o.type && l.name == o.name && l.sql == o.sql;
    });
  };
  for (const auto& o : backup.objects) {
    if (o.type == "index" || live_object(o)) continue;
    out.push_back(Finding{"UNTRUSTED_SCHEMA", severity, o.name,
                          fmt::format("the backup brings {} \"{}\" that the live database does "
                                      "not have (it would run inside the application){}",
                                      o.type, o.name, hint)});
  }
  using core::find_table;
  for (const auto& t : backup.tables) {
    if (t.kind != "virtual") continue;
    const auto* l = find_table(live, t.name);
    if (l && l->sql == t.sql) continue;
    out.push_back(Finding{"UNTRUSTED_SCHEMA", severity, t.name,
                          fmt::format("the backup brings virtual table \"{}\" that the live "
                                      "database does not have{}",
                                      t.name, hint)});
  }
  std::vector<std::string> newer;
  if (live.user_version > backup.user_version) {
    newer.push_back(fmt::format("user_version {} in live, {} in the backup", live.user_version,
                                backup.user_version));
  }
  for (const auto& t : live.tables) {
    if (t.kind != "table") continue;
    const auto* b = find_table(backup, t.name);
    if (!b) {
      newer.push_back(fmt::format("table {} exists only in live", t.name));
      continue;
    }
    for (const auto& c : t.columns) {
      bool has = std::any_of(b->columns.begin(), b->columns.end(),
                             [&](const auto& bc) { return bc.name == c.name; });
      if (!has) {
        newer.push_back(fmt::format("column {}.{} exists only in live", t.name, c.name));
      }
    }
  }
  if (!newer.empty()) {
    std::string list;
    for (std::size_t i = 0; i < newer.size() && i < 5; ++i) list += (i ? "; " : "") + newer[i];
    if (newer.size() > 5) list += fmt::format("; and {} more", newer.size() - 5);
    out.push_back(Finding{"SCHEMA_NEWER_THAN_BACKUP", severity, "",
                          fmt::format("the live schema is newer than the backup's, so the "
                                      "application was upgraded since ({}); the restored "
                                      "database may not work with it{}",
                                      list, hint)});
  }
  return out;
}

std::optional<Finding> disk_space_check(const fs::path& dir, std::uint64_t needed) {
  struct statvfs st {};
  if (::statvfs(dir.c_str(), &st) != 0) return std::nullopt;
  std::uint64_t free = static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize;
  if (free >= needed) return std::nullopt;
  return Finding{"DISK_SPACE", Severity::kError, dir.string(),
                 fmt::format("{} has {} free but the restore needs {} (safety snapshot of the "
                             "live database, the copy's journal and the staged documents); free "
                             "{} or more",
                             dir.string(), human(free), human(needed), human(needed - free))};
}

namespace {

// A folder with another device than its parent (or its own parent: "/") is a mount point.
bool is_mount_point(const fs::path& dir) {
  struct stat self {};
  struct stat parent {};
  if (::stat(dir.c_str(), &self) != 0 || ::stat((dir / "..").c_str(), &parent) != 0) return false;
  return self.st_dev != parent.st_dev || self.st_ino == parent.st_ino;
}

}  // namespace

std::vector<Finding> too_wide_checks(const core::DatabaseSummary& backup,
                                     const core::DatabaseSummary& live) {
  std::vector<Finding> out;
  for (const auto* s : {&backup, &live}) {
    for (const auto& t : s->tables) {
      if (!core::too_wide_to_select(t)) continue;
      out.push_back(Finding{
          "NOT_RESTORABLE_HERE", Severity::kError, t.name,
          fmt::format("table {} of the {} database has {} columns, more than SQLite can read "
                      "with its rowid in one query here; restore it with sqlite3 .restore",
                      t.name, s == &backup ? "backup's" : "live", t.columns.size())});
    }
  }
  return out;
}

Result<std::vector<Finding>> documents_folder_checks(const fs::path& documents,
                                                     const diff::FileWalk& files,
                                                     const std::string& root) {
  std::vector<Finding> out;
  std::error_code ec;
  if (fs::exists(documents, ec) && is_mount_point(documents)) {
    out.push_back(Finding{
        "NOT_RESTORABLE_HERE", Severity::kError, documents.string(),
        fmt::format("the live documents folder {} is a mount point (a Docker volume or another "
                    "filesystem): restorekit swaps the documents folder in with one rename, "
                    "which a mount point refuses; give --live-docs a folder inside the mount, or "
                    "restore the database alone with --no-docs",
                    documents.string())});
  }
  bool found = false;  // the first name too long is reported
  RK_TRY(files([&](const core::EntryRecord& f) -> Result<void> {
    if (found || f.path.rfind(root, 0) != 0) return {};
    auto why = core::too_long_to_restore(f.path.substr(root.size()), documents.string().size() + 1);
    if (!why) return {};
    out.push_back(Finding{"NOT_RESTORABLE_HERE", Severity::kError, f.path,
                          fmt::format("below {}: {}", documents.string(), *why)});
    found = true;
    return {};
  }));
  return out;
}

}  // namespace detail

}  // namespace restorekit::restore
