// What keeps a restore from losing data it was not asked to touch: the layout rule (a
// documents folder never holds, nor lies inside, anything of the live database), documents
// trees as the dry run saw them, and the check that a kept plan is exactly what the dry run
// wrote and registered beside live.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include <restorekit/core/backup_format.hpp>
#include <restorekit/core/fs.hpp>
#include <restorekit/core/hash.hpp>
#include <restorekit/core/restore_state.hpp>
#include <restorekit/core/safe_path.hpp>

#include "internal.hpp"

namespace restorekit::restore::detail {

namespace {

fs::path resolved(const fs::path& p) {
  std::error_code ec;
  auto c = fs::weakly_canonical(fs::absolute(p), ec);
  return ec ? fs::absolute(p).lexically_normal() : c;
}

// True when `a` is `b` or one of its ancestors.
bool contains(const fs::path& a, const fs::path& b) {
  auto rel = b.lexically_relative(a);
  return !rel.empty() && *rel.begin() != "..";
}

std::string describe(const fs::path& live, const fs::path& p) {
  auto state = resolved(core::restore_state_dir(live));
  if (p == resolved(live)) return "the live database";
  if (p == state) return "restorekit's restore state (journal, snapshots)";
  return p.string();
}

fs::path registry_dir(const fs::path& live) {
  return core::restore_state_dir(live) / "plans";
}

}  // namespace

std::vector<fs::path> live_paths(const fs::path& live) {
  auto base = resolved(live);
  return {base, base.string() + "-wal", base.string() + "-journal", base.string() + "-shm",
          resolved(core::restore_state_dir(live))};
}

std::optional<fs::path> held_by(const fs::path& dir, const std::vector<fs::path>& paths) {
  auto d = resolved(dir);
  for (const auto& p : paths) {
    if (contains(d, resolved(p))) return p;
  }
  return std::nullopt;
}

Result<void> check_layout(const fs::path& live, const fs::path& documents,
                          const std::vector<fs::path>& others) {
  auto docs = resolved(documents);
  auto protect = live_paths(live);
  for (const auto& o : others) protect.push_back(resolved(o));
  for (const auto& p : protect) {
    if (!contains(docs, p) && !contains(p, docs)) continue;
    std::string relation = contains(docs, p) ? "holds" : "lies inside";
    return fail(ErrorCode::kInvalidArgument,
                fmt::format("the documents folder {} {} {}: a restore replaces the whole "
                            "documents folder and would move it away; give --live-docs the "
                            "folder that holds only the documents",
                            documents.string(), relation, describe(live, p)),
                documents.string());
  }
  return {};
}

// --- the plan registry: <live>.restorekit/plans/<plan.json's XXH3-128> ------------------------

Result<void> register_plan(const fs::path& live, const core::Digest128& digest,
                           const fs::path& plan_dir) {
  auto dir = registry_dir(live);
  std::error_code ec;
  fs::create_directories(dir, ec);
  for (const auto& e : fs::directory_iterator(dir, ec)) {  // plans removed by hand
    auto kept = core::read_small_file(e.path(), 64 * 1024);
    if (kept && !fs::exists(fs::path(*kept) / "plan.json", ec)) fs::remove(e.path(), ec);
  }
  return write_text_durably(dir / digest.hex(), resolved(plan_dir).string());
}

void unregister_plan(const Plan& plan) {
  if (!plan.plan_digest) return;
  std::error_code ec;
  fs::remove(registry_dir(plan.live) / plan.plan_digest->hex(), ec);
}

std::optional<std::string> plan_tampered(const Plan& plan) {
  if (!plan.plan_dir) return std::nullopt;
  struct stat st {};
  if (::lstat(plan.plan_dir->c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return fmt::format("the plan folder {} is not a folder", plan.plan_dir->string());
  }
  if (st.st_uid != ::geteuid() || (st.st_mode & 077) != 0) {
    return fmt::format(
        "the plan folder {} must be private to you (mode 0700, owned by uid {}); "
        "others could have changed what it installs: make a new plan",
        plan.plan_dir->string(), ::geteuid());
  }
  auto registered =
      plan.plan_digest
          ? core::read_small_file(registry_dir(plan.live) / plan.plan_digest->hex(), 64 * 1024)
          : Result<std::string>(fail(ErrorCode::kNotFound, ""));
  if (!registered || *registered != resolved(*plan.plan_dir).string()) {
    return fmt::format(
        "{} is not the plan the dry run wrote for {} (edited, copied, or made for "
        "another database): make a new plan",
        (*plan.plan_dir / "plan.json").string(), plan.live.string());
  }
  // The files plan.json names by their digests: written by the dry run, read by apply.
  std::vector<const PlanFile*> files;
  for (const auto* tree : {&plan.staged_tree, &plan.live_tree}) {
    if (*tree) files.push_back(&**tree);
  }
  if (plan.chosen_documents) files.push_back(&plan.chosen_documents->file);
  for (const auto* file : files) {
    auto digest = core::hash_file(file->path);
    if (!digest || *digest != file->digest) {
      return fmt::format("{} is not the file the dry run wrote ({}): make a new plan",
                         file->path.string(),
                         digest ? "XXH3-128 " + digest->hex() + ", expected " + file->digest.hex()
                                : digest.error().message);
    }
  }
  return std::nullopt;
}

std::optional<std::string> staged_data_changed(const Plan& plan,
                                               std::optional<DatabaseFingerprint>* staged) {
  Result<core::Digest128> db = fail(ErrorCode::kIo, "not hashed");
  auto around = fingerprint_around(plan.staged_database, [&]() -> Result<void> {
    db = core::hash_file(plan.staged_database);
    return {};
  });
  if (!around) return around.error().message;
  if (!db || *db != plan.staged_database_hash) {
    return fmt::format(
        "the staged database {} is not the one the dry run checked ({}); make a "
        "new plan",
        plan.staged_database.string(),
        db ? "XXH3-128 " + db->hex() + ", expected " + plan.staged_database_hash.hex()
           : db.error().message);
  }
  if (!*around) {
    return fmt::format(
        "the staged database {} was being written while it was checked; make a "
        "new plan",
        plan.staged_database.string());
  }
  *staged = *around;
  if (!plan.staged_documents || !plan.live_documents) return std::nullopt;
  if (!plan.staged_tree) return "the plan has no staged documents tree; make a new plan";
  auto d = [&]() -> Result<std::optional<std::string>> {
    RK_TRY_ASSIGN(auto expected, Tree::open(*plan.staged_tree));
    RK_TRY_ASSIGN(auto now, Tree::scratch());
    RK_TRY(scan_tree(*plan.staged_documents, HashFiles::kYes, now));
    return first_difference(expected, now, TreeCompare::kContent);
  }();
  if (!d) return d.error().message;
  if (!*d) return std::nullopt;
  return fmt::format(
      "the staged documents in {} are not what the dry run checked: {}; make a new "
      "plan",
      plan.staged_documents->string(), **d);
}

}  // namespace restorekit::restore::detail
