// catalog verify --worker: several worker processes share one catalog's verify round. On a
// PostgreSQL catalog, three workers verify 200 small archives (a few damaged) named relative to
// a root that the workers reach through another mount point; one worker is killed while it
// holds a claim, and its archive is taken over once the claim expires. Every archive ends up
// verified exactly once (the killed one's: claimed twice, finished once), with the right verdict.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "pg_cluster.hpp"
#include "test_support.hpp"

extern char** environ;  // NOLINT

namespace restorekit::test {
namespace {

using json = nlohmann::json;

CommandResult rk(std::vector<std::string> args) {
  args.insert(args.begin(), restorekit_exe());
  return run(args);
}

// A restorekit process running in the background, its output in a file.
class Background {
 public:
  Background(std::vector<std::string> args, const fs::path& out) : out_(out) {
    args.insert(args.begin(), restorekit_exe());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    if (posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
  }
  ~Background() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      wait();
    }
  }
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;

  [[nodiscard]] pid_t pid() const { return pid_; }
  void signal(int sig) const { ::kill(pid_, sig); }
  // The exit status; -1 when killed or still running after `timeout`.
  int wait(std::chrono::seconds timeout = std::chrono::seconds(300)) {
    auto until = std::chrono::steady_clock::now() + timeout;
    while (!exited_) {
      int status = 0;
      pid_t done = ::waitpid(pid_, &status, WNOHANG);
      if (done == pid_) {
        exited_ = true;
        status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        break;
      }
      if (std::chrono::steady_clock::now() > until) return -1;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return status_;
  }
  [[nodiscard]] std::string output() const { return read_file(out_); }

 private:
  fs::path out_;
  pid_t pid_ = -1;
  bool exited_ = false;
  int status_ = -1;
};

// `count` small tar.gz backups below `root`/customers (a database and a document each, made by
// sqlite3 and bsdtar); the ones in `damaged` hold a database with a page overwritten, which
// adding them (a listing) does not see and verifying them does.
std::set<std::string> make_backups(const fs::path& root, int count, const std::set<int>& damaged) {
  std::set<std::string> damaged_names;
  auto src = root.parent_path() / "src";
  fs::create_directories(src / "good" / "docs");
  fs::create_directories(src / "bad" / "docs");
  fs::create_directories(root / "customers");
  const std::string fill =
      "CREATE TABLE t(x); CREATE INDEX ti ON t(x); WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL "
      "SELECT i + 1 FROM c WHERE i < 2000) INSERT INTO t SELECT 'row ' || i FROM c;";
  EXPECT_EQ(sh("sqlite3 good/app.sqlite \"" + fill +
                   "\" && cp good/app.sqlite bad/app.sqlite && "
                   "printf garbage-garbage-garbage | dd of=bad/app.sqlite bs=1 seek=12488 "
                   "conv=notrunc 2>/dev/null",
               src),
            0);
  std::string script;
  for (int i = 0; i < count; ++i) {
    auto name = fmt::format("customers/c{:03}.tar.gz", i);
    const char* kind = damaged.count(i) ? "bad" : "good";
    script += fmt::format(
        "echo 'invoice {0}' > {1}/docs/invoice.txt && bsdtar -C {1} -czf '{2}/{3}' app.sqlite "
        "docs\n",
        i, kind, root.string(), name);
    if (damaged.count(i)) damaged_names.insert(name);
  }
  write_file(src / "make.sh", script);
  EXPECT_EQ(sh("bash -e make.sh", src), 0);
  return damaged_names;
}

// The round's archives as the server has them: name -> (claims, finishes, verdict).
struct Item {
  int claims = 0;
  int finishes = 0;
  std::string verdict;
};
std::map<std::string, Item> round_items(const PgCluster& pg, const std::string& uri) {
  std::map<std::string, Item> out;
  std::istringstream lines(pg.query(
      "SELECT archive, claims, finishes, verdict FROM round_items WHERE round = (SELECT max(id) "
      "FROM rounds)",
      uri));
  for (std::string line; std::getline(lines, line);) {
    std::vector<std::string> f;
    std::istringstream cols(line);
    for (std::string c; std::getline(cols, c, '|');) f.push_back(c);
    if (f.size() == 4) out[f[0]] = Item{std::stoi(f[1]), std::stoi(f[2]), f[3]};
  }
  return out;
}

json status(const std::string& catalog) {
  auto r = rk({"catalog", "status", "--json", "--claim-ttl", "2", "--catalog", catalog});
  auto doc = json::parse(r.out, nullptr, false);
  EXPECT_FALSE(doc.is_discarded()) << r.out << r.err;
  return doc;
}

TEST(CatalogWorkers, ThreeWorkersOneKilledEveryArchiveVerifiedOnce) {
  RK_REQUIRE_POSTGRES(pg);
  RK_REQUIRE_TOOL("bsdtar");
  RK_REQUIRE_TOOL("sqlite3");
  ScratchDir dir;
  auto nas = dir / "nas";
  auto damaged = make_backups(nas, 200, {7, 63, 64, 150, 199});
  // The workers reach the share through another mount point than the one it was added from.
  fs::create_directory_symlink(nas, dir / "mnt-b");
  auto catalog = pg->new_database();
  auto added =
      rk({"catalog", "add", nas.string(), "--root", nas.string(), "--catalog", catalog, "--json"});
  ASSERT_EQ(added.exit_code, 0) << added.err;
  auto worker = [&](const std::string& name) {
    return std::vector<std::string>{
        "catalog",   "verify",        "--worker", "--until-empty", "--claim-ttl",
        "2",         "--worker-name", name,       "--root",        (dir / "mnt-b").string(),
        "--catalog", catalog,         "--json"};
  };
  Background a(worker("A"), dir / "a.out");
  ASSERT_GT(a.pid(), 0);
  // Freeze A while it holds a claim: its heartbeats stop with it.
  std::string held;
  int looks = 0, seen_holding = 0;
  std::string last;
  for (int attempt = 0; attempt < 2000 && held.empty(); ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    auto before = status(catalog);
    ++looks;
    last = before.dump();
    bool holding = false;
    if (before["round"].is_object()) {
      for (const auto& w : before["round"]["workers"]) {
        if (w["name"] == "A" && !w["holding"].empty()) holding = true;
      }
    }
    if (!holding) continue;
    ++seen_holding;
    a.signal(SIGSTOP);
    auto stopped = status(catalog);
    for (const auto& w : stopped["round"]["workers"]) {
      if (w["name"] == "A" && !w["holding"].empty()) held = w["holding"][0];
    }
    if (held.empty()) a.signal(SIGCONT);  // it was between two archives: try again
  }
  ASSERT_FALSE(held.empty()) << "worker A never held a claim (" << looks << " looks, "
                             << seen_holding << " holding; last: " << last.substr(0, 600)
                             << "): " << a.output().substr(0, 400);
  Background b(worker("B"), dir / "b.out");
  Background c(worker("C"), dir / "c.out");
  a.signal(SIGKILL);
  EXPECT_EQ(a.wait(), -1);
  int b_exit = b.wait();
  int c_exit = c.wait();
  // Exit 1: the catalog holds damaged backups.
  EXPECT_EQ(b_exit, 1) << b.output();
  EXPECT_EQ(c_exit, 1) << c.output();

  auto items = round_items(*pg, catalog);
  ASSERT_EQ(items.size(), 200u);
  int verified_by_b_and_c = 0;
  for (const auto* out : {&b, &c}) {
    auto doc = json::parse(out->output(), nullptr, false);
    ASSERT_FALSE(doc.is_discarded()) << out->output();
    verified_by_b_and_c += static_cast<int>(doc["archives"].size());
  }
  int finished = 0;
  for (const auto& [name, item] : items) {
    finished += item.finishes;
    EXPECT_EQ(item.finishes, 1) << name << " verified more than once or never";
    EXPECT_EQ(item.claims, name == held ? 2 : 1) << name;
    EXPECT_EQ(item.verdict, damaged.count(name) ? "damaged" : "intact") << name;
  }
  EXPECT_EQ(finished, 200) << "nothing lost";
  EXPECT_GE(verified_by_b_and_c, 1);
  EXPECT_LE(verified_by_b_and_c, 200);
  auto final_status = status(catalog)["round"];
  EXPECT_FALSE(final_status["finished_at"].is_null()) << final_status.dump();
  EXPECT_EQ(final_status["done"], 200);
  EXPECT_EQ(final_status["verdicts"]["damaged"], 5);
  // The catalog's own view, through either mount point.
  auto listed =
      rk({"catalog", "list", "--json", "--root", (dir / "mnt-b").string(), "--catalog", catalog});
  auto list = json::parse(listed.out);
  std::map<std::string, int> statuses;
  for (const auto& backup : list["backups"]) ++statuses[backup["status"].get<std::string>()];
  EXPECT_EQ(statuses["intact"], 195) << listed.out;
  EXPECT_EQ(statuses["damaged"], 5) << listed.out;
  // A second round has nothing to do: every backup is verified and unchanged.
  auto again = rk(worker("D"));
  EXPECT_EQ(again.exit_code, 1) << again.err;
  EXPECT_EQ(json::parse(again.out)["verified"], 0) << again.out;
}

// The same protocol on a SQLite catalog (one machine): two workers at once, each archive once.
TEST(CatalogWorkers, TwoWorkersOnASqliteCatalogShareTheRound) {
  RK_REQUIRE_TOOL("bsdtar");
  RK_REQUIRE_TOOL("sqlite3");
  ScratchDir dir;
  auto nas = dir / "nas";
  auto damaged = make_backups(nas, 24, {3});
  auto catalog = (dir / "catalog.sqlite").string();
  ASSERT_EQ(
      rk({"catalog", "add", nas.string(), "--root", nas.string(), "--catalog", catalog}).exit_code,
      0);
  auto worker = [&](const std::string& name) {
    return std::vector<std::string>{"catalog",       "verify", "--worker", "--until-empty",
                                    "--worker-name", name,     "--root",   nas.string(),
                                    "--catalog",     catalog,  "--json"};
  };
  Background a(worker("A"), dir / "a.out");
  Background b(worker("B"), dir / "b.out");
  EXPECT_EQ(a.wait(), 1) << a.output();
  EXPECT_EQ(b.wait(), 1) << b.output();
  std::map<std::string, int> seen;
  for (const auto* out : {&a, &b}) {
    auto doc = json::parse(out->output(), nullptr, false);
    ASSERT_FALSE(doc.is_discarded()) << out->output();
    for (const auto& v : doc["archives"]) {
      ++seen[v["path"].get<std::string>()];
      EXPECT_EQ(v["status"], damaged.count(v["path"]) ? "damaged" : "intact") << v.dump();
    }
  }
  EXPECT_EQ(seen.size(), 24u);
  for (const auto& [name, n] : seen) EXPECT_EQ(n, 1) << name;
  auto st = status(catalog)["round"];
  EXPECT_EQ(st["done"], 24) << st.dump();
  EXPECT_FALSE(st["finished_at"].is_null());
}

}  // namespace
}  // namespace restorekit::test
