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

namespace {

// The files among `entries` (paths relative to `root`) get their hashes, on every core.
Result<void> hash_tree_files(const fs::path& root, std::vector<TreeEntry>& entries) {
  std::vector<TreeEntry*> files;
  std::vector<fs::path> paths;
  for (auto& e : entries) {
    if (e.type != core::EntryType::kFile) continue;
    files.push_back(&e);
    paths.push_back(root / e.path);
  }
  RK_TRY_ASSIGN(auto hashes, core::hash_files(paths));
  for (std::size_t i = 0; i < files.size(); ++i) files[i]->hash = hashes[i];
  return {};
}

}  // namespace

Result<std::vector<TreeEntry>> scan_tree(const fs::path& root, HashFiles hash) {
  std::vector<TreeEntry> out;
  auto add = [&](const fs::path& p, const std::string& rel) -> Result<void> {
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) {
      return fail(ErrorCode::kIo,
                  fmt::format("cannot read {}: {}", p.string(), std::strerror(errno)), p.string());
    }
    TreeEntry e;
    e.path = rel;
    e.type = S_ISREG(st.st_mode)   ? core::EntryType::kFile
             : S_ISDIR(st.st_mode) ? core::EntryType::kDirectory
                                   : core::EntryType::kOther;
    e.inode = static_cast<std::uint64_t>(st.st_ino);
    e.mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
    if (e.type == core::EntryType::kFile) e.size = static_cast<std::uint64_t>(st.st_size);
    out.push_back(std::move(e));
    return {};
  };
  RK_TRY(add(root, ""));
  if (out.front().type != core::EntryType::kDirectory) return out;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(root, ec), end; it != end; it.increment(ec)) {
    RK_TRY(add(it->path(), it->path().lexically_relative(root).generic_string()));
  }
  if (ec) {
    return fail(ErrorCode::kIo, fmt::format("cannot list {}: {}", root.string(), ec.message()),
                root.string());
  }
  std::sort(out.begin(), out.end(),
            [](const TreeEntry& a, const TreeEntry& b) { return a.path < b.path; });
  if (hash == HashFiles::kYes) RK_TRY(hash_tree_files(root, out));
  return out;
}

std::optional<std::string> first_difference(const std::vector<TreeEntry>& expected,
                                            const std::vector<TreeEntry>& actual, TreeCompare how,
                                            const fs::path& root) {
  auto name = [](const TreeEntry& e) {
    return e.path.empty() ? std::string("the folder itself") : fmt::format("\"{}\"", e.path);
  };
  // A file whose size, mtime or inode moved still has the planned content when its hash says
  // so (touched, copied back, restored from elsewhere).
  auto same_content = [&](const TreeEntry& planned) {
    if (!planned.hash || root.empty()) return false;
    auto now = core::hash_file(root / planned.path);
    return now && *now == *planned.hash;
  };
  std::size_t i = 0, j = 0;
  while (i < expected.size() || j < actual.size()) {
    if (j == actual.size() || (i < expected.size() && expected[i].path < actual[j].path)) {
      return fmt::format("{} is missing", name(expected[i]));
    }
    if (i == expected.size() || actual[j].path < expected[i].path) {
      return fmt::format("{} was added", name(actual[j]));
    }
    const auto& x = expected[i++];
    const auto& y = actual[j++];
    if (how == TreeCompare::kContent && y.type == core::EntryType::kOther) {
      return fmt::format("{} is neither a regular file nor a folder", name(y));
    }
    if (x.type != y.type) return fmt::format("{} was changed", name(y));
    // A folder is what it holds (its own mtime moves with any file made and removed again).
    if (x.type == core::EntryType::kDirectory) continue;
    bool same = how == TreeCompare::kContent
                    ? x.size == y.size && x.hash == y.hash
                    : (x.size == y.size && x.mtime_ns == y.mtime_ns && x.inode == y.inode) ||
                          (x.type == core::EntryType::kFile && same_content(x));
    if (!same) return fmt::format("{} was changed", name(y));
  }
  return std::nullopt;
}

std::vector<TreeEntry> tree_from_listing(const std::vector<core::EntryRecord>& files,
                                         const std::string& root) {
  std::vector<TreeEntry> out;
  std::set<std::string> dirs = {""};
  auto add_parents = [&](std::string_view rel) {
    for (auto slash = rel.rfind('/'); slash != std::string_view::npos && slash > 0;
         slash = rel.rfind('/', slash - 1)) {
      dirs.insert(std::string(rel.substr(0, slash)));
    }
  };
  for (const auto& f : files) {
    if (!f.safe || f.path.rfind(root, 0) != 0 || f.path == core::kHeaderEntry ||
        f.path == core::kChecksumsEntry) {
      continue;  // the stager writes neither unsafe entries nor restorekit's own metadata
    }
    std::string rel = f.path.substr(root.size());
    while (!rel.empty() && rel.back() == '/') rel.pop_back();
    if (rel.empty()) continue;
    if (f.type == core::EntryType::kDirectory) {
      dirs.insert(rel);
      add_parents(rel);
    } else if (f.type == core::EntryType::kFile && f.hash) {
      out.push_back(TreeEntry{rel, core::EntryType::kFile, f.size.value_or(0), 0, 0, f.hash});
      add_parents(rel);
    }
  }
  for (const auto& d : dirs) out.push_back(TreeEntry{d, core::EntryType::kDirectory, 0, 0, 0, {}});
  std::sort(out.begin(), out.end(),
            [](const TreeEntry& a, const TreeEntry& b) { return a.path < b.path; });
  return out;
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
  auto tree = scan_tree(*plan.staged_documents, HashFiles::kYes);
  if (!tree) return tree.error().message;
  if (auto d = first_difference(plan.staged_tree, *tree, TreeCompare::kContent)) {
    return fmt::format(
        "the staged documents in {} are not what the dry run checked: {}; make a "
        "new plan",
        plan.staged_documents->string(), *d);
  }
  return std::nullopt;
}

}  // namespace restorekit::restore::detail
