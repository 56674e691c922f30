// A tenant or record restore's documents swap, file by file: the list of files and their inodes
// under the lock, in a SQLite file of the safety snapshot that the journal names and rollback
// reads, so that a swap of a million files costs a page cache, not memory (nor a journal of
// that many JSON objects).
#include <fcntl.h>
#include <unistd.h>

#include <set>

#include <fmt/format.h>

#include <restorekit/core/fs.hpp>

#include "internal.hpp"

namespace restorekit::restore::detail {

namespace {

constexpr std::string_view kSchema = R"sql(
CREATE TABLE files(seq INTEGER PRIMARY KEY, live TEXT NOT NULL, staged TEXT NOT NULL,
                   live_ino INTEGER NOT NULL, staged_ino INTEGER NOT NULL);
)sql";

fs::path below(const fs::path& root, const std::string& rel) {
  return rel.empty() ? root : root / rel;
}

}  // namespace

Result<void> write_file_swaps(const fs::path& file, DocumentSwap& d) {
  {
    RK_TRY_ASSIGN(auto db, create_plan_database(file));
    RK_TRY(db.exec(kSchema));
    RK_TRY(db.exec("BEGIN"));
    RK_TRY_ASSIGN(auto add, db.prepare("INSERT INTO files(live, staged, live_ino, staged_ino) "
                                       "VALUES(?1, ?2, ?3, ?4)"));
    d.made.clear();
    std::set<std::string> made;
    auto listed = d.choose([&](const FileSwap& chosen) -> Result<void> {
      FileSwap f = chosen;
      f.staged_ino = inode_of(d.staged / f.staged);
      f.live_ino = inode_of(d.live / f.live);
      add.bind(1, std::string_view(f.live));
      add.bind(2, std::string_view(f.staged));
      add.bind(3, static_cast<std::int64_t>(f.live_ino));
      add.bind(4, static_cast<std::int64_t>(f.staged_ino));
      RK_TRY(add.run());
      if (f.live_ino) return {};
      // The folders a new file needs, outermost first ("" is the documents folder itself).
      std::vector<std::string> missing;
      for (fs::path dir = fs::path(f.live).parent_path();; dir = dir.parent_path()) {
        std::string rel = dir.generic_string();
        if (made.count(rel) || inode_of(below(d.live, rel)) != 0) break;
        missing.push_back(rel);
        if (rel.empty()) break;
      }
      for (auto m = missing.rbegin(); m != missing.rend(); ++m) {
        made.insert(*m);
        d.made.push_back(*m);
      }
      return {};
    });
    RK_TRY(listed);
    RK_TRY(db.exec("COMMIT"));
  }  // closed: written without syncs, made durable here before the journal names it
  core::UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    return fail(ErrorCode::kIo,
                fmt::format("cannot open {}: {}", file.string(), std::strerror(errno)),
                file.string());
  }
  RK_TRY(core::sync_fd(fd.get(), file.string()));
  RK_TRY(core::sync_directory(file.parent_path()));
  d.files = file;
  return {};
}

Result<void> for_each_file_swap(const fs::path& file, const FileSwapFn& fn) {
  RK_TRY_ASSIGN(auto db, core::Database::open_untrusted(file));
  RK_TRY_ASSIGN(auto st,
                db.prepare("SELECT live, staged, live_ino, staged_ino FROM files ORDER BY seq"));
  return st.for_each([&]() -> Result<void> {
    FileSwap f{std::string(st.column_text(0)), std::string(st.column_text(1)),
               static_cast<std::uint64_t>(st.column_int(2)),
               static_cast<std::uint64_t>(st.column_int(3))};
    if (!relative_inside(f.live) || !relative_inside(f.staged)) {
      return fail(ErrorCode::kBadBackup,
                  fmt::format("{} names \"{}\" / \"{}\", outside its folder", file.string(), f.live,
                              f.staged),
                  file.string());
    }
    return fn(f);
  });
}

Result<void> for_each_exchange(const DocumentSwap& d,
                               const std::function<Result<void>(const Exchange&)>& fn) {
  if (d.choose && !d.files) {
    return fail(ErrorCode::kInternal, "the documents to swap one by one are not listed yet");
  }
  if (!d.files) return fn(Exchange{d.live, d.staged, d.live_ino, d.staged_ino});
  return for_each_file_swap(*d.files, [&](const FileSwap& f) {
    return fn(Exchange{d.live / f.live, d.staged / f.staged, f.live_ino, f.staged_ino});
  });
}

}  // namespace restorekit::restore::detail
