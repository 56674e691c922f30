// The restore tests' fixture: a sample application with a live copy and a backup of it, and
// helpers that look at databases and trees independently of the code under test.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <map>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <restorekit/core/backup.hpp>
#include <restorekit/core/content_hash.hpp>
#include <restorekit/core/hash.hpp>
#include <restorekit/core/restore_state.hpp>
#include <restorekit/restore/restore.hpp>

#include "test_support.hpp"

namespace restorekit::test {

// Hash of every file's bytes in a tree, by relative path (empty string for a missing tree).
inline std::string tree_hash(const fs::path& root) {
  std::error_code ec;
  if (!fs::exists(root, ec)) return "";
  std::map<std::string, std::string> files;
  for (fs::recursive_directory_iterator it(root, ec), end; it != end; it.increment(ec)) {
    if (it->is_regular_file()) {
      core::Hasher h;
      h.update(read_file(it->path()));
      files[fs::relative(it->path(), root).generic_string()] = h.digest().hex();
    } else if (it->is_directory()) {
      files[fs::relative(it->path(), root).generic_string() + "/"] = "dir";
    }
  }
  std::string all;
  for (const auto& [k, v] : files) all += k + "=" + v + "\n";
  core::Hasher h;
  h.update(all);
  return h.digest().hex();
}

inline std::string file_hash(const fs::path& p) {
  core::Hasher h;
  h.update(read_file(p));
  return h.digest().hex();
}

// Databases are opened read-write, as the application would after a crash: the first
// connection rolls back a hot journal (a read-only one cannot).
inline core::Digest128 content_of(const fs::path& db_path) {
  auto db = core::Database::open(db_path, core::OpenMode::kReadWrite);
  EXPECT_TRUE(db) << db.error().message;
  auto h = core::content_hash(*db);
  EXPECT_TRUE(h) << h.error().message;
  return *h;
}

// `sqlite3 DB .dump`: an independent view of a database's content.
inline std::string dump(const fs::path& db) {
  auto r = run({"sqlite3", db.string(), ".dump"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out;
}

inline bool integrity_ok(const fs::path& db) {
  auto conn = core::Database::open(db, core::OpenMode::kReadWrite);
  if (!conn) return false;
  auto st = conn->prepare("PRAGMA integrity_check");
  if (!st) return false;
  auto row = st->step();
  return row && *row && st->column_text(0) == "ok";
}

// Whether a database file's header puts it in WAL mode (read directly, opening nothing).
inline bool wal_file(const fs::path& db) {
  auto bytes = read_file(db);
  return bytes.size() > 19 && bytes[18] == 2 && bytes[19] == 2;
}

inline std::uint64_t inode_of(const fs::path& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 ? st.st_ino : 0;
}

inline std::int64_t query(const fs::path& db, const std::string& sql) {
  auto conn = core::Database::open(db, core::OpenMode::kReadOnly);
  EXPECT_TRUE(conn);
  auto v = conn->query_int(sql);
  EXPECT_TRUE(v) << sql << ": " << (v ? "" : v.error().message);
  return v.value_or(-1);
}

// A plan's chosen documents, read from its list (empty when it has none).
inline std::vector<restore::ChosenDocument> chosen_of(const restore::Plan& p) {
  std::vector<restore::ChosenDocument> out;
  auto read = restore::for_each_chosen_document(p, [&](const restore::ChosenDocument& c) {
    out.push_back(c);
    return Result<void>{};
  });
  EXPECT_TRUE(read) << read.error().message;
  return out;
}

// What an application that died leaves: `sql` committed to the -wal of the WAL-mode database
// `db`, never checkpointed (python3 exits without closing the connection).
inline void leave_in_wal(const fs::path& db, const std::string& sql) {
  auto r = run({"python3", "-c",
                "import sqlite3, os, sys\n"
                "c = sqlite3.connect(sys.argv[1])\n"
                "c.execute('PRAGMA wal_autocheckpoint=0')\n"
                "c.execute(sys.argv[2])\n"
                "c.commit()\n"
                "os._exit(0)\n",
                db.string(), sql});
  ASSERT_EQ(r.exit_code, 0) << r.err;
}

inline void exec(const fs::path& db, const std::string& sql) {
  auto conn = core::Database::open(db, core::OpenMode::kReadWrite);
  ASSERT_TRUE(conn);
  auto r = conn->exec(sql);
  ASSERT_TRUE(r) << r.error().message;
}

class RestoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto& s = small_sample();
    fs::copy(s.database.parent_path(), scratch_ / "app", fs::copy_options::recursive);
    app_ = scratch_ / "app";
    live_ = app_ / "live" / "app.sqlite";
    live_docs_ = app_ / "live" / "docs";
    backup_ = scratch_ / "backup.tar.zst";
    core::BackupOptions o;
    o.database = app_ / "app.sqlite";
    o.documents = app_ / "docs";
    o.output = backup_;
    auto b = core::write_backup(o);
    ASSERT_TRUE(b) << b.error().message;
  }

  restore::PlanOptions options() const {
    restore::PlanOptions o;
    o.live = live_;
    o.live_documents = live_docs_;
    o.allow_schema_changes = true;  // the sample's live copy was upgraded since the backup
    return o;
  }

  restore::Plan make_plan(restore::PlanOptions o) {
    auto p = restore::plan(backup_, o);
    EXPECT_TRUE(p) << p.error().message;
    return p ? std::move(*p) : restore::Plan{};
  }

  restore::Plan kept_plan() {
    auto o = options();
    o.plan_out = scratch_ / fmt::format("plan-{}", ++plans_);
    return make_plan(o);
  }

  bool has_check(const restore::Plan& p, const std::string& code, core::Severity s) {
    return std::any_of(p.checks.begin(), p.checks.end(),
                       [&](const auto& f) { return f.code == code && f.severity == s; });
  }

  ScratchDir scratch_;
  fs::path app_, live_, live_docs_, backup_;
  int plans_ = 0;
};

}  // namespace restorekit::test
